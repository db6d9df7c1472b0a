"""Constants for the CCTV Sentinel integration."""

from __future__ import annotations

from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "cctv_sentinel"

PLATFORMS: Final = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.SENSOR,
    Platform.SWITCH,
]

# Config entry data (connection settings).
CONF_AGENT_ID: Final = "agent_id"
CONF_BASE_TOPIC: Final = "base_topic"
DEFAULT_BASE_TOPIC: Final = "cctv_sentinel"

# Options (the policy Home Assistant applies on top of the agent's verdicts).
CONF_REGIMES: Final = "regimes"
"""Options-form field: the regimes that count (stored as their complement, see below)."""
CONF_IGNORED_REGIMES: Final = "ignored_regimes"
"""Stored option: regimes that do NOT count.

Stored as the complement so that a regime the agent learns about later counts
by default: forgetting to tick a new list must not hide a banned camera.
"""
CONF_ALERT_ELEVATED: Final = "alert_elevated"
CONF_ACKNOWLEDGED: Final = "acknowledged"
CONF_PERSISTENT_NOTIFICATION: Final = "persistent_notification"
CONF_MAX_REPAIRS: Final = "max_repairs"
"""Up to this many cameras needing action, one repair each; above it one grouped repair."""
DEFAULT_MAX_REPAIRS: Final = 10
CONF_SHOW_SERIAL: Final = "show_serial"
"""Show the serial number the agent publishes on the device page (off: it identifies a unit)."""
CONF_COMMAND_SECRET: Final = "command_secret"  # noqa: S105  (an option key, not a secret)
"""Optional shared secret: commands are signed with it (the agent's commands.secret_file)."""

# Service actions and their fields.
SERVICE_RESCAN: Final = "rescan"
SERVICE_ISOLATE: Final = "isolate"
SERVICE_RELEASE: Final = "release"
SERVICE_DASHBOARD: Final = "dashboard"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_MODE: Final = "mode"
ATTR_REASON: Final = "reason"

EVENT_CCTV_SENTINEL: Final = "cctv_sentinel_event"
"""Bus event for automations; always carries ``device_id``."""

# Event types (bus event ``type`` and the event entity's event types).
EVENT_CAMERA_FOUND: Final = "camera_found"
EVENT_RESTRICTED_DETECTED: Final = "restricted_detected"
EVENT_RESTRICTED_CLEARED: Final = "restricted_cleared"
ENTITY_EVENT_TYPES: Final = (
    EVENT_CAMERA_FOUND,
    EVENT_RESTRICTED_DETECTED,
    EVENT_RESTRICTED_CLEARED,
)
RELAYED_AGENT_EVENTS: Final = frozenset(
    {"isolation_applied", "isolation_released", "isolation_failed"}
)
"""Agent events passed on to the bus as they are (the others are derived in HA)."""

MANUFACTURER: Final = "CCTV Sentinel"
AGENT_MODEL: Final = "Agent"

COMMAND_TIMEOUT: Final = 10.0
"""Seconds to wait for the agent's command result (it answers every command at once)."""
DISCOVERY_TIMEOUT: Final = 5.0
"""Seconds the set-up step listens for retained announcements on a custom base topic."""
DISCOVERY_SETTLE: Final = 0.5
"""After the first announcement, how long to collect more (retained ones arrive together)."""

DOCS_URL: Final = "https://github.com/cctv-sentinel/cctv-sentinel#home-assistant"
ISSUE_RESTRICTED: Final = "restricted_camera"
ISSUE_ELEVATED: Final = "elevated_camera"
ISSUE_UNSUPPORTED_SCHEMA: Final = "unsupported_schema"
ISSUE_RESTRICTED_GROUP: Final = "restricted_cameras"
ISSUE_TOO_MANY_CAMERAS: Final = "too_many_cameras"
