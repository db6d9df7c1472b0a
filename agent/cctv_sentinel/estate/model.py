"""Many agents' retained messages -> one estate (docs/estate.md), pure.

An agent is a site (its name in the announcement, its id in the topics). A
camera seen by two agents (overlapping networks, a recorder reachable from two
VLANs) is one camera of the estate when its id is stable (MAC, ONVIF UUID or
serial hash: the same on every agent), with one sighting per agent; a camera
known only by its IP stays per agent, because the same IP on two sites is two
devices. Payloads are read defensively: a broker is shared, and a message that
is not what the contract says is counted and skipped, never trusted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cctv_sentinel.inventory.progress import DayCounts
from cctv_sentinel.mqtt.contract.common import AGENT_ID_RE, CAMERA_ID_RE, clean
from cctv_sentinel.mqtt.contract.history import parse_history

Status = Literal["in_place", "isolated", "gone"]
STATUSES: Final[tuple[Status, ...]] = ("in_place", "isolated", "gone")

MAX_PAYLOAD: Final = 256 * 1024
"""A camera payload is a few KiB; a history payload at most ~40 KiB. Larger ones are skipped."""


@dataclass(frozen=True, slots=True)
class Site:
    """One agent: its id, its name (the site), whether it is online, its counts."""

    agent_id: str
    name: str
    online: bool | None
    """The retained status (None: no status seen)."""
    networks: tuple[str, ...] = ()
    cameras_read: int = 0
    """Camera states read for this agent."""
    cameras_announced: int | None = None
    """How many cameras the agent's info says it has (None: no info read)."""

    @property
    def complete(self) -> bool:
        """False when fewer camera states were read than the agent's info announces.

        That happens when the broker drops retained messages on the way to the
        reader (Mosquitto's per-client ``max_queued_messages``, docs/estate.md),
        or when an agent's info and cameras are mid-update.
        """
        return self.cameras_announced is None or self.cameras_read >= self.cameras_announced


@dataclass(frozen=True, slots=True)
class Sighting:
    """One agent's view of a camera."""

    agent_id: str
    site: str
    ip: str
    state: str
    isolation: str
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class EstateCamera:
    """One camera of the estate, merged over the agents that see it."""

    key: str
    """The camera id (stable ids) or ``<agent_id>/<camera_id>`` (IP-only ids)."""
    camera_id: str
    sightings: tuple[Sighting, ...]
    ip: str
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    risk: str
    confidence: float
    regimes: tuple[str, ...]
    """Regime ids."""
    explanation: str
    evidence: tuple[str, ...]
    """One line per evidence item: probe, field, value, weight."""

    @property
    def sites(self) -> tuple[str, ...]:
        """The sites that see it, sorted."""
        return tuple(sorted({s.site for s in self.sightings}))

    @property
    def first_seen(self) -> str:
        """The earliest first sighting (ISO time)."""
        return min(s.first_seen for s in self.sightings)

    @property
    def last_seen(self) -> str:
        """The latest sighting (ISO time)."""
        return max(s.last_seen for s in self.sightings)

    @property
    def status(self) -> Status:
        """Isolated when any agent isolates it; gone when no agent sees it any more."""
        if any(s.isolation == "isolated" for s in self.sightings):
            return "isolated"
        if all(s.state != "present" for s in self.sightings):
            return "gone"
        return "in_place"


@dataclass(frozen=True, slots=True)
class Estate:
    """Every site and camera read from a broker, and what could not be read."""

    sites: tuple[Site, ...]
    cameras: tuple[EstateCamera, ...]
    histories: Mapping[str, tuple[DayCounts, ...]]
    """Per agent id, its daily counts (oldest first)."""
    regime_names: Mapping[str, str]
    skipped: int = 0
    """Messages that were not what the contract says (bad JSON, wrong shape, too large)."""

    @property
    def restricted(self) -> tuple[EstateCamera, ...]:
        """The restricted cameras."""
        return tuple(c for c in self.cameras if c.risk == "restricted")

    @property
    def incomplete(self) -> tuple[Site, ...]:
        """Sites of which fewer camera states were read than their info announces."""
        return tuple(s for s in self.sites if not s.complete)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _View:
    """What one agent says of one camera, read and cleaned once (the JSON is not kept)."""

    camera_id: str
    stable: bool
    ip: str
    state: str
    isolation: str
    first_seen: str
    last_seen: str
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    risk: str
    confidence: float
    regimes: tuple[str, ...]
    explanation: str
    evidence: tuple[str, ...]


