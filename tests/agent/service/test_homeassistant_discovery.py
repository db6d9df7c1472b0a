"""The optional Home Assistant MQTT-discovery payloads are what Home Assistant accepts."""

from __future__ import annotations

import pytest

from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.contract import Topics
from cctv_sentinel.mqtt.homeassistant import Discovery
from tests.agent.service.support import dahua_routed, facts, hikvision

TOPICS = Topics("cctv_sentinel", "head-office")


@pytest.fixture
def payloads(tmp_path):
    inv = Inventory(tmp_path / "inv.sqlite3")
    inv.open()
    inv.observe(facts(hikvision() + dahua_routed()), at=1.8e9, full_scan=True)
    out = {r.ip: contract.camera_payload(r, regimes={}) for r in inv.records()}
    inv.close()
    return out


def test_topics_are_where_docs_mqtt_md_says(payloads):
    discovery = Discovery(TOPICS)
    restricted, risk = discovery.config_topics("bcad28000021")
    assert restricted == (
        "homeassistant/binary_sensor/cctv_sentinel_head-office_bcad28000021/restricted/config"
    )
    assert risk == "homeassistant/sensor/cctv_sentinel_head-office_bcad28000021/risk/config"
    configs = discovery.configs(payloads["198.18.0.21"], "0.1.0")
    assert set(configs) == {restricted, risk}
    for config in configs.values():
        assert config["state_topic"] == "cctv_sentinel/head-office/camera/bcad28000021"
        assert config["availability_topic"] == "cctv_sentinel/head-office/status"
    assert Discovery(TOPICS, "ha").config_topics("x")[0].startswith("ha/binary_sensor/")


@pytest.fixture
async def hass(tmp_path):
    """A bare Home Assistant core: enough for its config validators and templates."""
    core = pytest.importorskip("homeassistant.core")
    frame = pytest.importorskip("homeassistant.helpers.frame")
    instance = core.HomeAssistant(str(tmp_path / "ha"))
    frame.async_setup(instance)
    yield instance
    await instance.async_stop(force=True)


async def test_home_assistant_accepts_the_configs(hass, payloads):
    from homeassistant.components.mqtt import binary_sensor, sensor  # noqa: PLC0415  (optional)

    discovery = Discovery(TOPICS)
    for payload in payloads.values():
        restricted_topic, risk_topic = discovery.config_topics(payload["camera_id"])
        configs = discovery.configs(payload, "0.1.0")
        accepted = binary_sensor.DISCOVERY_SCHEMA(configs[restricted_topic])
        assert accepted["device_class"] == "problem"
        accepted = sensor.DISCOVERY_SCHEMA(configs[risk_topic])
        assert accepted["options"] == ["restricted", "elevated", "unknown", "low"]


async def test_value_templates_read_the_camera_payload(hass, payloads):
    from homeassistant.helpers import template  # noqa: PLC0415  (optional)

    hik = payloads["198.18.0.21"]
    configs = Discovery(TOPICS).configs(hik, "0.1.0")
    restricted_topic, risk_topic = Discovery(TOPICS).config_topics(hik["camera_id"])
    variables = {"value_json": hik}
    on = template.Template(configs[restricted_topic]["value_template"], hass)
    assert on.async_render(variables, parse_result=False) == "ON"
    level = template.Template(configs[risk_topic]["value_template"], hass)
    assert level.async_render(variables, parse_result=False) == "restricted"
    low = {**hik, "risk": "low"}
    assert on.async_render({"value_json": low}, parse_result=False) == "OFF"


def test_device_names_fall_back_to_the_address(payloads):
    routed = payloads["198.18.1.10"]
    configs = Discovery(TOPICS).configs(routed, "0.1.0")
    device = next(iter(configs.values()))["device"]
    assert device["name"] == "Dahua" or device["name"].startswith("Camera ")
    assert "connections" not in device  # no MAC behind a router
    hik_device = next(iter(Discovery(TOPICS).configs(payloads["198.18.0.21"], "0.1.0").values()))[
        "device"
    ]
    assert hik_device["connections"] == [["mac", "bc:ad:28:00:00:21"]]
    assert hik_device["manufacturer"] == "Hikvision"
