"""Button: ask the agent to scan now."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SentinelConfigEntry
from .entity import AgentEntity

PARALLEL_UPDATES = 0  # the agent queues commands itself

RESCAN = ButtonEntityDescription(key="rescan", translation_key="rescan")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the agent's rescan button."""
    async_add_entities([RescanButton(entry.runtime_data, RESCAN)])


class RescanButton(AgentEntity, ButtonEntity):
    """Publishes a ``rescan`` command; raises if the agent refuses or does not answer."""

    async def async_press(self) -> None:
        """Start a scan on the agent."""
        await self.coordinator.async_command("rescan", user_id=self._context_user_id())

    def _context_user_id(self) -> str | None:
        # The context of the action that pressed or switched us (None from automations
        # without a user): recorded by the agent as who asked.
        context = self._context
        return context.user_id if context is not None else None
