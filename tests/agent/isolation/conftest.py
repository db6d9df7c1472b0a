"""Isolation test guard: nft may run only inside a lab namespace, never in the root one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cctv_sentinel.isolation import nftables


@pytest.fixture(autouse=True)
def _nft_only_in_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any default (root-namespace) nft runner fail the test instead of running nft."""
    real = nftables.subprocess_runner

    def guarded(argv0: Sequence[str]) -> nftables.NftRunner:
        if Path(argv0[0]).name != "nft":
            return real(argv0)

        async def refuse(
            args: Sequence[str], stdin: str | None, timeout: float
        ) -> nftables.NftResult:
            raise AssertionError(f"a test tried to run nft {list(args)} in the root namespace")

        return refuse

    monkeypatch.setattr(nftables, "subprocess_runner", guarded)
