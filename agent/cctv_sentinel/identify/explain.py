"""The human evidence chain behind one verdict (``--explain``)."""

from __future__ import annotations

from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.model import Assessment, Attribution, Host

__all__ = ["explain"]


def _maker(catalogue: Catalogue | None, maker: str | None) -> str:
    if maker is None:
        return "-"
    if catalogue is None:
        return maker
    return catalogue.name_of(maker) or maker


def explain(
    host: Host,
    attribution: Attribution,
    assessment: Assessment,
    catalogue: Catalogue | None = None,
) -> list[str]:
    """Lines a person can check: what was seen, by which probe, what it means."""
    a = attribution
    lines = [f"host {host.ip}" + (f" (MAC {host.mac})" if host.mac else " (MAC unknown)")]
    probes = ", ".join(host.probes) or "none"
    lines.append(f"answered: {probes}")
    verdict = "camera or recorder" if a.is_camera else "not a camera"
    lines.append(f"device: {verdict}: " + "; ".join(a.camera_reasons))
    lines.append(
        f"label: {a.brand or '-'}; real maker: {a.manufacturer or 'unknown'}"
        f" (confidence {a.confidence:.2f})"
    )
    details = [
        x
        for x in (
            f"model {a.model}" if a.model else "",
            f"firmware {a.firmware}" if a.firmware else "",
        )
        if x
    ]
    if details:
        lines.append("identity: " + ", ".join(details))
    lines.append(f"why: {a.explanation}")
    for ev in a.evidence:
        arrow = f"-> {_maker(catalogue, ev.maker)}" if ev.maker else "-> (no maker)"
        line = f"  [{ev.probe}.{ev.field}] {ev.value!r} {arrow} weight {ev.weight:.2f} ({ev.rule})"
        if ev.note:
            line += f"; {ev.note}"
        lines.append(line)
        lines.append(f"      source: {ev.source}")
    lines.append(f"risk: {assessment.risk.value}: {assessment.reason}")
    if assessment.regimes:
        if catalogue is not None:
            for regime_id in assessment.regimes:
                regime = catalogue.regimes.get(regime_id)
                if regime is not None:
                    lines.append(
                        f"  regime {regime.id}: {regime.name} ({regime.jurisdiction},"
                        f" since {regime.effective.isoformat()}); source: {regime.source}"
                    )
        else:
            lines.append("regimes: " + ", ".join(assessment.regimes))
    return lines
