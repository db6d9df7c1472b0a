"""The estate dashboard: a Lovelace configuration built from the agents loaded here.

``cctv_sentinel.dashboard`` returns it (an action with a response): paste it into a
new dashboard's raw configuration editor (docs/ha-dashboard.md). It uses Home
Assistant's own cards only, and refers to entities by the ids the entity registry
gives ours (a user who renamed one gets a dashboard that still works). It shows

* the estate: cameras by risk, restricted and isolated totals;
* the restricted-camera count over time (history of the sensors, a week);
* each agent: online, counts, last scan, rescan;
* every restricted camera (each once, however many agents see it): its name
  ("<label> <model>"), maker, why, and its isolation switch where the agent can isolate.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN, SERVICE_DASHBOARD
from .devices import camera_name
from .estate import Estate, estate_of
from .models import RISKS
from .state import AgentState
from .text import plain

MAX_LISTED: Final = 100
"""Restricted cameras listed one by one; more are counted (the repairs list them all)."""
HISTORY_HOURS: Final = 7 * 24

RISK_NAMES: Final = {
    "restricted": "Restricted",
    "elevated": "Elevated",
    "unknown": "Unknown maker",
    "low": "Low",
}


def _entity(hass: HomeAssistant, platform: str, unique_id: str) -> str | None:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


def _estate_cards(hass: HomeAssistant, estate: Estate) -> list[dict[str, Any]]:
    cameras = _entity(hass, "sensor", "estate_cameras")
    if cameras is None:
        return []
    rows: list[dict[str, Any]] = [{"entity": cameras, "name": "Cameras"}]
    rows += [
        {"type": "attribute", "entity": cameras, "attribute": risk, "name": RISK_NAMES[risk]}
        for risk in RISKS
    ]
    for key, name in (
        ("estate_restricted_cameras", "Restricted cameras"),
        ("estate_isolated_cameras", "Isolated"),
    ):
        if (entity_id := _entity(hass, "sensor", key)) is not None:
            rows.append({"entity": entity_id, "name": name})
    return [{"type": "entities", "title": "Estate by risk", "entities": rows}]


def _history_card(hass: HomeAssistant, estate: Estate) -> list[dict[str, Any]]:
    entities = [
        entity_id
        for entity_id in (
            _entity(hass, "sensor", "estate_restricted_cameras"),
            *(
                _entity(hass, "sensor", f"{coordinator.state.agent_id}_restricted_cameras")
                for coordinator in estate.coordinators.values()
            ),
        )
        if entity_id is not None
    ]
    if not entities:
        return []
    return [
        {
            "type": "history-graph",
            "title": "Restricted cameras over time",
            "hours_to_show": HISTORY_HOURS,
            "entities": entities,
        }
    ]


def _agent_card(hass: HomeAssistant, state: AgentState) -> dict[str, Any]:
    agent = state.agent_id
    rows = [
        entity_id
        for platform, key in (
            ("binary_sensor", "online"),
            ("sensor", "cameras"),
            ("sensor", "restricted_cameras"),
            ("sensor", "last_scan"),
            ("button", "rescan"),
        )
        if (entity_id := _entity(hass, platform, f"{agent}_{key}")) is not None
    ]
    return {"type": "entities", "title": plain(state.name) or agent, "entities": rows}


def _restricted_card(hass: HomeAssistant, estate: Estate) -> list[dict[str, Any]]:
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    listed: dict[str, list[dict[str, Any]]] = {}
    for coordinator in estate.coordinators.values():
        state = coordinator.state
        for camera_id, camera in sorted(state.cameras.items()):
            if camera_id in listed or not state.policy.restricted(camera):
                continue
            prefix = f"{state.agent_id}_{camera_id}"
            verdict = _entity(hass, "binary_sensor", f"{prefix}_restricted_vendor")
            if verdict is None:
                continue  # its entities are still being added
            entry = entities.async_get(verdict)
            device = devices.async_get(entry.device_id) if entry and entry.device_id else None
            name = (device.name_by_user if device else None) or camera_name(camera)
            rows: list[dict[str, Any]] = [{"type": "section", "label": plain(name)}]
            if (maker := _entity(hass, "sensor", f"{prefix}_manufacturer")) is not None:
                rows.append({"entity": maker, "name": "Maker"})
            rows.append({"type": "attribute", "entity": verdict, "attribute": "why", "name": "Why"})
            if (switch := _entity(hass, "switch", f"{prefix}_isolation")) is not None:
                rows.append({"entity": switch, "name": "Isolated"})
            listed[camera_id] = rows
    if not listed:
        return [
            {
                "type": "markdown",
                "title": "Restricted cameras",
                "content": "No restricted camera.",
            }
        ]
    names = sorted(listed, key=lambda camera_id: listed[camera_id][0]["label"].lower())
    cards: list[dict[str, Any]] = [
        {
            "type": "entities",
            "title": f"Restricted cameras ({len(listed)})",
            # No "switch all" in the header: isolating is one camera at a time, on purpose.
            "show_header_toggle": False,
            "entities": [row for camera_id in names[:MAX_LISTED] for row in listed[camera_id]],
        }
    ]
    if len(names) > MAX_LISTED:
        cards.append(
            {
                "type": "markdown",
                "content": (
                    f"… and {len(names) - MAX_LISTED} more restricted cameras:"
                    " see **Settings → Repairs** or each agent's devices."
                ),
            }
        )
    return cards


def dashboard(hass: HomeAssistant) -> dict[str, Any]:
    """The Lovelace configuration of the estate dashboard, as things are now."""
    estate = estate_of(hass)
    cards = [
        *_estate_cards(hass, estate),
        *_history_card(hass, estate),
        *_restricted_card(hass, estate),
        *(_agent_card(hass, coordinator.state) for coordinator in estate.coordinators.values()),
    ]
    return {
        "title": "CCTV Sentinel",
        "views": [{"title": "Estate", "path": "estate", "icon": "mdi:cctv", "cards": cards}],
    }


def async_setup_dashboard(hass: HomeAssistant) -> None:
    """Register ``cctv_sentinel.dashboard``."""

    async def respond(call: ServiceCall) -> ServiceResponse:
        return dashboard(hass)

    hass.services.async_register(
        DOMAIN, SERVICE_DASHBOARD, respond, supports_response=SupportsResponse.ONLY
    )
