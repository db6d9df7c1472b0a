"""Entities and devices, driven by the contract's example payloads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components.mqtt import MQTT_CONNECTION_STATE
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.cctv_sentinel.compat import SINGLE_ENTRY_DEVICES
from custom_components.cctv_sentinel.const import CONF_IGNORED_REGIMES, CONF_SHOW_SERIAL, DOMAIN

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent, our_devices, our_entities

CAMERA = "annke_c800"


def state(hass: HomeAssistant, entity_id: str) -> str:
    """The state of an entity, failing clearly when it does not exist."""
    current = hass.states.get(entity_id)
    assert current is not None, f"{entity_id} does not exist"
    return current.state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    "platform",
    [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.EVENT, Platform.SENSOR, Platform.SWITCH],
)
async def test_platform_snapshot(
    hass: HomeAssistant,
    setup_entry: Callable[[], Any],
    agent: FakeAgent,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of each platform: what we register and its state, for the example payloads."""
    with patch("custom_components.cctv_sentinel.PLATFORMS", [platform]):
        entry = await setup_entry()
        # The event entity's attributes name device ids, which differ on every run:
        # its contents are checked in test_events.py instead.
        cameras = ("camera_restricted", "camera_low", "camera_unknown_routed")
        agent.start(*(() if platform is Platform.EVENT else cameras))
        await hass.async_block_till_done()
        assert our_entities(hass, entry.entry_id) == snapshot


