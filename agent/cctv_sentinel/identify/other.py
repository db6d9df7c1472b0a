"""Equipment that is not a camera, judged against what each regime's text covers (pure).

Regimes name makers, but not every regime covers every kind of equipment:
the FCC Covered List and NDAA s.889 cover telecommunications equipment of
Huawei and ZTE, and video surveillance and telecommunications equipment of
Hytera, Hikvision and Dahua; the UK and Australian statements cover visual
surveillance systems only. ``regimes.yaml`` lists, per regime, the kinds of
non-camera equipment its words cover (``equipment``). A device is reported
here when a regime covers its maker *for its kind*, or, as ``elevated``, when
a regime names its maker but not that kind of equipment (an alarm panel of a
listed maker: whether "video surveillance and telecommunications equipment"
includes it is not settled). A regime that covers no equipment but cameras
(the UK and Australian statements) never reports a router.
"""

from __future__ import annotations

from cctv_sentinel.identify.catalogue import Catalogue, EquipmentCover, Regime
from cctv_sentinel.identify.policy import Policy
from cctv_sentinel.identify.risk import covering_regimes
from cctv_sentinel.model import Assessment, Attribution, Host, OtherDevice, Risk

__all__ = ["assess_other", "other_device"]


def _cover(regime: Regime, catalogue: Catalogue, maker: str, kind: str) -> EquipmentCover | None:
    family = (maker, *catalogue.ancestors(maker)) if regime.related else (maker,)
    for cover in regime.equipment:
        if kind in cover.kinds and any(m in cover.makers for m in family):
            return cover
    return None


def _kinds(regime: Regime) -> set[str]:
    return {kind for cover in regime.equipment for kind in cover.kinds}


def assess_other(
    attribution: Attribution, catalogue: Catalogue, policy: Policy
) -> Assessment | None:
    """Risk of a non-camera device under the enabled regimes, or None when none applies."""
    maker, kind = attribution.manufacturer_id, attribution.equipment
    if attribution.is_camera or maker is None or kind is None:
        return None
    name = attribution.manufacturer or maker
    enabled = [r for r in catalogue.regimes.values() if policy.regime_enabled(r.id)]
    covered = [(r, c) for r in enabled if (c := _cover(r, catalogue, maker, kind)) is not None]
    if covered:
        ids = tuple(r.id for r, _ in covered)
        cover = covered[0][1]
        why = f"{name} {kind}: covered as {cover.basis} ({', '.join(r.short for r, _ in covered)})"
        if attribution.confidence >= policy.min_confidence:
            return Assessment(Risk.RESTRICTED, ids, why)
        return Assessment(
            Risk.ELEVATED,
            ids,
            f"{why}; but confidence {attribution.confidence:.2f} is below "
            f"{policy.min_confidence:.2f}",
        )
    # A regime that covers some equipment of this maker besides cameras, but not this kind.
    naming = tuple(
        r.id
        for r in enabled
        if r.id in covering_regimes(catalogue, maker)
        and any(_cover(r, catalogue, maker, other) for other in _kinds(r))
    )
    if naming:
        shorts = ", ".join(catalogue.regimes[r].short for r in naming)
        return Assessment(
            Risk.ELEVATED,
            naming,
            f"{name} is named by {shorts}, whose text does not clearly cover this kind of "
            f"equipment ({kind})",
        )
    return None


def other_device(
    host: Host, attribution: Attribution, catalogue: Catalogue, policy: Policy
) -> OtherDevice | None:
    """The device as an :class:`OtherDevice` when a regime may cover it, else None."""
    assessment = assess_other(attribution, catalogue, policy)
    if assessment is None or attribution.equipment is None:
        return None
    return OtherDevice(host, attribution, assessment, attribution.equipment)
