"""Alerts a person acts on: one repair issue per restricted camera, optional notifications.

An issue exists exactly while :meth:`Policy.needs_repair` holds for a camera: it
goes away when the camera is isolated, acknowledged, cleared or removed. A
persistent notification (if the user wants one) is raised only when a camera
*becomes* restricted, so a restart does not repeat it, and is dismissed with the issue.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations

from .const import DOCS_URL, DOMAIN, ISSUE_ELEVATED, ISSUE_RESTRICTED
from .devices import camera_name
from .models import RISK_RESTRICTED, Camera

if TYPE_CHECKING:
    from .coordinator import SentinelCoordinator

UNKNOWN: str = "?"


def notification_id(agent_id: str, camera_id: str) -> str:
    """The persistent-notification id for one camera of one agent."""
    return f"{DOMAIN}_{agent_id}_{camera_id}"


class Alerts:
    """Repair issues and notifications for one agent's cameras."""

    def __init__(self, hass: HomeAssistant, coordinator: SentinelCoordinator) -> None:
        self.hass = hass
        self.coordinator = coordinator
        self._active: set[str] = set()
        self._notified: set[str] = set()

    def issue_id(self, camera_id: str) -> str:
        """The repair issue id for one camera of this agent."""
        return f"camera_{self.coordinator.agent_id}_{camera_id}"

    def notification_id(self, camera_id: str) -> str:
        """The persistent-notification id for one camera of this agent."""
        return notification_id(self.coordinator.agent_id, camera_id)

    def placeholders(self, camera: Camera) -> dict[str, str]:
        """Text placeholders describing a camera in issues and notifications."""
        policy = self.coordinator.policy
        regimes = [r.label for r in camera.regimes if r.id not in policy.ignored_regimes]
        return {
            "name": camera_name(camera),
            "agent": self.coordinator.name,
            "manufacturer": camera.manufacturer or UNKNOWN,
            "brand": camera.brand or UNKNOWN,
            "model": camera.model or UNKNOWN,
            "ip": camera.ip,
            "confidence": f"{round(camera.confidence * 100)}",
            "regimes": ", ".join(regimes) or UNKNOWN,
            "explanation": camera.explanation or camera.risk_reason or UNKNOWN,
        }

    @callback
    def sync(self, camera: Camera) -> None:
        """Create, update or delete the camera's issue to match the policy."""
        camera_id = camera.camera_id
        if not self.coordinator.policy.needs_repair(camera):
            if camera_id in self._active:
                self.clear(camera_id)
            return
        self._active.add(camera_id)
        restricted = self.coordinator.policy.risk(camera) == RISK_RESTRICTED
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id(camera_id),
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_RESTRICTED if restricted else ISSUE_ELEVATED,
            translation_placeholders=self.placeholders(camera),
            learn_more_url=DOCS_URL,
            data={"entry_id": self.coordinator.entry.entry_id, "camera_id": camera_id},
        )

    @callback
    def notify(self, camera: Camera) -> None:
        """Raise a persistent notification, if the user asked for them and it needs action."""
        policy = self.coordinator.policy
        if not policy.persistent_notification or not policy.needs_repair(camera):
            return
        self._notified.add(camera.camera_id)
        self.coordinator.entry.async_create_task(
            self.hass, self._async_notify(camera), f"{DOMAIN} notification"
        )

    async def _async_notify(self, camera: Camera) -> None:
        restricted = self.coordinator.policy.risk(camera) == RISK_RESTRICTED
        key = ISSUE_RESTRICTED if restricted else ISSUE_ELEVATED
        prefix = f"component.{DOMAIN}.issues.{key}"
        strings = await async_get_translations(
            self.hass, self.hass.config.language, "issues", [DOMAIN]
        )
        placeholders = self.placeholders(camera)
        # A fixable issue has no description of its own (hassfest: description and
        # fix_flow are exclusive); its fix dialog's text reads well on its own.
        title = _fill(strings.get(f"{prefix}.title", "{name}"), placeholders)
        message = _fill(
            strings.get(f"{prefix}.fix_flow.step.init.description", "{explanation}"), placeholders
        )
        if camera.camera_id not in self._notified:
            return  # cleared while the translations loaded
        persistent_notification.async_create(
            self.hass, message, title=title, notification_id=self.notification_id(camera.camera_id)
        )

    @callback
    def clear(self, camera_id: str) -> None:
        """Withdraw the camera's issue and notification."""
        self._active.discard(camera_id)
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id(camera_id))
        # Dismiss even if this run did not raise it: it may predate a reload.
        self._notified.discard(camera_id)
        persistent_notification.async_dismiss(self.hass, self.notification_id(camera_id))

    @callback
    def clear_all(self) -> None:
        """Withdraw every issue (on unload: a repair for an unloaded agent cannot be fixed)."""
        for camera_id in list(self._active):
            self._active.discard(camera_id)
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id(camera_id))


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, placeholders: dict[str, str]) -> str:
    # One pass, not str.format: values come from devices and may hold braces.
    return _PLACEHOLDER.sub(lambda m: placeholders.get(m.group(1), m.group(0)), template)
