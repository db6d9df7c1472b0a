"""Many sites, one estate: real agents publish to their site brokers, Mosquitto bridges carry
``cctv_sentinel/#`` to a central broker (docs/estate.md), and the estate report reads it.

Three real Mosquitto processes on loopback (two site brokers bridged out to one
central broker, all with persistence as docs/estate.md recommends) and two real
agents in-process, fed by scripted networks through the real identify (as in
test_service.py). A site broker and then the central broker go away and come
back while the agents keep scanning: afterwards the central broker holds
exactly the state the agents hold, and the report counts a camera that both
sites see once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel.service.config import config_from_mapping
from tests.agent.service.support import axis, dahua_routed, hikvision
from tests.agent.service.test_service import ScriptedNetwork, running
from tests.lab.broker import ESTATE_QUEUE, Broker, Subscriber, bridge_config
from tests.lab.procs import child_env

pytestmark = pytest.mark.broker

SHARED = "bc:ad:28:00:00:21"


def agent_config(broker: Broker, state: Path, agent_id: str, name: str) -> Any:
    return config_from_mapping(
        {
            "agent": {"id": agent_id, "name": name, "state_dir": str(state)},
            "mqtt": {
                "broker": f"mqtt://{broker.host}:{broker.port}",
                "reconnect_min": 0.05,
                "reconnect_max": 0.3,
                "last_seen_interval": 3600,
            },
            "scan": {"networks": ["198.18.0.0/23"], "interval": 0.3, "jitter": 0, "passive": False},
        },
        env={},
    )


def cameras_on(sub: Subscriber, agent_id: str) -> dict[str, dict[str, Any]]:
    prefix = f"cctv_sentinel/{agent_id}/camera/"
    return {t[len(prefix) :]: json.loads(p) for t, p in sub.state().items() if t.startswith(prefix)}


async def until(sub: Subscriber, predicate: Any, timeout: float = 30.0) -> Any:
    return await asyncio.to_thread(sub.wait_for, predicate, timeout)


@pytest.fixture
def estate(tmp_path: Path):
    central = Broker(persistence=True, workdir=tmp_path / "central", extra_config=ESTATE_QUEUE)
    central.start()
    sites = []
    try:
        for name in ("site-a", "site-b"):
            site = Broker(
                persistence=True,
                workdir=tmp_path / name,
                extra_config=bridge_config(f"{name}-to-central", central),
            )
            site.start()
            sites.append(site)
        yield central, sites
    finally:
        for broker in (*sites, central):
            broker.close()


async def test_bridges_carry_every_state_through_outages_without_loss(estate, tmp_path):
    central, (site_a, site_b) = estate
    town = ScriptedNetwork(hikvision(mac=SHARED) + axis())
    library = ScriptedNetwork(
        hikvision(ip="198.18.1.21", mac=SHARED)
        + hikvision(ip="198.18.1.77", mac="bc:ad:28:00:00:77")
    )
    a = agent_config(site_a, tmp_path / "a", "town-hall", "Town hall")
    b = agent_config(site_b, tmp_path / "b", "library", "Library")
    with Subscriber(central, topics=["cctv_sentinel/#"]) as sub:
        async with running(a, town) as agent_a, running(b, library) as agent_b:
            await until(sub, lambda s: len(cameras_on(s, "town-hall")) == 2)
            await until(sub, lambda s: len(cameras_on(s, "library")) == 2)

            # The town hall's broker goes away; the town hall gets a new camera meanwhile.
            await asyncio.to_thread(site_a.stop)
            town.observations = town.observations + dahua_routed()
            await asyncio.sleep(1.0)  # scans run while the broker is away
            await asyncio.to_thread(site_a.start)
            await until(sub, lambda s: len(cameras_on(s, "town-hall")) == 3)

            # The central broker goes away; the library's cameras change meanwhile.
            await asyncio.to_thread(central.stop)
            library.observations = library.observations + axis(
                ip="198.18.1.30", mac="ac:cc:8e:00:00:31"
            )
            await asyncio.sleep(1.5)
            await asyncio.to_thread(central.start)
            await until(sub, lambda s: len(cameras_on(s, "library")) == 3, timeout=45)

            # Nothing lost: the central broker holds what each agent holds.
            want_a = {r.camera_id for r in agent_a.inventory.records()}
            want_b = {r.camera_id for r in agent_b.inventory.records()}
            assert set(cameras_on(sub, "town-hall")) == want_a
            assert set(cameras_on(sub, "library")) == want_b
            for agent in ("town-hall", "library"):
                assert json.loads(sub.state()[f"cctv_sentinel/{agent}/history"])["days"]
            # Nothing duplicated: each camera was announced once per agent. QoS 1 is at least
            # once, so a message in flight when a broker went away may arrive twice: with the
            # same event_id, which is what a consumer dedupes on (docs/mqtt.md, Event).
            found: dict[tuple[str, str], set[str]] = {}
            for m in sub.messages():
                if m.topic.endswith("/event") and m.json()["type"] == "camera_found":
                    found.setdefault((m.topic, m.json()["camera_id"]), set()).add(
                        m.json()["event_id"]
                    )
            # (Events are not state: this observer's own session restarts with the central
            # broker, so it may miss some; the retained state above is what must be complete.)
            assert all(len(ids) == 1 for ids in found.values()), found

            report = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "cctv_sentinel", "report", "--from-broker",
                 f"mqtt://{central.host}:{central.port}", "--format", "csv"],
                capture_output=True,
                text=True,
                timeout=60,
                env=child_env(),
            )  # fmt: skip
    assert report.returncode == 1, report.stderr  # restricted cameras are in place
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    shared = [r for r in rows if r["camera"] == SHARED.replace(":", "")]
    assert len(shared) == 1
    assert shared[0]["sites"] == "Library; Town hall"
    # Stable ids merge across sites; an IP-only id stays per site.
    stable = {c for c in want_a | want_b if not c.startswith("ip-")}
    per_site = [c for c in (*want_a, *want_b) if c.startswith("ip-")]
    assert len(rows) == len(stable) + len(per_site)
    assert "retained messages" in report.stderr
