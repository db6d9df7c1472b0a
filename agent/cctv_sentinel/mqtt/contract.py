"""The MQTT contract of docs/mqtt.md as code: topics, payload builders, command parsing.

Pure: no sockets, no paho, no clock. Everything the agent publishes is built
here, and every command it accepts is parsed here, so the one JSON Schema in
docs/mqtt.schema.json can check both sides in the tests.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

import voluptuous as vol

from cctv_sentinel.limits import MAX_LABEL
from cctv_sentinel.protocols.text import clean as _clean_slow

if TYPE_CHECKING:
    from cctv_sentinel.inventory import CameraRecord

SCHEMA_VERSION: Final = 1
"""Bumped only when a field changes meaning or disappears (docs/mqtt.md)."""

DEFAULT_BASE_TOPIC: Final = "cctv_sentinel"

AGENT_ID_RE: Final = re.compile(r"^[a-z0-9_-]{1,64}$")
CAMERA_ID_RE: Final = re.compile(
    r"^(?:[0-9a-f]{12}|uuid-[0-9a-z-]{1,64}|sn-[0-9a-f]{1,40}|ip-[0-9a-f-]{7,45})$"
)
MAX_BASE_TOPIC: Final = 128
"""Longest base topic accepted; MQTT allows 64 KiB, brokers and people prefer short ones."""

MAX_COMMAND_BYTES: Final = 16 * 1024
"""A command is a few hundred bytes; anything larger is refused before parsing."""

MAX_EVIDENCE_VALUE: Final = 256
"""Evidence values may be longer than labels (docs/mqtt.md: up to 256 characters)."""

MAX_MESSAGE: Final = 256
"""Longest command-result message and reason echoed back."""

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"

EventType = Literal[
    "camera_found",
    "camera_changed",
    "camera_missing",
    "camera_gone",
    "restricted_detected",
    "restricted_cleared",
    "isolation_applied",
    "isolation_released",
    "isolation_failed",
    "scan_started",
    "scan_finished",
]
CommandName = Literal["rescan", "isolate", "release"]
ResultStatus = Literal["ok", "accepted", "error", "refused", "not_configured"]
RequesterSource = Literal["home_assistant", "cli", "mqtt"]

COMMANDS: Final[tuple[CommandName, ...]] = ("rescan", "isolate", "release")
MODES: Final = ("internet", "quarantine")
CHANGE_FIELDS: Final = ("ip", "firmware", "brand", "manufacturer", "model", "risk")
"""Fields a ``camera_changed`` event reports (docs/mqtt.md, Event)."""


# --------------------------------------------------------------------------- helpers


def clean(raw: str | bytes | None, max_len: int = MAX_LABEL) -> str:
    """:func:`protocols.text.clean`, with a fast path for text that is already clean.

    Most strings reaching the wire were cleaned by the parsers; checking that
    with ``str.isprintable`` (C speed) and returning them as they are keeps
    payload building cheap. A printable string's only whitespace is the ASCII
    space, so no runs of spaces and no spaces at the ends means nothing to do.
    """
    if (
        isinstance(raw, str)
        and len(raw) <= max_len
        and raw.isprintable()
        and "  " not in raw
        and raw == raw.strip()
    ):
        return raw
    return _clean_slow(raw, max_len)


def iso(ts: float) -> str:
    """A UNIX time as ISO 8601 in UTC with seconds, e.g. ``2026-11-28T09:15:02+00:00``."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def iso_or_none(ts: float | None) -> str | None:
    """Like :func:`iso`, for optional times."""
    return None if ts is None else iso(ts)


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload: compact UTF-8 JSON, keys in build order (stable for diffing)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def label(value: str | None, max_len: int = MAX_LABEL) -> str | None:
    """A device string as the contract allows it: no control characters, bounded."""
    if value is None:
        return None
    return clean(value, max_len) or None


def mask_serial(serial: str | None, publish_serials: bool) -> str | None:
    """The serial as published: only its last 4 characters unless the user opted in."""
    if not serial:
        return None
    if publish_serials:
        return clean(serial, MAX_LABEL) or None
    return "\u2026" + serial[-4:]


