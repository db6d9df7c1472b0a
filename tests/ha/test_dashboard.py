"""The estate dashboard: its configuration, and that everything it shows exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.cctv_sentinel.const import DOMAIN

from .conftest import RESTRICTED_ID, FakeAgent


async def _dashboard(hass: HomeAssistant) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "dashboard", {}, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def _rows(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every card and every entities-card row, as mappings."""
    for view in config["views"]:
        for card in view["cards"]:
            yield card
            for row in card.get("entities", ()):
                yield row if isinstance(row, dict) else {"entity": row}


def _cards(config: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [card for card in config["views"][0]["cards"] if card["type"] == kind]


async def test_dashboard_snapshot(
    hass: HomeAssistant, loaded: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """The configuration for the example agent (one restricted camera among three)."""
    assert await _dashboard(hass) == snapshot


async def test_everything_the_dashboard_shows_exists(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Each entity the dashboard names has a state; each attribute row, its attribute."""
    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    config = await _dashboard(hass)
    referenced = 0
    for row in _rows(config):
        entity_ids = [row["entity"]] if "entity" in row else []
        if row.get("type") == "history-graph":
            entity_ids = list(row["entities"])
        for entity_id in entity_ids:
            referenced += 1
            state = hass.states.get(entity_id)
            assert state is not None, entity_id
            if "attribute" in row:
                assert row["attribute"] in state.attributes, (entity_id, row["attribute"])
    assert referenced > 15


async def test_restricted_cameras_listed_with_what_a_person_needs(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """Name (label and model, or the user's), maker, why and the isolation switch."""
    device_id = loaded.runtime_data.devices.device_ids[RESTRICTED_ID]
    dr.async_get(hass).async_update_device(device_id, name_by_user="Car park <b>east</b>")
    config = await _dashboard(hass)
    (card,) = [card for card in _cards(config, "entities") if card["title"].startswith("Restr")]
    assert card["title"] == "Restricted cameras (1)"
    section, maker, why, switch = card["entities"]
    assert section == {"type": "section", "label": "Car park <b>east</b>"}
    assert hass.states.get(maker["entity"]).state == "Hikvision"  # type: ignore[union-attr]
    assert why["attribute"] == "why"
    assert switch["entity"].startswith("switch.")


async def test_long_lists_are_counted_not_listed(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Past the listing limit, the rest are counted in a markdown card."""
    for n in range(3):
        agent.camera("camera_restricted", camera_id=f"0000000000e{n}", mac=None)
    await hass.async_block_till_done()
    with patch("custom_components.cctv_sentinel.dashboard.MAX_LISTED", 2):
        config = await _dashboard(hass)
    (card,) = [card for card in _cards(config, "entities") if card["title"].startswith("Restr")]
    assert card["title"] == "Restricted cameras (4)"
    assert sum(1 for row in card["entities"] if row.get("type") == "section") == 2
    notes = [card["content"] for card in _cards(config, "markdown")]
    assert any("2 more restricted cameras" in note for note in notes)
