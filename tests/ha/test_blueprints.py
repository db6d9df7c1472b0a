"""Blueprints: valid under Home Assistant's blueprint schema, and they do what they say."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.cctv_sentinel.const import DOMAIN

from .conftest import FakeAgent

SOURCE = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / DOMAIN
BLUEPRINTS = sorted(path.name for path in SOURCE.glob("*.yaml"))
SENSOR = "binary_sensor.axis_p3245_lve_restricted_vendor"


def test_three_blueprints() -> None:
    """The notify, UniFi and generic blueprints ship."""
    assert BLUEPRINTS == [
        "isolate_restricted_camera_generic.yaml",
        "isolate_restricted_camera_unifi.yaml",
        "notify_restricted_camera.yaml",
    ]


@pytest.mark.parametrize("name", BLUEPRINTS)
def test_blueprint_schema(name: str) -> None:
    """Each passes the automation blueprint schema; metadata points at this repository."""
    blueprint = Blueprint(
        load_yaml_dict(SOURCE / name),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    metadata = blueprint.metadata
    assert metadata["source_url"].endswith(f"/blueprints/automation/{DOMAIN}/{name}")
    assert metadata["source_url"].startswith("https://github.com/cctv-sentinel/cctv-sentinel/")
    assert metadata["homeassistant"]["min_version"] == "2025.4.0"
    assert blueprint.validate() is None


async def use_blueprint(
    hass: HomeAssistant, tmp_path: Path, name: str, inputs: dict[str, Any]
) -> None:
    """Install the blueprints in a config dir and set up one automation from them."""
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(SOURCE, tmp_path / "blueprints" / "automation" / DOMAIN)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": name,
                "alias": Path(name).stem,
                "use_blueprint": {"path": f"{DOMAIN}/{name}", "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get(f"automation.{Path(name).stem}")
    assert state is not None
    assert state.state == "on", state.attributes


async def test_unifi_blocks_and_releases(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """Restricted → the UniFi block switch is turned off; cleared → back on when asked."""
    turned_off = async_mock_service(hass, "switch", "turn_off")
    turned_on = async_mock_service(hass, "switch", "turn_on")
    await use_blueprint(
        hass,
        tmp_path,
        "isolate_restricted_camera_unifi.yaml",
        {
            "restricted_sensor": SENSOR,
            "block_switch": "switch.gate_camera",
            "release_when_cleared": True,
        },
    )
    agent.camera("camera_low", risk="restricted")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turned_off] == [["switch.gate_camera"]]
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turned_on] == [["switch.gate_camera"]]


async def test_unifi_keeps_block_by_default(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """Without "unblock when cleared" a cleared verdict leaves the block in place."""
    turned_on = async_mock_service(hass, "switch", "turn_on")
    async_mock_service(hass, "switch", "turn_off")
    await use_blueprint(
        hass,
        tmp_path,
        "isolate_restricted_camera_unifi.yaml",
        {"restricted_sensor": SENSOR, "block_switch": "switch.gate_camera"},
    )
    agent.camera("camera_low", risk="restricted")
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert turned_on == []


async def test_generic_switch(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """A switch that isolates when on: turned on, then off again when cleared."""
    turned_on = async_mock_service(hass, "switch", "turn_on")
    turned_off = async_mock_service(hass, "switch", "turn_off")
    hass.states.async_set("switch.camera_vlan_quarantine", "off")
    await use_blueprint(
        hass,
        tmp_path,
        "isolate_restricted_camera_generic.yaml",
        {
            "restricted_sensor": SENSOR,
            "isolation_target": "switch.camera_vlan_quarantine",
            "isolated_state": "on",
            "release_when_cleared": True,
        },
    )
    agent.camera("camera_low", risk="restricted")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turned_on] == [["switch.camera_vlan_quarantine"]]
    agent.camera("camera_low")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turned_off] == [["switch.camera_vlan_quarantine"]]


async def test_generic_script_gets_the_camera(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """A script is run with the camera's entity and device id."""
    started = async_mock_service(hass, "script", "turn_on")
    await use_blueprint(
        hass,
        tmp_path,
        "isolate_restricted_camera_generic.yaml",
        {"restricted_sensor": SENSOR, "isolation_target": "script.block_on_opnsense"},
    )
    agent.camera("camera_low", risk="restricted")
    await hass.async_block_till_done()
    assert len(started) == 1
    assert started[0].data["entity_id"] == ["script.block_on_opnsense"]
    assert started[0].data["variables"] == {
        "camera_entity": SENSOR,
        "device_id": loaded.runtime_data.devices.device_ids["accc8e0a0b0c"],
    }


async def test_notify_on_detection(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """A newly restricted camera runs the notification with a readable message."""
    created = async_mock_service(hass, "persistent_notification", "create")
    await use_blueprint(hass, tmp_path, "notify_restricted_camera.yaml", {})
    agent.camera("camera_low", risk="restricted", manufacturer="Dahua", brand="Lorex")
    await hass.async_block_till_done()
    assert len(created) == 1
    assert created[0].data["title"] == "Restricted camera: Lorex P3245-LVE"
    message = created[0].data["message"]
    assert "at 192.168.10.30 (label Lorex) was made by Dahua" in message


async def test_notify_can_skip_elevated(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, tmp_path: Path
) -> None:
    """With "include elevated" off, elevated detections are not notified."""
    created = async_mock_service(hass, "persistent_notification", "create")
    hass.config_entries.async_update_entry(loaded, options={"alert_elevated": True})
    await hass.async_block_till_done()
    await use_blueprint(
        hass, tmp_path, "notify_restricted_camera.yaml", {"include_elevated": False}
    )
    agent.camera("camera_low", risk="elevated")
    await hass.async_block_till_done()
    assert created == []
    agent.camera("camera_unknown_routed", risk="restricted", state="present")
    await hass.async_block_till_done()
    assert len(created) == 1