def valid_base_topic(base: str) -> bool:
    """True for a usable base topic: no wildcards, no empty levels at the ends, bounded."""
    return (
        0 < len(base) <= MAX_BASE_TOPIC
        and "#" not in base
        and "+" not in base
        and "\x00" not in base
        and not base.startswith("/")
        and not base.endswith("/")
        and "//" not in base
    )


_UNSAFE_ID = re.compile(r"[^a-z0-9_-]+")


def safe_agent_id(text: str | None = None) -> str:
    """An agent id from free text (default: this host's name), as ``[a-z0-9_-]{1,64}``."""
    raw = (text if text is not None else socket.gethostname()).lower()
    safe = _UNSAFE_ID.sub("-", raw).strip("-")[:64].strip("-")
    return safe or "agent"


# --------------------------------------------------------------------------- topics


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one agent (docs/mqtt.md, Topics)."""

    base: str
    agent_id: str

    @property
    def discovery(self) -> str:
        """``<base>/discovery/<agent_id>``: the retained announcement."""
        return f"{self.base}/discovery/{self.agent_id}"

    @property
    def root(self) -> str:
        """``<base>/<agent_id>``: the prefix of every other topic."""
        return f"{self.base}/{self.agent_id}"

    @property
    def status(self) -> str:
        """``online``/``offline``, retained, and the last will."""
        return f"{self.root}/status"

    @property
    def info(self) -> str:
        """The retained info document."""
        return f"{self.root}/info"

    @property
    def camera_filter(self) -> str:
        """Subscription filter for every camera of this agent."""
        return f"{self.root}/camera/+"

    def camera(self, camera_id: str) -> str:
        """The retained topic of one camera."""
        return f"{self.root}/camera/{camera_id}"

    def camera_id_of(self, topic: str) -> str | None:
        """The camera id of a camera topic, or None for any other topic."""
        prefix = f"{self.root}/camera/"
        if topic.startswith(prefix):
            rest = topic[len(prefix) :]
            if CAMERA_ID_RE.match(rest):
                return rest
        return None

    @property
    def event(self) -> str:
        """Events (not retained)."""
        return f"{self.root}/event"

    @property
    def command(self) -> str:
        """Commands to this agent."""
        return f"{self.root}/command"

    @property
    def command_result(self) -> str:
        """One result per command received."""
        return f"{self.root}/command/result"


# --------------------------------------------------------------------------- payloads


class AnnouncementTopics(TypedDict):
    """The ``topics`` object of the announcement."""

    status: str
    info: str
    camera: str
    event: str
    command: str
    command_result: str


class Announcement(TypedDict):
    """``<base>/discovery/<agent_id>``."""

    schema_version: int
    agent_id: str
    name: str
    version: str
    base_topic: str
    topics: AnnouncementTopics


class RegimeRef(TypedDict):
    """A regime as published: id, name and jurisdiction."""

    id: str
    name: str
    jurisdiction: str


class ScanStatusPayload(TypedDict):
    """The ``scan`` object of info."""

    state: Literal["idle", "scanning"]
    last_started: str | None
    last_finished: str | None
    last_duration_s: float | None
    next_scan: str | None
    interval_s: float


class Counts(TypedDict):
    """The ``counts`` object of info."""

    cameras: int
    restricted: int
    elevated: int
    unknown: int
    low: int
    isolated: int


class IsolationInfo(TypedDict):
    """The ``isolation`` object of info."""

    backends: list[str]
    default_backend: str | None
    modes: list[str]
    auto_isolate: bool


class Info(TypedDict):
    """``<base>/<agent_id>/info``."""

    schema_version: int
    agent_id: str
    name: str
    version: str
    catalogue_version: str
    networks: list[str]
    scan: ScanStatusPayload
    counts: Counts
    regimes: list[RegimeRef]
    isolation: IsolationInfo


class EvidenceItem(TypedDict):
    """One evidence entry of a camera."""

    probe: str
    field: str
    value: str
    maker: str | None
    weight: float
    rule: str
    source: str
    note: str


class CameraIsolation(TypedDict):
    """The ``isolation`` object of a camera."""

    state: Literal["none", "isolated", "failed"]
    mode: str | None
    backend: str | None
    since: str | None


class CameraPayload(TypedDict):
    """``<base>/<agent_id>/camera/<camera_id>``."""

    schema_version: int
    camera_id: str
    id_source: str
    stable: bool
    ip: str
    mac: str | None
    ports: list[int]
    discovered_by: list[str]
    brand: str | None
    manufacturer: str | None
    manufacturer_id: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    confidence: float
    risk: str
    risk_reason: str
    regimes: list[RegimeRef]
    explanation: str
    evidence: list[EvidenceItem]
    first_seen: str
    last_seen: str
    state: str
    isolation: CameraIsolation


class EventCamera(TypedDict):
    """The camera summary inside an event."""

    ip: str
    mac: str | None
    brand: str | None
    manufacturer: str | None
    model: str | None
    risk: str


class Event(TypedDict):
    """``<base>/<agent_id>/event``."""

    schema_version: int
    event_id: str
    type: EventType
    time: str
    camera_id: str | None
    camera: EventCamera | None
    changes: dict[str, list[Any]]
    details: dict[str, Any]


class CommandResult(TypedDict):
    """``<base>/<agent_id>/command/result``."""

    schema_version: int
    command_id: str | None
    command: str | None
    status: ResultStatus
    message: str
    camera_id: str | None
    time: str


NOT_ISOLATED: Final[CameraIsolation] = {
    "state": "none",
    "mode": None,
    "backend": None,
    "since": None,
}


def announcement(topics: Topics, *, name: str, version: str) -> Announcement:
    """The retained discovery announcement of an agent."""
    return {
        "schema_version": SCHEMA_VERSION,
        "agent_id": topics.agent_id,
        "name": clean(name, 256),
        "version": clean(version, 256),
        "base_topic": topics.base,
        "topics": {
            "status": topics.status,
            "info": topics.info,
            "camera": topics.camera_filter,
            "event": topics.event,
            "command": topics.command,
            "command_result": topics.command_result,
        },
    }


@dataclass(frozen=True, slots=True)
class ScanStatus:
    """Where the scan schedule stands (UNIX times; None = not yet)."""

    scanning: bool = False
    last_started: float | None = None
    last_finished: float | None = None
    last_duration: float | None = None
    next_scan: float | None = None
    interval: float = 0.0


def info(
    topics: Topics,
    *,
    name: str,
    version: str,
    catalogue_version: str,
    networks: Sequence[str],
    scan: ScanStatus,
    counts: Counts,
    regimes: Sequence[RegimeRef],
    isolation: IsolationInfo,
) -> Info:
    """The retained info document of an agent."""
    return {
        "schema_version": SCHEMA_VERSION,
        "agent_id": topics.agent_id,
        "name": clean(name, 256),
        "version": clean(version, 256),
        "catalogue_version": clean(catalogue_version, 256),
        "networks": list(networks),
        "scan": {
            "state": "scanning" if scan.scanning else "idle",
            "last_started": iso_or_none(scan.last_started),
            "last_finished": iso_or_none(scan.last_finished),
            "last_duration_s": (
                None if scan.last_duration is None else round(max(scan.last_duration, 0.0), 3)
            ),
            "next_scan": iso_or_none(scan.next_scan),
            "interval_s": round(max(scan.interval, 0.0), 3),
        },
        "counts": counts,
        "regimes": list(regimes),
        "isolation": isolation,
    }


def count_cameras(risks: Iterable[str], isolated: int) -> Counts:
    """Counts for info from each camera's risk."""
    counts: Counts = {
        "cameras": 0,
        "restricted": 0,
        "elevated": 0,
        "unknown": 0,
        "low": 0,
        "isolated": isolated,
    }
    for risk in risks:
        counts["cameras"] += 1
        if risk == "restricted":
            counts["restricted"] += 1
        elif risk == "elevated":
            counts["elevated"] += 1
        elif risk == "low":
            counts["low"] += 1
        else:
            counts["unknown"] += 1
    return counts


