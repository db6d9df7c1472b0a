"""The policy Home Assistant applies on top of the agent's verdict (the options flow).

The agent decides who made a camera and which regimes cover that maker; this
module only narrows or widens what raises an alert here: regimes the user does
not follow, whether ``elevated`` cameras alert too, and cameras a person has
acknowledged. Pure, so every rule is tested without Home Assistant running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .const import (
    CONF_ACKNOWLEDGED,
    CONF_ALERT_ELEVATED,
    CONF_IGNORED_REGIMES,
    CONF_MAX_REPAIRS,
    CONF_PERSISTENT_NOTIFICATION,
    CONF_SHOW_SERIAL,
    DEFAULT_MAX_REPAIRS,
)
from .models import RISK_ELEVATED, RISK_RESTRICTED, Camera


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The user's choices from the options flow."""

    ignored_regimes: frozenset[str] = frozenset()
    alert_elevated: bool = False
    acknowledged: frozenset[str] = frozenset()
    persistent_notification: bool = False
    max_repairs: int = DEFAULT_MAX_REPAIRS
    show_serial: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Policy:
        """Read the policy from a config entry's options (missing keys → defaults)."""
        return cls(
            ignored_regimes=frozenset(options.get(CONF_IGNORED_REGIMES, ())),
            alert_elevated=bool(options.get(CONF_ALERT_ELEVATED, False)),
            acknowledged=frozenset(options.get(CONF_ACKNOWLEDGED, ())),
            persistent_notification=bool(options.get(CONF_PERSISTENT_NOTIFICATION, False)),
            max_repairs=max(0, int(options.get(CONF_MAX_REPAIRS, DEFAULT_MAX_REPAIRS))),
            show_serial=bool(options.get(CONF_SHOW_SERIAL, False)),
        )

    def risk(self, camera: Camera) -> str:
        """The camera's risk level under this policy.

        A camera the agent calls restricted only because of regimes this user
        ignores is still made by a maker that some government restricts, which
        is what ``elevated`` means in the agent's vocabulary.
        """
        if (
            camera.risk == RISK_RESTRICTED
            and camera.regimes
            and all(regime.id in self.ignored_regimes for regime in camera.regimes)
        ):
            return RISK_ELEVATED
        return camera.risk

    def restricted(self, camera: Camera) -> bool:
        """True when the camera counts as restricted under this policy."""
        return self.risk(camera) == RISK_RESTRICTED

    def alerting(self, camera: Camera) -> bool:
        """True when the camera deserves an alert (before acknowledgement)."""
        risk = self.risk(camera)
        return risk == RISK_RESTRICTED or (risk == RISK_ELEVATED and self.alert_elevated)

    def needs_repair(self, camera: Camera) -> bool:
        """True while a person still has to act: alerting, not acknowledged, not isolated."""
        return (
            self.alerting(camera)
            and camera.camera_id not in self.acknowledged
            and not camera.isolated
        )
