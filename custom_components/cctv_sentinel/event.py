"""Event entity: camera found, restricted camera detected, restricted camera cleared."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import signals
from .const import ENTITY_EVENT_TYPES
from .coordinator import SentinelConfigEntry
from .entity import AgentEntity

PARALLEL_UPDATES = 0  # push only

CAMERA_EVENTS = EventEntityDescription(
    key="camera_event",
    translation_key="camera_event",
    event_types=list(ENTITY_EVENT_TYPES),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the agent's event entity."""
    async_add_entities([CameraEventEntity(entry.runtime_data, CAMERA_EVENTS)])


class CameraEventEntity(AgentEntity, EventEntity):
    """Shows the latest camera event of this agent; automations can trigger on it."""

    async def async_added_to_hass(self) -> None:
        """Receive the coordinator's events."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signals.camera_event(self.coordinator.entry.entry_id), self._handle_event
            )
        )

    @callback
    def _handle_event(self, event_type: str, data: dict[str, Any]) -> None:
        # The type is the event type; the entry is the entity's own.
        attributes = {k: v for k, v in data.items() if k not in ("type", "config_entry_id")}
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()
