"""The manager: rails, confirmation, rate limit, audit, events, persistence and restarts.

Backends are real: the RouterOS REST stub over HTTP on 127.0.0.1, or the real nft
inside a lab namespace.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cctv_sentinel.isolation import (
    IsolationManager,
    IsolationTarget,
    ProtectedAddresses,
    Requester,
)
from cctv_sentinel.isolation.nftables import subprocess_runner
from cctv_sentinel.isolation.protected import GATEWAY
from tests.lab import netlab
from tests.lab.router_stub.mikrotik import MikrotikStub, Packet, serve

ALICE = Requester("home_assistant", "u-1", "Alice")
CAM = IsolationTarget.of(camera_id="bcad28001021", ip="198.18.0.10", mac="bc:ad:28:00:10:21")
CAM2 = IsolationTarget.of(ip="198.18.0.11")
CAM3 = IsolationTarget.of(ip="198.18.0.12")
SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "mqtt.schema.json"


class Clock:
    """A settable clock for the rate limit."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stub() -> AsyncIterator[MikrotikStub]:
    async with serve(password="pw") as running:
        yield running


Factory = Callable[..., IsolationManager]


@pytest.fixture
async def make(
    tmp_path: Path, stub: MikrotikStub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Factory]:
    """Managers on the MikroTik stub, sharing one state directory unless told otherwise."""
    made: list[IsolationManager] = []
    monkeypatch.setenv("MT_PW", "pw")
    protected = ProtectedAddresses().merged(
        networks=[(ipaddress.ip_network("198.18.0.1/32"), GATEWAY)]
    )

    def factory(
        state_dir: Path | None = None, clock: Clock | None = None, **extra: Any
    ) -> IsolationManager:
        config = {
            "default_backend": "mikrotik",
            "local_networks": ["198.18.0.0/24"],
            "backends": {
                "mikrotik": {"url": stub.url, "username": "sentinel", "password_env": "MT_PW"}
            },
            **extra,
        }
        manager = IsolationManager.from_config(
            config,
            state_dir=state_dir or tmp_path / "state",
            protected=protected,
            **({"clock": clock} if clock else {}),
        )
        made.append(manager)
        return manager

    yield factory
    for manager in made:
        await manager.close()


async def test_without_a_section_isolation_is_not_configured(tmp_path: Path) -> None:
    manager = IsolationManager.from_config(None, state_dir=tmp_path, protected=ProtectedAddresses())
    assert manager.backends() == []
    assert manager.default_backend() is None
    assert manager.info() == {
        "backends": [],
        "default_backend": None,
        "modes": [],
        "auto_isolate": False,
    }
    outcome = await manager.isolate(CAM, requested_by=ALICE)
    assert (outcome.status, outcome.message) == (
        "not_configured",
        "isolation is not configured on this agent",
    )
    assert (await manager.release(CAM, requested_by=ALICE)).status == "not_configured"
    assert manager.state_for("bcad28001021").state == "none"
    await manager.reapply()
    await manager.close()
    assert await asyncio.to_thread(os.listdir, tmp_path) == []  # nothing written


