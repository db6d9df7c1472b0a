"""The MQTT contract (docs/mqtt.md, schema version 1) as seen from Home Assistant.

Pure: voluptuous and the standard library only, so the contract tests can load it
without a running Home Assistant. Every payload from the broker is hostile until
it has passed these schemas: sizes are capped before parsing, unknown fields are
ignored (the contract says a new field is not a new version), and anything that
breaks the contract raises :class:`PayloadError` instead of reaching an entity.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import voluptuous as vol

SCHEMA_VERSION: Final = 1

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest payload we parse. A camera with a full evidence list is a few KiB;
the cap stops a hostile publisher from making Home Assistant parse megabytes."""
MAX_TEXT: Final = 256
"""Longest device-supplied string the contract allows (brand, model, evidence value)."""
MAX_LIST: Final = 256
"""Most items we accept in any list (evidence, regimes, networks)."""
MAX_TOPIC_LEN: Final = 200
"""Longest base topic we accept; the agent's topics add at most ~100 characters."""

AGENT_ID_RE: Final = re.compile(r"^[a-z0-9_-]{1,64}$")
CAMERA_ID_RE: Final = re.compile(
    r"^(?:[0-9a-f]{12}|uuid-[0-9a-z-]{1,64}|sn-[0-9a-f]{1,40}|ip-[0-9a-f-]{7,45})$"
)
MAC_RE: Final = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")

RISK_RESTRICTED: Final = "restricted"
RISK_ELEVATED: Final = "elevated"
RISK_UNKNOWN: Final = "unknown"
RISK_LOW: Final = "low"
RISKS: Final = (RISK_RESTRICTED, RISK_ELEVATED, RISK_UNKNOWN, RISK_LOW)

CAMERA_PRESENT: Final = "present"
CAMERA_MISSING: Final = "missing"
ISOLATION_STATES: Final = ("none", "isolated", "failed")
ISOLATION_MODES: Final = ("internet", "quarantine")
COMMANDS: Final = ("rescan", "isolate", "release")
RESULT_STATUSES: Final = ("ok", "accepted", "error", "refused", "not_configured")
EVENT_TYPES: Final = (
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
)
STATUS_ONLINE: Final = "online"
STATUS_OFFLINE: Final = "offline"


class PayloadError(ValueError):
    """A payload that breaks the MQTT contract."""


class UnsupportedSchemaError(PayloadError):
    """A payload from a newer (or unknown) version of the contract."""

    def __init__(self, version: object) -> None:
        super().__init__(f"unsupported schema_version {version!r} (this integration reads 1)")
        self.version = version


# --- validators -------------------------------------------------------------------


def _string(max_len: int = MAX_TEXT) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid("expected a string")
        if len(value) > max_len:
            raise vol.Invalid(f"longer than {max_len} characters")
        return value

    return check


def _optional_string(max_len: int = MAX_TEXT) -> Callable[[Any], str | None]:
    inner = _string(max_len)

    def check(value: Any) -> str | None:
        return None if value is None else inner(value)

    return check


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise vol.Invalid(f"not a valid {what}")
        return value

    return check


