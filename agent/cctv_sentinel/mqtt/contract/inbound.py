"""What the agent accepts (docs/mqtt.md, Command): command payloads, parsed and validated.

Also the signing scheme of commands (docs/security.md, Signed commands): the
HMAC-SHA256 a sender computes over the command topic and the command's
canonical JSON (which includes its ``sent_at`` time and ``nonce``), and its
check. Whether a signature is required, and the replay window, are the
service's business (service/commands.py).

Pure: no sockets, no paho, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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

SIGNATURE_CONTEXT: Final = b"cctv-sentinel command v1"
"""First line of what is signed: a signature made for anything else never fits a command."""
NONCE_RE: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""A nonce: 16-64 URL-safe characters (the integration sends 32 hex digits)."""
SIGNATURE_RE: Final = re.compile(r"^[0-9a-f]{64}$")
"""An HMAC-SHA256 in lower-case hex."""


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The one byte form of a JSON object that both sides sign (RFC 8785 for commands).

    Keys sorted, no white space, UTF-8 without escapes beyond JSON's own. For
    the values a command holds (strings, integers, booleans, null, objects)
    this is RFC 8785's canonical form.
    """
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signing_input(unsigned: bytes, topic: str) -> bytes:
    """What the HMAC covers: context, the command topic, the command without its signature."""
    return SIGNATURE_CONTEXT + b"\n" + topic.encode("utf-8") + b"\n" + unsigned


def command_signature(unsigned: bytes, *, topic: str, secret: bytes) -> str:
    """HMAC-SHA256 (hex) of a command's canonical JSON (without ``signature``) for a topic."""
    return hmac.new(secret, signing_input(unsigned, topic), hashlib.sha256).hexdigest()


def signature_valid(command: Command, *, topic: str, secret: bytes) -> bool:
    """True when the command carries the signature ``secret`` makes (constant-time check)."""
    if command.signature is None:
        return False
    expected = command_signature(command.unsigned, topic=topic, secret=secret)
    return hmac.compare_digest(expected, command.signature)


@dataclass(frozen=True, slots=True)
class RequestedBy:
    """Who sent a command, as they say (trusted only when the command is signed)."""

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
    sent_at: float | None = None
    """When the sender made it (UNIX time), if it said."""
    nonce: str | None = None
    signature: str | None = None
    unsigned: bytes = b""
    """The canonical JSON of the payload without ``signature`` (what the HMAC covers)."""


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


def _time(value: Any) -> float:
    if not isinstance(value, str) or len(value) > 40:
        raise vol.Invalid("expected an ISO 8601 time with its offset")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise vol.Invalid("expected an ISO 8601 time with its offset") from None
    if when.tzinfo is None:
        raise vol.Invalid("expected an ISO 8601 time with its offset (e.g. +00:00)")
    return when.timestamp()


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
        vol.Optional("sent_at"): _time,
        vol.Optional("nonce"): vol.All(
            str, vol.Match(NONCE_RE, msg="expected 16 to 64 of A-Z, a-z, 0-9, _ and -")
        ),
        vol.Optional("signature"): vol.All(
            str, vol.Match(SIGNATURE_RE, msg="expected an HMAC-SHA256 in lower-case hex")
        ),
    },
    extra=vol.ALLOW_EXTRA,
)


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them unless told.
    raise ValueError(f"{name} is not JSON")


def parse_command(payload: bytes) -> Command:
    """Validate one command payload; raise :class:`CommandError` saying what is wrong."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"command is larger than {MAX_COMMAND_BYTES} bytes", None, None)
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
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
    unsigned = {key: value for key, value in data.items() if key != "signature"}
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
        sent_at=valid.get("sent_at"),
        nonce=valid.get("nonce"),
        signature=valid.get("signature"),
        unsigned=canonical_json(unsigned),
    )
