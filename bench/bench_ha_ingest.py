"""Home Assistant ingest benchmark: N agents x M retained camera states through HA's MQTT.

Run with Home Assistant's test harness on each line (numbers in docs/benchmarks.md):

    CCTV_BENCH_AGENTS=1 CCTV_BENCH_CAMERAS=1000 .venv/bin/pytest -p no:cacheprovider -q -s \
        bench/bench_ha_ingest.py
    scripts/ha-next env CCTV_BENCH_AGENTS=5 CCTV_BENCH_CAMERAS=1000 python -m pytest -p no:cacheprovider -q -s \
        bench/bench_ha_ingest.py

Messages go through HA's MQTT message dispatch (the mocked client's receive path, as in the
integration's tests); the integration does everything it does for real: parse, device
registry, entities, events, repairs; the registries are saved as Home Assistant saves them
(in the executor), not as the harness does (in the loop). A watchdog task measures the event
loop's longest stall (wall time), the most CPU time the loop's thread spent between two of its
turns less Python's garbage collection (the work that held the loop, without the time a shared
machine gave to other processes), and the collector's pauses (gc.callbacks): a full collection
walks the whole process's heap, whoever's code triggered it. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import logging
import os
import time
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import storage
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.cctv_sentinel.const import CONF_AGENT_ID, CONF_BASE_TOPIC, DOMAIN

PAYLOADS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "payloads"
AGENTS = int(os.environ.get("CCTV_BENCH_AGENTS", "1"))
CAMERAS = int(os.environ.get("CCTV_BENCH_CAMERAS", "1000"))
BATCH = 50
"""Messages delivered per loop turn, as a burst arrives in socket reads. Home Assistant's
MQTT client hands each message of a read to its subscribers at once, at about 0.4 ms a
message of its own here: the bench's deliveries are part of the stall it measures."""


REAL_WRITE = storage.Store._async_write_data  # noqa: SLF001 - the original, to restore it
"""Home Assistant's own storage write (serialise and write in the executor), taken before the
harness replaces it with one that serialises and checks the data inside the event loop."""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/cctv_sentinel."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The mocked MQTT client leaves its misc timer running."""
    return True


def _payloads(agent: str, site: int) -> list[tuple[str, str]]:
    base = json.loads((PAYLOADS / "camera_restricted.json").read_text("utf-8"))
    messages = []
    for n in range(CAMERAS):
        data = copy.deepcopy(base)
        camera_id = f"bcad28{site:02x}{n:04x}"  # each site its own cameras
        data["camera_id"] = camera_id
        data["mac"] = ":".join(camera_id[i : i + 2] for i in range(0, 12, 2))
        data["ip"] = f"198.18.{n // 250}.{n % 250 + 1}"  # sites reuse private ranges
        data["model"] = f"C{n}"
        if n % 3:  # a realistic mix: one in three restricted
            data["risk"] = "low"
            data["manufacturer"] = "Axis Communications"
            data["brand"] = "Axis"
            data["regimes"] = []
        messages.append((f"cctv_sentinel/{agent}/camera/{camera_id}", json.dumps(data)))
    return messages


