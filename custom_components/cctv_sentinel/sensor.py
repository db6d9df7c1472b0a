"""Sensors: the agent's counts and last scan; each camera's risk, maker and details."""

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
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .entity import AgentEntity, CameraEntity, async_track_cameras
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
    """Add the agent's sensors now and each camera's as the agent reports it."""
    coordinator = entry.runtime_data
    async_add_entities(AgentSensor(coordinator, description) for description in AGENT_SENSORS)
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
