"""CCTV Sentinel: cameras by restricted makers, reported by an agent over MQTT."""

from __future__ import annotations

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import CONF_AGENT_ID, CONF_BASE_TOPIC, DOMAIN, PLATFORMS
from .coordinator import SentinelConfigEntry, SentinelCoordinator, async_forget_entry
from .dashboard import async_setup_dashboard
from .devices import camera_id_of
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, so they exist (and explain themselves) with no agent loaded."""
    async_setup_services(hass)
    async_setup_dashboard(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: SentinelConfigEntry) -> bool:
    """Follow one agent over Home Assistant's MQTT connection."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
    coordinator = SentinelCoordinator(hass, entry)
    await coordinator.async_load()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await coordinator.async_subscribe()
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SentinelConfigEntry) -> bool:
    """Stop following the agent; subscriptions end through the entry's unload callbacks."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def _async_entry_updated(hass: HomeAssistant, entry: SentinelConfigEntry) -> None:
    """Reload for a new base topic; apply policy changes in place."""
    coordinator = entry.runtime_data
    if entry.data[CONF_BASE_TOPIC] != coordinator.base_topic:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    coordinator.async_apply_options()


async def async_remove_entry(hass: HomeAssistant, entry: SentinelConfigEntry) -> None:
    """Delete what the entry stored and the notifications it raised."""
    await async_forget_entry(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SentinelConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let a person delete a camera the agent no longer reports (never the agent itself)."""
    camera_id = camera_id_of(entry.data[CONF_AGENT_ID], device.identifiers)
    if camera_id is None:
        return False
    if entry.state is not ConfigEntryState.LOADED:
        return True  # nothing is following the agent, so nothing would bring it back
    return entry.runtime_data.async_forget_camera(camera_id)
