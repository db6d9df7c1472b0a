"""Alerts a person acts on, at any estate size.

Up to ``max_repairs`` cameras needing action (default 10), each gets its own
fixable repair issue; above that the agent gets one grouped issue ("N cameras
need action") whose fix flow lets a person pick cameras to isolate or
acknowledge. An issue exists exactly while :meth:`Policy.needs_repair` holds.
The optional persistent notification summarises the same set; it is raised
only when a camera *becomes* alerting (so a restart does not repeat it) and goes
when nothing needs action. Every device string is escaped for markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOCS_URL, DOMAIN, ISSUE_ELEVATED, ISSUE_RESTRICTED, ISSUE_RESTRICTED_GROUP
from .devices import camera_name
from .models import RISK_RESTRICTED, Camera
from .state import AgentState
from .text import markdown, plain

UNKNOWN: Final = "?"
EXAMPLES: Final = 5
"""Cameras named in a grouped issue's text (the fix flow lists them all)."""
NOTIFICATION_LINES: Final = 10
"""Cameras listed in the notification; more are counted, not listed."""

type IssueSpec = tuple[str, dict[str, str], dict[str, str | int | float | None]]
"""(translation key, placeholders, data) of one issue."""


def notification_id(agent_id: str) -> str:
    """The persistent-notification id of one agent."""
    return f"{DOMAIN}_{agent_id}"


def camera_issue_id(agent_id: str, camera_id: str) -> str:
    """The repair issue id of one camera of one agent."""
    return f"camera_{agent_id}_{camera_id}"


def group_issue_id(agent_id: str) -> str:
    """The grouped repair issue id of one agent."""
    return f"cameras_{agent_id}"


def camera_placeholders(state: AgentState, camera: Camera) -> dict[str, str]:
    """Text placeholders describing a camera, safe to render as markdown."""
    regimes = [r.label for r in camera.regimes if r.id not in state.policy.ignored_regimes]
    return {
        "name": markdown(camera_name(camera)),
        "agent": markdown(state.name),
        "manufacturer": markdown(camera.manufacturer) or UNKNOWN,
        "brand": markdown(camera.brand) or UNKNOWN,
        "model": markdown(camera.model) or UNKNOWN,
        "ip": camera.ip,
        "confidence": f"{round(camera.confidence * 100)}",
        "regimes": markdown(", ".join(regimes), 400) or UNKNOWN,
        "explanation": markdown(camera.explanation or camera.risk_reason, 400) or UNKNOWN,
    }


class Alerts:
    """Repair issues and the notification for one agent."""

    def __init__(self, hass: HomeAssistant, entry_id: str, state: AgentState) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.state = state
        self._issues: dict[str, IssueSpec] = {}
        """Issues we have raised, with what they said (unchanged ones are not rewritten)."""
        self._notify = False
        """Whether the notification is wanted: a camera became alerting since it was cleared."""

    @property
    def issue_ids(self) -> set[str]:
        """The ids of the issues currently raised."""
        return set(self._issues)

    @callback
    def forget(self, issue_id: str) -> None:
        """Someone else removed one of our issues (a finished fix flow): raise it anew if due.

        Not at once: after "isolate" the camera still needs action until the agent
        confirms, and the dialog must not reopen; the next change of state decides.
        """
        self._issues.pop(issue_id, None)

    @callback
    def detected(self) -> None:
        """A camera has just become alerting: the notification (if wanted) is due."""
        if self.state.policy.persistent_notification:
            self._notify = True

    @callback
    def sync(self) -> None:
        """Make the issues and the notification match the cameras (called once per batch)."""
        needing = self.state.needing_repair()
        wanted = self._wanted(needing)
        for issue_id in set(self._issues) - set(wanted):
            del self._issues[issue_id]
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for issue_id, spec in wanted.items():
            if self._issues.get(issue_id) == spec:
                continue
            self._issues[issue_id] = spec
            key, placeholders, data = spec
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=key,
                translation_placeholders=placeholders,
                learn_more_url=DOCS_URL,
                data=data,
            )
        self._sync_notification(needing)

    def _wanted(self, needing: list[Camera]) -> dict[str, IssueSpec]:
        state = self.state
        if len(needing) <= state.policy.max_repairs:
            return {
                camera_issue_id(state.agent_id, camera.camera_id): (
                    ISSUE_RESTRICTED
                    if state.policy.risk(camera) == RISK_RESTRICTED
                    else ISSUE_ELEVATED,
                    camera_placeholders(state, camera),
                    {"entry_id": self.entry_id, "camera_id": camera.camera_id},
                )
                for camera in needing
            }
        restricted = sum(1 for camera in needing if state.policy.risk(camera) == RISK_RESTRICTED)
        examples = ", ".join(markdown(camera_name(camera)) for camera in needing[:EXAMPLES])
        if len(needing) > EXAMPLES:
            examples += ", …"
        placeholders = {
            "agent": markdown(state.name),
            "count": str(len(needing)),
            "restricted": str(restricted),
            "elevated": str(len(needing) - restricted),
            "examples": examples,
        }
        return {
            group_issue_id(state.agent_id): (
                ISSUE_RESTRICTED_GROUP,
                placeholders,
                {"entry_id": self.entry_id, "camera_id": None},
            )
        }

    @callback
    def _sync_notification(self, needing: list[Camera]) -> None:
        nid = notification_id(self.state.agent_id)
        if not needing or not self.state.policy.persistent_notification:
            self._notify = False
            persistent_notification.async_dismiss(self.hass, nid)
            return
        if self._notify:
            title, message = summary(self.state, needing)
            persistent_notification.async_create(
                self.hass, message, title=title, notification_id=nid
            )

    @callback
    def clear_all(self) -> None:
        """Withdraw every issue (on unload: a repair for an unloaded agent cannot be fixed)."""
        raised, self._issues = list(self._issues), {}
        for issue_id in raised:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)


def summary(state: AgentState, needing: list[Camera]) -> tuple[str, str]:
    """Title and markdown message of the notification about the cameras needing action."""
    restricted = sum(1 for camera in needing if state.policy.risk(camera) == RISK_RESTRICTED)
    agent = markdown(state.name)
    if len(needing) == 1:
        title = f"CCTV Sentinel: a camera needs action ({plain(state.name)})"
    else:
        title = f"CCTV Sentinel: {len(needing)} cameras need action ({plain(state.name)})"
    lines = [
        (
            f"Agent **{agent}** reports {restricted} restricted camera(s)"
            f" and {len(needing) - restricted} of concern:"
        ),
        "",
    ]
    for camera in needing[:NOTIFICATION_LINES]:
        lines.append(_line(camera_placeholders(state, camera)))
    if len(needing) > NOTIFICATION_LINES:
        lines.append(f"- … and {len(needing) - NOTIFICATION_LINES} more")
    lines += ["", "Isolate or acknowledge them under **Settings → Repairs**."]
    return title[:200], "\n".join(lines)


def _line(placeholders: Mapping[str, str]) -> str:
    return (
        f"- **{placeholders['name']}** ({placeholders['ip']}): made by"
        f" {placeholders['manufacturer']}, labelled {placeholders['brand']};"
        f" {placeholders['regimes']}"
    )
