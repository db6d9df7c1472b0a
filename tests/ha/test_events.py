"""Events: the event entity and the cctv_sentinel_event bus event, fired on change only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.cctv_sentinel.const import CONF_ALERT_ELEVATED, EVENT_CCTV_SENTINEL

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent

EVENT_ENTITY = "event.head_office_camera_event"


def kinds(events: list[Any]) -> list[tuple[str, str]]:
    """(type, camera id) of captured bus events."""
    return [(event.data["type"], event.data["camera_id"]) for event in events]


async def test_found_and_detected_on_first_sight(
    hass: HomeAssistant, setup_entry: Callable[[], Any], agent: FakeAgent
) -> None:
    """A new restricted camera: found, then detected; the entity shows the last one."""
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    entry = await setup_entry()
    agent.start("camera_restricted", "camera_low")
    await hass.async_block_till_done()
    assert kinds(events) == [
        ("camera_found", RESTRICTED_ID),
        ("restricted_detected", RESTRICTED_ID),
        ("camera_found", LOW_ID),
    ]
    detected = events[1].data
    device = dr.async_get(hass).async_get(detected["device_id"])
    assert device is not None
    assert device.name == "Annke C800"
    assert detected == {
        "type": "restricted_detected",
        "device_id": device.id,
        "config_entry_id": entry.entry_id,
        "agent_id": AGENT_ID,
        "camera_id": RESTRICTED_ID,
        "name": "Annke C800",
        "manufacturer": "Hikvision",
        "brand": "Annke",
        "model": "C800",
        "ip": "192.168.10.21",
        "risk": "restricted",
        "regimes": ["FCC Covered List", "NDAA FY2019 Section 889"],
    }
    state = hass.states.get(EVENT_ENTITY)
    assert state is not None
    assert state.attributes["event_type"] == "camera_found"
    assert state.attributes["camera_id"] == LOW_ID


async def test_no_repeats_across_restarts(
    hass: HomeAssistant, setup_entry: Callable[[], Any], agent: FakeAgent
) -> None:
    """The same retained state after a reload fires nothing: events mean change."""
    entry = await setup_entry()
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    assert events == []


async def test_detected_and_cleared_on_change(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Risk changes fire detected/cleared once; unrelated changes fire nothing."""
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    agent.camera("camera_low", risk="restricted")
    agent.camera("camera_low", risk="restricted", firmware="11.0")
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert kinds(events) == [("restricted_detected", LOW_ID), ("restricted_cleared", LOW_ID)]
    state = hass.states.get(EVENT_ENTITY)
    assert state is not None
    assert state.attributes["event_type"] == "restricted_cleared"
    assert state.attributes["risk"] == "low"


async def test_policy_change_fires_detected(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Turning on alerts for elevated cameras detects the ones already known."""
    agent.camera("camera_low", risk="elevated")
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    hass.config_entries.async_update_entry(loaded, options={CONF_ALERT_ELEVATED: True})
    await hass.async_block_till_done()
    assert kinds(events) == [("restricted_detected", LOW_ID)]
    assert events[0].data["risk"] == "elevated"


async def test_removed_camera_is_found_again(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A camera the agent removed and later reports again is new again."""
    agent.remove(LOW_ID)
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert kinds(events) == [("camera_found", LOW_ID)]


async def test_agent_isolation_events_are_relayed(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """isolation_* events from the agent reach the bus with the camera's device id."""
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    agent.event(
        "event_restricted_detected",
        type="isolation_failed",
        details={"message": "nft: permission denied", "backend": "nftables"},
    )
    agent.event("event_restricted_detected", type="isolation_applied", camera_id="0000000000aa")
    agent.event("event_scan_finished")  # not relayed: HA derives its own events
    agent.event("event_camera_changed")  # ditto
    await hass.async_block_till_done()
    assert kinds(events) == [
        ("isolation_failed", RESTRICTED_ID),
        ("isolation_applied", "0000000000aa"),
    ]
    assert events[0].data["device_id"] == loaded.runtime_data.devices.device_ids[RESTRICTED_ID]
    assert events[0].data["message"] == "nft: permission denied"
    assert events[1].data["device_id"] is None