async def test_isolation_is_audited_published_and_reported(make: Factory) -> None:
    manager = make()
    assert manager.info() == {
        "backends": ["dry-run", "mikrotik"],
        "default_backend": "mikrotik",
        "modes": ["internet", "quarantine"],
        "auto_isolate": False,
    }
    events: list[dict[str, Any]] = []
    manager.on_event(events.append)
    outcome = await manager.isolate(CAM, requested_by=ALICE, reason="restricted\x1b vendor\n")
    assert outcome.status == "ok"
    assert outcome.state is not None
    assert (outcome.state.state, outcome.state.mode, outcome.state.backend) == (
        "isolated",
        "internet",
        "mikrotik",
    )
    assert manager.state_for("bcad28001021") == outcome.state
    assert manager.state_for(None, ip="198.18.0.10") == outcome.state
    assert manager.state_for(None, mac="bc:ad:28:00:10:21") == outcome.state
    assert manager.state_for("ip-198-18-0-99").state == "none"

    [event] = events
    assert event["type"] == "isolation_applied"
    assert event["camera_id"] == "bcad28001021"
    details = event["details"]
    assert details["requested_by"] == {
        "source": "home_assistant",
        "user_id": "u-1",
        "user_name": "Alice",
    }
    assert details["reason"] == "restricted vendor"  # control characters removed
    assert (details["mode"], details["backend"], details["status"]) == (
        "internet",
        "mikrotik",
        "ok",
    )
    # What the service publishes must validate against the contract.
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    payload = {**event, "schema_version": 1, "event_id": "e1", "camera": None, "changes": {}}
    jsonschema.validate(payload, {**schema, "$ref": "#/$defs/event"})

    released = await manager.release(CAM, requested_by=ALICE, reason="replaced")
    assert released.status == "ok"
    assert manager.state_for("bcad28001021").state == "none"
    assert [e["type"] for e in events] == ["isolation_applied", "isolation_released"]
    log = await manager.audit_log()
    assert [(r.action, r.status, r.requested_by.user_name, r.reason) for r in log] == [
        ("isolate", "ok", "Alice", "restricted vendor"),
        ("release", "ok", "Alice", "replaced"),
    ]
    again = await manager.release(CAM, requested_by=ALICE)
    assert (again.status, again.message) == (
        "ok",
        "198.18.0.10, bc:ad:28:00:10:21 is not isolated",
    )
    assert len(events) == 2  # a no-op is audited, not published


async def test_the_rails_refuse_and_say_why(make: Factory) -> None:
    manager = make(never_isolate=["198.18.0.77"])
    events: list[dict[str, Any]] = []
    manager.on_event(events.append)
    gateway = await manager.isolate(IsolationTarget.of(ip="198.18.0.1"), requested_by=ALICE)
    assert gateway.status == "refused"
    assert gateway.message.startswith("refused: 198.18.0.1 is the default gateway")
    listed = await manager.isolate(IsolationTarget.of(ip="198.18.0.77"), requested_by=ALICE)
    assert "198.18.0.77 is on the never_isolate allowlist" in listed.message
    assert [e["type"] for e in events] == ["isolation_failed", "isolation_failed"]
    assert events[0]["details"]["status"] == "refused"
    assert [r.status for r in await manager.audit_log()] == ["refused", "refused"]


async def test_several_at_once_need_confirmation(make: Factory, stub: MikrotikStub) -> None:
    manager = make()
    outcomes = await manager.isolate_many([CAM, CAM2], requested_by=ALICE)
    assert [o.status for o in outcomes] == ["refused", "refused"]
    assert "isolating 2 devices at once needs confirmation" in outcomes[0].message
    assert stub.writes == []
    outcomes = await manager.isolate_many([CAM, CAM2], requested_by=ALICE, confirm=True)
    assert [o.status for o in outcomes] == ["ok", "ok"]
    # A refused device does not stop the others, but does count for the confirmation.
    gateway = IsolationTarget.of(ip="198.18.0.1")
    outcomes = await manager.isolate_many([gateway, CAM3], requested_by=ALICE)
    assert [o.status for o in outcomes] == ["refused", "ok"]


async def test_the_rate_limit_holds_across_restarts(make: Factory, tmp_path: Path) -> None:
    clock = Clock()
    manager = make(clock=clock, rate_limit={"max": 2, "period": 600})
    assert (await manager.isolate(CAM, requested_by=ALICE)).ok
    clock.now += 10
    assert (await manager.isolate(CAM2, requested_by=ALICE)).ok
    clock.now += 10
    limited = await manager.isolate(CAM3, requested_by=ALICE)
    assert limited.status == "refused"
    assert "rate limit: at most 2 isolations per 600 s (try again in 580 s)" in limited.message
    # Re-isolating what is already isolated costs nothing; releasing is never limited.
    assert (await manager.isolate(CAM, requested_by=ALICE)).ok
    assert (await manager.release(CAM2, requested_by=ALICE)).ok
    # A restarted agent remembers the window from the audit log.
    restarted = make(clock=clock, rate_limit={"max": 2, "period": 600})
    assert (await restarted.isolate(CAM3, requested_by=ALICE)).status == "refused"
    clock.now += 600
    assert (await restarted.isolate(CAM3, requested_by=ALICE)).ok


