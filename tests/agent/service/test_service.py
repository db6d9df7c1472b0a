"""The service in-process against a real broker: what subscribers see, commands, restarts,
missing and gone. Scans are fed from observation data through the real identify, so the
schedule can be shrunk to fractions of a second instead of sleeping (the end-to-end tests
in tests/e2e run the real scanner on a LAN of emulated cameras)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel.model import Observation
from cctv_sentinel.mqtt.contract import CAMERA_ID_RE, Topics
from cctv_sentinel.service.config import config_from_mapping
from cctv_sentinel.service.daemon import ScanJob, ScanOutcome, Service
from tests.agent.service.support import axis, cameras, check, dahua_routed, hikvision
from tests.lab.broker import Broker, Subscriber, publish

AGENT = "site-a"
TOPICS = Topics("cctv_sentinel", AGENT)


class ScriptedNetwork:
    """What the network looks like now; each scan identifies it with the real identify."""

    def __init__(self, observations: Sequence[Observation] = ()) -> None:
        self.observations = list(observations)
        self.jobs: list[ScanJob] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def __call__(self, job: ScanJob) -> ScanOutcome:
        self.jobs.append(job)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.hold.wait()
        now = time.time()
        # Identification runs in a thread, as the real NetworkScan does it.
        found = await asyncio.to_thread(cameras, self.observations)
        return ScanOutcome(now - (loop.time() - started), now, found)


def make_config(broker: Broker, state_dir: Path, **sections: Any):
    data: dict[str, Any] = {
        "agent": {"id": AGENT, "name": "Site A", "state_dir": str(state_dir)},
        "mqtt": {
            "broker": f"mqtt://{broker.host}:{broker.port}",
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
        "scan": {"networks": ["198.18.0.0/23"], "interval": 600, "passive": False},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return config_from_mapping(data, env={})


@contextlib.asynccontextmanager
async def running(config, network: ScriptedNetwork) -> AsyncIterator[Service]:
    # Built off the loop, as the command line builds it before asyncio.run (it loads the catalogue).
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    task = asyncio.create_task(service.run())
    try:
        await service.client.wait_connected(10)
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 20)


async def until(sub: Subscriber, predicate, timeout: float = 15.0):
    return await asyncio.to_thread(sub.wait_for, predicate, timeout)


def retained_cameras(sub: Subscriber) -> dict[str, dict[str, Any]]:
    prefix = TOPICS.root + "/camera/"
    return {t[len(prefix) :]: m.json() for t, m in sub.retained().items() if t.startswith(prefix)}


def state_cameras(sub: Subscriber) -> dict[str, dict[str, Any]]:
    prefix = TOPICS.root + "/camera/"
    return {t[len(prefix) :]: json.loads(p) for t, p in sub.state().items() if t.startswith(prefix)}


def events(sub: Subscriber, kind: str | None = None) -> list[dict[str, Any]]:
    found = [m.json() for m in sub.messages(TOPICS.event)]
    return [e for e in found if kind is None or e["type"] == kind]


def scans_finished(sub: Subscriber) -> int:
    return len(events(sub, "scan_finished"))


async def send_command(
    broker: Broker, payload: bytes | dict[str, Any], *, retain: bool = False
) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await asyncio.to_thread(publish, broker, TOPICS.command, raw, retain=retain)


async def test_a_subscriber_sees_exactly_the_documented_contract(broker, tmp_path):
    network = ScriptedNetwork(hikvision() + axis() + dahua_routed())
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(make_config(broker, tmp_path / "state"), network):
            await until(sub, lambda s: scans_finished(s) >= 1 and len(state_cameras(s)) == 3)
            await until(sub, lambda s: json.loads(s.state()[TOPICS.info])["scan"]["next_scan"])
        await until(sub, lambda s: s.state().get(TOPICS.status) == b"offline")
    assert [m.payload for m in sub.messages(TOPICS.status)] == [b"online", b"offline"]
    allowed_roots = (TOPICS.discovery, TOPICS.root + "/")
    for message in sub.messages():
        assert message.topic.startswith(allowed_roots), message.topic
        assert message.qos == 1
        if message.topic == TOPICS.status:
            continue
        body = message.json()
        if message.topic == TOPICS.discovery:
            check("announcement", body)
        elif message.topic == TOPICS.info:
            check("info", body)
        elif message.topic == TOPICS.event:
            check("event", body)
        elif message.topic == TOPICS.history:
            check("history", body)
        else:
            camera_id = TOPICS.camera_id_of(message.topic)
            assert camera_id is not None, message.topic
            check("camera", body)
            assert body["camera_id"] == camera_id
    cams = state_cameras(sub)
    assert set(cams) == {"bcad28000021", "accc8e0a0b0c", "ip-198-18-1-10"}
    assert cams["bcad28000021"]["risk"] == "restricted"
    assert cams["bcad28000021"]["serial"] == "\u20265678"
    info = json.loads(sub.state()[TOPICS.info])
    assert info["counts"]["cameras"] == 3
    assert info["counts"]["restricted"] == 2
    assert info["networks"] == ["198.18.0.0/23"]
    assert info["isolation"]["backends"] == []
    kinds = [e["type"] for e in events(sub)]
    assert kinds.count("camera_found") == 3
    assert kinds.count("restricted_detected") == 2
    assert kinds[0] == "scan_started"
    finished = events(sub, "scan_finished")[0]["details"]
    assert (finished["cameras"], finished["restricted"]) == (3, 2)
    # After the scan, the day's progress (docs/mqtt.md, History).
    history = json.loads(sub.state()[TOPICS.history])
    today = history["days"][-1]
    assert len(history["days"]) == 1
    assert (today["cameras"], today["restricted_in_place"], today["restricted_gone"]) == (3, 2, 0)
    # On connect: online first, then the announcement (docs/mqtt.md, Topics).
    order = [m.topic for m in sub.messages()]
    assert order.index(TOPICS.status) < order.index(TOPICS.discovery)


async def test_only_what_changed_is_republished(broker, tmp_path):
    network = ScriptedNetwork(hikvision())
    config = make_config(
        broker,
        tmp_path / "state",
        scan={"interval": 0.1, "jitter": 0},
        mqtt={"last_seen_interval": 3600},
    )
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: scans_finished(s) >= 5)
            camera_topic = TOPICS.camera("bcad28000021")
            assert len(sub.messages(camera_topic)) == 1
            network.observations = hikvision(firmware="V5.8.0build 230101")
            await until(sub, lambda s: len(s.messages(camera_topic)) == 2)
            changed = await until(sub, lambda s: events(s, "camera_changed"))
            first_scans = scans_finished(sub)
            await until(sub, lambda s: scans_finished(s) >= first_scans + 3)
            assert len(sub.messages(camera_topic)) == 2
    assert changed[0]["changes"] == {"firmware": ["V5.7.3build 220112", "V5.8.0build 230101"]}
    assert json.loads(sub.messages(camera_topic)[-1].payload)["firmware"] == "V5.8.0build 230101"


async def test_last_seen_is_refreshed_every_interval(broker, tmp_path):
    network = ScriptedNetwork(hikvision())
    config = make_config(
        broker,
        tmp_path / "state",
        scan={"interval": 0.1, "jitter": 0},
        mqtt={"last_seen_interval": 0},
    )
    with Subscriber(broker, topics=[TOPICS.camera("+"), TOPICS.event]) as sub:
        async with running(config, network):
            await until(sub, lambda s: len(s.messages(TOPICS.camera("bcad28000021"))) >= 3)


async def test_missing_then_gone_with_a_short_schedule(broker, tmp_path):
    network = ScriptedNetwork(hikvision() + axis())
    config = make_config(
        broker,
        tmp_path / "state",
        scan={"interval": 0.1, "jitter": 0},
        inventory={"missing_after_scans": 2, "retention": 0.5},
    )
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: len(state_cameras(s)) == 2)
            network.observations = axis()
            await until(
                sub, lambda s: state_cameras(s).get("bcad28000021", {}).get("state") == "missing"
            )
            missing = await until(sub, lambda s: events(s, "camera_missing"))
            assert missing[0]["camera_id"] == "bcad28000021"
            await until(sub, lambda s: "bcad28000021" not in state_cameras(s))
            gone = await until(sub, lambda s: events(s, "camera_gone"))
            assert gone[0]["camera_id"] == "bcad28000021"
            await until(sub, lambda s: json.loads(s.state()[TOPICS.info])["counts"]["cameras"] == 1)
    with Subscriber(broker, topics=[TOPICS.camera("+")]) as late:
        await until(late, lambda s: len(s.retained()) == 1)
        assert set(retained_cameras(late)) == {"accc8e0a0b0c"}


async def test_restart_republishes_from_sqlite_before_any_scan_finishes(broker, tmp_path):
    state = tmp_path / "state"
    first = ScriptedNetwork(hikvision() + dahua_routed())
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(make_config(broker, state), first):
            await until(sub, lambda s: scans_finished(s) >= 1)
    await asyncio.to_thread(broker.restart)  # the broker forgets every retained message
    held = ScriptedNetwork(hikvision() + dahua_routed())
    held.hold.clear()  # the first scan after the restart never finishes during the test
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(make_config(broker, state), held):
            cams = await until(sub, lambda s: len(state_cameras(s)) == 2 and state_cameras(s))
            assert scans_finished(sub) == 0
            assert held.jobs  # the scan is running, not finished
            info = json.loads(sub.state()[TOPICS.info])
            assert info["scan"]["state"] == "scanning"
            assert info["scan"]["last_finished"] is not None  # remembered from the first run
            held.hold.set()
            await until(sub, lambda s: scans_finished(s) >= 1)
    assert set(cams) == {"bcad28000021", "ip-198-18-1-10"}
    assert not events(sub, "camera_found")  # the same cameras: nothing new


async def test_commands_get_exactly_one_result_each(broker, tmp_path):
    network = ScriptedNetwork(hikvision())
    # A retained command waits on the broker; it would run again at every
    # reconnect, so the agent refuses it (MQTT delivers it retained on subscribe).
    await send_command(
        broker, {"schema_version": 1, "command_id": "k1", "command": "rescan"}, retain=True
    )
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(make_config(broker, tmp_path / "state"), network):
            await until(sub, lambda s: scans_finished(s) >= 1 and s.messages(TOPICS.command_result))
            await send_command(broker, b"")  # clear the retained command
            await send_command(
                broker, {"schema_version": 1, "command_id": "r1", "command": "rescan"}
            )
            await send_command(broker, b"{not json")
            await send_command(
                broker, {"schema_version": 1, "command_id": "u1", "command": "reboot"}
            )
            await send_command(
                broker,
                {
                    "schema_version": 1,
                    "command_id": "i1",
                    "command": "isolate",
                    "camera_id": "bcad28000021",
                },
            )
            results = await until(
                sub,
                lambda s: (
                    len(s.messages(TOPICS.command_result)) >= 6
                    and s.messages(TOPICS.command_result)
                ),
            )
            await until(sub, lambda s: scans_finished(s) >= 2)
            await asyncio.sleep(0.3)
            assert len(sub.messages(TOPICS.command_result)) == 6
    by_id: dict[str | None, list[dict[str, Any]]] = {}
    for message in results:
        body = message.json()
        check("command_result", body)
        by_id.setdefault(body["command_id"], []).append(body)
    assert by_id["k1"][0]["status"] == "error"
    assert "retained" in by_id["k1"][0]["message"]
    assert by_id["r1"][0]["status"] == "accepted"
    # The empty payload that cleared k1, and the broken one: both answered.
    assert [b["message"] for b in by_id[None]] == ["command is not valid JSON"] * 2
    assert by_id["u1"][0]["status"] == "error"
    assert by_id["u1"][0]["command"] == "reboot"
    assert by_id["i1"][0]["status"] == "not_configured"
    assert by_id["i1"][0]["camera_id"] == "bcad28000021"
    assert scans_finished(sub) == 2  # the first, and the one r1 asked for; not k1


async def test_isolate_goes_through_the_isolation_manager(broker, tmp_path):
    network = ScriptedNetwork(hikvision())
    config = make_config(broker, tmp_path / "state", isolation={})  # dry run only
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: scans_finished(s) >= 1)
            info = json.loads(sub.state()[TOPICS.info])
            assert info["isolation"]["backends"] == ["dry-run"]
            await send_command(
                broker,
                {
                    "schema_version": 1,
                    "command_id": "i2",
                    "command": "isolate",
                    "camera_id": "bcad28000021",
                    "requested_by": {"source": "home_assistant", "user_name": "Jo"},
                },
            )
            await send_command(
                broker,
                {
                    "schema_version": 1,
                    "command_id": "i3",
                    "command": "isolate",
                    "camera_id": "0000deadbeef",
                },
            )
            results = await until(
                sub,
                lambda s: (
                    len(s.messages(TOPICS.command_result)) >= 2
                    and s.messages(TOPICS.command_result)
                ),
            )
    by_id = {m.json()["command_id"]: m.json() for m in results}
    for body in by_id.values():
        check("command_result", body)
    assert by_id["i2"]["status"] in {"ok", "refused"}
    assert by_id["i3"]["status"] == "error"
    assert by_id["i3"]["message"] == "camera 0000deadbeef is not known to this agent"
    camera = state_cameras(sub)["bcad28000021"]
    assert camera["isolation"]["state"] == "none"  # a dry run changes nothing


async def test_home_assistant_discovery_follows_the_cameras(broker, tmp_path):
    network = ScriptedNetwork(hikvision())
    config = make_config(
        broker,
        tmp_path / "state",
        mqtt={"homeassistant_discovery": True},
        scan={"interval": 0.1, "jitter": 0},
        inventory={"missing_after_scans": 1, "retention": 0},
    )
    node = f"cctv_sentinel_{AGENT}_bcad28000021"
    restricted = f"homeassistant/binary_sensor/{node}/restricted/config"
    risk = f"homeassistant/sensor/{node}/risk/config"
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: restricted in s.state() and risk in s.state())
            config_payload = json.loads(sub.state()[restricted])
            assert config_payload["state_topic"] == TOPICS.camera("bcad28000021")
            network.observations = []
            await until(sub, lambda s: restricted not in s.state() and risk not in s.state())
    # The configs were cleared before the camera itself.
    topics = [m.topic for m in sub.messages() if not m.payload]
    assert topics.index(restricted) < topics.index(TOPICS.camera("bcad28000021"))


async def test_an_ip_only_camera_is_rekeyed_without_duplicates(broker, tmp_path):
    network = ScriptedNetwork(dahua_routed())
    config = make_config(broker, tmp_path / "state", scan={"interval": 0.1, "jitter": 0})
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: "ip-198-18-1-10" in state_cameras(s))
            network.observations = [
                *dahua_routed(),
                Observation(
                    "dhip",
                    "198.18.1.10",
                    {"mac": "b4:4c:3b:00:00:10", "model": "IPC-HFW1230S"},
                    mac="b4:4c:3b:00:00:10",
                    port=37810,
                ),
            ]
            await until(sub, lambda s: set(state_cameras(s)) == {"b44c3b000010"})
    found = events(sub, "camera_found")
    assert found[-1]["camera_id"] == "b44c3b000010"
    assert found[-1]["details"] == {"previous_camera_id": "ip-198-18-1-10"}
    assert all(CAMERA_ID_RE.match(cid) for cid in state_cameras(sub))


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_both_protocols_and_a_clean_goodbye(broker, tmp_path, protocol):
    network = ScriptedNetwork(axis())
    config = make_config(broker, tmp_path / "state", mqtt={"protocol": protocol})
    with Subscriber(broker, topics=[TOPICS.status]) as sub:
        async with running(config, network) as service:
            await until(sub, lambda s: s.state().get(TOPICS.status) == b"online")
            assert service.client.connected
        await until(sub, lambda s: s.state().get(TOPICS.status) == b"offline")


async def test_retire_clears_every_retained_topic(broker, tmp_path):
    network = ScriptedNetwork(hikvision() + axis())
    config = make_config(broker, tmp_path / "state")
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: len(state_cameras(s)) == 2)
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    cleared = await service.retire()
    # announcement, info, history, 2 cameras (+ their possible HA configs)
    assert cleared == 3 + 2 * 3
    with Subscriber(broker, topics=["#"]) as late:
        await asyncio.sleep(0.5)
        assert late.retained() == {}


async def test_a_failing_isolation_backend_gives_an_error_result_and_event(
    broker, tmp_path, monkeypatch
):
    monkeypatch.setenv("CST_ROUTER_PASSWORD", "router-secret")
    network = ScriptedNetwork(hikvision())
    isolation = {
        "default_backend": "mikrotik",
        "backends": {
            "mikrotik": {
                "url": "http://127.0.0.1:9",  # nothing listens: the router is down
                "username": "admin",
                "password_env": "CST_ROUTER_PASSWORD",
                "timeout": 1,
            }
        },
    }
    config = make_config(broker, tmp_path / "state", isolation=isolation)
    with Subscriber(broker, topics=["#"]) as sub:
        async with running(config, network):
            await until(sub, lambda s: scans_finished(s) >= 1)
            info = json.loads(sub.state()[TOPICS.info])
            assert "mikrotik" in info["isolation"]["backends"]
            await send_command(
                broker,
                {
                    "schema_version": 1,
                    "command_id": "m1",
                    "command": "isolate",
                    "camera_id": "bcad28000021",
                },
            )
            result = await until(sub, lambda s: s.last(TOPICS.command_result))
            await until(sub, lambda s: events(s, "isolation_failed"))
    body = result.json()
    check("command_result", body)
    assert body["command_id"] == "m1"
    assert body["status"] == "error"
    assert "router-secret" not in result.payload.decode()
    failed = [e for e in events(sub) if e["type"] == "isolation_failed"]
    assert [e["camera_id"] for e in failed] == ["bcad28000021"]
    check("event", failed[0])
    assert failed[0]["details"]["backend"] == "mikrotik"
    assert state_cameras(sub)["bcad28000021"]["isolation"]["state"] != "isolated"
    assert all(b"router-secret" not in m.payload for m in sub.messages())
