"""Binary sensors: the agent's connectivity and each camera's restricted-vendor verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .compat import BinarySensorDeviceClass
from .coordinator import SentinelConfigEntry, SentinelCoordinator
from .entity import AgentEntity, CameraEntity, async_track_cameras
from .models import Camera
from .text import plain

PARALLEL_UPDATES = 0  # push only: nothing to throttle


@dataclass(frozen=True, kw_only=True)
class CameraBinarySensorDescription(BinarySensorEntityDescription):
    """A camera binary sensor: its value and attributes come from functions."""

    value_fn: Callable[[SentinelCoordinator, Camera], bool]
    attributes_fn: Callable[[SentinelCoordinator, Camera], dict[str, Any]] | None = None


ONLINE = BinarySensorEntityDescription(
    key="online",
    translation_key="online",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
)


def _restricted_attributes(coordinator: SentinelCoordinator, camera: Camera) -> dict[str, Any]:
    """The evidence a person checks: why, under which regimes (the full chain: diagnostics)."""
    ignored = coordinator.state.policy.ignored_regimes
    return {
        "why": plain(camera.risk_reason or camera.explanation, 400),
        "regimes": [plain(regime.label) for regime in camera.regimes if regime.id not in ignored],
        "explanation": plain(camera.explanation, 400),
        "confidence": round(camera.confidence * 100),
    }


CAMERA_BINARY_SENSORS: tuple[CameraBinarySensorDescription, ...] = (
    CameraBinarySensorDescription(
        key="restricted_vendor",
        translation_key="restricted_vendor",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=lambda coordinator, camera: coordinator.state.policy.restricted(camera),
        attributes_fn=_restricted_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SentinelConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the agent's sensor now and each camera's as the agent reports it."""
    coordinator = entry.runtime_data
    async_add_entities([AgentOnlineBinarySensor(coordinator, ONLINE)])
    async_track_cameras(
        entry,
        async_add_entities,
        lambda coordinator, camera: (
            CameraBinarySensor(coordinator, camera, description)
            for description in CAMERA_BINARY_SENSORS
        ),
    )


class AgentOnlineBinarySensor(AgentEntity, BinarySensorEntity):
    """On while the agent's status topic says ``online``."""

    @property
    def available(self) -> bool:
        """Known while MQTT is connected and the agent's status has been heard."""
        state = self.coordinator.state
        return state.mqtt_connected and state.agent_online is not None

    @property
    def is_on(self) -> bool:
        """True when the agent is online."""
        return self.coordinator.state.agent_online is True


class CameraBinarySensor(CameraEntity, BinarySensorEntity):
    """A verdict about one camera."""

    entity_description: CameraBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The verdict under the user's policy."""
        camera = self.camera
        return (
            None if camera is None else self.entity_description.value_fn(self.coordinator, camera)
        )

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Why: the regimes that apply and the agent's explanation."""
        camera = self.camera
        if camera is None or self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator, camera)
