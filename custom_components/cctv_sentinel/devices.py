"""The device registry as users expect it: a device per camera, linked to its agent's device.

This module is the only writer of our devices. Entities carry only the device's
identifier (a link), so what a device page shows is decided here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .compat import parent_link, remove_device
from .const import AGENT_MODEL, DOMAIN, MANUFACTURER
from .models import Camera
from .policy import Policy
from .text import plain

_LOGGER = logging.getLogger(__package__)


class RegistryDevice(Protocol):
    """Any kind of device-registry entry (2026.x adds child devices beside DeviceEntry)."""

    @property
    def identifiers(self) -> set[tuple[str, str]]:
        """The device's (domain, identifier) pairs."""


def camera_identifier(agent_id: str, camera_id: str) -> str:
    """The device-registry identifier of one camera seen by one agent."""
    return f"{agent_id}:{camera_id}"


def camera_name(camera: Camera) -> str:
    """``<label> <model>`` as the box says it; the IP address only when nothing else is known.

    The label is the brand the device presents, else the real maker's name.
    """
    label = plain(camera.brand or camera.manufacturer)
    model = plain(camera.model)
    if label and model:
        if model.lower().startswith(label.lower()):
            return model  # "Axis" + "Axis P3245-LVE" reads once
        return f"{label} {model}"
    if label:
        return f"{label} camera"
    if model:
        return model
    return f"Camera {camera.ip}"


def configuration_url(camera: Camera) -> str | None:
    """The camera's web page: the agent's URL, else its address when a web port is open."""
    if camera.web_url:
        return camera.web_url
    host = f"[{camera.ip}]" if ":" in camera.ip else camera.ip
    if 443 in camera.ports:
        return f"https://{host}/"
    if 80 in camera.ports:
        return f"http://{host}/"
    return None


def camera_id_of(agent_id: str, identifiers: Iterable[tuple[str, str]]) -> str | None:
    """The camera id of one of an agent's camera devices, or None for any other device."""
    prefix = f"{agent_id}:"
    for domain, identifier in identifiers:
        if domain == DOMAIN and identifier.startswith(prefix):
            return identifier[len(prefix) :]
    return None


def camera_link(agent_id: str, camera_id: str) -> DeviceInfo:
    """What a camera's entities carry: a link to the device registered here."""
    return DeviceInfo(identifiers={(DOMAIN, camera_identifier(agent_id, camera_id))})


def agent_link(agent_id: str) -> DeviceInfo:
    """What the agent's entities carry: a link to the agent's device."""
    return DeviceInfo(identifiers={(DOMAIN, agent_id)})


def _text_or_none(value: str | None) -> str | None:
    return plain(value) or None


class DeviceSync:
    """Keeps one agent's devices in the registry in step with what it reports."""

    def __init__(self, hass: HomeAssistant, entry_id: str, agent_id: str) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.agent_id = agent_id
        self.agent_device_id = ""
        self.device_ids: dict[str, str] = {}
        """camera id → device-registry id."""
        self._written: dict[str, dict[str, Any]] = {}
        """camera id → the fields last written (an unchanged state writes nothing)."""

    @callback
    def agent(self, name: str, version: str | None) -> None:
        """Register (or update) the agent's own device, a service in registry terms."""
        fields: dict[str, Any] = {
            "config_entry_id": self.entry_id,
            "identifiers": {(DOMAIN, self.agent_id)},
            "entry_type": dr.DeviceEntryType.SERVICE,
            "manufacturer": MANUFACTURER,
            "model": AGENT_MODEL,
            "name": plain(name) or self.agent_id,
        }
        if version is not None:
            fields["sw_version"] = plain(version)
        self.agent_device_id = dr.async_get(self.hass).async_get_or_create(**fields).id

    @callback
    def camera(self, camera: Camera, policy: Policy) -> str:
        """Register (or update) one camera's device; its registry id."""
        fields: dict[str, Any] = {
            "config_entry_id": self.entry_id,
            "identifiers": {(DOMAIN, camera_identifier(self.agent_id, camera.camera_id))},
            "name": camera_name(camera),
            # The real maker, not the label on the box: that is the point of the product.
            "manufacturer": _text_or_none(camera.manufacturer or camera.brand),
            "model": _text_or_none(camera.model),
            "configuration_url": configuration_url(camera),
            **parent_link((DOMAIN, self.agent_id), self.agent_device_id),
        }
        if camera.mac:
            # Up to HA 2026.7 a MAC connection merges our device with UniFi's or ONVIF's
            # for the same camera; from 2026.8 it is shown, not merged.
            fields["connections"] = {(dr.CONNECTION_NETWORK_MAC, dr.format_mac(camera.mac))}
        # A field the agent does not know keeps what the registry has.
        for key, value in (
            ("sw_version", camera.firmware),
            ("hw_version", camera.hw_version),
            ("serial_number", camera.serial if policy.show_serial else None),
        ):
            if value:
                fields[key] = plain(value)
        known = self.device_ids.get(camera.camera_id)
        if known is not None and self._written.get(camera.camera_id) == fields:
            return known
        device_id = dr.async_get(self.hass).async_get_or_create(**fields).id
        self.device_ids[camera.camera_id] = device_id
        self._written[camera.camera_id] = fields
        return device_id

    @callback
    def forget(self, camera_id: str) -> None:
        """A person deleted the camera's device: the next state registers it anew."""
        self.device_ids.pop(camera_id, None)
        self._written.pop(camera_id, None)

    @callback
    def hide_serials(self) -> None:
        """Clear serial numbers shown before the user turned them off."""
        registry = dr.async_get(self.hass)
        for device_id in self.device_ids.values():
            device = registry.async_get(device_id)
            if device is not None and getattr(device, "serial_number", None):
                registry.async_update_device(device_id, serial_number=None)
        self._written.clear()

    @callback
    def remove(self, camera_id: str) -> None:
        """The camera is gone: its device (and with it its entities) leaves the registry."""
        registry = dr.async_get(self.hass)
        device_id = self.device_ids.pop(camera_id, None)
        self._written.pop(camera_id, None)
        if device_id is None:  # registered before a restart
            device_id = next(
                (
                    device.id
                    for device in dr.async_entries_for_config_entry(registry, self.entry_id)
                    if camera_id_of(self.agent_id, device.identifiers) == camera_id
                ),
                None,
            )
        if device_id is not None and registry.async_get(device_id) is not None:
            remove_device(registry, device_id, self.entry_id)

    @callback
    def registered_cameras(self) -> set[str]:
        """Camera ids that have a device of this entry in the registry."""
        registry = dr.async_get(self.hass)
        found = set()
        for device in dr.async_entries_for_config_entry(registry, self.entry_id):
            camera_id = camera_id_of(self.agent_id, device.identifiers)
            if camera_id is not None:
                found.add(camera_id)
        return found