@dataclass
class _Parts:
    announcements: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    infos: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    status: dict[str, bool] = field(default_factory=dict)
    cameras: dict[tuple[str, str], _View] = field(default_factory=dict)
    histories: dict[str, tuple[DayCounts, ...]] = field(default_factory=dict)
    regime_names: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


def _json(payload: bytes) -> Mapping[str, Any] | None:
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _sort(parts: _Parts, base: str, topic: str, payload: bytes) -> None:
    prefix = f"{base}/"
    if not topic.startswith(prefix) or not payload:
        return  # another application's topic, or a cleared retained message
    levels = topic[len(prefix) :].split("/")
    if len(levels) == 2 and levels[0] == "discovery" and AGENT_ID_RE.match(levels[1]):
        doc = _json(payload)
        if doc is None or doc.get("agent_id") != levels[1]:
            parts.skipped += 1
        else:
            parts.announcements[levels[1]] = doc
        return
    if not levels or not AGENT_ID_RE.match(levels[0]):
        return
    agent = levels[0]
    rest = levels[1:]
    if rest == ["status"]:
        parts.status[agent] = payload == b"online"
        return
    if rest in (["info"], ["history"]):
        doc = _json(payload)
        history = parse_history(doc) if rest == ["history"] and doc is not None else None
        if doc is None or (rest == ["history"] and history is None):
            parts.skipped += 1
        elif history is not None:
            parts.histories[agent] = tuple(history)
        else:
            parts.infos[agent] = doc
        return
    if len(rest) == 2 and rest[0] == "camera" and CAMERA_ID_RE.match(rest[1]):
        doc = _json(payload)
        if doc is None or doc.get("camera_id") != rest[1] or not isinstance(doc.get("ip"), str):
            parts.skipped += 1
        else:
            parts.cameras[(agent, rest[1])] = _view(rest[1], doc, parts.regime_names)


@functools.lru_cache(maxsize=1 << 16)
def _plain(value: str, max_len: int) -> str | None:
    # Estates repeat themselves (models, evidence rules, regime names): clean each string once.
    return clean(value, max_len) or None


def _text(doc: Mapping[str, Any], key: str, max_len: int = 256) -> str | None:
    value = doc.get(key)
    return _plain(value, max_len) if isinstance(value, str) else None


