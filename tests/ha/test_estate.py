"""One Home Assistant, several agents: estate-wide totals, their hand-over, and the camera caps."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.cctv_sentinel.const import CONF_AGENT_ID, CONF_BASE_TOPIC, DOMAIN
from custom_components.cctv_sentinel.models import agent_topics

from .conftest import BASE_TOPIC, LOW_ID, RESTRICTED_ID, FakeAgent

BRANCH = "branch"


def _value(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


class BranchAgent(FakeAgent):
    """A second agent on the same broker (its own topics and id)."""

    def __init__(self, hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
        super().__init__(hass, mqtt_mock)
        self.topics = agent_topics(BASE_TOPIC, BRANCH)

    def info(self, fixture: str = "info", /, *, retain: bool = False, **changes: Any) -> Any:
        return super().info(fixture, retain=retain, **{"agent_id": BRANCH, **changes})


async def _branch(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> tuple[Any, BranchAgent]:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Branch",
        unique_id=BRANCH,
        data={CONF_AGENT_ID: BRANCH, CONF_BASE_TOPIC: BASE_TOPIC},
        version=1,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, BranchAgent(hass, mqtt_mock)


async def test_totals_count_each_camera_once(
    hass: HomeAssistant, loaded: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """A camera two agents see counts once; restricted, isolated and risk levels add up."""
    _, branch = await _branch(hass, mqtt_mock)
    branch.start("camera_isolated", "camera_low")  # both also seen by the head office
    branch.camera("camera_low", camera_id="0000000000b1", mac=None)
    await hass.async_block_till_done()

    # Head office: restricted, low, unknown; branch: the same two plus one more low.
    assert _value(hass, "sensor.estate_cameras") == "4"
    assert _value(hass, "sensor.estate_restricted_cameras") == "1"
    assert _value(hass, "sensor.estate_isolated_cameras") == "1"
    attributes = hass.states.get("sensor.estate_cameras").attributes  # type: ignore[union-attr]
    assert {key: attributes[key] for key in ("restricted", "elevated", "unknown", "low")} == {
        "restricted": 1,
        "elevated": 0,
        "unknown": 1,
        "low": 2,
    }
    assert attributes["agents"] == 2


async def test_totals_move_to_the_next_agent_on_unload(
    hass: HomeAssistant, loaded: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The entry carrying the totals unloads: another takes them, same entities, its counts."""
    branch_entry, branch = await _branch(hass, mqtt_mock)
    branch.start("camera_low")
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    entity_id = "sensor.estate_cameras"
    assert registry.async_get(entity_id).config_entry_id == loaded.entry_id  # type: ignore[union-attr]

    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()

    assert _value(hass, entity_id) == "1"
    assert _value(hass, "sensor.estate_restricted_cameras") == "0"
    assert registry.async_get(entity_id).config_entry_id == branch_entry.entry_id  # type: ignore[union-attr]
    assert len([e for e in registry.entities.values() if e.unique_id == "estate_cameras"]) == 1


async def test_estate_cap_holds_across_agents(
    hass: HomeAssistant, loaded: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """Past the estate's cap a second agent's new cameras are refused, visibly.

    Cameras the estate already follows are still accepted from another agent.
    """
    with patch("custom_components.cctv_sentinel.estate.MAX_ESTATE_CAMERAS", 4):
        branch_entry, branch = await _branch(hass, mqtt_mock)
        branch.start("camera_restricted")  # known already: no new camera
        for n in range(5):
            branch.camera("camera_low", camera_id=f"0000000000c{n}", mac=None)
        await hass.async_block_till_done()

    assert set(branch_entry.runtime_data.cameras) == {RESTRICTED_ID, "0000000000c0"}
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), branch_entry.entry_id)
    assert len(devices) == 1 + 2  # the agent and its two admitted cameras
    assert _value(hass, "sensor.estate_cameras") == "4"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"too_many_cameras_{BRANCH}")
    assert issue is not None
    assert issue.translation_placeholders == {"agent": "Branch", "limit": "4"}
    assert ir.async_get(hass).async_get_issue(DOMAIN, "too_many_cameras_head-office") is None


async def test_per_agent_cap_raises_the_repair(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """The per-agent cap says so in Repairs too; unloading withdraws it."""
    with patch("custom_components.cctv_sentinel.coordinator.MAX_CAMERAS", 3):
        agent.camera("camera_low", camera_id="0000000000d1", mac=None)
        await hass.async_block_till_done()
    issue_id = "too_many_cameras_head-office"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"agent": "Head office", "limit": "3"}
    assert LOW_ID in loaded.runtime_data.cameras
    assert await hass.config_entries.async_unload(loaded.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
