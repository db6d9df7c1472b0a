"""Setup, unload, reload, removal: nothing is left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components import mqtt, persistent_notification
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.cctv_sentinel import async_remove_config_entry_device
from custom_components.cctv_sentinel.const import (
    CONF_AGENT_ID,
    CONF_BASE_TOPIC,
    CONF_PERSISTENT_NOTIFICATION,
    DOMAIN,
)

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent


def notifications(hass: HomeAssistant) -> dict[str, Any]:
    """The persistent notifications currently shown."""
    return dict(persistent_notification._async_get_or_create_notifications(hass))


def our_subscriptions(hass: HomeAssistant) -> set[str]:
    """Topics Home Assistant's MQTT client is subscribed to for this agent."""
    # The mocked client wraps the real one, which keeps the subscription table.
    client = hass.data[mqtt.DATA_MQTT].client._mock_wraps
    return {sub.topic for sub in client.subscriptions if f"/{AGENT_ID}/" in sub.topic}


async def test_setup_subscribes_to_contract_topics(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """The entry follows exactly the agent's topics from docs/mqtt.md."""
    assert loaded.state is ConfigEntryState.LOADED
    assert our_subscriptions(hass) == {
        f"cctv_sentinel/{AGENT_ID}/status",
        f"cctv_sentinel/{AGENT_ID}/info",
        f"cctv_sentinel/{AGENT_ID}/camera/+",
        f"cctv_sentinel/{AGENT_ID}/event",
        f"cctv_sentinel/{AGENT_ID}/command/result",
    }


async def test_setup_retries_without_mqtt(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """No MQTT client: ConfigEntryNotReady (setup retries later)."""
    await async_setup_component(hass, "homeassistant", {})
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_unload_and_reload_leave_nothing_behind(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Unload drops subscriptions, repairs and entity states; reload brings them back."""
    assert issue_registry.async_get_issue(DOMAIN, f"camera_{AGENT_ID}_{RESTRICTED_ID}")
    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()
    assert loaded.state is ConfigEntryState.NOT_LOADED
    assert our_subscriptions(hass) == set()
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
    # Every entity and platform stopped listening to the entry's signals.
    listening = {
        str(signal)
        for signal, targets in hass.data.get("dispatcher", {}).items()
        if targets and str(signal).startswith(f"cctv_sentinel_{loaded.entry_id}")
    }
    assert listening == set()
    states = hass.states.async_all()
    ours = [s for s in states if s.entity_id.startswith(("sensor.annke", "binary_sensor.annke"))]
    assert ours
    assert all(s.state == STATE_UNAVAILABLE for s in ours)
    # Messages after unload reach nobody and break nothing.
    agent.camera("camera_low", brand="Changed")
    await hass.async_block_till_done()

    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted", "camera_low")
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.annke_c800_restricted_vendor").state == "on"
    assert len(our_subscriptions(hass)) == 5
    assert issue_registry.async_get_issue(DOMAIN, f"camera_{AGENT_ID}_{RESTRICTED_ID}")


async def test_reload_on_new_base_topic(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Changing the base topic (reconfigure, discovery) reloads onto the new topics."""
    hass.config_entries.async_update_entry(
        loaded, data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "moved"}
    )
    await hass.async_block_till_done()
    assert loaded.state is ConfigEntryState.LOADED
    assert loaded.runtime_data.base_topic == "moved"
    assert f"moved/{AGENT_ID}/status" in our_subscriptions(hass)
    assert f"cctv_sentinel/{AGENT_ID}/status" not in our_subscriptions(hass)


async def test_remove_entry_deletes_memory_and_notifications(
    hass: HomeAssistant,
    setup_entry: Callable[[], Any],
    agent: FakeAgent,
    hass_storage: dict[str, Any],
) -> None:
    """Deleting the entry removes its stored memory and dismisses its notifications."""
    entry = await setup_entry()
    hass.config_entries.async_update_entry(entry, options={CONF_PERSISTENT_NOTIFICATION: True})
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    assert f"{DOMAIN}_{AGENT_ID}" in notifications(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert f"{DOMAIN}.{entry.entry_id}" in hass_storage

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{entry.entry_id}" not in hass_storage
    assert f"{DOMAIN}_{AGENT_ID}" not in notifications(hass)


async def test_remove_config_entry_device(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A reported camera and the agent cannot be deleted; a camera gone missing can."""
    assert await async_setup_component(hass, "config", {})
    devices = {
        next(iter(d.identifiers))[1]: d
        for d in dr.async_entries_for_config_entry(device_registry, loaded.entry_id)
    }
    remove = async_remove_config_entry_device

    assert not await remove(hass, loaded, devices[AGENT_ID])
    assert not await remove(hass, loaded, devices[f"{AGENT_ID}:{RESTRICTED_ID}"])
    # The routed camera is reported "missing": a person may delete it.
    assert await remove(hass, loaded, devices[f"{AGENT_ID}:ip-198-18-1-10"])
    assert "ip-198-18-1-10" not in loaded.runtime_data.cameras

    # Not loaded: nothing would bring a camera back, so deleting is allowed.
    assert await hass.config_entries.async_unload(loaded.entry_id)
    assert await remove(hass, loaded, devices[f"{AGENT_ID}:{LOW_ID}"])
    assert not await remove(hass, loaded, devices[AGENT_ID])


async def test_services_exist_without_entries(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Actions are registered in async_setup, before (and without) any entry."""
    assert await async_setup_component(hass, DOMAIN, {})
    for service in ("rescan", "isolate", "release"):
        assert hass.services.has_service(DOMAIN, service)
