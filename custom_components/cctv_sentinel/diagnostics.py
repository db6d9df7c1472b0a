"""Diagnostics: what the integration knows about an agent, with nothing that identifies a site.

MAC addresses, IP addresses, serials and networks are redacted. Camera ids are
derived from MACs (or IPs), so they are replaced by ``camera_1``, ``camera_2``...
consistently throughout one download, and any MAC or IPv4 address left inside
free text (explanations, evidence notes) is masked as well.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .models import Camera

TO_REDACT: Final = {
    "mac",
    "ip",
    "serial",
    "web_url",
    "networks",
    "user_id",
    "user_name",
    "command_secret",
}
_MAC: Final = re.compile(r"\b[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}\b")
_IPV4: Final = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_BARE_MAC: Final = re.compile(r"\b[0-9a-f]{12}\b")


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and times to JSON-friendly values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _Anonymiser:
    """Replaces camera ids consistently and masks addresses in free text."""

    def __init__(self, camera_ids: list[str]) -> None:
        self.names = {camera_id: f"camera_{n}" for n, camera_id in enumerate(camera_ids, 1)}

    def text(self, value: str) -> str:
        for camera_id, name in self.names.items():
            value = value.replace(camera_id, name)
        value = _MAC.sub(REDACTED, value)
        value = _IPV4.sub(REDACTED, value)
        return _BARE_MAC.sub(REDACTED, value)

    def deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.deep(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.deep(item) for item in value]
        return value


def _camera(coordinator: SentinelCoordinator, camera: Camera) -> dict[str, Any]:
    data: dict[str, Any] = _plain(camera)
    policy = coordinator.state.policy
    data["ha_risk"] = policy.risk(camera)
    data["ha_needs_repair"] = policy.needs_repair(camera)
    return data


def _anonymise(coordinator: SentinelCoordinator, data: dict[str, Any]) -> dict[str, Any]:
    redacted = async_redact_data(data, TO_REDACT)
    ids = sorted(set(coordinator.cameras) | coordinator.state.policy.acknowledged)
    anonymised: dict[str, Any] = _Anonymiser(ids).deep(redacted)
    return anonymised


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SentinelConfigEntry
) -> dict[str, Any]:
    """The agent's state, every camera and the policy, redacted."""
    coordinator = entry.runtime_data
    data = {
        "entry": {
            "title": entry.title,
            "data": dict(entry.data),
            "options": _plain(dict(entry.options)),
        },
        "mqtt_connected": coordinator.state.mqtt_connected,
        "agent_online": coordinator.state.agent_online,
        "info": _plain(coordinator.state.info),
        "repairs": sorted(coordinator.alerts.issue_ids),
        "cameras": {
            camera_id: _camera(coordinator, camera)
            for camera_id, camera in sorted(coordinator.cameras.items())
        },
    }
    return _anonymise(coordinator, data)


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: SentinelConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One camera's state (or, for the agent's device, the whole entry), redacted."""
    coordinator = entry.runtime_data
    camera_id = coordinator.camera_id_of(device)
    camera = coordinator.cameras.get(camera_id) if camera_id else None
    if camera is None:
        return await async_get_config_entry_diagnostics(hass, entry)
    return _anonymise(coordinator, {"camera": _camera(coordinator, camera)})