def _evidence(item: Mapping[str, Any]) -> EvidenceItem:
    weight = item.get("weight", 0.0)
    maker = item.get("maker")
    return {
        "probe": clean(str(item.get("probe", "")), 64),
        "field": clean(str(item.get("field", "")), 64),
        "value": clean(str(item.get("value", "")), MAX_EVIDENCE_VALUE),
        "maker": clean(maker, 256) if isinstance(maker, str) else None,
        "weight": round(float(weight), 3) if isinstance(weight, int | float) else 0.0,
        "rule": clean(str(item.get("rule", "")), 128),
        "source": clean(str(item.get("source", "")), 512),
        "note": clean(str(item.get("note", "")), 512),
    }


def camera_payload(
    record: CameraRecord,
    *,
    regimes: Mapping[str, RegimeRef],
    isolation: CameraIsolation = NOT_ISOLATED,
    publish_serials: bool = False,
    last_seen: float | None = None,
) -> CameraPayload:
    """The retained payload of one camera.

    ``regimes`` maps regime ids to their published form (from the catalogue);
    ``last_seen`` overrides the record's (the agent refreshes it only every
    ``mqtt.last_seen_interval``).
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "camera_id": record.camera_id,
        "id_source": record.id_source,
        "stable": record.id_source != "ip",
        "ip": record.ip,
        "mac": record.mac,
        "ports": sorted(record.ports),
        "discovered_by": sorted(record.discovered_by),
        "brand": label(record.brand),
        "manufacturer": label(record.manufacturer),
        "manufacturer_id": label(record.manufacturer_id),
        "model": label(record.model),
        "firmware": label(record.firmware),
        "serial": mask_serial(record.serial, publish_serials),
        "confidence": round(min(max(record.confidence, 0.0), 1.0), 3),
        "risk": record.risk,
        "risk_reason": clean(record.risk_reason, 512),
        "regimes": [
            regimes.get(rid, {"id": rid, "name": rid, "jurisdiction": ""}) for rid in record.regimes
        ],
        "explanation": clean(record.explanation, 512),
        "evidence": [_evidence(e) for e in record.evidence],
        "first_seen": iso(record.first_seen),
        "last_seen": iso(record.last_seen if last_seen is None else last_seen),
        "state": record.state,
        "isolation": isolation,
    }


def event_camera(record: CameraRecord) -> EventCamera:
    """The short camera summary carried by events."""
    return {
        "ip": record.ip,
        "mac": record.mac,
        "brand": label(record.brand),
        "manufacturer": label(record.manufacturer),
        "model": label(record.model),
        "risk": record.risk,
    }


def event(
    kind: EventType,
    *,
    time: float,
    camera_id: str | None = None,
    camera: EventCamera | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    details: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> Event:
    """One event (not retained)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id or str(uuid.uuid4()),
        "type": kind,
        "time": iso(time),
        "camera_id": camera_id,
        "camera": camera,
        "changes": {k: [old, new] for k, (old, new) in (changes or {}).items()},
        "details": dict(details or {}),
    }


def command_result(
    *,
    command_id: str | None,
    command: str | None,
    status: ResultStatus,
    message: str,
    camera_id: str | None,
    time: float,
) -> CommandResult:
    """The one answer to one command payload."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command_id": command_id,
        "command": command,
        "status": status,
        "message": clean(message, MAX_MESSAGE) or status,
        "camera_id": camera_id,
        "time": iso(time),
    }


# --------------------------------------------------------------------------- commands


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


def _path(err: vol.Invalid) -> str:
    return ".".join(str(p) for p in err.path)


def _explain(err: vol.Invalid) -> str:
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    first = sorted(errors, key=lambda e: [str(p) for p in e.path])[0]
    where = _path(first)
    msg = first.msg
    if msg == "expected str":
        msg = "expected a string"
    elif msg == "required key not provided":
        msg = "missing"
    return f"{where}: {msg}" if where else msg


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
        raise CommandError(_explain(err), command_id, name) from None
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
