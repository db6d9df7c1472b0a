"""Diagnostics: complete enough to debug, with nothing that identifies a site."""

from __future__ import annotations

import json
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.cctv_sentinel.const import CONF_ACKNOWLEDGED

from .conftest import LOW_ID, RESTRICTED_ID, FakeAgent

MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE)
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def assert_anonymous(data: object) -> None:
    """No MAC, IP address, MAC-derived camera id or serial anywhere in the text."""
    text = json.dumps(data)
    assert not MAC.search(text), MAC.search(text)
    assert not IPV4.search(text), IPV4.search(text)
    for secret in (RESTRICTED_ID, LOW_ID, "198-18-1-10", "8642", "192.168.10.0"):
        assert secret not in text


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    snapshot: SnapshotAssertion,
) -> None:
    """The whole entry, redacted, with camera ids replaced consistently."""
    hass.config_entries.async_update_entry(loaded, options={CONF_ACKNOWLEDGED: [LOW_ID]})
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "diagnostics", {})
    data = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    assert_anonymous(data)
    assert data == snapshot
    # The acknowledged camera and its state carry the same stand-in name.
    ack = data["entry"]["options"][CONF_ACKNOWLEDGED][0]
    assert data["cameras"][ack]["brand"] == "Axis"
    assert data["cameras"]["camera_2"]["manufacturer"] == "Hikvision"
    assert data["cameras"]["camera_2"]["mac"] == "**REDACTED**"


async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A camera device gets its camera; the agent device gets the whole entry."""
    assert await async_setup_component(hass, "diagnostics", {})
    coordinator = loaded.runtime_data
    camera = device_registry.async_get(coordinator.devices.device_ids[RESTRICTED_ID])
    data = await get_diagnostics_for_device(hass, hass_client, loaded, camera)
    assert_anonymous(data)
    assert data["camera"]["risk"] == "restricted"
    assert data["camera"]["ha_needs_repair"] is True
    assert data["camera"]["camera_id"] == "camera_2"

    agent_device = device_registry.async_get(coordinator.devices.agent_device_id)
    data = await get_diagnostics_for_device(hass, hass_client, loaded, agent_device)
    assert_anonymous(data)
    assert set(data["cameras"]) == {"camera_1", "camera_2", "camera_3"}