async def test_dry_run_changes_nothing_and_is_not_published(
    make: Factory, stub: MikrotikStub
) -> None:
    manager = make()
    events: list[dict[str, Any]] = []
    manager.on_event(events.append)
    outcome = await manager.isolate(CAM, requested_by=ALICE, dry_run=True)
    assert outcome.ok
    assert outcome.plan
    assert outcome.message.startswith("dry-run: would isolate")
    via_backend = await manager.isolate(CAM, backend="dry-run", requested_by=ALICE)
    assert via_backend.plan == outcome.plan
    assert stub.writes == []
    assert events == []
    assert manager.state_for("bcad28001021").state == "none"
    assert [r.backend for r in await manager.audit_log()] == ["dry-run", "dry-run"]


async def test_mode_changes_and_backend_conflicts(make: Factory, stub: MikrotikStub) -> None:
    manager = make()
    first = await manager.isolate(CAM, requested_by=ALICE)
    assert first.ok
    changed = await manager.isolate(CAM, mode="quarantine", requested_by=ALICE)
    assert changed.ok
    assert changed.state is not None
    assert changed.state.mode == "quarantine"
    assert [e.mode for e in manager.isolations()] == ["quarantine"]
    assert not stub.state.forwards(Packet("198.18.0.10", "198.18.0.50"))
    unknown = await manager.isolate(CAM2, backend="nftables", requested_by=ALICE)
    assert unknown.status == "error"
    assert "backend 'nftables' is not configured (configured: dry-run, mikrotik)" in unknown.message
    bad_mode = await manager.isolate(CAM2, mode="everything", requested_by=ALICE)
    assert bad_mode.status == "error"
    assert "unknown mode" in bad_mode.message


async def test_changes_by_another_process_are_published(make: Factory, tmp_path: Path) -> None:
    agent = make()
    events: list[dict[str, Any]] = []
    agent.on_event(events.append)
    await agent.refresh()
    cli = make()  # e.g. `cctv-sentinel isolate` run from a shell, same state directory
    assert (await cli.isolate(CAM2, requested_by=Requester("cli", "0", "root"))).ok
    assert agent.state_for(None, ip="198.18.0.11").state == "none"  # not yet re-read
    await agent.refresh()
    assert agent.state_for(None, ip="198.18.0.11").state == "isolated"
    assert [(e["type"], e["details"]["requested_by"]["source"]) for e in events] == [
        ("isolation_applied", "cli")
    ]
    await agent.refresh()
    assert len(events) == 1


async def test_automatic_isolation_is_off_by_default_and_bounded(
    make: Factory, tmp_path: Path
) -> None:
    off = make()
    assert await off.auto_isolate([CAM]) == []
    on = make(
        state_dir=tmp_path / "auto",
        auto_isolate={"enabled": True, "mode": "quarantine", "max_per_scan": 1},
    )
    assert on.info()["auto_isolate"] is True
    too_many = await on.auto_isolate([CAM, CAM2])
    assert [o.status for o in too_many] == ["refused", "refused"]
    [one] = await on.auto_isolate([CAM])
    assert one.ok
    assert one.state is not None
    assert one.state.mode == "quarantine"
    assert (await on.audit_log())[-1].requested_by == Requester("auto")
    assert await on.auto_isolate([CAM]) == []  # already isolated: nothing to do
    refused = await on.auto_isolate([IsolationTarget.of(ip="198.18.0.1")])
    assert refused[0].status == "refused"


