"""What isolation talks about: targets, who asked, outcomes, states and persisted records."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from cctv_sentinel.errors import UsageError
from cctv_sentinel.protocols.text import clean, normalise_mac

Mode = Literal["internet", "quarantine"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)
"""``internet``: only local networks (and the allowlist) stay reachable.
``quarantine``: only the allowlist stays reachable."""

Source = Literal["cli", "mqtt", "home_assistant", "auto"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)

OutcomeStatus = Literal["ok", "refused", "error", "not_configured"]
StateName = Literal["none", "isolated", "failed"]

MAX_REASON: Final = 256
"""Longest reason kept in the audit log (the MQTT contract's limit)."""
MAX_USER: Final = 128
"""Longest user id or name kept from a request."""
MAX_ADDRESSES_PER_TARGET: Final = 16
"""A camera has one IPv4 address and a few IPv6 ones; more is a mistake or an attack."""

_CAMERA_ID_RE: Final = re.compile(
    r"^(?:[0-9a-f]{12}|uuid-[0-9a-z-]{1,64}|sn-[0-9a-f]{1,40}|ip-[0-9a-f-]{7,45})$"
)


def parse_ip(text: str) -> str:
    """Return one host address in canonical form; raise ValueError otherwise."""
    value = text.strip()
    if "/" in value:
        raise ValueError(f"{text!r} is a network, not one address")
    return str(ipaddress.ip_address(value.split("%", 1)[0]))


def camera_id_for(ip: str | None, mac: str | None) -> str | None:
    """The camera id the MQTT contract derives from a MAC, else from an IP address."""
    if mac:
        return mac.replace(":", "")
    if ip:
        return "ip-" + ip.replace(".", "-").replace(":", "-")
    return None


def valid_camera_id(value: str) -> bool:
    """True when value has the shape of a camera id from docs/mqtt.md."""
    return bool(_CAMERA_ID_RE.match(value))


@dataclass(frozen=True, slots=True)
class IsolationTarget:
    """One device to isolate or release: its camera id and/or addresses.

    ``ip`` is its main address; ``ips`` every address (IPv4 and IPv6) the
    backends should match, ``ip`` included. Build one with :meth:`of`, which
    validates and normalises.
    """

    camera_id: str | None = None
    ip: str | None = None
    ips: tuple[str, ...] = ()
    mac: str | None = None

    @classmethod
    def of(
        cls,
        *,
        camera_id: str | None = None,
        ip: str | None = None,
        ips: Iterable[str] = (),
        mac: str | None = None,
    ) -> IsolationTarget:
        """Validate and normalise; raise ValueError naming the bad part."""
        addresses: list[str] = []
        for raw in [*([ip] if ip else []), *ips]:
            canonical = parse_ip(raw)
            if canonical not in addresses:
                addresses.append(canonical)
        if len(addresses) > MAX_ADDRESSES_PER_TARGET:
            raise ValueError(f"more than {MAX_ADDRESSES_PER_TARGET} addresses for one device")
        norm_mac = None
        if mac:
            norm_mac = normalise_mac(mac)
            if norm_mac is None:
                raise ValueError(f"{mac!r} is not a MAC address")
        if camera_id is not None and not valid_camera_id(camera_id):
            raise ValueError(f"{camera_id!r} is not a camera id")
        if not addresses and norm_mac is None:
            raise ValueError("a target needs an IP or a MAC address")
        return cls(
            camera_id=camera_id,
            ip=addresses[0] if addresses else None,
            ips=tuple(addresses),
            mac=norm_mac,
        )

    @classmethod
    def parse(cls, text: str) -> IsolationTarget:
        """Read a command-line TARGET: an IP address, a MAC address or a camera id.

        Raises UsageError with one line when it is none of them.
        """
        value = text.strip().lower()
        attempts: list[dict[str, str]]
        if value.startswith("ip-"):
            body = value[3:]
            attempts = [
                {"camera_id": value, "ip": body.replace("-", ".")},
                {"camera_id": value, "ip": body.replace("-", ":")},
            ]
        else:
            attempts = [{"ip": value}]
            mac = normalise_mac(value)
            if mac is not None:
                attempts.append({"mac": mac})
        for kwargs in attempts:
            with contextlib.suppress(ValueError):
                return cls.of(**kwargs)
        raise UsageError(f"{text!r} is not an IP address, a MAC address or a camera id")

    @property
    def key(self) -> str:
        """The id isolation state is kept under: camera id, else MAC, else IP."""
        key = self.camera_id or camera_id_for(self.ip, self.mac)
        assert key is not None  # of() guarantees an address
        return key

    @property
    def label(self) -> str:
        """A short human description: address(es), MAC and id."""
        parts = list(self.ips)
        if self.mac:
            parts.append(self.mac)
        text = ", ".join(parts)
        if self.camera_id and self.camera_id != camera_id_for(self.ip, self.mac):
            text += f" (camera {self.camera_id})"
        return text

    def matches(self, camera_id: str | None, ips: Iterable[str], mac: str | None) -> bool:
        """True when this target names the same device (by id, MAC or any address)."""
        if self.camera_id and camera_id and self.camera_id == camera_id:
            return True
        if self.mac and mac and self.mac == mac:
            return True
        return bool(set(self.ips) & set(ips))

    def to_json(self) -> dict[str, Any]:
        """Serialise for the audit log and events."""
        return {"camera_id": self.camera_id, "ip": self.ip, "ips": list(self.ips), "mac": self.mac}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked for an action: the CLI, an MQTT command, a Home Assistant user, automation."""

    source: Source
    user_id: str | None = None
    user_name: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown requester source {self.source!r}")

    def sanitised(self) -> Requester:
        """The same requester with bounded, printable user fields."""
        return Requester(
            self.source,
            clean(self.user_id, MAX_USER) or None,
            clean(self.user_name, MAX_USER) or None,
        )

    def to_json(self) -> dict[str, str | None]:
        """Serialise for the audit log and events."""
        return {"source": self.source, "user_id": self.user_id, "user_name": self.user_name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Requester:
        """Rebuild from :meth:`to_json` (unknown sources read as ``mqtt``)."""
        source = data.get("source")
        known: Source = source if source in SOURCES else "mqtt"
        user_id, user_name = data.get("user_id"), data.get("user_name")
        return cls(
            known,
            user_id if isinstance(user_id, str) else None,
            user_name if isinstance(user_name, str) else None,
        )

    def describe(self) -> str:
        """One phrase for messages: ``Home Assistant user Alice``."""
        who = {"cli": "command line", "mqtt": "MQTT command", "home_assistant": "Home Assistant"}
        base = who.get(self.source, "automatic isolation")
        name = self.user_name or self.user_id
        return f"{base} user {name}" if name else base


@dataclass(frozen=True, slots=True)
class IsolationState:
    """A camera's isolation as published in its MQTT ``isolation`` object."""

    state: StateName
    mode: str | None = None
    backend: str | None = None
    since: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's shape, with ``since`` still as a UNIX time."""
        return {
            "state": self.state,
            "mode": self.mode,
            "backend": self.backend,
            "since": self.since,
        }


NOT_ISOLATED: Final = IsolationState("none")


@dataclass(frozen=True, slots=True)
class IsolationOutcome:
    """The result of one request: status for MQTT, one line for a person, the new state.

    ``plan`` holds, for dry runs, exactly what the backend would have done.
    """

    status: OutcomeStatus
    message: str
    state: IsolationState | None = None
    plan: str | None = None

    @property
    def ok(self) -> bool:
        """True for status ``ok``."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class Isolation:
    """One persisted isolation: what is (or should be) in force, and why."""

    key: str
    camera_id: str | None
    ips: tuple[str, ...]
    mac: str | None
    mode: Mode
    backend: str
    state: Literal["isolated", "failed"]
    since: float
    updated: float
    requested_by: Requester
    reason: str | None = None
    message: str = ""

    @property
    def target(self) -> IsolationTarget:
        """The device as an isolation target."""
        return IsolationTarget(
            camera_id=self.camera_id,
            ip=self.ips[0] if self.ips else None,
            ips=self.ips,
            mac=self.mac,
        )

    @property
    def as_state(self) -> IsolationState:
        """The state to publish for this device."""
        return IsolationState(self.state, self.mode, self.backend, self.since)

    def addresses(self, version: int) -> list[str]:
        """Its addresses of one IP version (4 or 6)."""
        return [ip for ip in self.ips if ipaddress.ip_address(ip).version == version]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit log: who did what to which device, when, why, with what result."""

    id: int
    time: float
    action: str
    camera_id: str | None
    ips: tuple[str, ...]
    mac: str | None
    mode: str | None
    backend: str | None
    requested_by: Requester
    reason: str | None
    status: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``isolation audit --json``."""
        return {
            "id": self.id,
            "time": self.time,
            "action": self.action,
            "camera_id": self.camera_id,
            "ips": list(self.ips),
            "mac": self.mac,
            "mode": self.mode,
            "backend": self.backend,
            "requested_by": self.requested_by.to_json(),
            "reason": self.reason,
            "status": self.status,
            "message": self.message,
        }
