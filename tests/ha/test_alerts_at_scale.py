"""Alerts that scale: per-camera repairs up to a limit, one grouped repair above it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.cctv_sentinel.const import (
    CONF_ACKNOWLEDGED,
    CONF_MAX_REPAIRS,
    CONF_PERSISTENT_NOTIFICATION,
    DOMAIN,
    EVENT_CCTV_SENTINEL,
)

from .conftest import AGENT_ID, RESTRICTED_ID, FakeAgent

GROUP_ID = f"cameras_{AGENT_ID}"
STRINGS = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "custom_components"
        / DOMAIN
        / "translations"
        / "en.json"
    ).read_text("utf-8")
)


def issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """Our open issues by id."""
    return {
        issue.issue_id: issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.active
    }


def restricted_ids(count: int) -> list[str]:
    """Camera ids (MAC-derived) of `count` extra restricted cameras."""
    return [f"bcad2800{n:04x}" for n in range(1, count + 1)]


def publish_restricted(agent: FakeAgent, count: int, **changes: Any) -> list[str]:
    """Publish `count` restricted cameras besides the example one."""
    ids = restricted_ids(count)
    for camera_id in ids:
        mac = ":".join(camera_id[i : i + 2] for i in range(0, 12, 2))
        agent.camera(
            "camera_restricted", camera_id=camera_id, mac=mac, model=f"C{camera_id[-4:]}", **changes
        )
    return ids


@pytest.fixture
async def repairs(hass: HomeAssistant) -> Any:
    """The repairs flow manager (what the frontend's fix dialog drives)."""
    assert await async_setup_component(hass, "repairs", {})
    return hass.data["repairs"]["flow_manager"]


async def test_per_camera_up_to_the_limit_then_grouped(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """10 cameras: 10 repairs; the 11th folds them into one; back to 10: one each again."""
    ids = publish_restricted(agent, 9)
    await hass.async_block_till_done()
    found = issues(hass)
    assert len(found) == 10
    assert GROUP_ID not in found

    ids += publish_restricted(agent, 10)[9:]
    await hass.async_block_till_done()
    found = issues(hass)
    assert list(found) == [GROUP_ID]
    group = found[GROUP_ID]
    assert group.is_fixable
    assert group.translation_key == "restricted_cameras"
    assert group.translation_placeholders["count"] == "11"
    assert group.translation_placeholders["restricted"] == "11"
    assert group.translation_placeholders["agent"] == "Head office"
    assert group.translation_placeholders["examples"].endswith(", …")

    agent.remove(ids[-1])
    await hass.async_block_till_done()
    found = issues(hass)
    assert len(found) == 10
    assert GROUP_ID not in found
    assert f"camera_{AGENT_ID}_{RESTRICTED_ID}" in found


async def test_limit_is_an_option(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """With a limit of 0 even one camera is reported through the grouped repair."""
    hass.config_entries.async_update_entry(loaded, options={CONF_MAX_REPAIRS: 0})
    await hass.async_block_till_done()
    assert list(issues(hass)) == [GROUP_ID]
    assert issues(hass)[GROUP_ID].translation_placeholders["count"] == "1"


async def test_events_stay_per_camera(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Above the limit automations still get one event per camera."""
    events = async_capture_events(hass, EVENT_CCTV_SENTINEL)
    ids = publish_restricted(agent, 12)
    await hass.async_block_till_done()
    detected = [e.data["camera_id"] for e in events if e.data["type"] == "restricted_detected"]
    assert detected == ids


async def test_grouped_fix_flow_acknowledges_picked_cameras(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """The grouped dialog lists every camera; the picked ones are acknowledged."""
    ids = publish_restricted(agent, 11)
    await hass.async_block_till_done()
    result = await repairs.async_init(DOMAIN, data={"issue_id": GROUP_ID})
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"].schema
    cameras = next(v for k, v in schema.items() if str(k) == "cameras")
    options = cameras.config["options"]
    assert len(options) == 12
    assert options[0]["label"].startswith("Annke C")
    assert "Hikvision (restricted)" in options[0]["label"]

    result = await repairs.async_configure(result["flow_id"], {"cameras": [], "action": "isolate"})
    assert result["errors"] == {"cameras": "none_picked"}
    result = await repairs.async_configure(
        result["flow_id"], {"cameras": ids[:3], "action": "acknowledge"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded.options[CONF_ACKNOWLEDGED] == sorted(ids[:3])
    # 9 left: at or below the limit, so each has its own repair again.
    assert len(issues(hass)) == 9
    assert agent.commands == []


async def test_grouped_fix_flow_isolates_picked_cameras(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """Isolate: one documented command per picked camera; a refusal is reported."""
    ids = publish_restricted(agent, 13)
    await hass.async_block_till_done()
    result = await repairs.async_init(DOMAIN, data={"issue_id": GROUP_ID})
    result = await repairs.async_configure(
        result["flow_id"], {"cameras": ids[:2], "action": "isolate"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert sorted(c["camera_id"] for c in agent.commands) == sorted(ids[:2])
    assert {c["command"] for c in agent.commands} == {"isolate"}
    # The finished dialog closed the issue; the agent's confirmation brings back the rest.
    assert issues(hass) == {}
    for camera_id in ids[:2]:
        mac = ":".join(camera_id[i : i + 2] for i in range(0, 12, 2))
        agent.camera("camera_isolated", camera_id=camera_id, mac=mac)
    await hass.async_block_till_done()
    assert issues(hass)[GROUP_ID].translation_placeholders["count"] == "12"

    agent.answer = "refused"
    agent.message = "camera is the NVR uplink"
    result = await repairs.async_init(DOMAIN, data={"issue_id": GROUP_ID})
    result = await repairs.async_configure(
        result["flow_id"], {"cameras": ids[2:5], "action": "isolate"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "isolation_failed"
    assert result["description_placeholders"]["failed"] == "3"
    assert "NVR uplink" in result["description_placeholders"]["error"]


async def test_notification_summarises(
    hass: HomeAssistant, config_entry: MockConfigEntry, agent: FakeAgent
) -> None:
    """One notification per agent: every camera up to 10, then a count."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_PERSISTENT_NOTIFICATION: True}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    agent.start("camera_restricted")
    publish_restricted(agent, 11)
    await hass.async_block_till_done()
    shown = dict(persistent_notification._async_get_or_create_notifications(hass))
    notes = [key for key in shown if key.startswith(DOMAIN)]
    assert notes == [f"{DOMAIN}_{AGENT_ID}"]
    message = shown[notes[0]]["message"]
    assert shown[notes[0]]["title"] == "CCTV Sentinel: 12 cameras need action (Head office)"
    assert message.count("\n- **") == 10
    assert "… and 2 more" in message


HOSTILE = "[Update firmware](https://evil.example/x) <img src=x onerror=alert(1)> www.evil.example"


async def test_hostile_strings_cannot_put_links_into_repairs(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, repairs: Any
) -> None:
    """Markup from a device is shown, not rendered: no link, no HTML in the repair text."""
    agent.camera("camera_restricted", brand=HOSTILE, explanation=f"label {HOSTILE}")
    await hass.async_block_till_done()
    issue = issues(hass)[f"camera_{AGENT_ID}_{RESTRICTED_ID}"]
    placeholders = issue.translation_placeholders
    assert "\\[Update firmware\\](https\\://evil.example/x)" in placeholders["brand"]
    assert "\\<img src=x onerror=alert(1)\\>" in placeholders["brand"]
    assert "www\\.evil" in placeholders["brand"]

    template = STRINGS["issues"]["restricted_camera"]["fix_flow"]["step"]["init"]["description"]
    text = template.format(**placeholders)
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)
    assert "<a " not in html
    assert "<img" not in html
    assert "Update firmware" in html
