"""The auditor's inventory report: every camera, its real maker, evidence, regimes, action.

Two renderings of the same content: a self-contained HTML page (inline CSS, no
scripts, no external resources, every device string escaped) and a CSV file.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence

from cctv_sentinel import __version__
from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.model import RISK_ORDER, Camera, OtherDevice, Risk, ScanResult
from cctv_sentinel.report.formats import sort_cameras, write_csv

RECOMMENDED_ACTION: dict[Risk, str] = {
    Risk.RESTRICTED: (
        "Plan replacement. Until then keep it off sensitive sites and cut it off from the"
        " internet (cctv-sentinel isolate IP --mode internet, or your router's block rule)."
    ),
    Risk.ELEVATED: (
        "Review: the maker is based in the PRC or the attribution is uncertain. Check the"
        " evidence, confirm the maker and decide whether to replace it."
    ),
    Risk.UNKNOWN: (
        "Identify it by hand (label, web interface, invoice) or rescan with credentials;"
        " treat it as restricted until known."
    ),
    Risk.LOW: "No action needed under the enabled regimes; keep its firmware current.",
}
"""What we advise per risk level (printed in both renderings)."""


def _regime_names(catalogue: Catalogue, ids: Sequence[str]) -> list[str]:
    names = []
    for regime_id in ids:
        regime = catalogue.regimes.get(regime_id)
        names.append(f"{regime.name} ({regime.jurisdiction})" if regime else regime_id)
    return names


def _summary(cameras: Sequence[Camera]) -> list[tuple[Risk, int]]:
    counts = Counter(c.assessment.risk for c in cameras)
    return [
        (risk, counts.get(risk, 0)) for risk in sorted(RISK_ORDER, key=lambda r: -RISK_ORDER[r])
    ]


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
    "explanation",
    "evidence",
    "kind",
    "recommended_action",
)


def to_audit_csv(result: ScanResult, catalogue: Catalogue) -> str:
    """One row per camera (then per other device) with evidence, regimes and the action."""
    judged: list[tuple[Camera | OtherDevice, str]] = [
        *((c, "camera") for c in sort_cameras(result.cameras)),
        *((d, d.kind) for d in sort_cameras(result.other_devices)),
    ]
    rows = []
    for cam, kind in judged:
        att = cam.attribution
        evidence = "; ".join(f"{e.probe}.{e.field}={e.value}" for e in att.evidence)
        rows.append(
            [
                cam.ip,
                cam.mac or "",
                att.brand or "",
                att.manufacturer or "",
                att.model or "",
                att.firmware or "",
                cam.assessment.risk.value,
                f"{att.confidence:.2f}",
                "; ".join(_regime_names(catalogue, cam.assessment.regimes)),
                att.explanation,
                evidence,
                kind,
                RECOMMENDED_ACTION[cam.assessment.risk],
            ]
        )
    return write_csv(CSV_FIELDS, rows)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f2f2f2}.restricted{background:#fde2e1}.elevated{background:#fff1d6}
.unknown{background:#eef0f3}.low{background:#e6f4ea}.small{font-size:.8rem;color:#444}
code{font-size:.85rem}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _other_section(result: ScanResult, catalogue: Catalogue) -> list[str]:
    """Equipment that is not a camera but that a regime may cover, in its own table."""
    devices = sort_cameras(result.other_devices)
    if not devices:
        return []
    out = [
        (
            "<h2>Other equipment (not cameras)</h2><table><tr><th>IP / MAC</th><th>Kind</th>"
            "<th>Real maker</th><th>Model / firmware</th><th>Risk</th><th>Regimes</th>"
            "<th>Why</th></tr>"
        )
    ]
    for dev in devices:
        att = dev.attribution
        regimes = "<br>".join(_e(n) for n in _regime_names(catalogue, dev.assessment.regimes))
        out.append(
            f'<tr class="{dev.assessment.risk.value}">'
            f"<td>{_e(dev.ip)}<br><code>{_e(dev.mac or 'MAC unknown')}</code></td>"
            f"<td>{_e(dev.kind)}</td>"
            f"<td>{_e(att.manufacturer or 'unknown')}<br>"
            f'<span class="small">confidence {att.confidence:.2f}</span></td>'
            f"<td>{_e(att.model or '-')}<br>{_e(att.firmware or '')}</td>"
            f"<td>{_e(dev.assessment.risk.value)}</td><td>{regimes or '-'}</td>"
            f"<td>{_e(att.explanation)}<br>"
            f'<span class="small">{_e(dev.assessment.reason)}</span></td></tr>'
        )
    out.append("</table>")
    return out


def to_audit_html(
    result: ScanResult, catalogue: Catalogue, *, title: str = "Camera inventory"
) -> str:
    """A self-contained HTML report for an auditor."""
    cameras = sort_cameras(result.cameras)
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="small">',
        f"Networks: {_e(', '.join(result.info.networks) or 'from saved input')}. ",
        f"Scan: {_e(iso(result.info.started))} to {_e(iso(result.info.finished))}. ",
        f"cctv-sentinel {_e(__version__)}, catalogue {_e(catalogue.version)}.</p>",
        "<h2>Summary by risk</h2>",
        "<table><tr><th>Risk</th><th>Cameras</th><th>Recommended action</th></tr>",
    ]
    for risk, count in _summary(cameras):
        out.append(
            f'<tr class="{risk.value}"><td>{risk.value}</td><td>{count}</td>'
            f"<td>{_e(RECOMMENDED_ACTION[risk])}</td></tr>"
        )
    out.append(f"</table><p>{len(cameras)} camera(s) among {len(result.hosts)} host(s).</p>")
    out.append(
        "<h2>Cameras</h2><table><tr><th>IP / MAC</th><th>Label</th><th>Real maker</th>"
        "<th>Model / firmware</th><th>Risk</th><th>Regimes</th><th>Why</th></tr>"
    )
    for cam in cameras:
        att = cam.attribution
        regimes = "<br>".join(_e(n) for n in _regime_names(catalogue, cam.assessment.regimes))
        out.append(
            f'<tr class="{cam.assessment.risk.value}">'
            f"<td>{_e(cam.ip)}<br><code>{_e(cam.mac or 'MAC unknown')}</code></td>"
            f"<td>{_e(att.brand or '-')}</td>"
            f"<td>{_e(att.manufacturer or 'unknown')}<br>"
            f'<span class="small">confidence {att.confidence:.2f}</span></td>'
            f"<td>{_e(att.model or '-')}<br>{_e(att.firmware or '')}</td>"
            f"<td>{_e(cam.assessment.risk.value)}</td>"
            f"<td>{regimes or '-'}</td>"
            f"<td>{_e(att.explanation)}<br>"
            f'<span class="small">{_e(cam.assessment.reason)}</span></td></tr>'
        )
    out.append("</table>")
    out.extend(_other_section(result, catalogue))
    out.append("<h2>Evidence</h2>")
    for cam in cameras:
        att = cam.attribution
        out.append(f"<h3>{_e(cam.ip)} {_e(att.brand or '')} {_e(att.model or '')}</h3>")
        out.append(
            f"<p><b>Recommended action:</b> {_e(RECOMMENDED_ACTION[cam.assessment.risk])}</p>"
        )
        out.append(
            "<table><tr><th>Probe</th><th>Field</th><th>Value</th><th>Says</th>"
            "<th>Weight</th><th>Source</th></tr>"
        )
        for ev in att.evidence:
            note = f"; {_e(ev.note)}" if ev.note else ""
            out.append(
                f"<tr><td>{_e(ev.probe)}</td><td>{_e(ev.field)}</td>"
                f"<td><code>{_e(ev.value)}</code></td>"
                f"<td>{_e(catalogue.name_of(ev.maker) or '-')}</td><td>{ev.weight:.2f}</td>"
                f'<td class="small">{_e(ev.source)}{note}</td></tr>'
            )
        out.append("</table>")
    out.append(
        "<h2>Regimes</h2><table><tr><th>Regime</th><th>Jurisdiction</th><th>Since</th>"
        "<th>Scope</th><th>Source</th></tr>"
    )
    for regime in catalogue.regimes.values():
        out.append(
            f"<tr><td>{_e(regime.name)}</td><td>{_e(regime.jurisdiction)}</td>"
            f"<td>{_e(regime.effective.isoformat())}</td><td>{_e(regime.scope)}</td>"
            f'<td class="small">{_e(regime.source)}</td></tr>'
        )
    out.append("</table></body></html>\n")
    return "\n".join(out)
