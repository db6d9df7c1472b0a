"""Events for automations: one per camera, on change, on the bus and on the event entity.

``camera_found``, ``restricted_detected`` and ``restricted_cleared`` are derived
here from the camera states (so they are right even when Home Assistant missed
the agent's own event); isolation events are relayed from the agent as they are.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from . import signals
from .const import (
    EVENT_CAMERA_FOUND,
    EVENT_CCTV_SENTINEL,
    EVENT_RESTRICTED_CLEARED,
    EVENT_RESTRICTED_DETECTED,
)
from .devices import DeviceSync, camera_name
from .memory import Memory
from .models import AgentEvent, Camera
from .state import AgentState
from .text import plain


class Events:
    """Derives and fires one agent's camera events."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        state: AgentState,
        devices: DeviceSync,
        memory: Memory,
    ) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.state = state
        self.devices = devices
        self.memory = memory

    @callback
    def track(self, camera: Camera) -> bool:
        """Fire found/detected/cleared when a camera is new or its alert state flips.

        True when the camera has just become alerting (a person should hear of it).
        """
        alerting = self.state.policy.alerting(camera)
        previous = self.memory.known.get(camera.camera_id)
        self.memory.remember(camera.camera_id, alerting)
        if previous is None:
            self.fire(EVENT_CAMERA_FOUND, camera)
        if previous is not alerting and (alerting or previous is not None):
            self.fire(EVENT_RESTRICTED_DETECTED if alerting else EVENT_RESTRICTED_CLEARED, camera)
            return alerting
        return False

    def data(self, event_type: str, camera: Camera) -> dict[str, Any]:
        """The data of a bus event (and of the event entity) about one camera."""
        return {
            "type": event_type,
            "device_id": self.devices.device_ids.get(camera.camera_id),
            "config_entry_id": self.entry_id,
            "agent_id": self.state.agent_id,
            "camera_id": camera.camera_id,
            "name": camera_name(camera),
            "manufacturer": plain(camera.manufacturer) or None,
            "brand": plain(camera.brand) or None,
            "model": plain(camera.model) or None,
            "ip": camera.ip,
            "risk": self.state.policy.risk(camera),
            "regimes": [plain(regime.name) for regime in camera.regimes],
        }

    @callback
    def fire(self, event_type: str, camera: Camera) -> None:
        """Fire one event on the bus and on the event entity."""
        data = self.data(event_type, camera)
        self.hass.bus.async_fire(EVENT_CCTV_SENTINEL, data)
        async_dispatcher_send(self.hass, signals.camera_event(self.entry_id), event_type, data)

    @callback
    def relay(self, event: AgentEvent) -> None:
        """Pass one of the agent's own events (isolation) on to the bus."""
        camera = self.state.cameras.get(event.camera_id or "")
        if camera is not None:
            data = self.data(event.type, camera)
        else:
            data = {
                "type": event.type,
                "device_id": self.devices.device_ids.get(event.camera_id or ""),
                "config_entry_id": self.entry_id,
                "agent_id": self.state.agent_id,
                "camera_id": event.camera_id,
            }
        message = event.details.get("message")
        if isinstance(message, str):
            data["message"] = plain(message, 256)
        self.hass.bus.async_fire(EVENT_CCTV_SENTINEL, data)
