"""Switch: cut a camera off through the agent's isolation backend (on = isolated)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SentinelConfigEntry
from .entity import CameraEntity, async_track_cameras

PARALLEL_UPDATES = 0  # the agent serialises isolation changes itself

ISOLATION = SwitchEntityDescription(key="isolation", translation_key="isolation")
REASON = "switched in Home Assistant"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an isolation switch per camera once the agent reports an isolation backend."""
    async_track_cameras(
        entry,
        async_add_entities,
        lambda coordinator, camera: [IsolationSwitch(coordinator, camera, ISOLATION)],
        only_if=lambda coordinator: coordinator.state.has_isolation,
    )


class IsolationSwitch(CameraEntity, SwitchEntity):
    """On while the agent reports the camera isolated; state follows the agent, not the click."""

    # Release must stay possible for a camera that has dropped off the network.
    available_when_missing = True

    @property
    def available(self) -> bool:
        """Available while the agent is and still has an isolation backend."""
        return super().available and self.coordinator.state.has_isolation

    @property
    def is_on(self) -> bool | None:
        """True when the agent reports the camera isolated."""
        camera = self.camera
        return None if camera is None else camera.isolated

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Isolate the camera (the agent's default mode)."""
        await self.coordinator.async_command(
            "isolate", camera_id=self.camera_id, reason=REASON, user_id=self._user_id()
        )

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Release the camera."""
        await self.coordinator.async_command(
            "release", camera_id=self.camera_id, reason=REASON, user_id=self._user_id()
        )

    def _user_id(self) -> str | None:
        # The context of the action that pressed or switched us (None from automations
        # without a user): recorded by the agent as who asked.
        context = self._context
        return context.user_id if context is not None else None
