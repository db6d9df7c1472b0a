"""Hostile device strings end to end: a camera that names itself with links, HTML, bidi
overrides, entities and control characters, through the agent's real identify,
inventory and payload builder, into Home Assistant's ingest, device registry and
repairs. Neither side alone is trusted: the agent publishes plain text, the
integration escapes what it renders as markdown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from cctv_sentinel.identify.catalogue import load_catalogue
from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.mqtt import contract
from custom_components.cctv_sentinel.const import DOMAIN
from custom_components.cctv_sentinel.text import markdown
from tests.agent.service import support

from .conftest import AGENT_ID, FakeAgent

STRINGS = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "custom_components"
        / DOMAIN
        / "translations"
        / "en.json"
    ).read_text("utf-8")
)
LINK = "[Update firmware](https://evil.example/x)"
HOSTILE = {
    "oem": f"Ann\u202eke {LINK} <img src=x onerror=alert(1)>",
    "model": "DS-2CD2143G2-I\r\n**URGENT** call www.evil.example &#x202E; `x` |a|b|",
    "firmware": "V5.7.3\x1b[2J build_220112 <script>alert(1)</script>",
}
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROL = re.compile("[\x00-\x1f\x7f]")


def agent_payload(state_dir: Path) -> dict[str, Any]:
    """The camera payload the agent publishes for the hostile camera."""
    facts = support.facts(support.hikvision(**HOSTILE))
    inventory = Inventory(state_dir / "inventory.sqlite3")
    inventory.open()
    try:
        inventory.observe(facts, at=1_764_320_000.0, full_scan=True)
        [record] = inventory.records()
    finally:
        inventory.close()
    regimes = {
        rid: {"id": rid, "name": r.name, "jurisdiction": r.jurisdiction}
        for rid, r in load_catalogue().regimes.items()
    }
    return json.loads(
        contract.encode(
            contract.camera_payload(
                record,
                regimes=regimes,
                isolation=contract.NOT_ISOLATED,
                publish_serials=False,
                last_seen=1_764_320_000.0,
            )
        )
    )


def device_strings(payload: dict[str, Any]) -> list[str]:
    strings = [payload[k] for k in ("brand", "model", "firmware", "serial", "explanation")]
    strings += [item["value"] for item in payload["evidence"]]
    return [s for s in strings if s]


def test_the_agent_publishes_hostile_strings_as_plain_text(tmp_path: Path) -> None:
    payload = agent_payload(tmp_path)
    support.check("camera", payload)
    assert payload["risk"] == "restricted"
    for text in device_strings(payload):
        assert not BIDI.search(text), text
        assert not CONTROL.search(text), text
        assert not set("[]<>`*|\\") & set(text), text
        assert "://" not in text, text
        assert "www." not in text.lower(), text
        assert not re.search(r"&#?\w+;", text), text
    assert payload["model"] == "DS-2CD2143G2-I URGENT call www evil.example & #x202E; x a b"
    assert payload["firmware"] == "V5.7.3[2J build_220112 scriptalert(1)/script".replace("[", "")
    assert (
        payload["brand"]
        == "Annke Update firmware(https: evil.example/x) img src=x onerror=alert(1)"
    )


async def test_hostile_strings_reach_home_assistant_as_text(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
    tmp_path: Path,
) -> None:
    payload = await hass.async_add_executor_job(agent_payload, tmp_path)
    agent.fire(f"{agent.topics.camera[:-1]}{payload['camera_id']}", payload, retain=True)
    await hass.async_block_till_done()
    coordinator = loaded.runtime_data
    device = device_registry.async_get(coordinator.devices.device_ids[payload["camera_id"]])
    assert device is not None
    for text in (device.name, device.model, device.sw_version, device.manufacturer):
        assert text
        assert not BIDI.search(text)
        assert not CONTROL.search(text)
        assert "<" not in text
        assert "](" not in text

    found = [
        issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.active and payload["camera_id"] in issue.issue_id
    ]
    assert [i.issue_id for i in found] == [f"camera_{AGENT_ID}_{payload['camera_id']}"]
    placeholders = found[0].translation_placeholders
    assert placeholders is not None
    template = STRINGS["issues"]["restricted_camera"]["fix_flow"]["step"]["init"]["description"]
    text = template.format(**placeholders)
    # The markdown source has no live autolink (scheme:// or www.) and no HTML.
    assert not re.search(r"(?<!\\):(?=//)", text)
    assert not re.search(r"(?i)(?<!\\)www\.", text)
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)
    assert "<a " not in html
    assert "<img" not in html
    assert "<script" not in html
    # Only the template's own emphasis (the maker's name) survives, nothing a device sent.
    assert set(re.findall(r"<strong>(.*?)</strong>", html)) <= {"Hikvision"}, html
    assert "<code>" not in html
    assert not BIDI.search(html)
    # What a device sent is still there, as text, wherever the template shows it.
    assert "Update firmware" in html
    if "{model}" in template:
        assert "URGENT" in html


@pytest.mark.parametrize(
    "raw",
    [
        LINK,
        "<b>x</b>",
        "a &#x202E; b &amp; c",
        "http://evil.example www.evil.example x@evil.example",
        "**b** _i_ `c` ~~s~~ | t |",
        "\u202eevil\u2066\u2069\x1b[31m",
    ],
)
def test_the_integration_escapes_whatever_the_agent_lets_through(raw: str) -> None:
    """Defence in depth: even an agent that sent raw markup could not render it."""
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(markdown(raw))
    for tag in ("<a ", "<b>", "<strong>", "<em>", "<code>", "<s>", "<table"):
        assert tag not in html, (raw, html)
    assert "&#x202E;" not in html.replace("&amp;#x202E;", "")
    assert not BIDI.search(html)
    assert "\x1b" not in html
