"""The one typed record of a camera, from a scan's verdict to the inventory and the MQTT contract.

:class:`CameraFacts` is what one scan established; :class:`CameraRecord` is the
same facts as the inventory keeps them, with the camera's stable id, its times
and its presence. Evidence and risk keep their types all the way; the MQTT
payload is built from a record by :func:`cctv_sentinel.mqtt.contract.camera_payload`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cctv_sentinel.inventory.ids import IdSource, onvif_uuid
from cctv_sentinel.model import Camera, Evidence, ProbeName, Risk

State = Literal["present", "missing"]
ChangeKind = Literal["found", "returned", "changed", "updated", "seen", "missing", "gone"]

TRACKED_FIELDS: Final = ("ip", "firmware", "brand", "manufacturer", "model", "risk")
"""Fields whose changes are kept as history and reported in ``camera_changed`` events."""

VERDICT_FIELDS: Final = (
    "manufacturer",
    "manufacturer_id",
    "confidence",
    "risk",
    "risk_reason",
    "regimes",
    "explanation",
    "evidence",
)
"""Facts that come from one verdict and change together (a vaguer scan keeps the old verdict)."""

STICKY_FIELDS: Final = ("ports", "discovered_by", "brand", "model", "firmware")
"""Facts a scan that did not see them leaves as they were."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraFacts:
    """What one scan established about one camera: the inventory's input."""

    ip: str
    mac: str | None = None
    onvif_uuid: str | None = None
    ports: tuple[int, ...] = ()
    discovered_by: tuple[str, ...] = ()
    brand: str | None = None
    manufacturer: str | None = None
    manufacturer_id: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    confidence: float = 0.0
    risk: Risk = Risk.UNKNOWN
    risk_reason: str = ""
    regimes: tuple[str, ...] = ()
    explanation: str = ""
    evidence: tuple[Evidence, ...] = ()

    def facts(self) -> CameraFacts:
        """Just the facts (of a record, without its id and times)."""
        return CameraFacts(**{f.name: getattr(self, f.name) for f in FACT_FIELDS})

    def to_json(self) -> dict[str, Any]:
        """The facts as JSON (the inventory stores them like this)."""
        out = {f.name: getattr(self, f.name) for f in FACT_FIELDS}
        out["ports"] = list(self.ports)
        out["discovered_by"] = list(self.discovered_by)
        out["regimes"] = list(self.regimes)
        out["risk"] = str(self.risk)
        out["evidence"] = [e.to_json() for e in self.evidence]
        return out

    @staticmethod
    def fields_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments of the facts stored by :meth:`to_json` (ValueError when broken)."""
        out: dict[str, Any] = {k: data[k] for k in _TEXT_FIELDS if data.get(k) is not None}
        out["ports"] = tuple(int(p) for p in data.get("ports", ()))
        out["discovered_by"] = tuple(str(p) for p in data.get("discovered_by", ()))
        out["confidence"] = float(data.get("confidence", 0.0))
        out["risk"] = Risk(str(data.get("risk", Risk.UNKNOWN.value)))
        out["risk_reason"] = str(data.get("risk_reason", ""))
        out["regimes"] = tuple(str(r) for r in data.get("regimes", ()))
        out["explanation"] = str(data.get("explanation", ""))
        out["evidence"] = tuple(
            Evidence.from_json(e) for e in data.get("evidence", ()) if isinstance(e, Mapping)
        )
        return out


FACT_FIELDS: Final = dataclasses.fields(CameraFacts)
_TEXT_FIELDS: Final = (
    "ip",
    "mac",
    "onvif_uuid",
    "brand",
    "manufacturer",
    "manufacturer_id",
    "model",
    "firmware",
    "serial",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraRecord(CameraFacts):
    """One camera as the inventory knows it: its facts, stable id, times and presence."""

    camera_id: str
    id_source: IdSource
    serial_key: str | None = None
    first_seen: float
    last_seen: float
    state: State = "present"
    missed_scans: int = 0
    missing_since: float | None = None

    @property
    def stable(self) -> bool:
        """False when the id is only the IP address."""
        return self.id_source != "ip"

    def published(self) -> tuple[Any, ...]:
        """What a change is worth republishing for: the facts, the id and the state (not times)."""
        return (self.camera_id, self.state, self.facts())


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to one camera in one inventory update.

    ``found``: new; ``returned``: seen again after being missing; ``changed``:
    a tracked field changed (see ``changes``); ``updated``: another published
    field changed; ``seen``: nothing but the last-seen time; ``missing``:
    marked missing; ``gone``: removed. ``previous_id`` is set when the camera
    was re-keyed (its old topic must be cleared).
    """

    kind: ChangeKind
    record: CameraRecord
    previous: CameraRecord | None = None
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    previous_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One remembered change of one camera."""

    camera_id: str
    at: float
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """One finished full scan."""

    started: float
    finished: float
    cameras: int
    restricted: int
    errors: tuple[str, ...] = ()


def facts_from_camera(camera: Camera) -> CameraFacts:
    """The facts a scan established about one identified camera."""
    host, att, assessment = camera.host, camera.attribution, camera.assessment
    endpoint = next(
        (
            o.get("endpoint")
            for o in host.observations
            if o.probe == ProbeName.WSD and o.get("endpoint")
        ),
        None,
    )
    return CameraFacts(
        ip=host.ip,
        mac=host.mac,
        onvif_uuid=onvif_uuid(endpoint),
        ports=tuple(host.open_ports),
        discovered_by=tuple(p for p in host.probes if p != ProbeName.ARP),
        brand=att.brand,
        manufacturer=att.manufacturer,
        manufacturer_id=att.manufacturer_id,
        model=att.model,
        firmware=att.firmware,
        serial=att.serial,
        confidence=round(att.confidence, 3),
        risk=assessment.risk,
        risk_reason=assessment.reason,
        regimes=tuple(assessment.regimes),
        explanation=att.explanation,
        evidence=att.evidence,
    )
