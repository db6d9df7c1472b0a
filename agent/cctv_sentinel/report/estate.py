"""The estate report for an auditor: totals, the removal plan and progress, pure.

Two renderings of one estate (:mod:`cctv_sentinel.estate.model`): a
self-contained HTML page (inline CSS and an inline SVG chart, no scripts, no
external resources, every device string escaped) and a CSV file with one row
per camera of the estate.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

from cctv_sentinel import __version__
from cctv_sentinel.estate.model import (
    Estate,
    EstateCamera,
    PlanRow,
    Targets,
    WeekCounts,
    removal_plan,
    totals_by,
    weekly_progress,
)
from cctv_sentinel.report.formats import write_csv

CSV_FIELDS = (
    "camera",
    "sites",
    "ips",
    "label",
    "maker",
    "model",
    "firmware",
    "risk",
    "confidence",
    "regimes",
    "status",
    "target_date",
    "plan_status",
    "first_seen",
    "last_seen",
    "explanation",
    "evidence",
)

_RISK_ORDER = {"restricted": 0, "elevated": 1, "unknown": 2, "low": 3}


def _sorted(cameras: Sequence[EstateCamera]) -> list[EstateCamera]:
    return sorted(cameras, key=lambda c: (_RISK_ORDER.get(c.risk, 9), c.sites, c.ip, c.key))


def to_estate_csv(estate: Estate, targets: Targets, today: dt.date) -> str:
    """One row per camera of the estate; restricted ones carry their plan status."""
    plan = {row.camera.key: row for row in removal_plan(estate, targets, today)}
    rows = []
    for cam in _sorted(estate.cameras):
        row = plan.get(cam.key)
        target = row.target.isoformat() if row and row.target else ""
        rows.append(
            [
                cam.key,
                "; ".join(cam.sites),
                "; ".join(sorted({s.ip for s in cam.sightings})),
                cam.brand or "",
                cam.manufacturer or "",
                cam.model or "",
                cam.firmware or "",
                cam.risk,
                f"{cam.confidence:.2f}",
                "; ".join(estate.regime_names.get(r, r) for r in cam.regimes),
                cam.status,
                target,
                row.status if row else "",
                cam.first_seen,
                cam.last_seen,
                cam.explanation,
                "; ".join(cam.evidence),
            ]
        )
    return write_csv(CSV_FIELDS, rows)


# --------------------------------------------------------------------------- the chart

CHART_COLOURS = {"in_place": "#c62828", "isolated": "#f9a825", "gone": "#2e7d32"}
CHART_LABELS = {"in_place": "in place", "isolated": "isolated", "gone": "gone"}


def progress_svg(weeks: Sequence[WeekCounts], *, width: int = 720, height: int = 260) -> str:
    """Restricted cameras per week as stacked bars (in place, isolated, gone), inline SVG."""
    if not weeks:
        return '<p class="small">No history yet: agents publish one row per day.</p>'
    left, bottom, top = 48, 40, 16
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max(w.in_place + w.isolated + w.gone for w in weeks) or 1
    bar = plot_w / len(weeks)
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="Restricted cameras per week">'
        ),
        (
            f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
            'stroke="#555"/>'
        ),
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, week in enumerate(weeks):
        x = left + i * bar + bar * 0.1
        y = top + plot_h
        for part in ("in_place", "isolated", "gone"):
            value = getattr(week, part)
            h = plot_h * value / peak
            if value:
                out.append(
                    f'<rect class="{part}" x="{x:.1f}" y="{y - h:.1f}" width="{bar * 0.8:.1f}" '
                    f'height="{h:.1f}" fill="{CHART_COLOURS[part]}" data-week="{week.week}" '
                    f'data-count="{value}"><title>{week.week}: {value} '
                    f"{CHART_LABELS[part]}</title></rect>"
                )
            y -= h
        if len(weeks) <= 16 or i % max(1, len(weeks) // 12) == 0:
            out.append(
                f'<text x="{x + bar * 0.4:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'font-size="10">{week.week[5:]}</text>'
            )
    legend_x = left
    for part in ("in_place", "isolated", "gone"):
        out.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" '
            f'fill="{CHART_COLOURS[part]}"/><text x="{legend_x + 14}" y="{height - 5}" '
            f'font-size="11">{CHART_LABELS[part]}</text>'
        )
        legend_x += 90
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f2f2}.overdue{background:#fde2e1}.in-place{background:#fff1d6}
.isolated{background:#eef0f3}.gone{background:#e6f4ea}.small{font-size:.8rem;color:#444}
.totals{display:flex;flex-wrap:wrap;gap:1.5rem}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _totals_table(title: str, rows: list[tuple[str, int]], limit: int = 25) -> str:
    shown = rows[:limit]
    rest = sum(n for _, n in rows[limit:])
    body = "".join(f"<tr><td>{_e(k)}</td><td>{n}</td></tr>" for k, n in shown)
    if rest:
        body += f"<tr><td><i>{len(rows) - limit} more</i></td><td>{rest}</td></tr>"
    head = f"<tr><th>{_e(title)}</th><th>Cameras</th></tr>"
    return f"<div><h3>{_e(title)}</h3><table>{head}{body}</table></div>"


def _plan_rows(plan: Sequence[PlanRow], estate: Estate) -> list[str]:
    out = []
    for row in plan:
        cam = row.camera
        regimes = ", ".join(estate.regime_names.get(r, r) for r in cam.regimes) or "-"
        out.append(
            f'<tr class="{row.status.replace(" ", "-")}"><td>{_e(", ".join(cam.sites))}</td>'
            f"<td>{_e(cam.ip)}</td><td>{_e(cam.brand or '-')}</td>"
            f"<td>{_e(cam.manufacturer or 'unknown')}</td><td>{_e(cam.model or '-')}</td>"
            f"<td>{_e(regimes)}</td><td>{_e(cam.first_seen)}</td>"
            f"<td>{_e(row.target.isoformat() if row.target else 'no target')}</td>"
            f"<td>{_e(row.status)}</td></tr>"
        )
    return out


def to_estate_html(
    estate: Estate,
    targets: Targets,
    today: dt.date,
    *,
    title: str = "Camera estate",
    source: str = "",
) -> str:
    """A self-contained HTML report of the whole estate."""
    plan = removal_plan(estate, targets, today)
    statuses = {
        s: sum(1 for r in plan if r.status == s)
        for s in ("overdue", "in place", "isolated", "gone")
    }
    online = sum(1 for s in estate.sites if s.online)
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        (
            f'<p class="small">Read from {_e(source or "a broker")} on {_e(today.isoformat())}: '
            f"{len(estate.sites)} site(s) ({online} online), {len(estate.cameras)} camera(s). "
            f"cctv-sentinel {_e(__version__)}.</p>"
        ),
    ]
    for site in estate.incomplete:
        out.append(
            f'<p class="overdue">Incomplete: {site.cameras_read} of {site.cameras_announced} '
            f"camera states of {_e(site.name)} were read. If the broker is Mosquitto, raise its "
            "<code>max_queued_messages</code> (docs/estate.md) and read again.</p>"
        )
    if estate.skipped:
        out.append(
            f'<p class="small">{estate.skipped} retained message(s) were not what the MQTT '
            "contract says and were left out.</p>"
        )
    out += [
        "<h2>Restricted cameras</h2>",
        (
            f"<p><b>{len(plan)}</b> restricted: {statuses['overdue']} overdue, "
            f"{statuses['in place']} in place, {statuses['isolated']} isolated, "
            f"{statuses['gone']} gone.</p>"
        ),
        "<h2>Progress per week</h2>",
        progress_svg(weekly_progress(estate.histories)),
        '<h2>Totals</h2><div class="totals">',
        _totals_table("Site", totals_by(estate.cameras, "site")),
        _totals_table("Risk", totals_by(estate.cameras, "risk")),
        _totals_table("Maker", totals_by(estate.cameras, "maker")),
        _totals_table("Label", totals_by(estate.cameras, "label")),
        _totals_table("Regime", totals_by(estate.restricted, "regime")),
        "</div>",
        (
            "<h2>Sites</h2><table><tr><th>Site</th><th>Agent</th><th>Status</th><th>Networks</th>"
            "<th>Cameras</th><th>Restricted</th></tr>"
        ),
    ]
    per_site = dict(totals_by(estate.cameras, "site"))
    restricted_site = dict(totals_by(estate.restricted, "site"))
    for site in estate.sites:
        state = "online" if site.online else ("offline" if site.online is False else "unknown")
        out.append(
            f"<tr><td>{_e(site.name)}</td><td><code>{_e(site.agent_id)}</code></td>"
            f"<td>{state}</td><td>{_e(', '.join(site.networks) or '-')}</td>"
            f"<td>{per_site.get(site.name, 0)}</td>"
            f"<td>{restricted_site.get(site.name, 0)}</td></tr>"
        )
    out.append("</table>")
    out += [
        "<h2>Removal plan</h2>",
        (
            "<table><tr><th>Site</th><th>IP</th><th>Label</th><th>Real maker</th><th>Model</th>"
            "<th>Regimes</th><th>First seen</th><th>Target</th><th>Status</th></tr>"
        ),
        *_plan_rows(plan, estate),
        "</table>",
        "<h2>Evidence for each restricted camera</h2>",
    ]
    for row in plan:
        cam = row.camera
        sightings = "; ".join(f"{s.site} ({s.ip}, {s.state})" for s in cam.sightings)
        evidence = "".join(f"<li><code>{_e(line)}</code></li>" for line in cam.evidence)
        out.append(
            f"<h3>{_e(cam.brand or cam.manufacturer or 'unknown')} {_e(cam.model or '')} "
            f'<span class="small">{_e(cam.key)}</span></h3>'
            f'<p>{_e(cam.explanation)}<br><span class="small">Seen by: {_e(sightings)}; '
            f"confidence {cam.confidence:.2f}</span></p><ul>{evidence}</ul>"
        )
    out.append("</body></html>\n")
    return "\n".join(out)
