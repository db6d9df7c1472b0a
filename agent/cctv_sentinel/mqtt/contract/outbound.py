"""What the agent publishes (docs/mqtt.md): announcement, info, cameras, other devices, events.

Pure: every payload the agent sends is built here, so the one JSON Schema in
docs/mqtt.schema.json can check it in the tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

from cctv_sentinel._util.timefmt import iso, iso_or_none
from cctv_sentinel.inventory.ids import camera_id_from, serial_key
from cctv_sentinel.mqtt.contract.common import (
    MAX_EVIDENCE_VALUE,
    MAX_MESSAGE,
    SCHEMA_VERSION,
    EventType,
    ResultStatus,
    clean,
    label,
    mask_serial,
    plain,
)
from cctv_sentinel.mqtt.contract.topics import Topics

if TYPE_CHECKING:
    from cctv_sentinel.inventory.records import CameraRecord
    from cctv_sentinel.model import Evidence, OtherDevice


class AnnouncementTopics(TypedDict):
    """The ``topics`` object of the announcement."""

    status: str
    info: str
    camera: str
    other: str
    event: str
    command: str
    command_result: str
    history: str


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


class _DeviceFacts(TypedDict):
    """What a camera payload and an other-device payload both say of a device."""

    schema_version: int
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


class CameraPayload(_DeviceFacts):
    """``<base>/<agent_id>/camera/<camera_id>``."""

    camera_id: str
    isolation: CameraIsolation


class OtherDevicePayload(_DeviceFacts):
    """``<base>/<agent_id>/other/<device_id>``: equipment that is not a camera."""

    device_id: str
    kind: str


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
            "other": topics.other_filter,
            "event": topics.event,
            "command": topics.command,
            "command_result": topics.command_result,
            "history": topics.history,
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


def _evidence(item: Evidence) -> EvidenceItem:
    return {
        "probe": clean(item.probe, 64),
        "field": clean(item.field, 64),
        "value": plain(item.value, MAX_EVIDENCE_VALUE),
        "maker": clean(item.maker, 256) if item.maker is not None else None,
        "weight": round(item.weight, 3),
        "rule": clean(item.rule, 128),
        "source": clean(item.source, 512),
        "note": clean(item.note, 512),
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
        "risk_reason": plain(record.risk_reason, 512),
        "regimes": [
            regimes.get(rid, {"id": rid, "name": rid, "jurisdiction": ""}) for rid in record.regimes
        ],
        "explanation": plain(record.explanation, 512),
        "evidence": [_evidence(e) for e in record.evidence],
        "first_seen": iso(record.first_seen),
        "last_seen": iso(record.last_seen if last_seen is None else last_seen),
        "state": record.state,
        "isolation": isolation,
    }


def other_device_payload(
    device: OtherDevice,
    *,
    regimes: Mapping[str, RegimeRef],
    first_seen: float,
    last_seen: float,
    publish_serials: bool = False,
) -> OtherDevicePayload:
    """The retained payload of one device that is not a camera but a regime may cover.

    Its id follows the camera rules (MAC, then serial, then address; docs/mqtt.md).
    """
    att = device.attribution
    skey = serial_key(att.manufacturer_id, att.serial)
    device_id, id_source = camera_id_from(mac=device.mac, uuid=None, skey=skey, ip=device.ip)
    return {
        "schema_version": SCHEMA_VERSION,
        "device_id": device_id,
        "kind": device.kind,
        "id_source": id_source,
        "stable": id_source != "ip",
        "ip": device.ip,
        "mac": device.mac,
        "ports": sorted(device.host.open_ports),
        "discovered_by": sorted(set(device.host.probes)),
        "brand": label(att.brand),
        "manufacturer": label(att.manufacturer),
        "manufacturer_id": label(att.manufacturer_id),
        "model": label(att.model),
        "firmware": label(att.firmware),
        "serial": mask_serial(att.serial, publish_serials),
        "confidence": round(min(max(att.confidence, 0.0), 1.0), 3),
        "risk": device.assessment.risk.value,
        "risk_reason": plain(device.assessment.reason, 512),
        "regimes": [
            regimes.get(rid, {"id": rid, "name": rid, "jurisdiction": ""})
            for rid in device.assessment.regimes
        ],
        "explanation": plain(att.explanation, 512),
        "evidence": [_evidence(e) for e in att.evidence],
        "first_seen": iso(first_seen),
        "last_seen": iso(last_seen),
        "state": "present",
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
