"""Device-registry fields for the agent and its cameras: identifiers, names, the real maker."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .const import AGENT_MODEL, DOMAIN, MANUFACTURER
from .models import Camera


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceFields:
    """What we tell the device registry about one device.

    Written out field by field, because DeviceInfo is a TypedDict in HA 2025.4
    and a dataclass in 2026.x: explicit keywords work with both.
    """

    identifier: str
    name: str
    manufacturer: str | None
    model: str | None
    sw_version: str | None
    mac: str | None = None
    service: bool = False

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The MAC connection, when the MAC is known."""
        # A MAC connection lets Home Assistant show our verdict on the camera's
        # existing device from other integrations (UniFi, ONVIF) where it merges.
        return {(dr.CONNECTION_NETWORK_MAC, dr.format_mac(self.mac))} if self.mac else set()

    def device_info(self) -> DeviceInfo:
        """The DeviceInfo entities carry."""
        return DeviceInfo(
            identifiers={(DOMAIN, self.identifier)},
            connections=self.connections,
            entry_type=dr.DeviceEntryType.SERVICE if self.service else None,
            manufacturer=self.manufacturer,
            model=self.model,
            name=self.name,
            sw_version=self.sw_version,
        )

    def register(self, registry: dr.DeviceRegistry, config_entry_id: str) -> dr.DeviceEntry:
        """Create or update the device; a None firmware keeps what the registry has."""
        if self.sw_version is None:
            return registry.async_get_or_create(
                config_entry_id=config_entry_id,
                identifiers={(DOMAIN, self.identifier)},
                connections=self.connections,
                entry_type=dr.DeviceEntryType.SERVICE if self.service else None,
                manufacturer=self.manufacturer,
                model=self.model,
                name=self.name,
            )
        return registry.async_get_or_create(
            config_entry_id=config_entry_id,
            identifiers={(DOMAIN, self.identifier)},
            connections=self.connections,
            entry_type=dr.DeviceEntryType.SERVICE if self.service else None,
            manufacturer=self.manufacturer,
            model=self.model,
            name=self.name,
            sw_version=self.sw_version,
        )


def camera_identifier(agent_id: str, camera_id: str) -> str:
    """The device-registry identifier of one camera seen by one agent."""
    return f"{agent_id}:{camera_id}"


def camera_name(camera: Camera) -> str:
    """A device name from brand (or maker) and model, else from the IP address."""
    label = camera.brand or camera.manufacturer
    if label and camera.model:
        if camera.model.lower().startswith(label.lower()):
            return camera.model
        return f"{label} {camera.model}"
    if label or camera.model:
        return f"{label or camera.model} {camera.ip}"
    return f"Camera {camera.ip}"


def camera_device(agent_id: str, camera: Camera) -> DeviceFields:
    """The device of one camera."""
    return DeviceFields(
        identifier=camera_identifier(agent_id, camera.camera_id),
        name=camera_name(camera),
        # The real maker, not the label on the box: that is the point of the product.
        manufacturer=camera.manufacturer or camera.brand,
        model=camera.model,
        sw_version=camera.firmware,
        mac=camera.mac,
    )


def agent_device(agent_id: str, name: str, version: str | None) -> DeviceFields:
    """The device of the agent itself (a service, in registry terms)."""
    return DeviceFields(
        identifier=agent_id,
        name=name,
        manufacturer=MANUFACTURER,
        model=AGENT_MODEL,
        sw_version=version,
        service=True,
    )


def camera_id_of(agent_id: str, device: dr.DeviceEntry) -> str | None:
    """The camera id of one of an agent's camera devices, or None for any other device."""
    prefix = f"{agent_id}:"
    for domain, identifier in device.identifiers:
        if domain == DOMAIN and identifier.startswith(prefix):
            return identifier[len(prefix) :]
    return None