def _number(value: Any) -> float:
    # bool is an int in Python but never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid("expected true or false")
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise vol.Invalid("expected an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise vol.Invalid("expected an ISO 8601 time") from err
    if parsed.tzinfo is None:
        raise vol.Invalid("time without a UTC offset")
    return parsed


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _ip(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 45:
        raise vol.Invalid("expected an IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as err:
        raise vol.Invalid("expected an IP address") from err


def _optional_web_url(value: Any) -> str | None:
    """An http(s) URL of the camera's own web page (anything else is dropped, not fatal)."""
    if value is None:
        return None
    text = _string(512)(value)
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    return text


def _optional_mac(value: Any) -> str | None:
    if value is None:
        return None
    return _matching(MAC_RE, "MAC address")(value)


def _list(item: Callable[[Any], Any], max_items: int = MAX_LIST) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise vol.Invalid("expected a list")
        if len(value) > max_items:
            raise vol.Invalid(f"more than {max_items} items")
        return [item(entry) for entry in value]

    return check


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid("expected an object")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise vol.Invalid(f"expected one of {', '.join(choices)}")
        return str(value)

    return check


def _optional_one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    inner = _one_of(choices)

    def check(value: Any) -> str | None:
        return None if value is None else inner(value)

    return check


_TEXT = _string()
_OPT_TEXT = _optional_string()
_LONG_TEXT = _string(4096)

REGIME_SCHEMA: Final = vol.Schema(
    {
        vol.Required("id"): _string(64),
        vol.Required("name"): _TEXT,
        vol.Required("jurisdiction"): _string(64),
    },
    extra=vol.ALLOW_EXTRA,
)

TOPICS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(key): _string(MAX_TOPIC_LEN + 100)
        for key in ("status", "info", "camera", "event", "command", "command_result")
    },
    extra=vol.ALLOW_EXTRA,
)

ANNOUNCEMENT_SCHEMA: Final = vol.Schema(
    {
        vol.Required("agent_id"): _matching(AGENT_ID_RE, "agent id"),
        vol.Required("name"): _TEXT,
        vol.Required("version"): _TEXT,
        vol.Required("base_topic"): _TEXT,
        vol.Optional("topics"): TOPICS_SCHEMA,
    },
    extra=vol.ALLOW_EXTRA,
)

INFO_SCHEMA: Final = vol.Schema(
    {
        vol.Required("agent_id"): _matching(AGENT_ID_RE, "agent id"),
        vol.Required("name"): _TEXT,
        vol.Required("version"): _TEXT,
        vol.Optional("catalogue_version", default=None): _OPT_TEXT,
        vol.Optional("networks", default=list): _list(_string(64)),
        vol.Required("scan"): vol.Schema(
            {
                vol.Required("state"): _one_of(("idle", "scanning")),
                vol.Optional("last_started", default=None): _optional_time,
                vol.Optional("last_finished", default=None): _optional_time,
                vol.Optional("last_duration_s", default=None): vol.Any(None, _number),
                vol.Optional("next_scan", default=None): _optional_time,
                vol.Optional("interval_s", default=None): vol.Any(None, _number),
            },
            extra=vol.ALLOW_EXTRA,
        ),
        vol.Optional("counts", default=dict): vol.Schema(
            {
                vol.Optional(key, default=0): vol.All(_integer, vol.Range(min=0))
                for key in ("cameras", "restricted", "elevated", "unknown", "low", "isolated")
            },
            extra=vol.ALLOW_EXTRA,
        ),
        vol.Optional("regimes", default=list): _list(REGIME_SCHEMA),
        vol.Required("isolation"): vol.Schema(
            {
                vol.Required("backends"): _list(_string(64), 32),
                vol.Optional("default_backend", default=None): _optional_string(64),
                vol.Optional("modes", default=list): _list(_one_of(ISOLATION_MODES), 8),
                vol.Optional("auto_isolate", default=False): _boolean,
            },
            extra=vol.ALLOW_EXTRA,
        ),
    },
    extra=vol.ALLOW_EXTRA,
)

EVIDENCE_SCHEMA: Final = vol.Schema(
    {
        vol.Required("probe"): _string(64),
        vol.Required("field"): _string(64),
        vol.Required("value"): _TEXT,
        vol.Optional("maker", default=None): _OPT_TEXT,
        vol.Optional("weight", default=0.0): _number,
        vol.Optional("rule", default=""): _TEXT,
        vol.Optional("source", default=""): _string(1024),
        vol.Optional("note", default=""): _string(1024),
    },
    extra=vol.ALLOW_EXTRA,
)

CAMERA_SCHEMA: Final = vol.Schema(
    {
        vol.Required("camera_id"): _matching(CAMERA_ID_RE, "camera id"),
        vol.Optional("id_source", default="mac"): _string(32),
        vol.Optional("stable", default=True): _boolean,
        vol.Required("ip"): _ip,
        vol.Optional("mac", default=None): _optional_mac,
        vol.Optional("ports", default=list): _list(
            vol.All(_integer, vol.Range(min=1, max=65535)), 1024
        ),
        vol.Optional("discovered_by", default=list): _list(_string(32), 32),
        vol.Optional("brand", default=None): _OPT_TEXT,
        vol.Optional("manufacturer", default=None): _OPT_TEXT,
        vol.Optional("manufacturer_id", default=None): _OPT_TEXT,
        vol.Optional("model", default=None): _OPT_TEXT,
        vol.Optional("firmware", default=None): _OPT_TEXT,
        vol.Optional("hw_version", default=None): _OPT_TEXT,
        vol.Optional("serial", default=None): _optional_string(128),
        vol.Optional("web_url", default=None): _optional_web_url,
        vol.Required("confidence"): vol.All(_number, vol.Range(min=0.0, max=1.0)),
        vol.Required("risk"): _one_of(RISKS),
        vol.Optional("risk_reason", default=""): _LONG_TEXT,
        vol.Optional("regimes", default=list): _list(REGIME_SCHEMA),
        vol.Optional("explanation", default=""): _LONG_TEXT,
        vol.Optional("evidence", default=list): _list(EVIDENCE_SCHEMA),
        vol.Optional("first_seen", default=None): _optional_time,
        vol.Required("last_seen"): _time,
        vol.Optional("state", default=CAMERA_PRESENT): _one_of((CAMERA_PRESENT, CAMERA_MISSING)),
        vol.Optional("isolation", default=dict): vol.Schema(
            {
                vol.Optional("state", default="none"): _one_of(ISOLATION_STATES),
                vol.Optional("mode", default=None): _optional_one_of(ISOLATION_MODES),
                vol.Optional("backend", default=None): _optional_string(64),
                vol.Optional("since", default=None): _optional_time,
            },
            extra=vol.ALLOW_EXTRA,
        ),
    },
    extra=vol.ALLOW_EXTRA,
)

EVENT_SCHEMA: Final = vol.Schema(
    {
        vol.Required("event_id"): _string(128),
        vol.Required("type"): _string(64),
        vol.Required("time"): _time,
        vol.Optional("camera_id", default=None): vol.Any(
            None, _matching(CAMERA_ID_RE, "camera id")
        ),
        vol.Optional("camera", default=None): vol.Any(None, _mapping),
        vol.Optional("changes", default=dict): _mapping,
        vol.Optional("details", default=dict): _mapping,
    },
    extra=vol.ALLOW_EXTRA,
)

COMMAND_RESULT_SCHEMA: Final = vol.Schema(
    {
        vol.Required("command_id"): _optional_string(64),
        vol.Optional("command", default=None): _OPT_TEXT,
        vol.Required("status"): _one_of(RESULT_STATUSES),
        vol.Optional("message", default=""): _string(1024),
        vol.Optional("camera_id", default=None): vol.Any(
            None, _matching(CAMERA_ID_RE, "camera id")
        ),
        vol.Optional("time", default=None): _optional_time,
    },
    extra=vol.ALLOW_EXTRA,
)


# --- typed payloads -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Regime:
    """A government list or ban that covers a maker."""

    id: str
    name: str
    jurisdiction: str

    @property
    def label(self) -> str:
        """Human label, e.g. ``FCC Covered List (US)``."""
        return f"{self.name} ({self.jurisdiction})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """The MQTT topics of one agent."""

    discovery: str
    status: str
    info: str
    camera: str
    """Filter ending in ``+``: one retained topic per camera."""
    event: str
    command: str
    command_result: str

    def camera_id(self, topic: str) -> str | None:
        """The camera id a camera topic names, or None when it is not one."""
        prefix = self.camera[:-1]
        if not topic.startswith(prefix):
            return None
        camera_id = topic[len(prefix) :]
        return camera_id if CAMERA_ID_RE.fullmatch(camera_id) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    """``<base>/discovery/<agent_id>``: an agent says it exists."""

    agent_id: str
    name: str
    version: str
    base_topic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanInfo:
    """When the agent scanned last and will scan next."""

    state: str
    last_started: datetime | None
    last_finished: datetime | None
    last_duration_s: float | None
    next_scan: datetime | None
    interval_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IsolationInfo:
    """What isolation the agent can do."""

    backends: tuple[str, ...]
    default_backend: str | None
    modes: tuple[str, ...]
    auto_isolate: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInfo:
    """``<base>/<agent_id>/info``: the agent's own state."""

    agent_id: str
    name: str
    version: str
    catalogue_version: str | None
    networks: tuple[str, ...]
    scan: ScanInfo
    counts: Mapping[str, int]
    regimes: tuple[Regime, ...]
    isolation: IsolationInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One thing a probe saw that points at a maker."""

    probe: str
    field: str
    value: str
    maker: str | None
    weight: float
    rule: str
    source: str
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraIsolation:
    """Whether the agent has cut a camera off, and how."""

    state: str
    mode: str | None
    backend: str | None
    since: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Camera:
    """``<base>/<agent_id>/camera/<camera_id>``: one camera and the verdict on it."""

    camera_id: str
    id_source: str
    stable: bool
    ip: str
    mac: str | None
    ports: tuple[int, ...]
    discovered_by: tuple[str, ...]
    brand: str | None
    manufacturer: str | None
    manufacturer_id: str | None
    model: str | None
    firmware: str | None
    hw_version: str | None
    serial: str | None
    web_url: str | None
    """The camera's web page, when the agent knows it (optional in schema version 1)."""
    confidence: float
    risk: str
    risk_reason: str
    regimes: tuple[Regime, ...]
    explanation: str
    evidence: tuple[Evidence, ...]
    first_seen: datetime | None
    last_seen: datetime
    state: str
    isolation: CameraIsolation

    @property
    def isolated(self) -> bool:
        """True when the agent reports the camera cut off."""
        return self.isolation.state == "isolated"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEvent:
    """``<base>/<agent_id>/event``: something happened on the agent."""

    event_id: str
    type: str
    time: datetime
    camera_id: str | None
    camera: Mapping[str, Any] | None
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """``<base>/<agent_id>/command/result``: the agent's answer to one command."""

    command_id: str | None
    command: str | None
    status: str
    message: str
    camera_id: str | None

    @property
    def succeeded(self) -> bool:
        """True when the agent did, or started doing, what was asked."""
        return self.status in ("ok", "accepted")


# --- topics ---------------------------------------------------------------------------


def normalise_base_topic(value: str) -> str:
    """Check a user-entered base topic; raise PayloadError saying what is wrong."""
    topic = value.strip()
    if not topic:
        raise PayloadError("the base topic is empty")
    if len(topic) > MAX_TOPIC_LEN:
        raise PayloadError(f"the base topic is longer than {MAX_TOPIC_LEN} characters")
    if any(char in topic for char in "#+\x00"):
        raise PayloadError("the base topic may not contain '#', '+' or NUL")
    if topic.startswith("/") or topic.endswith("/"):
        raise PayloadError("the base topic may not start or end with '/'")
    return topic


def discovery_filter(base_topic: str) -> str:
    """Topic filter matching every agent's announcement under a base topic."""
    return f"{base_topic}/discovery/+"


def agent_topics(base_topic: str, agent_id: str) -> Topics:
    """The topics of one agent, as docs/mqtt.md lays them out."""
    root = f"{base_topic}/{agent_id}"
    return Topics(
        discovery=f"{base_topic}/discovery/{agent_id}",
        status=f"{root}/status",
        info=f"{root}/info",
        camera=f"{root}/camera/+",
        event=f"{root}/event",
        command=f"{root}/command",
        command_result=f"{root}/command/result",
    )


def split_discovery_topic(topic: str) -> tuple[str, str] | None:
    """``(base_topic, agent_id)`` of an announcement topic, or None."""
    base, sep, agent_id = topic.rpartition("/discovery/")
    if not sep or not base or not AGENT_ID_RE.fullmatch(agent_id):
        return None
    return base, agent_id


# --- parsing ---------------------------------------------------------------------------


def decode(payload: str | bytes | bytearray) -> dict[str, Any]:
    """Bytes or text to a JSON object with a supported ``schema_version``."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise PayloadError("payload is not valid JSON") from err
    if not isinstance(data, dict):
        raise PayloadError("payload is not a JSON object")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PayloadError("schema_version is missing or not an integer")
    if version != SCHEMA_VERSION:
        raise UnsupportedSchemaError(version)
    return data


def _validate(schema: vol.Schema, data: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        result: dict[str, Any] = schema(data)
    except vol.Invalid as err:
        raise PayloadError(f"invalid {what}: {err}") from err
    return result


def _regimes(items: list[dict[str, Any]]) -> tuple[Regime, ...]:
    return tuple(
        Regime(id=item["id"], name=item["name"], jurisdiction=item["jurisdiction"])
        for item in items
    )


def parse_announcement(payload: str | bytes | bytearray) -> Announcement:
    """Parse an agent's retained discovery announcement."""
    data = _validate(ANNOUNCEMENT_SCHEMA, decode(payload), "announcement")
    return Announcement(
        agent_id=data["agent_id"],
        name=data["name"],
        version=data["version"],
        base_topic=normalise_base_topic(data["base_topic"]),
    )


def parse_info(payload: str | bytes | bytearray) -> AgentInfo:
    """Parse an agent's retained info payload."""
    data = _validate(INFO_SCHEMA, decode(payload), "info")
    scan = data["scan"]
    iso = data["isolation"]
    counts = data["counts"]
    return AgentInfo(
        agent_id=data["agent_id"],
        name=data["name"],
        version=data["version"],
        catalogue_version=data["catalogue_version"],
        networks=tuple(data["networks"]),
        scan=ScanInfo(
            state=scan["state"],
            last_started=scan["last_started"],
            last_finished=scan["last_finished"],
            last_duration_s=scan["last_duration_s"],
            next_scan=scan["next_scan"],
            interval_s=scan["interval_s"],
        ),
        counts={key: value for key, value in counts.items() if isinstance(value, int)},
        regimes=_regimes(data["regimes"]),
        isolation=IsolationInfo(
            backends=tuple(iso["backends"]),
            default_backend=iso["default_backend"],
            modes=tuple(iso["modes"]),
            auto_isolate=iso["auto_isolate"],
        ),
    )


def parse_camera(payload: str | bytes | bytearray) -> Camera:
    """Parse one camera's retained state."""
    data = _validate(CAMERA_SCHEMA, decode(payload), "camera")
    iso = data["isolation"]
    return Camera(
        camera_id=data["camera_id"],
        id_source=data["id_source"],
        stable=data["stable"],
        ip=data["ip"],
        mac=data["mac"],
        ports=tuple(data["ports"]),
        discovered_by=tuple(data["discovered_by"]),
        brand=data["brand"],
        manufacturer=data["manufacturer"],
        manufacturer_id=data["manufacturer_id"],
        model=data["model"],
        firmware=data["firmware"],
        hw_version=data["hw_version"],
        serial=data["serial"],
        web_url=data["web_url"],
        confidence=data["confidence"],
        risk=data["risk"],
        risk_reason=data["risk_reason"],
        regimes=_regimes(data["regimes"]),
        explanation=data["explanation"],
        evidence=tuple(
            Evidence(
                probe=item["probe"],
                field=item["field"],
                value=item["value"],
                maker=item["maker"],
                weight=item["weight"],
                rule=item["rule"],
                source=item["source"],
                note=item["note"],
            )
            for item in data["evidence"]
        ),
        first_seen=data["first_seen"],
        last_seen=data["last_seen"],
        state=data["state"],
        isolation=CameraIsolation(
            state=iso["state"], mode=iso["mode"], backend=iso["backend"], since=iso["since"]
        ),
    )


def parse_event(payload: str | bytes | bytearray) -> AgentEvent:
    """Parse an agent event (not retained)."""
    data = _validate(EVENT_SCHEMA, decode(payload), "event")
    return AgentEvent(
        event_id=data["event_id"],
        type=data["type"],
        time=data["time"],
        camera_id=data["camera_id"],
        camera=data["camera"],
        details=data["details"],
    )


def parse_command_result(payload: str | bytes | bytearray) -> CommandResult:
    """Parse the agent's answer to a command."""
    data = _validate(COMMAND_RESULT_SCHEMA, decode(payload), "command result")
    return CommandResult(
        command_id=data["command_id"],
        command=data["command"],
        status=data["status"],
        message=data["message"],
        camera_id=data["camera_id"],
    )


def parse_status(payload: str | bytes | bytearray) -> bool:
    """``online`` → True, ``offline`` → False; anything else is a PayloadError."""
    if isinstance(payload, bytes | bytearray):
        payload = payload[:16].decode("ascii", "replace")
    text = payload[:16].strip().lower()
    if text == STATUS_ONLINE:
        return True
    if text == STATUS_OFFLINE:
        return False
    raise PayloadError("status is neither 'online' nor 'offline'")


# --- commands ---------------------------------------------------------------------------


def build_command(
    command: str,
    *,
    camera_id: str | None = None,
    mode: str | None = None,
    reason: str | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
    command_id: str | None = None,
) -> dict[str, Any]:
    """A command payload for ``<base>/<agent_id>/command`` (see docs/mqtt.md)."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    if command != "rescan" and (camera_id is None or not CAMERA_ID_RE.fullmatch(camera_id)):
        raise ValueError(f"{command} needs a valid camera id")
    if mode is not None and (command != "isolate" or mode not in ISOLATION_MODES):
        raise ValueError(f"mode {mode!r} is not valid for {command}")
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        # A UUID's 32 hex digits fit the contract's 64-character limit.
        "command_id": command_id or uuid.uuid4().hex,
        "command": command,
    }
    if camera_id is not None and command != "rescan":
        payload["camera_id"] = camera_id
    if mode is not None:
        payload["mode"] = mode
    if reason:
        payload["reason"] = reason[:MAX_TEXT]
    payload["requested_by"] = {
        "source": "home_assistant",
        "user_id": user_id[:MAX_TEXT] if user_id else None,
        "user_name": user_name[:MAX_TEXT] if user_name else None,
    }
    return payload


def encode(payload: Mapping[str, Any]) -> str:
    """Serialise a payload compactly for the wire."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
