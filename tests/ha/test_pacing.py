"""A burst of messages is queued by the MQTT callbacks and worked off in slices, in order."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.cctv_sentinel.const import EVENT_CCTV_SENTINEL

from .conftest import FakeAgent

BURST = 30


async def test_burst_is_worked_off_in_slices_in_order(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """The callbacks only queue; each loop turn does a slice; in the end all, in order.

    With no time per slice, each slice handles exactly one message, so the loop
    gets a turn between any two cameras.
    """
    coordinator = loaded.runtime_data
    before = len(coordinator.cameras)
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    ids = [f"0000000001{n:02x}" for n in range(BURST)]
    with patch("custom_components.cctv_sentinel.pacing.SLICE", 0.0):
        for camera_id in ids:
            agent.camera("camera_low", camera_id=camera_id, mac=None)
        assert len(coordinator.cameras) == before  # nothing done inside the callbacks
        for _ in range(3):
            await asyncio.sleep(0)
        assert before < len(coordinator.cameras) < before + BURST
        await hass.async_block_till_done()
    assert len(coordinator.cameras) == before + BURST
    found = [event.data["camera_id"] for event in events if event.data["type"] == "camera_found"]
    assert found == ids
    registry = er.async_get(hass)
    risks = [e for e in registry.entities.values() if e.unique_id.endswith("_risk")]
    assert len(risks) == before + BURST  # every camera got its entities
    assert all(hass.states.get(entry.entity_id) is not None for entry in risks)


async def test_flood_past_the_queue_is_dropped(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """More messages than the queue holds: the rest are dropped, what was queued is done."""
    coordinator = loaded.runtime_data
    before = len(coordinator.cameras)
    with patch("custom_components.cctv_sentinel.ingest.MAX_QUEUED", 5):
        for n in range(8):
            agent.camera("camera_low", camera_id=f"0000000002{n:02x}", mac=None)
        await hass.async_block_till_done()
    assert len(coordinator.cameras) == before + 5
