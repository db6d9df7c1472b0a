"""Repairs: one issue per restricted camera, fixed by isolating or acknowledging it."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cctv_sentinel.const import (
    CONF_ACKNOWLEDGED,
    CONF_ALERT_ELEVATED,
    CONF_PERSISTENT_NOTIFICATION,
    DOMAIN,
)

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent

ISSUE_ID = f"camera_{AGENT_ID}_{RESTRICTED_ID}"
NOTIFICATION_ID = f"{DOMAIN}_{AGENT_ID}"


def issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """Our open issues by id."""
    return {
        issue.issue_id: issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.active
    }


def notifications(hass: HomeAssistant) -> dict[str, Any]:
    """The persistent notifications currently shown."""
    return dict(persistent_notification._async_get_or_create_notifications(hass))


@pytest.fixture
async def repairs(hass: HomeAssistant) -> Any:
    """The repairs integration's flow manager (what the frontend's fix dialog drives)."""
    assert await async_setup_component(hass, "repairs", {})
    return hass.data["repairs"]["flow_manager"]


async def test_issue_for_restricted_camera_only(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """The restricted camera has a fixable warning; low and unknown cameras have none."""
    found = issues(hass)
    assert list(found) == [ISSUE_ID]
    issue = found[ISSUE_ID]
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "restricted_camera"
    assert issue.translation_placeholders == {
        "name": "Annke C800",
        "agent": "Head office",
        "manufacturer": "Hikvision",
        "brand": "Annke",
        "model": "C800",
        "ip": "192.168.10.21",
        "confidence": "97",
        "regimes": "FCC Covered List (US), NDAA FY2019 Section 889 (US)",
        "explanation": "label Annke; SADP reply, ISAPI endpoint and OUI BC:AD:28 say Hikvision",
    }
    assert issue.data == {"entry_id": loaded.entry_id, "camera_id": RESTRICTED_ID}


async def test_issue_removed_when_isolated_cleared_or_gone(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Isolated, no longer restricted, or removed: the issue goes; back again: it returns."""
    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    assert issues(hass) == {}
    agent.camera("camera_restricted")
    await hass.async_block_till_done()
    assert list(issues(hass)) == [ISSUE_ID]
    agent.camera("camera_restricted", risk="low")
    await hass.async_block_till_done()
    assert issues(hass) == {}
    agent.camera("camera_restricted")
    await hass.async_block_till_done()
    agent.remove(RESTRICTED_ID)
    await hass.async_block_till_done()
    assert issues(hass) == {}


async def test_elevated_cameras_alert_when_asked(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Elevated cameras get an issue of their own kind only with the option on."""
    agent.camera("camera_low", risk="elevated")
    await hass.async_block_till_done()
    assert f"camera_{AGENT_ID}_{LOW_ID}" not in issues(hass)
    hass.config_entries.async_update_entry(loaded, options={CONF_ALERT_ELEVATED: True})
    await hass.async_block_till_done()
    issue = issues(hass)[f"camera_{AGENT_ID}_{LOW_ID}"]
    assert issue.translation_key == "elevated_camera"


async def test_fix_by_isolating(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """Menu → isolate: the documented command goes out; the agent's confirmation closes it."""
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["isolate", "acknowledge"]
    assert result["description_placeholders"]["manufacturer"] == "Hikvision"

    result = await repairs.async_configure(result["flow_id"], {"next_step_id": "isolate"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(agent.commands) == 1
    command = agent.commands[0]
    assert command["command"] == "isolate"
    assert command["camera_id"] == RESTRICTED_ID
    assert command["reason"] == "restricted vendor (Home Assistant repair)"
    assert command["requested_by"]["source"] == "home_assistant"
    assert issues(hass) == {}

    # The agent publishes the isolated state: the issue stays closed.
    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    assert issues(hass) == {}


async def test_fix_isolation_refused_keeps_issue(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """The agent says no: the flow aborts with the agent's reason; the issue stays."""
    agent.answer = "refused"
    agent.message = "camera is the NVR uplink; refusing"
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    result = await repairs.async_configure(result["flow_id"], {"next_step_id": "isolate"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "isolation_failed"
    assert "camera is the NVR uplink; refusing" in result["description_placeholders"]["error"]
    assert list(issues(hass)) == [ISSUE_ID]


async def test_fix_without_backend_offers_acknowledge_only(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """No isolation backend on the agent: only acknowledging is offered."""
    agent.info("info_no_isolation")
    await hass.async_block_till_done()
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    assert result["menu_options"] == ["acknowledge"]


async def test_fix_by_acknowledging_survives_restart(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """Acknowledge: stored in the options, the issue goes and does not come back."""
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    result = await repairs.async_configure(result["flow_id"], {"next_step_id": "acknowledge"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded.options[CONF_ACKNOWLEDGED] == [RESTRICTED_ID]
    assert issues(hass) == {}
    assert agent.commands == []

    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    assert issues(hass) == {}
    # Still a restricted camera: acknowledging changes alerts, not facts.
    assert hass.states.get("binary_sensor.annke_c800_restricted_vendor").state == "on"


async def test_fix_flow_for_a_camera_gone_meanwhile(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """The camera disappears while the dialog is open: abort instead of acting blindly."""
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    loaded.runtime_data.cameras.pop(RESTRICTED_ID)
    result = await repairs.async_configure(result["flow_id"], {"next_step_id": "isolate"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "camera_gone"


async def test_fix_flow_opened_for_a_camera_gone(
    hass: HomeAssistant, loaded: MockConfigEntry, repairs: Any
) -> None:
    """Opening the dialog after the camera left (before the issue did) aborts."""
    loaded.runtime_data.cameras.pop(RESTRICTED_ID)
    result = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "camera_gone"


async def test_fix_flow_when_entry_goes_away(
    hass: HomeAssistant, loaded: MockConfigEntry, repairs: Any
) -> None:
    """The entry is unloaded or deleted while the dialog is open: abort cleanly."""
    first = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    second = await repairs.async_init(DOMAIN, data={"issue_id": ISSUE_ID})
    assert await hass.config_entries.async_unload(loaded.entry_id)
    result = await repairs.async_configure(first["flow_id"], {"next_step_id": "isolate"})
    assert result["reason"] == "camera_gone"
    assert await hass.config_entries.async_remove(loaded.entry_id)
    result = await repairs.async_configure(second["flow_id"], {"next_step_id": "acknowledge"})
    assert result["reason"] == "camera_gone"


async def test_persistent_notification_on_detection(
    hass: HomeAssistant, config_entry: MockConfigEntry, agent: FakeAgent
) -> None:
    """With the option on, a new restricted camera raises a notification; it goes with the issue."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_PERSISTENT_NOTIFICATION: True}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted")
    await hass.async_block_till_done()
    shown = notifications(hass)[NOTIFICATION_ID]
    assert shown["title"] == "CCTV Sentinel: a camera needs action (Head office)"
    assert "- **Annke C800** (192.168.10.21): made by Hikvision" in shown["message"]
    assert "FCC Covered List (US)" in shown["message"]

    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    assert NOTIFICATION_ID not in notifications(hass)


async def test_no_notification_without_option(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """Notifications are opt-in; the repair is always there."""
    assert NOTIFICATION_ID not in notifications(hass)
    assert ISSUE_ID in issues(hass)
