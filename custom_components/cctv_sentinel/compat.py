"""What differs between the Home Assistant lines we support (2025.4 through 2026.x), in one place.

Everything here is feature-detected at import time, never decided by version
numbers, so a line in between (or a later one) takes the path its own API offers.
Type checkers see each line's own types: mypy runs once per line (scripts/test).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers import device_registry as dr

if TYPE_CHECKING and sys.version_info >= (3, 14):
    # HA 2026.x validates with probatio and aliases `voluptuous` to it at start-up;
    # its APIs are typed with probatio's classes.
    import probatio as vol
    from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
    from homeassistant.components.repairs import RepairsFlowResult
else:
    import voluptuous as vol
    from homeassistant.components.binary_sensor import BinarySensorDeviceClass
    from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult

__all__ = ["BinarySensorDeviceClass", "RepairsFlowResult", "vol"]

VIA_DEVICE_ID: Final = "via_device_id" in dr.DeviceInfo.__annotations__
"""True where devices link to their parent by registry id (2026.8+); `via_device`
(an identifier) is deprecated there and removed in 2027.8, and the only way before."""

SINGLE_ENTRY_DEVICES: Final = "config_entry_id" in {
    field.name for field in getattr(dr.DeviceEntry, "__attrs_attrs__", ())
}
"""True where a device belongs to exactly one config entry (2026.8+): devices are
no longer merged across integrations, and a device is removed, not left."""


def parent_link(agent_identifier: tuple[str, str], agent_device_id: str) -> dict[str, Any]:
    """The keyword that links a device to its parent on this line."""
    if VIA_DEVICE_ID:
        return {"via_device_id": agent_device_id}
    return {"via_device": agent_identifier}


def remove_device(registry: dr.DeviceRegistry, device_id: str, config_entry_id: str) -> None:
    """Take one of our devices out of the registry.

    Where devices may be shared with other integrations (merged by MAC up to 2026.7),
    only our entry leaves it; from 2026.8 the device is ours alone and is removed.
    """
    if SINGLE_ENTRY_DEVICES:
        registry.async_remove_device(device_id)
    else:
        registry.async_update_device(device_id, remove_config_entry_id=config_entry_id)
