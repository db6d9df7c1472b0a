"""Scan results as a terminal table, JSON (stable, documented in docs/cli.md) or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from cctv_sentinel import __version__
from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.model import RISK_ORDER, Camera, Host, OtherDevice, Risk, ScanResult

Judged = TypeVar("Judged", Camera, OtherDevice)

JSON_SCHEMA_VERSION = 1
"""Bumped only when a field changes meaning or disappears (docs/cli.md)."""

TABLE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("IP", 15),
    ("MAC", 17),
    ("BRAND", 16),
    ("MAKER", 16),
    ("MODEL", 22),
    ("FIRMWARE", 22),
    ("RISK", 10),
    ("FOUND BY", 30),
)
"""Column titles and the widest each may grow; longer values end in an ellipsis."""


OTHER_COLUMNS: tuple[tuple[str, int], ...] = (
    ("IP", 15),
    ("MAC", 17),
    ("KIND", 12),
    ("MAKER", 16),
    ("MODEL", 22),
    ("RISK", 10),
    ("WHY", 60),
)
"""Columns of the second table: equipment that is not a camera but a regime may cover."""


def found_by(camera: Camera | OtherDevice) -> str:
    """The probes that saw a camera, without the bookkeeping ones."""
    return ",".join(p for p in camera.host.probes if p != "arp")


def sort_cameras(cameras: Sequence[Judged]) -> list[Judged]:
    """Most severe first, then by address (cameras, or other devices)."""
    return sorted(
        cameras,
        key=lambda c: (
            -RISK_ORDER[c.assessment.risk],
            tuple(int(x) for x in c.ip.split(".")) if c.ip.count(".") == 3 else (999,),
        ),
    )


def camera_json(camera: Camera | OtherDevice) -> dict[str, Any]:
    """One camera as in docs/cli.md (other devices add ``kind``, see :func:`other_json`)."""
    att = camera.attribution
    return {
        "ip": camera.ip,
        "mac": camera.mac,
        "brand": att.brand,
        "manufacturer": att.manufacturer,
        "manufacturer_id": att.manufacturer_id,
        "model": att.model,
        "firmware": att.firmware,
        "risk": camera.assessment.risk.value,
        "confidence": round(att.confidence, 3),
        "regimes": list(camera.assessment.regimes),
        "discovered_by": [p for p in camera.host.probes if p != "arp"],
        "ports": list(camera.host.open_ports),
        "explanation": att.explanation,
        "risk_reason": camera.assessment.reason,
        "evidence": [e.to_json() for e in att.evidence],
    }


def other_json(device: OtherDevice) -> dict[str, Any]:
    """Equipment that is not a camera: the camera fields plus ``kind``."""
    return {**camera_json(device), "kind": device.kind}


def host_json(host: Host) -> dict[str, Any]:
    """One host with its raw observations (``--raw``), readable again by ``classify``."""
    return {
        "ip": host.ip,
        "mac": host.mac,
        "observations": [o.to_json() for o in host.observations],
    }


def to_json(result: ScanResult, *, raw: bool = False, catalogue_version: str | None = None) -> str:
    """The whole result as a JSON document."""
    doc: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "agent_version": __version__,
        "catalogue_version": catalogue_version,
        "scan": {
            "started": iso(result.info.started),
            "finished": iso(result.info.finished),
            "duration_s": round(result.info.finished - result.info.started, 3),
            "networks": list(result.info.networks),
            "probes": list(result.info.probes),
            "errors": list(result.info.errors),
        },
        "cameras": [camera_json(c) for c in sort_cameras(result.cameras)],
        "other_devices": [other_json(d) for d in sort_cameras(result.other_devices)],
    }
    if raw:
        doc["hosts"] = [host_json(h) for h in result.hosts]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


CSV_FIELDS = (
    "ip",
    "mac",
    "brand",
    "manufacturer",
    "model",
    "firmware",
    "risk",
    "confidence",
    "regimes",
    "discovered_by",
    "explanation",
    "kind",
)


def to_csv(result: ScanResult) -> str:
    """One row per camera, then per other device, for spreadsheets (``kind`` tells which)."""
    judged: list[tuple[Camera | OtherDevice, str]] = [
        *((c, "camera") for c in sort_cameras(result.cameras)),
        *((d, d.kind) for d in sort_cameras(result.other_devices)),
    ]
    rows = []
    for cam, kind in judged:
        row = camera_json(cam)
        rows.append(
            [
                row["ip"],
                row["mac"] or "",
                row["brand"] or "",
                row["manufacturer"] or "",
                row["model"] or "",
                row["firmware"] or "",
                row["risk"],
                row["confidence"],
                " ".join(row["regimes"]),
                " ".join(row["discovered_by"]),
                row["explanation"],
                kind,
            ]
        )
    return write_csv(CSV_FIELDS, rows)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with every cell passed through :func:`csv_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def csv_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (device strings may start with =+-@)."""
    text = "" if value is None else str(value)
    if text[:1] in {"=", "+", "-", "@"} and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def to_table(result: ScanResult) -> str:
    """A fixed-width table for a terminal, one row per camera, and a summary line."""
    cameras = sort_cameras(result.cameras)
    rows = [
        [
            c.ip,
            c.mac or "-",
            c.attribution.brand or "-",
            c.attribution.manufacturer or "unknown",
            c.attribution.model or "-",
            c.attribution.firmware or "-",
            c.assessment.risk.value,
            found_by(c) or "-",
        ]
        for c in cameras
    ]
    lines = _grid(TABLE_COLUMNS, rows)
    counts: dict[str, int] = {}
    for c in cameras:
        counts[c.assessment.risk.value] = counts.get(c.assessment.risk.value, 0) + 1
    summary = ", ".join(
        f"{n} {risk}" for risk, n in sorted(counts.items(), key=lambda kv: -RISK_ORDER[Risk(kv[0])])
    )
    took = result.info.finished - result.info.started
    where = ", ".join(result.info.networks) or "saved input"
    timing = f" in {took:.1f} s" if result.info.networks else ""
    lines.append("")
    lines.append(
        f"{len(cameras)} camera(s) among {len(result.hosts)} host(s) on {where}{timing}"
        + (f": {summary}" if summary else "")
    )
    if result.other_devices:
        lines.append("")
        lines.append("Other equipment a regime may cover (not cameras):")
        lines.extend(
            _grid(OTHER_COLUMNS, [_other_row(d) for d in sort_cameras(result.other_devices)])
        )
    return "\n".join(lines) + "\n"


def _other_row(device: OtherDevice) -> list[str]:
    att = device.attribution
    return [
        device.ip,
        device.mac or "-",
        device.kind,
        att.manufacturer or "unknown",
        att.model or "-",
        device.assessment.risk.value,
        device.assessment.reason,
    ]


def _grid(columns: Sequence[tuple[str, int]], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [
        min(limit, max([len(title)] + [len(r[i]) for r in rows]))
        for i, (title, limit) in enumerate(columns)
    ]
    lines = [
        "  ".join(_fit(t, w).ljust(w) for (t, _), w in zip(columns, widths, strict=True)).rstrip()
    ]
    lines.extend(
        "  ".join(_fit(v, w).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
    return lines
