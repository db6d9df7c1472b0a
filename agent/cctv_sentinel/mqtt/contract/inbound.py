"""What the agent accepts (docs/mqtt.md, Command): command payloads, parsed and validated.

Pure: no sockets, no paho, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import voluptuous as vol

from cctv_sentinel._util.validation import first_error
from cctv_sentinel.limits import MAX_LABEL
from cctv_sentinel.mqtt.contract.common import (
    CAMERA_ID_RE,
    COMMANDS,
    MAX_COMMAND_BYTES,
    MAX_MESSAGE,
    MODES,
    SCHEMA_VERSION,
    CommandName,
    RequesterSource,
    clean,
)


@dataclass(frozen=True, slots=True)
class RequestedBy:
    """Who sent a command, as they say (the broker's ACL decides who may)."""

    source: RequesterSource = "mqtt"
    user_id: str | None = None
    user_name: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """A valid command from ``<base>/<agent_id>/command``."""

    command_id: str
    command: CommandName
    camera_id: str | None = None
    mode: str | None = None
    backend: str | None = None
    reason: str | None = None
    requested_by: RequestedBy = RequestedBy()


class CommandError(ValueError):
    """A command payload that cannot be obeyed; carries what could be read of it."""

    def __init__(self, message: str, command_id: str | None, command: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.command_id = command_id
        self.command = command


def _int_one(value: Any) -> int:
    # bool is an int in Python; the contract means a JSON integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    if value != SCHEMA_VERSION:
        raise vol.Invalid(f"version {value} is not supported (this agent speaks {SCHEMA_VERSION})")
    return value


def _optional_text(max_len: int) -> Any:
    return vol.Any(None, vol.All(str, vol.Length(max=max_len)))


_REQUESTED_BY: Final = vol.Schema(
    {
        vol.Optional("source"): vol.In(("home_assistant", "cli", "mqtt")),
        vol.Optional("user_id"): _optional_text(256),
        vol.Optional("user_name"): _optional_text(256),
    },
    extra=vol.ALLOW_EXTRA,
)

# Unknown keys are allowed: "a new field is not a new version" (docs/mqtt.md).
_COMMAND: Final = vol.Schema(
    {
        vol.Required("schema_version"): _int_one,
        vol.Required("command_id"): vol.All(
            str, vol.Length(min=1, max=64, msg="expected 1 to 64 characters")
        ),
        vol.Required("command"): vol.In(COMMANDS, msg=f"expected one of {', '.join(COMMANDS)}"),
        vol.Optional("camera_id"): vol.All(
            str, vol.Match(CAMERA_ID_RE, msg="not a camera id (see docs/mqtt.md)")
        ),
        vol.Optional("mode"): vol.In(MODES, msg=f"expected one of {', '.join(MODES)}"),
        vol.Optional("backend"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("reason"): vol.All(str, vol.Length(max=MAX_MESSAGE)),
        vol.Optional("requested_by"): _REQUESTED_BY,
    },
    extra=vol.ALLOW_EXTRA,
)


def parse_command(payload: bytes) -> Command:
    """Validate one command payload; raise :class:`CommandError` saying what is wrong."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"command is larger than {MAX_COMMAND_BYTES} bytes", None, None)
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CommandError("command is not valid JSON", None, None) from None
    if not isinstance(data, dict):
        raise CommandError("command must be a JSON object", None, None)
    raw_id = data.get("command_id")
    command_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 64 else None
    raw_name = data.get("command")
    name = (clean(raw_name, MAX_LABEL) or None) if isinstance(raw_name, str) else None
    try:
        valid = _COMMAND(data)
    except vol.Invalid as err:
        raise CommandError(first_error(err), command_id, name) from None
    if valid["command"] in {"isolate", "release"} and "camera_id" not in valid:
        raise CommandError(f"camera_id: missing (needed by {valid['command']})", command_id, name)
    who = valid.get("requested_by") or {}
    return Command(
        command_id=valid["command_id"],
        command=valid["command"],
        camera_id=valid.get("camera_id"),
        mode=valid.get("mode"),
        backend=valid.get("backend"),
        reason=clean(valid.get("reason"), MAX_MESSAGE) or None,
        requested_by=RequestedBy(
            source=who.get("source", "mqtt"),
            user_id=clean(who.get("user_id"), 256) or None,
            user_name=clean(who.get("user_name"), 256) or None,
        ),
    )