def _regime_ids(doc: Mapping[str, Any], names: dict[str, str]) -> tuple[str, ...]:
    out: set[str] = set()
    regimes = doc.get("regimes")
    for item in regimes if isinstance(regimes, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            rid = _plain(item["id"], 64) or "?"
            if rid not in names:
                names[rid] = _text(item, "name") or rid
            out.add(rid)
    return tuple(sorted(out))


def _evidence_lines(doc: Mapping[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    evidence = doc.get("evidence")
    for item in evidence[:64] if isinstance(evidence, list) else []:
        if not isinstance(item, Mapping):
            continue
        probe = _text(item, "probe", 64) or "?"
        name = _text(item, "field", 64) or "?"
        value = _text(item, "value") or ""
        weight = item.get("weight")
        shown = f" (weight {weight:.2f})" if isinstance(weight, int | float) else ""
        lines.append(f"{probe} {name}: {value}{shown}")
    return tuple(lines)


def _view(camera_id: str, doc: Mapping[str, Any], names: dict[str, str]) -> _View:
    isolation = doc.get("isolation")
    state = isolation.get("state") if isinstance(isolation, Mapping) else None
    confidence = doc.get("confidence")
    return _View(
        camera_id=camera_id,
        stable=doc.get("stable") is True and not camera_id.startswith("ip-"),
        ip=_text(doc, "ip", 64) or "",
        state=_text(doc, "state", 16) or "present",
        isolation=state if state in {"none", "isolated", "failed"} else "none",
        first_seen=_text(doc, "first_seen", 64) or "",
        last_seen=_text(doc, "last_seen", 64) or "",
        brand=_text(doc, "brand"),
        manufacturer=_text(doc, "manufacturer"),
        model=_text(doc, "model"),
        firmware=_text(doc, "firmware"),
        risk=_text(doc, "risk", 16) or "unknown",
        confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
        regimes=_regime_ids(doc, names),
        explanation=_text(doc, "explanation", 512) or "",
        evidence=_evidence_lines(doc),
    )


def _sighting(agent: str, site: str, view: _View) -> Sighting:
    return Sighting(
        agent_id=agent,
        site=site,
        ip=view.ip,
        state=view.state,
        isolation=view.isolation,
        first_seen=view.first_seen,
        last_seen=view.last_seen,
    )


def _merge(key: str, views: Sequence[tuple[Sighting, _View]]) -> EstateCamera:
    # The facts come from the freshest view of a present camera; ties go to the
    # agent id, so the result never depends on the order messages arrived in.
    _, view = max(views, key=lambda v: (v[0].state == "present", v[0].last_seen, v[0].agent_id))
    return EstateCamera(
        key=key,
        camera_id=view.camera_id,
        sightings=tuple(sorted((v[0] for v in views), key=lambda s: (s.site, s.agent_id))),
        ip=view.ip,
        brand=view.brand,
        manufacturer=view.manufacturer,
        model=view.model,
        firmware=view.firmware,
        risk=view.risk,
        confidence=view.confidence,
        regimes=view.regimes,
        explanation=view.explanation,
        evidence=view.evidence,
    )


def build_estate(messages: Iterable[tuple[str, bytes]], base: str, *, skipped: int = 0) -> Estate:
    """The estate from retained (topic, payload) pairs under ``base``.

    ``skipped`` counts messages the reader already left out (too large to keep).
    """
    parts = _Parts(skipped=skipped)
    for topic, payload in messages:
        _sort(parts, base, topic, payload)
    agents = sorted(set(parts.announcements) | set(parts.infos) | {a for a, _ in parts.cameras})
    sites: list[Site] = []
    site_of: dict[str, str] = {}
    read = Counter(agent for agent, _ in parts.cameras)
    for agent in agents:
        doc = parts.infos.get(agent) or parts.announcements.get(agent) or {}
        name = _text(doc, "name") or agent
        networks = doc.get("networks")
        counts = doc.get("counts")
        announced = counts.get("cameras") if isinstance(counts, Mapping) else None
        site_of[agent] = name
        sites.append(
            Site(
                agent_id=agent,
                name=name,
                online=parts.status.get(agent),
                networks=tuple(
                    clean(n, 64)
                    for n in (networks if isinstance(networks, list) else [])
                    if isinstance(n, str)
                ),
                cameras_read=read[agent],
                cameras_announced=announced
                if isinstance(announced, int) and not isinstance(announced, bool)
                else None,
            )
        )
    grouped: dict[str, list[tuple[Sighting, _View]]] = {}
    for (agent, camera_id), view in sorted(parts.cameras.items()):
        key = camera_id if view.stable else f"{agent}/{camera_id}"
        grouped.setdefault(key, []).append((_sighting(agent, site_of[agent], view), view))
    cameras = tuple(_merge(key, views) for key, views in sorted(grouped.items()))
    return Estate(
        sites=tuple(sites),
        cameras=cameras,
        histories=dict(parts.histories),
        regime_names=dict(parts.regime_names),
        skipped=parts.skipped,
    )


# --------------------------------------------------------------------------- totals


def totals_by(cameras: Iterable[EstateCamera], what: str) -> list[tuple[str, int]]:
    """Camera counts by site, risk, maker, label, regime or status; largest first."""
    counts: Counter[str] = Counter()
    for camera in cameras:
        if what == "site":
            keys: Iterable[str] = camera.sites
        elif what == "regime":
            keys = camera.regimes or ("(none)",)
        elif what == "maker":
            keys = (camera.manufacturer or "(unknown)",)
        elif what == "label":
            keys = (camera.brand or "(unknown)",)
        elif what == "status":
            keys = (camera.status,)
        elif what == "risk":
            keys = (camera.risk,)
        else:
            raise ValueError(f"no total by {what!r}")
        counts.update(keys)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# --------------------------------------------------------------------------- removal plan


@dataclass(frozen=True, slots=True)
class Targets:
    """Removal target dates: one for everything, and per regime (the earliest applies)."""

    default: dt.date | None = None
    per_regime: Mapping[str, dt.date] = field(default_factory=dict)

    def for_camera(self, camera: EstateCamera) -> dt.date | None:
        """The earliest target among the camera's regimes, else the default."""
        dates = [self.per_regime[r] for r in camera.regimes if r in self.per_regime]
        return min(dates) if dates else self.default


PlanStatus = Literal["gone", "isolated", "in place", "overdue"]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One restricted camera in the removal plan."""

    camera: EstateCamera
    target: dt.date | None
    status: PlanStatus


def removal_plan(estate: Estate, targets: Targets, today: dt.date) -> list[PlanRow]:
    """Every restricted camera with its target and status, the most urgent first."""
    rows: list[PlanRow] = []
    for camera in estate.restricted:
        target = targets.for_camera(camera)
        status: PlanStatus
        if camera.status == "gone":
            status = "gone"
        elif camera.status == "isolated":
            status = "isolated"
        elif target is not None and target < today:
            status = "overdue"
        else:
            status = "in place"
        rows.append(PlanRow(camera, target, status))
    urgency = {"overdue": 0, "in place": 1, "isolated": 2, "gone": 3}
    return sorted(
        rows,
        key=lambda r: (urgency[r.status], r.target or dt.date.max, r.camera.sites, r.camera.key),
    )


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True, slots=True)
class WeekCounts:
    """Restricted cameras across the estate at the end of one ISO week."""

    week: str
    """``YYYY-Www``."""
    monday: dt.date
    in_place: int
    isolated: int
    gone: int


def _week_of(date: dt.date) -> tuple[str, dt.date]:
    year, week, _ = date.isocalendar()
    return f"{year}-W{week:02d}", date - dt.timedelta(days=date.weekday())


def weekly_progress(histories: Mapping[str, Sequence[DayCounts]]) -> list[WeekCounts]:
    """Per ISO week, the sum over agents of each agent's last day in or before that week.

    An agent that reported nothing in a week counts with its latest earlier day
    (its cameras did not vanish because its history has a gap).
    """
    per_agent: dict[str, dict[dt.date, DayCounts]] = {}
    mondays: set[dt.date] = set()
    for agent, days in histories.items():
        weeks: dict[dt.date, DayCounts] = {}
        for day in days:
            try:
                date = dt.date.fromisoformat(day.date)
            except ValueError:
                continue
            monday = _week_of(date)[1]
            if monday not in weeks or weeks[monday].date < day.date:
                weeks[monday] = day
        per_agent[agent] = weeks
        mondays |= set(weeks)
    if not mondays:
        return []
    out: list[WeekCounts] = []
    monday = min(mondays)
    last: dict[str, DayCounts] = {}
    while monday <= max(mondays):
        for agent, weeks in per_agent.items():
            if monday in weeks:
                last[agent] = weeks[monday]
        out.append(
            WeekCounts(
                week=_week_of(monday)[0],
                monday=monday,
                in_place=sum(d.restricted_in_place for d in last.values()),
                isolated=sum(d.restricted_isolated for d in last.values()),
                gone=sum(d.restricted_gone for d in last.values()),
            )
        )
        monday += dt.timedelta(days=7)
    return out