@pytest.mark.timeout(1800)
@pytest.mark.usefixtures("mqtt_mock")
async def test_ingest(hass: HomeAssistant, tmp_path: Path) -> None:
    """Start-up, ingest time and the longest event-loop stall."""
    # Registries and our memory are saved as Home Assistant saves them, to a scratch directory.
    hass.config.config_dir = str(tmp_path)
    real_storage = patch.object(storage.Store, "_async_write_data", REAL_WRITE)
    real_storage.start()
    info = json.loads((PAYLOADS / "info.json").read_text("utf-8"))
    agents = [f"site-{n}" for n in range(AGENTS)]
    messages = {agent: _payloads(agent, site) for site, agent in enumerate(agents)}
    stall = 0.0
    own_stall = 0.0
    """The most loop-thread CPU time between two watchdog turns, less garbage collection."""
    gc_pauses: list[float] = []
    running = True

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            gc_pauses.append(-time.perf_counter())
        else:
            gc_pauses[-1] += time.perf_counter()

    async def watchdog() -> None:
        nonlocal stall, own_stall
        loop = asyncio.get_running_loop()
        while running:
            before, cpu, pauses = loop.time(), time.thread_time(), len(gc_pauses)
            await asyncio.sleep(0.005)
            late = loop.time() - before - 0.005
            in_gc = sum(pause for pause in gc_pauses[pauses:] if pause > 0)
            stall = max(stall, late)
            # The loop thread's own CPU time in the interval, less the collector's: the work
            # that held the loop, without the time the shared machine ran other processes.
            own_stall = max(own_stall, time.thread_time() - cpu - in_gc)

    # As Home Assistant runs: without asyncio's debug mode (the test harness turns it on;
    # it records a traceback for every future) and logging at WARNING (bootstrap.py,
    # without --verbose).
    asyncio.get_running_loop().set_debug(False)
    logging.getLogger().setLevel(logging.WARNING)
    gc.callbacks.append(on_gc)
    watcher = asyncio.create_task(watchdog())
    started = time.perf_counter()
    for agent in agents:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=agent,
            unique_id=agent,
            data={CONF_AGENT_ID: agent, CONF_BASE_TOPIC: "cctv_sentinel"},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    setup_s = time.perf_counter() - started
    stall_setup, stall, own_stall = stall, 0.0, 0.0
    gc_pauses.clear()

    started = time.perf_counter()
    for agent in agents:
        async_fire_mqtt_message(hass, f"cctv_sentinel/{agent}/status", "online", retain=True)
        async_fire_mqtt_message(
            hass, f"cctv_sentinel/{agent}/info", json.dumps({**info, "agent_id": agent})
        )
    burst = [message for agent in agents for message in messages[agent]]
    for offset in range(0, len(burst), BATCH):
        for topic, payload in burst[offset : offset + BATCH]:
            async_fire_mqtt_message(hass, topic, payload, qos=1, retain=True)
        await asyncio.sleep(0)  # the next socket read
    expected = AGENTS * (CAMERAS * 8 + 5) + 3  # 8 per camera, 5 per agent, 3 estate totals
    while len(hass.states.async_all()) < expected:  # entities are added in small batches
        await hass.async_block_till_done()
        await asyncio.sleep(0)
    ingest_s = time.perf_counter() - started
    running = False
    await watcher
    gc.callbacks.remove(on_gc)
    full_gc = time.perf_counter()
    gc.collect()
    full_gc_s = time.perf_counter() - full_gc
    entities = len(hass.states.async_all())
    restricted = sum(
        int(state.state)
        for state in hass.states.async_all("sensor")
        if state.entity_id.endswith("_restricted_cameras") and "estate" not in state.entity_id
    )
    estate = hass.states.get("sensor.estate_restricted_cameras")
    assert estate is not None
    assert int(estate.state) == restricted
    print(
        json.dumps(
            {
                "ha": __import__("homeassistant.const").const.__version__,
                "agents": AGENTS,
                "cameras_per_agent": CAMERAS,
                "setup_s": round(setup_s, 2),
                "setup_longest_stall_ms": round(stall_setup * 1000, 1),
                "ingest_s": round(ingest_s, 2),
                "ingest_longest_stall_ms": round(stall * 1000, 1),
                "ingest_longest_work_less_gc_ms": round(own_stall * 1000, 1),
                "gc_pauses": len(gc_pauses),
                "gc_longest_ms": round(max(gc_pauses, default=0) * 1000, 1),
                "gc_total_s": round(sum(gc_pauses), 2),
                "heap_objects": len(gc.get_objects()),
                "full_gc_ms": round(full_gc_s * 1000, 1),
                "entities": entities,
                "restricted": restricted,
            }
        )
    )
    assert restricted == AGENTS * len(range(0, CAMERAS, 3))
    for entry in hass.config_entries.async_entries(DOMAIN):
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    real_storage.stop()