async def test_restart_reapplies_and_reset_forgets(
    make: Factory, stub: MikrotikStub, tmp_path: Path
) -> None:
    before = stub.state.snapshot()
    manager = make()
    assert (await manager.isolate(CAM, requested_by=ALICE)).ok
    await manager.close()
    # The router lost its configuration (restored from an old backup).
    stub.state.tables.update(copy.deepcopy(before))
    restarted = make()
    events: list[dict[str, Any]] = []
    restarted.on_event(events.append)
    await restarted.reapply()
    assert not stub.state.forwards(Packet("198.18.0.10", "198.51.100.7"))
    assert restarted.state_for("bcad28001021").state == "isolated"
    assert events == []  # it was isolated and still is: nothing to announce
    outcome = await restarted.reset(requested_by=ALICE, reason="decommissioned")
    assert outcome.ok
    assert outcome.message == "reset mikrotik: removed 1 isolation(s)"
    assert stub.state.tables == before
    assert [e["type"] for e in events] == ["isolation_released"]
    assert restarted.isolations() == []


async def test_the_periodic_refresh_repairs_lost_rules(
    stub: MikrotikStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MT_PW", "pw")
    config = {
        "default_backend": "mikrotik",
        "local_networks": ["198.18.0.0/24"],
        "backends": {
            "mikrotik": {"url": stub.url, "username": "sentinel", "password_env": "MT_PW"}
        },
    }
    before = stub.state.snapshot()
    manager = IsolationManager.from_config(
        config, state_dir=tmp_path / "s", protected=ProtectedAddresses(), verify_every=0.0
    )
    try:
        assert (await manager.isolate(CAM, requested_by=ALICE)).ok
        # The router was restored from a backup taken before the isolation.
        stub.state.tables.update(copy.deepcopy(before))
        assert stub.state.forwards(Packet("198.18.0.10", "198.51.100.7"))
        await manager.refresh()
        assert not stub.state.forwards(Packet("198.18.0.10", "198.51.100.7"))
    finally:
        await manager.close()
    slow = IsolationManager.from_config(
        config, state_dir=tmp_path / "s", protected=ProtectedAddresses()
    )
    try:
        stub.state.tables.update(copy.deepcopy(before))
        await slow.refresh()  # within the first minute: no check yet
        assert stub.state.forwards(Packet("198.18.0.10", "198.51.100.7"))
    finally:
        await slow.close()


async def test_reapply_marks_isolations_of_a_removed_backend_failed(
    tmp_path: Path, make: Factory
) -> None:
    manager = make()
    assert (await manager.isolate(CAM, requested_by=ALICE)).ok
    await manager.close()
    plain = IsolationManager.from_config(
        {}, state_dir=tmp_path / "state", protected=ProtectedAddresses()
    )
    events: list[dict[str, Any]] = []
    plain.on_event(events.append)
    await plain.reapply()
    state = plain.state_for("bcad28001021")
    assert state.state == "failed"
    assert events[0]["type"] == "isolation_failed"
    assert "backend mikrotik is no longer configured" in events[0]["details"]["message"]
    kept = await plain.reset(requested_by=ALICE)
    assert kept.status == "error"
    assert "are kept" in kept.message
    assert plain.state_for("bcad28001021").state == "failed"
    await plain.close()


async def test_two_processes_never_lose_each_others_isolations(
    lab: netlab.Lab, tmp_path: Path
) -> None:
    host = lab.add_host("gw", "198.18.0.1/24")
    runner = subprocess_runner([netlab._IP_BIN, "netns", "exec", host.ns, "nft"])
    config = {
        "default_backend": "nftables",
        "local_networks": ["198.18.0.0/24"],
        "backends": {"nftables": {}},
    }
    managers = [
        IsolationManager.from_config(
            config, state_dir=tmp_path / "state", protected=ProtectedAddresses(), nft_runner=runner
        )
        for _ in range(2)
    ]
    targets = [IsolationTarget.of(ip=f"198.18.0.{20 + i}") for i in range(6)]
    outcomes = await asyncio.gather(
        *(managers[i % 2].isolate(t, requested_by=ALICE) for i, t in enumerate(targets))
    )
    assert [o.status for o in outcomes] == ["ok"] * 6, [o.message for o in outcomes]
    listing = host.run(["nft", "list", "set", "inet", "cctv_sentinel", "internet_v4"], check=True)
    for target in targets:
        assert str(target.ip) in listing.stdout
    await managers[0].refresh()
    assert len(managers[0].isolations()) == 6
    for manager in managers:
        await manager.close()
