"""One agent's state as Home Assistant knows it: pure data, no I/O, no Home Assistant calls."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .models import RISKS, AgentInfo, Camera, Regime
from .policy import Policy


@dataclass(slots=True, kw_only=True)
class AgentState:
    """What the agent last said, and how the user's policy reads it."""

    agent_id: str
    name: str
    policy: Policy
    info: AgentInfo | None = None
    cameras: dict[str, Camera] = field(default_factory=dict)
    mqtt_connected: bool = False
    agent_online: bool | None = None
    """None until the agent's status topic has been heard."""

    @property
    def available(self) -> bool:
        """True when Home Assistant's MQTT is connected and the agent says it is online."""
        return self.mqtt_connected and self.agent_online is True

    @property
    def has_isolation(self) -> bool:
        """True when the agent reports at least one isolation backend."""
        return self.info is not None and bool(self.info.isolation.backends)

    @property
    def regimes(self) -> dict[str, Regime]:
        """Every regime the agent has mentioned, by id."""
        found: dict[str, Regime] = {}
        if self.info is not None:
            found.update((regime.id, regime) for regime in self.info.regimes)
        for camera in self.cameras.values():
            found.update((regime.id, regime) for regime in camera.regimes)
        return found

    def counts_by_risk(self) -> dict[str, int]:
        """How many cameras have each risk level under the policy (every level present)."""
        counted = Counter(self.policy.risk(camera) for camera in self.cameras.values())
        return {risk: counted.get(risk, 0) for risk in RISKS}

    def restricted_count(self) -> int:
        """Cameras that are restricted under the policy."""
        return sum(1 for camera in self.cameras.values() if self.policy.restricted(camera))

    def needing_repair(self) -> list[Camera]:
        """Cameras a person still has to act on, in a stable order."""
        return sorted(
            (camera for camera in self.cameras.values() if self.policy.needs_repair(camera)),
            key=lambda camera: camera.camera_id,
        )
