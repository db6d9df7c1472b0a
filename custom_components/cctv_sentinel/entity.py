"""Base entities: one family on the agent's device, one on each camera's device."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .devices import camera_device
from .models import CAMERA_PRESENT, Camera


class SentinelEntity(Entity):
    """Pushes state when the coordinator says something changed; never polls."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, coordinator: SentinelCoordinator, description: EntityDescription) -> None:
        self.coordinator = coordinator
        self.entity_description = description

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()


class AgentEntity(SentinelEntity):
    """An entity on the agent's device."""

    def __init__(self, coordinator: SentinelCoordinator, description: EntityDescription) -> None:
        super().__init__(coordinator, description)
        self._attr_unique_id = f"{coordinator.agent_id}_{description.key}"
        self._attr_device_info = coordinator.agent_device().device_info()

    @property
    def available(self) -> bool:
        """Available while MQTT is connected and the agent is online."""
        return self.coordinator.available

    async def async_added_to_hass(self) -> None:
        """Follow the agent's state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.async_add_listener(self._handle_update))


class CameraEntity(SentinelEntity):
    """An entity on one camera's device."""

    available_when_missing = False
    """Whether the entity stays available while the agent reports the camera missing."""

    def __init__(
        self, coordinator: SentinelCoordinator, camera: Camera, description: EntityDescription
    ) -> None:
        super().__init__(coordinator, description)
        self.camera_id = camera.camera_id
        self._attr_unique_id = f"{coordinator.agent_id}_{camera.camera_id}_{description.key}"
        self._attr_device_info = camera_device(coordinator.agent_id, camera).device_info()

    @property
    def camera(self) -> Camera | None:
        """The camera's latest state, None once the agent removed it."""
        return self.coordinator.cameras.get(self.camera_id)

    @property
    def available(self) -> bool:
        """Available while the agent is and it reports the camera present."""
        camera = self.camera
        return (
            self.coordinator.available
            and camera is not None
            and (camera.state == CAMERA_PRESENT or self.available_when_missing)
        )

    async def async_added_to_hass(self) -> None:
        """Follow this camera's state (availability changes reach every listener)."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_listener(self._handle_update, self.camera_id)
        )


@callback
def async_track_cameras(
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make_entities: Callable[[SentinelCoordinator, Camera], Iterable[Entity]],
    *,
    only_if: Callable[[SentinelCoordinator], bool] | None = None,
) -> None:
    """Add a platform's entities for every camera now and for each camera that appears.

    Cameras the agent removes are dropped from the known set (their entities go
    with their device), so a camera that comes back gets entities again.
    """
    coordinator = entry.runtime_data
    known: set[str] = set()

    @callback
    def add_cameras() -> None:
        known.intersection_update(coordinator.cameras)
        if only_if is not None and not only_if(coordinator):
            return
        new = [
            camera for camera_id, camera in coordinator.cameras.items() if camera_id not in known
        ]
        known.update(camera.camera_id for camera in new)
        entities = [entity for camera in new for entity in make_entities(coordinator, camera)]
        if entities:
            async_add_entities(entities)

    add_cameras()
    entry.async_on_unload(coordinator.async_add_structure_listener(add_cameras))
