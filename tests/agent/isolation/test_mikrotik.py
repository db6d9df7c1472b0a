"""The MikroTik backend against the RouterOS REST stub on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cctv_sentinel.isolation import (
    IsolationManager,
    IsolationTarget,
    ProtectedAddresses,
    Requester,
    mikrotik,
)
from cctv_sentinel.isolation import manager as manager_module
from tests.lab.router_stub.mikrotik import MikrotikStub, Packet, serve

CLI = Requester("cli", "0", "root")
CAM = IsolationTarget.of(camera_id="bcad28001021", ip="198.18.0.10", ips=["2001:2:0:1::10"])
OTHER = IsolationTarget.of(ip="198.18.0.11")
PASSWORD = "stub-password"
INTERNET = "198.51.100.7"
SMALL_MAX = 64 * 1024


@pytest.fixture
async def stub() -> AsyncIterator[MikrotikStub]:
    async with serve(password=PASSWORD) as running:
        yield running


Factory = Callable[..., IsolationManager]


@pytest.fixture
async def manager_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Factory]:
    made: list[IsolationManager] = []
    monkeypatch.setenv("MT_PASSWORD", PASSWORD)

    def make(url: str, **extra: Any) -> IsolationManager:
        mikrotik = {"url": url, "username": "sentinel", "password_env": "MT_PASSWORD"}
        mikrotik.update(extra.pop("mikrotik", {}))
        config = {
            "default_backend": "mikrotik",
            "local_networks": ["198.18.0.0/24", "2001:2:0:1::/64"],
            "quarantine_allow": ["198.18.2.20"],
            "backends": {"mikrotik": mikrotik},
            **extra,
        }
        manager = IsolationManager.from_config(
            config, state_dir=tmp_path / f"state{len(made)}", protected=ProtectedAddresses()
        )
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.close()


def forwards(stub: MikrotikStub, src: str, dst: str, via: str = "LAN") -> bool:
    return stub.state.forwards(Packet(src, dst, in_interface_list=via))


async def test_isolate_and_release_speak_the_documented_api(
    stub: MikrotikStub, manager_for: Factory
) -> None:
    before = stub.state.snapshot()
    manager = manager_for(stub.url)
    outcome = await manager.isolate(CAM, requested_by=CLI, reason="restricted vendor")
    assert outcome.status == "ok", outcome.message
    assert outcome.state is not None
    assert outcome.state.backend == "mikrotik"
    # Support lists first, then the rules at the top of the forward chain (above the
    # first real defconf rule, *6; *8000000 is RouterOS's dynamic dummy), then the camera.
    writes = [(m, p, b.get("list") or b.get("comment")) for m, p, b in stub.writes]
    assert writes == [
        ("PUT", "/ip/firewall/address-list", "cctv-sentinel-local"),
        ("PUT", "/ip/firewall/address-list", "cctv-sentinel-local"),
        ("PUT", "/ip/firewall/address-list", "cctv-sentinel-allow"),
        ("PUT", "/ip/firewall/filter", "cctv-sentinel: quarantine, from camera"),
        ("PUT", "/ip/firewall/filter", "cctv-sentinel: quarantine, to camera"),
        ("PUT", "/ip/firewall/filter", "cctv-sentinel: internet, from camera"),
        ("PUT", "/ip/firewall/filter", "cctv-sentinel: internet, to camera"),
        ("PUT", "/ip/firewall/address-list", "cctv-sentinel-internet"),
        ("PUT", "/ipv6/firewall/address-list", "cctv-sentinel-local"),
        ("PUT", "/ipv6/firewall/filter", "cctv-sentinel: quarantine, from camera"),
        ("PUT", "/ipv6/firewall/filter", "cctv-sentinel: quarantine, to camera"),
        ("PUT", "/ipv6/firewall/filter", "cctv-sentinel: internet, from camera"),
        ("PUT", "/ipv6/firewall/filter", "cctv-sentinel: internet, to camera"),
        ("PUT", "/ipv6/firewall/address-list", "cctv-sentinel-internet"),
    ]
    rule = stub.writes[5][2]
    assert rule == {
        "chain": "forward",
        "action": "drop",
        "src-address-list": "cctv-sentinel-internet",
        "dst-address-list": "!cctv-sentinel-local",
        "comment": "cctv-sentinel: internet, from camera",
        "place-before": "*6",
    }
    assert stub.writes[7][2] == {
        "list": "cctv-sentinel-internet",
        "address": "198.18.0.10",
        "comment": "cctv-sentinel:bcad28001021",
    }
    forward = [r["comment"] for r in stub.state.get("ip/firewall/filter", {"chain": "forward"})]
    assert forward[1:5] == [
        "cctv-sentinel: quarantine, from camera",
        "cctv-sentinel: quarantine, to camera",
        "cctv-sentinel: internet, from camera",
        "cctv-sentinel: internet, to camera",
    ]

    # What the rules mean on the router: no internet, LAN and recorder still fine.
    assert not forwards(stub, "198.18.0.10", INTERNET)
    assert not forwards(stub, INTERNET, "198.18.0.10", via="WAN")
    assert forwards(stub, "198.18.0.10", "198.18.0.50")
    assert forwards(stub, "198.18.0.10", "198.18.2.20")
    assert forwards(stub, "198.18.0.11", INTERNET)
    assert not forwards(stub, "2001:2:0:1::10", "2001:db8::7")
    assert forwards(stub, "2001:2:0:1::10", "2001:2:0:1::50")

    quarantined = await manager.isolate(OTHER, mode="quarantine", requested_by=CLI)
    assert quarantined.status == "ok", quarantined.message
    assert not forwards(stub, "198.18.0.11", "198.18.0.50")
    assert forwards(stub, "198.18.0.11", "198.18.2.20")
    assert forwards(stub, "198.18.2.20", "198.18.0.11")

    released = await manager.release(IsolationTarget.parse("198.18.0.10"), requested_by=CLI)
    assert released.status == "ok", released.message
    assert forwards(stub, "198.18.0.10", INTERNET)
    assert not forwards(stub, "198.18.0.11", "198.18.0.50")
    released = await manager.release(OTHER, requested_by=CLI)
    assert released.status == "ok", released.message
    assert stub.state.tables == before


async def test_re_applying_a_healthy_state_sends_no_writes(
    stub: MikrotikStub, manager_for: Factory
) -> None:
    manager = manager_for(stub.url)
    assert (await manager.isolate(CAM, requested_by=CLI)).ok
    count = len(stub.writes)
    await manager.reapply()
    assert await manager.verify()
    assert len(stub.writes) == count
    again = await manager.isolate(CAM, requested_by=CLI)
    assert again.ok
    assert "stays isolated" in again.message
    assert len(stub.writes) == count


async def test_drift_on_the_router_is_repaired(stub: MikrotikStub, manager_for: Factory) -> None:
    manager = manager_for(stub.url)
    assert (await manager.isolate(CAM, requested_by=CLI)).ok
    table = stub.state.tables["ip/firewall/filter"]
    ours = next(r for r in table if r.get("comment") == "cctv-sentinel: internet, from camera")
    table.remove(ours)
    # Someone also puts an accept-all above our rules.
    stub.state.add(
        "ip/firewall/filter", {"chain": "forward", "action": "accept", "place-before": "*C"}
    )
    assert forwards(stub, "198.18.0.10", INTERNET)
    count = len(stub.writes)
    assert await manager.verify()  # it found the damage and repaired it
    assert len(stub.writes) > count
    assert not forwards(stub, "198.18.0.10", INTERNET)
    forward = stub.state.get("ip/firewall/filter", {"chain": "forward"})
    comments = [r.get("comment", "") for r in forward]
    assert comments[1:5] == [
        "cctv-sentinel: quarantine, from camera",
        "cctv-sentinel: quarantine, to camera",
        "cctv-sentinel: internet, from camera",
        "cctv-sentinel: internet, to camera",
    ]
    assert sum(c.startswith("cctv-sentinel:") for c in comments) == 4
    assert manager.state_for("bcad28001021").state == "isolated"


async def test_dry_run_says_which_calls_and_changes_nothing(
    stub: MikrotikStub, manager_for: Factory
) -> None:
    manager = manager_for(stub.url, default_backend="dry-run")
    outcome = await manager.isolate(CAM, requested_by=CLI)
    assert outcome.ok
    assert outcome.plan is not None
    assert outcome.message.startswith("dry-run: would isolate 198.18.0.10, 2001:2:0:1::10")
    lines = outcome.plan.splitlines()
    assert lines[0] == (
        'PUT /rest/ip/firewall/address-list {"list": "cctv-sentinel-local",'
        ' "address": "198.18.0.0/24", "comment": "cctv-sentinel: local network"}'
    )
    assert len(lines) == 14
    assert stub.writes == []
    assert manager.state_for("bcad28001021").state == "none"


async def test_mac_only_targets_are_refused(stub: MikrotikStub, manager_for: Factory) -> None:
    manager = manager_for(stub.url)
    events: list[dict[str, Any]] = []
    manager.on_event(events.append)
    outcome = await manager.isolate(IsolationTarget.of(mac="02:00:00:00:00:10"), requested_by=CLI)
    assert outcome.status == "refused"
    assert "mikrotik backend matches IP addresses only" in outcome.message
    assert [e["type"] for e in events] == ["isolation_failed"]
    assert stub.writes == []


async def test_a_wrong_password_is_reported_without_the_password(
    stub: MikrotikStub, manager_for: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = manager_for(stub.url)
    monkeypatch.setenv("MT_PASSWORD", "wrong-secret-123")
    manager = manager_for(stub.url)
    outcome = await manager.isolate(CAM, requested_by=CLI)
    assert outcome.status == "error"
    assert "refused our credentials" in outcome.message
    assert "401" in outcome.message
    assert "wrong-secret-123" not in outcome.message
    assert outcome.state is not None
    assert outcome.state.state == "failed"


async def test_an_unreachable_router_fails_fast(manager_for: Factory) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    manager = manager_for(f"http://127.0.0.1:{port}")
    outcome = await manager.isolate(CAM, requested_by=CLI)
    assert outcome.status == "error"
    assert "cannot reach the router" in outcome.message


async def test_a_silent_router_times_out(manager_for: Factory) -> None:
    hold: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hold.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        manager = manager_for(f"http://127.0.0.1:{port}", mikrotik={"timeout": 0.5})
        outcome = await asyncio.wait_for(manager.isolate(CAM, requested_by=CLI), 10)
        assert outcome.status == "error"
        assert "did not answer GET /rest/ip/firewall/address-list within 0.5 s" in outcome.message
    finally:
        for writer in hold:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_whole_change_has_a_deadline(
    manager_for: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.2)  # every call answers in time, but there are many
        return web.json_response([])

    monkeypatch.setattr(manager_module, "SYNC_TIMEOUT", 0.5)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        manager = manager_for(f"http://127.0.0.1:{runner.addresses[0][1]}")
        outcome = await asyncio.wait_for(manager.isolate(CAM, requested_by=CLI), 10)
        assert outcome.status == "error"
        assert "mikrotik did not finish the change within 0.5 s" in outcome.message
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (lambda: web.Response(text="<html>login</html>"), "is not JSON"),
        (lambda: web.Response(body=b"[" + b" " * (SMALL_MAX + 10) + b"]"), "is larger than"),
        (
            lambda: web.json_response({"error": 400, "message": "Bad Request"}, status=400),
            "HTTP 400 Bad Request",
        ),
        (lambda: web.json_response({"not": "a list"}), "is not a list"),
    ],
)
async def test_hostile_replies_are_errors_not_crashes(
    manager_for: Factory,
    reply: Callable[[], web.Response],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mikrotik, "MAX_REPLY", SMALL_MAX)

    async def handler(_request: web.Request) -> web.StreamResponse:
        return reply()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        manager = manager_for(f"http://127.0.0.1:{port}")
        outcome = await asyncio.wait_for(manager.isolate(CAM, requested_by=CLI), 5)
        assert outcome.status == "error"
        assert message in outcome.message
    finally:
        await runner.cleanup()


async def test_the_stub_behaves_like_routeros(stub: MikrotikStub) -> None:
    """The stub's own promises, checked over HTTP with a plain client."""
    auth = aiohttp.BasicAuth("sentinel", PASSWORD)
    async with aiohttp.ClientSession(auth=auth) as session:
        base = stub.url + "/rest/ip/firewall/address-list"
        async with session.put(base, json={"list": "x", "address": "198.18.0.7/32"}) as resp:
            created = await resp.json()
        assert created["address"] == "198.18.0.7"
        assert created[".id"].startswith("*")
        assert all(isinstance(v, str) for v in created.values())
        async with session.put(base, json={"list": "x", "address": "198.18.0.7"}) as resp:
            assert resp.status == 400
            assert (await resp.json())["detail"] == "failure: already have such entry"
        async with session.get(base, params={"list": "x", ".proplist": "address"}) as resp:
            assert await resp.json() == [{"address": "198.18.0.7"}]
        async with session.delete(f"{base}/{created['.id']}") as resp:
            assert resp.status == 204
            assert await resp.read() == b""
        async with session.delete(f"{base}/{created['.id']}") as resp:
            assert resp.status == 404
            assert await resp.json() == {"error": 404, "message": "Not Found"}
        async with session.put(
            base, json={"list": "x", "address": "1.2.3.4", "bogus": "1"}
        ) as resp:
            assert (await resp.json())["detail"] == "unknown parameter bogus"
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(stub.url + "/rest/system/resource") as resp,
    ):
        assert resp.status == 401
        assert json.loads(await resp.text())["error"] == 401
