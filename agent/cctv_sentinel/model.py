"""The agent's data model: what probes observe, and what we conclude from it.

Everything here is a frozen dataclass. Probes produce :class:`Observation`
objects; the scanner groups them per host into a :class:`Host`; ``identify``
turns a host into an :class:`Attribution` (who made it, with evidence) and an
:class:`Assessment` (what that means under the user's policy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ProbeName(StrEnum):
    """The probes that can produce observations."""

    WSD = "wsd"
    SADP = "sadp"
    DHIP = "dhip"
    SSDP = "ssdp"
    MDNS = "mdns"
    SWEEP = "sweep"
    ARP = "arp"
    HTTP = "http"
    RTSP = "rtsp"
    ONVIF = "onvif"
    NMAP = "nmap"


class Risk(StrEnum):
    """Risk vocabulary shared by the CLI, MQTT and Home Assistant."""

    RESTRICTED = "restricted"
    ELEVATED = "elevated"
    UNKNOWN = "unknown"
    LOW = "low"


RISK_ORDER: Mapping[Risk, int] = {
    Risk.RESTRICTED: 3,
    Risk.ELEVATED: 2,
    Risk.UNKNOWN: 1,
    Risk.LOW: 0,
}
"""Severity order, highest first when sorted descending."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One piece of evidence, from one probe, about one host.

    ``fields`` holds strings the device sent, already sanitised by the
    protocol parser (no control characters, bounded length). Keys are
    documented per probe in docs/cli.md ("Observation fields").
    """

    probe: str
    ip: str
    fields: Mapping[str, str] = field(default_factory=dict)
    mac: str | None = None
    port: int | None = None
    at: float = 0.0

    def get(self, key: str) -> str | None:
        """Return one field, or None when the probe did not see it."""
        return self.fields.get(key)

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``scan --raw`` and ``classify``."""
        out: dict[str, Any] = {"probe": self.probe, "ip": self.ip}
        if self.mac is not None:
            out["mac"] = self.mac
        if self.port is not None:
            out["port"] = self.port
        if self.at:
            out["at"] = round(self.at, 3)
        out["fields"] = dict(sorted(self.fields.items()))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        """Rebuild an observation written by :meth:`to_json`.

        Raises ``ValueError`` with a short reason when the shape is wrong.
        """
        probe = data.get("probe")
        ip = data.get("ip")
        if not isinstance(probe, str) or not isinstance(ip, str):
            raise ValueError("observation needs string 'probe' and 'ip'")
        raw_fields = data.get("fields", {})
        if not isinstance(raw_fields, Mapping):
            raise ValueError("observation 'fields' must be an object")
        fields = {str(k): str(v) for k, v in raw_fields.items() if v is not None}
        mac = data.get("mac")
        port = data.get("port")
        at = data.get("at", 0.0)
        if mac is not None and not isinstance(mac, str):
            raise ValueError("observation 'mac' must be a string")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
            raise ValueError("observation 'port' must be an integer")
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
            raise ValueError("observation 'at' must be a number")
        return cls(probe=probe, ip=ip, fields=fields, mac=mac, port=port, at=float(at))


@dataclass(frozen=True, slots=True)
class Host:
    """Everything seen about one IP address during a scan."""

    ip: str
    mac: str | None
    open_ports: tuple[int, ...]
    observations: tuple[Observation, ...]

    @property
    def probes(self) -> tuple[str, ...]:
        """Probes that saw this host, in a stable order."""
        return tuple(sorted({o.probe for o in self.observations}))


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason to believe something about a device, for a person to check."""

    probe: str
    field: str
    value: str
    maker: str | None
    weight: float
    rule: str
    source: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Serialise for JSON output and MQTT."""
        return {
            "probe": self.probe,
            "field": self.field,
            "value": self.value,
            "maker": self.maker,
            "weight": round(self.weight, 3),
            "rule": self.rule,
            "source": self.source,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        """Rebuild evidence written by :meth:`to_json` (missing or odd values become empty)."""
        weight = data.get("weight", 0.0)
        maker = data.get("maker")
        return cls(
            probe=str(data.get("probe", "")),
            field=str(data.get("field", "")),
            value=str(data.get("value", "")),
            maker=maker if isinstance(maker, str) else None,
            weight=float(weight) if isinstance(weight, int | float) else 0.0,
            rule=str(data.get("rule", "")),
            source=str(data.get("source", "")),
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who really made a device, how sure we are, and why."""

    is_camera: bool
    manufacturer: str | None
    manufacturer_id: str | None
    brand: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    confidence: float
    evidence: tuple[Evidence, ...]
    explanation: str
    camera_reasons: tuple[str, ...] = ()
    equipment: str | None = None
    """For a device that is not a camera: the kind of equipment the evidence shows
    (``router``, ``ont``, ``alarm-panel``...), when it shows one."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the attribution means under the user's policy."""

    risk: Risk
    regimes: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Camera:
    """A device we believe is a camera, recorder or other surveillance kit."""

    host: Host
    attribution: Attribution
    assessment: Assessment

    @property
    def ip(self) -> str:
        """The address it was found at."""
        return self.host.ip

    @property
    def mac(self) -> str | None:
        """Its MAC address, when known."""
        return self.host.mac


@dataclass(frozen=True, slots=True)
class OtherDevice:
    """Equipment that is not a camera but that a regime may cover (a router, an ONT...).

    Reported apart from cameras, never as one.
    """

    host: Host
    attribution: Attribution
    assessment: Assessment
    kind: str
    """The kind of equipment (``router``, ``ont``, ``cpe``, ``radio``, ``alarm-panel``...)."""

    @property
    def ip(self) -> str:
        """The address it was found at."""
        return self.host.ip

    @property
    def mac(self) -> str | None:
        """Its MAC address, when known."""
        return self.host.mac


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """When and how a scan ran."""

    started: float
    finished: float
    networks: tuple[str, ...]
    probes: tuple[str, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The outcome of one scan: every host seen and the cameras among them."""

    info: ScanInfo
    hosts: tuple[Host, ...]
    cameras: tuple[Camera, ...]
    other_devices: tuple[OtherDevice, ...] = ()
    """Restricted (or possibly restricted) equipment that is not a camera."""

    @property
    def any_restricted(self) -> bool:
        """True when at least one camera is restricted under the policy."""
        return any(c.assessment.risk is Risk.RESTRICTED for c in self.cameras)