async def test_devices(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One device for the agent and one per camera, with the real maker and MAC."""
    assert our_devices(hass, loaded.entry_id) == snapshot
    camera = device_registry.async_get(loaded.runtime_data.devices.device_ids[RESTRICTED_ID])
    assert camera is not None
    assert camera.manufacturer == "Hikvision"  # not "Annke", the label on the box
    assert camera.model == "C800"
    assert camera.sw_version == "V5.5.3 build 200315"
    assert camera.name == "Annke C800"
    assert (dr.CONNECTION_NETWORK_MAC, "bc:ad:28:00:10:21") in camera.connections
    routed = device_registry.async_get(loaded.runtime_data.devices.device_ids["ip-198-18-1-10"])
    assert routed is not None
    assert routed.name == "Camera 198.18.1.10"  # no brand, no model: the IP
    assert routed.connections == set()


def parent_of(device: dr.DeviceEntry) -> str | None:
    """The registry id of a device's parent, on any line (both store via_device_id)."""
    return device.via_device_id


async def test_cameras_are_linked_to_their_agent(
    hass: HomeAssistant, loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """Every camera device sits under the agent's device; the agent under nothing."""
    devices = loaded.runtime_data.devices
    for camera_id, device_id in devices.device_ids.items():
        device = device_registry.async_get(device_id)
        assert device is not None
        assert parent_of(device) == devices.agent_device_id, camera_id
    agent = device_registry.async_get(devices.agent_device_id)
    assert agent is not None
    assert agent.via_device_id is None
    assert agent.entry_type is dr.DeviceEntryType.SERVICE
    assert agent.sw_version == "0.1.0"


async def test_device_page_fields(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Hardware version and web page when the agent knows them; serial only when opted in."""
    device_ids = loaded.runtime_data.devices.device_ids
    camera = device_registry.async_get(device_ids[RESTRICTED_ID])
    assert camera is not None
    assert camera.configuration_url == "http://192.168.10.21/"  # port 80 open
    assert camera.hw_version is None
    assert camera.serial_number is None  # the agent sent one; the user has not opted in

    agent.camera("camera_restricted", hw_version="E1", web_url="https://192.168.10.21:8443/")
    await hass.async_block_till_done()
    camera = device_registry.async_get(device_ids[RESTRICTED_ID])
    assert camera.hw_version == "E1"
    assert camera.configuration_url == "https://192.168.10.21:8443/"

    hass.config_entries.async_update_entry(loaded, options={CONF_SHOW_SERIAL: True})
    await hass.async_block_till_done()
    assert device_registry.async_get(device_ids[RESTRICTED_ID]).serial_number == "…8642"
    hass.config_entries.async_update_entry(loaded, options={CONF_SHOW_SERIAL: False})
    await hass.async_block_till_done()
    assert device_registry.async_get(device_ids[RESTRICTED_ID]).serial_number is None

    # A URL that is not a web page is dropped; the address stands in.
    agent.camera("camera_restricted", web_url="javascript:alert(1)")
    await hass.async_block_till_done()
    assert device_registry.async_get(device_ids[RESTRICTED_ID]).configuration_url == (
        "http://192.168.10.21/"
    )


async def test_hostile_device_strings_are_plain_text(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Control and bidi characters never reach a device name or a state."""
    agent.camera(
        "camera_low",
        brand="Ax\u202eis\x1b]8;;https://evil.example\x07",
        model="P3245\r\nSet-Cookie: x",
        firmware="10.12\u200b.206",
    )
    await hass.async_block_till_done()
    device = device_registry.async_get(loaded.runtime_data.devices.device_ids[LOW_ID])
    assert device.name == "Axis ]8;;https://evil.example P3245 Set-Cookie: x"
    assert device.sw_version == "10.12.206"
    firmware = [
        s.state for s in hass.states.async_all("sensor") if s.entity_id.endswith("_firmware")
    ]
    assert "10.12.206" in firmware


async def test_states_follow_camera_payloads(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A changed camera payload changes the entities; the agent counts follow."""
    assert state(hass, f"binary_sensor.{CAMERA}_restricted_vendor") == STATE_ON
    assert state(hass, f"sensor.{CAMERA}_risk") == "restricted"
    assert state(hass, f"sensor.{CAMERA}_maker") == "Hikvision"
    assert state(hass, f"sensor.{CAMERA}_brand") == "Annke"
    assert state(hass, f"sensor.{CAMERA}_confidence") == "97"
    assert state(hass, f"sensor.{CAMERA}_ip_address") == "192.168.10.21"
    assert state(hass, "sensor.axis_p3245_lve_risk") == "low"
    assert state(hass, "binary_sensor.axis_p3245_lve_restricted_vendor") == STATE_OFF
    assert state(hass, "sensor.head_office_cameras") == "3"
    assert state(hass, "sensor.head_office_restricted_cameras") == "1"
    assert state(hass, "sensor.head_office_last_scan") == "2026-11-28T09:15:04+00:00"
    attributes = hass.states.get(f"binary_sensor.{CAMERA}_restricted_vendor").attributes
    assert attributes["regimes"] == ["FCC Covered List (US)", "NDAA FY2019 Section 889 (US)"]
    assert "OUI BC:AD:28" in attributes["explanation"]

    agent.camera("camera_low", risk="restricted", ip="192.168.10.31", firmware="11.0")
    await hass.async_block_till_done()
    assert state(hass, "sensor.axis_p3245_lve_risk") == "restricted"
    assert state(hass, "binary_sensor.axis_p3245_lve_restricted_vendor") == STATE_ON
    assert state(hass, "sensor.axis_p3245_lve_ip_address") == "192.168.10.31"
    assert state(hass, "sensor.axis_p3245_lve_firmware") == "11.0"
    assert state(hass, "sensor.head_office_restricted_cameras") == "2"
    device = dr.async_get(hass).async_get(loaded.runtime_data.devices.device_ids[LOW_ID])
    assert device is not None
    assert device.sw_version == "11.0"


async def test_policy_ignoring_regimes_downgrades_to_elevated(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """A camera covered only by ignored regimes is elevated, not restricted."""
    hass.config_entries.async_update_entry(
        loaded, options={CONF_IGNORED_REGIMES: ["us-fcc-covered-list"]}
    )
    await hass.async_block_till_done()
    assert state(hass, f"sensor.{CAMERA}_risk") == "restricted"  # NDAA still counts
    attributes = hass.states.get(f"binary_sensor.{CAMERA}_restricted_vendor").attributes
    assert attributes["regimes"] == ["NDAA FY2019 Section 889 (US)"]

    hass.config_entries.async_update_entry(
        loaded, options={CONF_IGNORED_REGIMES: ["us-fcc-covered-list", "us-ndaa-889"]}
    )
    await hass.async_block_till_done()
    assert state(hass, f"sensor.{CAMERA}_risk") == "elevated"
    assert state(hass, f"binary_sensor.{CAMERA}_restricted_vendor") == STATE_OFF
    assert state(hass, "sensor.head_office_restricted_cameras") == "0"


async def test_new_camera_appears_without_reload(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A camera the agent starts reporting gets a device and entities at once."""
    agent.camera(
        "camera_low",
        camera_id="3ce36b000001",
        mac="3c:e3:6b:00:00:01",
        brand="Lorex",
        manufacturer="Dahua",
        model="LNB8005",
        risk="restricted",
    )
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.lorex_lnb8005_restricted_vendor") == STATE_ON
    assert state(hass, "sensor.lorex_lnb8005_maker") == "Dahua"
    assert state(hass, "sensor.head_office_cameras") == "4"
    assert len(dr.async_entries_for_config_entry(device_registry, loaded.entry_id)) == 5


async def test_removed_camera_is_removed(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """An empty retained payload removes the device, its entities and its state."""
    device_id = loaded.runtime_data.devices.device_ids[RESTRICTED_ID]
    agent.remove(RESTRICTED_ID)
    await hass.async_block_till_done()
    assert device_registry.async_get(device_id) is None
    assert er.async_entries_for_device(entity_registry, device_id) == []
    assert hass.states.get(f"binary_sensor.{CAMERA}_restricted_vendor") is None
    assert state(hass, "sensor.head_office_cameras") == "2"
    assert state(hass, "sensor.head_office_restricted_cameras") == "0"

    # It comes back: new device, entities again.
    agent.camera("camera_restricted")
    await hass.async_block_till_done()
    assert state(hass, f"binary_sensor.{CAMERA}_restricted_vendor") == STATE_ON


async def test_removal_keeps_devices_shared_with_other_integrations(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Another integration's device for the same camera survives our removal.

    Up to HA 2026.7 the registry merges devices that share a MAC, so only our entry
    leaves the shared device; from 2026.8 each entry has its own device and ours goes.
    """
    other = MockConfigEntry(domain="unifi")
    other.add_to_hass(hass)
    gate = device_registry.async_get_or_create(
        config_entry_id=other.entry_id,
        connections={(dr.CONNECTION_NETWORK_MAC, "bc:ad:28:00:10:21")},
        name="Gate camera",
    )
    ours = loaded.runtime_data.devices.device_ids[RESTRICTED_ID]
    assert (ours == gate.id) is not SINGLE_ENTRY_DEVICES
    agent.remove(RESTRICTED_ID)
    await hass.async_block_till_done()
    survivor = device_registry.async_get(gate.id)
    assert survivor is not None
    assert survivor.name == "Gate camera"
    assert [d.id for d in dr.async_entries_for_config_entry(device_registry, other.entry_id)] == [
        gate.id
    ]
    assert RESTRICTED_ID not in {
        loaded.runtime_data.camera_id_of(d)
        for d in dr.async_entries_for_config_entry(device_registry, loaded.entry_id)
    }
    if SINGLE_ENTRY_DEVICES:
        assert device_registry.async_get(ours) is None


async def test_stale_devices_removed_after_a_scan(
    hass: HomeAssistant,
    setup_entry: Callable[[], Any],
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A camera device the agent stopped reporting while HA was down goes after the next scan."""
    entry = await setup_entry()
    agent.start("camera_restricted", "camera_low")
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)

    # Restart: the retained state no longer holds the Axis camera.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    names = {d.name for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)}
    assert "Axis P3245-LVE" in names  # not yet: retained state may still be arriving

    # A live info with a newer finished scan: now it is certainly gone.
    info = agent.info(retain=False)
    info["scan"]["last_finished"] = "2026-11-28T10:00:00+00:00"
    agent.fire(agent.topics.info, info, retain=False)
    await hass.async_block_till_done()
    names = {d.name for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)}
    assert names == {"Head office", "Annke C800"}


async def test_availability_follows_status_and_mqtt(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Offline agent or lost broker: unavailable, logged once each way."""
    caplog.set_level(logging.INFO, logger="custom_components.cctv_sentinel")
    assert state(hass, "binary_sensor.head_office_online") == STATE_ON

    agent.status("offline")
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.head_office_online") == STATE_OFF
    assert state(hass, f"sensor.{CAMERA}_risk") == STATE_UNAVAILABLE
    assert state(hass, "sensor.head_office_cameras") == STATE_UNAVAILABLE
    agent.status("offline")  # repeated: no second log line
    await hass.async_block_till_done()
    assert caplog.text.count("is unavailable: the agent is offline") == 1

    agent.status("online")
    await hass.async_block_till_done()
    assert state(hass, f"sensor.{CAMERA}_risk") == "restricted"
    assert caplog.text.count("is available again") == 1

    loaded.runtime_data  # noqa: B018 - the coordinator listens to the dispatcher signal
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.head_office_online") == STATE_UNAVAILABLE
    assert state(hass, f"sensor.{CAMERA}_risk") == STATE_UNAVAILABLE
    assert caplog.text.count("is unavailable: MQTT is disconnected") == 1

    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert state(hass, f"sensor.{CAMERA}_risk") == "restricted"
    assert caplog.text.count("is available again") == 2


async def test_unavailable_until_status_heard(
    hass: HomeAssistant,
    setup_entry: Callable[[], Any],
    agent: FakeAgent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before the status arrives nothing claims to know; an offline start is logged once."""
    caplog.set_level(logging.INFO, logger="custom_components.cctv_sentinel")
    await setup_entry()
    assert state(hass, "binary_sensor.head_office_online") == STATE_UNAVAILABLE
    assert state(hass, "sensor.head_office_cameras") == STATE_UNAVAILABLE
    agent.status("offline")
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.head_office_online") == STATE_OFF
    assert caplog.text.count("is unavailable") == 1
    agent.fire(agent.topics.status, "")  # cleared status counts as offline
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.head_office_online") == STATE_OFF


async def test_missing_camera_is_unavailable_except_diagnostics(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A camera not seen in the last scans: verdict unavailable, IP and switch still there."""
    assert state(hass, "sensor.camera_198_18_1_10_risk") == STATE_UNAVAILABLE
    assert state(hass, "sensor.camera_198_18_1_10_ip_address") == "198.18.1.10"
    assert state(hass, "switch.camera_198_18_1_10_isolated") == STATE_OFF
    agent.camera("camera_unknown_routed", state="present")
    await hass.async_block_till_done()
    assert state(hass, "sensor.camera_198_18_1_10_risk") == "unknown"
    assert state(hass, "sensor.camera_198_18_1_10_maker") == STATE_UNKNOWN


async def test_isolation_switch_only_with_a_backend(
    hass: HomeAssistant, setup_entry: Callable[[], Any], agent: FakeAgent
) -> None:
    """No backend, no switch; a backend appears later: switches for every camera."""
    await setup_entry()
    agent.start("camera_restricted", info="info_no_isolation")
    await hass.async_block_till_done()
    assert hass.states.get(f"switch.{CAMERA}_isolated") is None
    agent.info("info")
    await hass.async_block_till_done()
    assert state(hass, f"switch.{CAMERA}_isolated") == STATE_OFF
    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    assert state(hass, f"switch.{CAMERA}_isolated") == STATE_ON
    agent.info("info_no_isolation")
    await hass.async_block_till_done()
    assert state(hass, f"switch.{CAMERA}_isolated") == STATE_UNAVAILABLE


@pytest.mark.parametrize(
    ("topic_suffix", "data", "kind"),
    [
        ("info", "not json", "info"),
        ("info", '{"schema_version": 1, "agent_id": "x"}', "info"),
        ("camera/bcad28001021", '{"schema_version": 1}', "camera"),
        ("camera/NOT-AN-ID", '{"schema_version": 1}', "camera"),
        ("event", "[]", "event"),
        ("command/result", '{"schema_version": "1"}', "command result"),
        ("status", "maybe", "status"),
    ],
)
async def test_bad_payloads_are_logged_once_and_ignored(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    caplog: pytest.LogCaptureFixture,
    topic_suffix: str,
    data: str,
    kind: str,
) -> None:
    """Contract violations never crash or change anything; a warning, then debug."""
    before = {s.entity_id: s.state for s in hass.states.async_all()}
    for _ in range(3):
        agent.fire(f"cctv_sentinel/{AGENT_ID}/{topic_suffix}", data)
        await hass.async_block_till_done()
    assert caplog.text.count(f"Ignoring {kind} payload from CCTV Sentinel agent") == 1
    after = {s.entity_id: s.state for s in hass.states.async_all()}
    assert {k: v for k, v in after.items() if not k.startswith("event.")} == {
        k: v for k, v in before.items() if not k.startswith("event.")
    }


async def test_camera_payload_on_wrong_topic_is_ignored(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A camera's payload under another camera's id is a contract violation."""
    data = agent.camera("camera_low")
    agent.fire(f"{agent.topics.camera[:-1]}0000000000aa", data)
    await hass.async_block_till_done()
    assert "0000000000aa" not in loaded.runtime_data.cameras


async def test_info_of_another_agent_is_ignored(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Info naming another agent on our topic is not believed."""
    agent.info("info_no_isolation", agent_id="intruder")
    await hass.async_block_till_done()
    assert loaded.runtime_data.state.has_isolation


async def test_too_many_cameras_are_refused(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A flood of camera topics stops at the cap instead of filling the registry."""
    with patch("custom_components.cctv_sentinel.coordinator.MAX_CAMERAS", 4):
        for n in range(3):
            agent.camera("camera_low", camera_id=f"00000000000{n}", mac=None)
        await hass.async_block_till_done()
    assert len(loaded.runtime_data.cameras) == 4


async def test_unsupported_schema_raises_repair(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """A payload from a newer contract opens a (non-fixable) issue; a good one closes it."""
    agent.camera("camera_low", schema_version=2)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_schema_{AGENT_ID}")
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_placeholders == {"agent": "Head office", "version": "2"}
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_schema_{AGENT_ID}") is None

    # Raised again, it is withdrawn on unload with the entry's other issues.
    agent.info("info", schema_version=3)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_schema_{AGENT_ID}")
    assert await hass.config_entries.async_unload(loaded.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_schema_{AGENT_ID}") is None


async def test_retired_agent_clears_info(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """An empty info (the agent retired) keeps what is known; cameras go one by one."""
    agent.fire(agent.topics.info, "")
    await hass.async_block_till_done()
    assert loaded.runtime_data.state.info is not None
    assert state(hass, "sensor.head_office_last_scan") == "2026-11-28T09:15:04+00:00"
