"""Sensors: estate totals, the agent's counts and last scan; each camera's risk, maker, details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import signals
from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .entity import AgentEntity, CameraEntity, async_track_cameras
from .estate import Estate, Totals
from .models import RISKS, Camera
from .text import plain

PARALLEL_UPDATES = 0  # push only: nothing to throttle

MAX_STATE_LEN = 255
"""Home Assistant rejects longer states; device strings may be up to 256 characters."""

type SensorValue = StateType | datetime


@dataclass(frozen=True, kw_only=True)
class AgentSensorDescription(SensorEntityDescription):
    """An agent sensor computed from the coordinator."""

    value_fn: Callable[[SentinelCoordinator], SensorValue]


@dataclass(frozen=True, kw_only=True)
class CameraSensorDescription(SensorEntityDescription):
    """A camera sensor computed from the camera's state."""

    value_fn: Callable[[SentinelCoordinator, Camera], SensorValue]
    available_when_missing: bool = False


def _text(value: str | None) -> str | None:
    return plain(value, MAX_STATE_LEN) or None


AGENT_SENSORS: tuple[AgentSensorDescription, ...] = (
    AgentSensorDescription(
        key="cameras",
        translation_key="cameras",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda coordinator: len(coordinator.cameras),
    ),
    AgentSensorDescription(
        key="restricted_cameras",
        translation_key="restricted_cameras",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda coordinator: coordinator.state.restricted_count(),
    ),
    AgentSensorDescription(
        key="last_scan",
        translation_key="last_scan",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda coordinator: (
            coordinator.state.info.scan.last_finished if coordinator.state.info else None
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class EstateSensorDescription(SensorEntityDescription):
    """An estate-wide total."""

    value_fn: Callable[[Totals], int]


ESTATE_SENSORS: tuple[EstateSensorDescription, ...] = (
    EstateSensorDescription(
        key="estate_cameras",
        translation_key="estate_cameras",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda totals: totals.cameras,
    ),
    EstateSensorDescription(
        key="estate_restricted_cameras",
        translation_key="estate_restricted_cameras",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda totals: totals.restricted,
    ),
    EstateSensorDescription(
        key="estate_isolated_cameras",
        translation_key="estate_isolated_cameras",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda totals: totals.isolated,
    ),
)

CAMERA_SENSORS: tuple[CameraSensorDescription, ...] = (
    CameraSensorDescription(
        key="risk",
        translation_key="risk",
        device_class=SensorDeviceClass.ENUM,
        options=list(RISKS),
        value_fn=lambda coordinator, camera: coordinator.state.policy.risk(camera),
    ),
    CameraSensorDescription(
        key="manufacturer",
        translation_key="manufacturer",
        value_fn=lambda _, camera: _text(camera.manufacturer),
    ),
    CameraSensorDescription(
        key="brand",
        translation_key="brand",
        value_fn=lambda _, camera: _text(camera.brand),
    ),
    CameraSensorDescription(
        key="confidence",
        translation_key="confidence",
        native_unit_of_measurement=PERCENTAGE,
        # A whole percentage, rounded here: a suggested display precision would make
        # Home Assistant write every new sensor's registry entry a second time.
        value_fn=lambda _, camera: round(camera.confidence * 100),
    ),
    CameraSensorDescription(
        key="ip_address",
        translation_key="ip_address",
        entity_category=EntityCategory.DIAGNOSTIC,
        available_when_missing=True,
        value_fn=lambda _, camera: camera.ip,
    ),
    CameraSensorDescription(
        key="firmware",
        translation_key="firmware",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda _, camera: _text(camera.firmware),
    ),
    CameraSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Refreshed at most every 15 minutes by the agent, yet rarely looked at.
        entity_registry_enabled_default=False,
        available_when_missing=True,
        value_fn=lambda _, camera: camera.last_seen,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the agent's sensors now, and each camera's as the agent reports it.

    The estate's totals too if this entry carries them (now, or when the entry that
    did unloads).
    """
    coordinator = entry.runtime_data
    async_add_entities(AgentSensor(coordinator, description) for description in AGENT_SENSORS)
    estate = coordinator.estate

    @callback
    def add_estate_sensors() -> None:
        async_add_entities(EstateSensor(estate, description) for description in ESTATE_SENSORS)

    if estate.holder == entry.entry_id:
        add_estate_sensors()
    estate.on_holder(entry.entry_id, add_estate_sensors)
    async_track_cameras(
        entry,
        async_add_entities,
        lambda coordinator, camera: (
            CameraSensor(coordinator, camera, description) for description in CAMERA_SENSORS
        ),
    )


class AgentSensor(AgentEntity, SensorEntity):
    """A sensor on the agent's device."""

    entity_description: AgentSensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value from the coordinator."""
        return self.entity_description.value_fn(self.coordinator)


class CameraSensor(CameraEntity, SensorEntity):
    """A sensor on a camera's device."""

    entity_description: CameraSensorDescription

    def __init__(
        self,
        coordinator: SentinelCoordinator,
        camera: Camera,
        description: CameraSensorDescription,
    ) -> None:
        super().__init__(coordinator, camera, description)
        self.available_when_missing = description.available_when_missing

    @property
    def native_value(self) -> SensorValue:
        """The value from the camera's latest state."""
        camera = self.camera
        return (
            None if camera is None else self.entity_description.value_fn(self.coordinator, camera)
        )


class EstateSensor(SensorEntity):
    """A total across every agent loaded here; carried by one entry (see estate.py).

    No device: the estate is not one agent's, and its entities move between entries.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: EstateSensorDescription

    def __init__(self, estate: Estate, description: EstateSensorDescription) -> None:
        self.estate = estate
        self.entity_description = description
        self._attr_unique_id = description.key

    async def async_added_to_hass(self) -> None:
        """Follow every agent's counts."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, signals.estate_updated(), self._handle_update)
        )

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> int:
        """The total."""
        return self.entity_description.value_fn(self.estate.totals())

    @property
    def extra_state_attributes(self) -> dict[str, int] | None:
        """On the camera total: cameras by risk level, and how many agents are loaded."""
        if self.entity_description.key != "estate_cameras":
            return None
        totals = self.estate.totals()
        return {**totals.by_risk, "agents": totals.agents}
