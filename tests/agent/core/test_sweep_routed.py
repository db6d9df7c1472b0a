"""The routed sweep: every address probed once, by a bounded pool of workers.

Loopback stands in for a routed network (127.0.0.0/26: every address answers
a connect to a closed port with a RST, which proves it alive, as a routed
host's RST does). No namespace, nothing leaves the host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from cctv_sentinel import limits
from cctv_sentinel.discovery import sweep
from cctv_sentinel.discovery.base import ProbeContext, Timing
from cctv_sentinel.discovery.credentials import Credentials
from cctv_sentinel.model import Observation

NET = ipaddress.IPv4Network("127.0.0.0/26")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_address_is_probed_once_by_at_most_the_worker_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "ROUTED_SWEEP_WORKERS", 4)
    seen: list[Observation] = []
    ctx = ProbeContext(
        networks=(NET,),
        interfaces=(),
        ports=(_closed_port(),),
        timing=Timing(connect_timeout=1.0),
        credentials=Credentials(),
        emit=seen.append,
    )
    in_flight = 0
    most = 0
    probed: list[str] = []
    connect = sweep._connect

    async def counting(ctx: ProbeContext, ip: str, port: int) -> tuple[bool, bool, bytes]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        probed.append(ip)
        try:
            return await connect(ctx, ip, port)
        finally:
            in_flight -= 1

    monkeypatch.setattr(sweep, "_connect", counting)
    alive: list[str] = []
    state = sweep.SweepState()
    await asyncio.wait_for(
        sweep.sweep_routed(ctx, [NET], state, lambda ip, _mac: alive.append(ip)), 30
    )
    hosts = [str(ip) for ip in NET.hosts()]
    assert sorted(probed) == sorted(hosts)  # each address once
    assert sorted(alive) == sorted(hosts)  # a RST proves life
    assert most <= 4
