"""Base entities: one family on the agent's device, one on each camera's device.

Entities never poll: they write their state when the coordinator's dispatcher
signals (:mod:`.signals`) say that what they show has changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import signals
from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .devices import agent_link, camera_link
from .models import CAMERA_PRESENT, Camera


class SentinelEntity(Entity):
    """Pushes state when a signal says something changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, coordinator: SentinelCoordinator, description: EntityDescription) -> None:
        self.coordinator = coordinator
        self.entity_description = description

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    def _follow(self, *signal_list: signals.SignalType[()]) -> None:
        for signal in signal_list:
            self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._handle_update))


class AgentEntity(SentinelEntity):
    """An entity on the agent's device."""

    def __init__(self, coordinator: SentinelCoordinator, description: EntityDescription) -> None:
        super().__init__(coordinator, description)
        self._attr_unique_id = f"{coordinator.agent_id}_{description.key}"
        self._attr_device_info = agent_link(coordinator.agent_id)

    @property
    def available(self) -> bool:
        """Available while MQTT is connected and the agent is online."""
        return self.coordinator.state.available

    async def async_added_to_hass(self) -> None:
        """Follow the agent's state."""
        await super().async_added_to_hass()
        entry_id = self.coordinator.entry.entry_id
        self._follow(signals.agent_updated(entry_id))


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
        self._attr_device_info = camera_link(coordinator.agent_id, camera.camera_id)

    @property
    def camera(self) -> Camera | None:
        """The camera's latest state, None once the agent removed it."""
        return self.coordinator.cameras.get(self.camera_id)

    @property
    def available(self) -> bool:
        """Available while the agent is and it reports the camera present."""
        camera = self.camera
        return (
            self.coordinator.state.available
            and camera is not None
            and (camera.state == CAMERA_PRESENT or self.available_when_missing)
        )

    async def async_added_to_hass(self) -> None:
        """Follow this camera's state (the coordinator also signals availability and policy)."""
        await super().async_added_to_hass()
        self._follow(signals.camera_updated(self.coordinator.entry.entry_id, self.camera_id))


@callback
def async_track_cameras(
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make_entities: Callable[[SentinelCoordinator, Camera], Iterable[Entity]],
    *,
    only_if: Callable[[SentinelCoordinator], bool] | None = None,
) -> None:
    """Add a platform's entities for every camera now and for each camera that appears.

    Cameras that left are dropped from the known set (their entities went with
    their device), so a camera that comes back gets entities again.
    """
    coordinator = entry.runtime_data
    known: set[str] = set()

    @callback
    def forget_cameras(camera_ids: Iterable[str]) -> None:
        known.difference_update(camera_ids)

    @callback
    def add_cameras(camera_ids: Iterable[str]) -> None:
        if only_if is not None and not only_if(coordinator):
            return
        new = [
            camera
            for camera_id in dict.fromkeys(camera_ids)
            if camera_id not in known and (camera := coordinator.cameras.get(camera_id))
        ]
        known.update(camera.camera_id for camera in new)
        entities = [entity for camera in new for entity in make_entities(coordinator, camera)]
        if entities:
            async_add_entities(entities)

    add_cameras(list(coordinator.cameras))
    entry.async_on_unload(
        async_dispatcher_connect(
            coordinator.hass, signals.cameras_added(entry.entry_id), add_cameras
        )
    )
    entry.async_on_unload(
        async_dispatcher_connect(
            coordinator.hass, signals.cameras_removed(entry.entry_id), forget_cameras
        )
    )
