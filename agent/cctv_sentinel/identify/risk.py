"""What an attribution means under the regimes and the user's policy (pure).

``restricted``: the real maker is covered by an enabled regime (directly, or
as a listed maker's subsidiary or affiliate); ``elevated``: a PRC-based maker
no enabled regime covers, or evidence for a restricted maker that is too weak
to be sure; ``unknown``: a camera whose maker could not be established;
``low``: a maker no regime covers. The deny list forces ``restricted`` and
the allow list forces ``low``, each with the reason.
"""

from __future__ import annotations

from typing import Final

from cctv_sentinel.identify.catalogue import Catalogue, Regime
from cctv_sentinel.identify.policy import Policy
from cctv_sentinel.model import Assessment, Attribution, Host, Risk

__all__ = ["PRC_COUNTRIES", "assess", "covering_regimes", "prc_based"]

PRC_COUNTRIES: Final = frozenset({"CN"})
"""Countries whose makers are subject to the PRC National Intelligence Law (2017)."""


def _family(catalogue: Catalogue, maker: str) -> tuple[str, ...]:
    return (maker, *catalogue.ancestors(maker))


def _covers(regime: Regime, catalogue: Catalogue, maker: str) -> bool:
    family = _family(catalogue, maker) if regime.related else (maker,)
    if any(m in regime.makers for m in family):
        return True
    if regime.countries:
        return any(catalogue.country_of(m) in regime.countries for m in family)
    return False


def covering_regimes(catalogue: Catalogue, maker: str) -> tuple[str, ...]:
    """Ids of every catalogue regime that covers ``maker`` (enabled or not)."""
    return tuple(r.id for r in catalogue.regimes.values() if _covers(r, catalogue, maker))


def prc_based(catalogue: Catalogue, maker: str) -> bool:
    """True when the maker, or a current parent, is based in the PRC."""
    return any(catalogue.country_of(m) in PRC_COUNTRIES for m in _family(catalogue, maker))


def _by_name(regime: Regime, catalogue: Catalogue, maker: str) -> bool:
    family = _family(catalogue, maker) if regime.related else (maker,)
    return any(m in regime.makers for m in family)


def _uncertain_basis(catalogue: Catalogue, maker: str, enabled: tuple[str, ...]) -> str:
    """Why coverage is uncertain, or "" when it is not.

    Uncertain: every enabled regime covers the maker only by country, and the
    catalogue records that the maker's country is itself uncertain.
    """
    if not enabled or any(_by_name(catalogue.regimes[r], catalogue, maker) for r in enabled):
        return ""
    for member in _family(catalogue, maker):
        vendor = catalogue.vendors.get(member)
        if vendor is not None and vendor.jurisdiction_uncertain:
            return vendor.jurisdiction_uncertain
    return ""


def _unknown_reason(attribution: Attribution) -> str:
    if attribution.manufacturer:
        return (
            f"only the network interface's registrant, {attribution.manufacturer}, is known "
            "(not in the catalogue: no regime can be applied)"
        )
    return "the maker could not be established"


def _names(catalogue: Catalogue, regime_ids: tuple[str, ...]) -> str:
    return ", ".join(catalogue.regimes[r].short for r in regime_ids)


def assess(
    attribution: Attribution, host: Host, catalogue: Catalogue, policy: Policy
) -> Assessment:
    """Risk level, the enabled regimes that cover the maker, and a one-line reason."""
    maker = attribution.manufacturer_id
    covering = covering_regimes(catalogue, maker) if maker else ()
    enabled = tuple(r for r in covering if policy.regime_enabled(r))
    name = attribution.manufacturer or maker
    listed = policy.listed(ip=host.ip, mac=host.mac, maker=maker, brand=attribution.brand)
    if listed is not None:
        risk = Risk.RESTRICTED if listed.listed == "deny" else Risk.LOW
        return Assessment(
            risk, enabled, f"on your {listed.listed} list by {listed.by} {listed.value}"
        )
    if maker is None:
        return Assessment(Risk.UNKNOWN, (), _unknown_reason(attribution))
    uncertain = _uncertain_basis(catalogue, maker, enabled)
    if enabled and uncertain:
        return Assessment(
            Risk.ELEVATED,
            enabled,
            f"{name} is covered by {_names(catalogue, enabled)} only if {uncertain}",
        )
    if enabled:
        if attribution.confidence >= policy.min_confidence:
            return Assessment(
                Risk.RESTRICTED, enabled, f"{name} is covered by {_names(catalogue, enabled)}"
            )
        return Assessment(
            Risk.ELEVATED,
            enabled,
            f"evidence points to {name}, covered by {_names(catalogue, enabled)}, but confidence "
            f"{attribution.confidence:.2f} is below {policy.min_confidence:.2f}",
        )
    if prc_based(catalogue, maker):
        why = (
            "no enabled regime lists it"
            if not covering
            else "the regimes that list it are disabled"
        )
        return Assessment(Risk.ELEVATED, (), f"{name} is based in the PRC; {why}")
    if covering:
        return Assessment(Risk.LOW, (), f"{name} is covered only by regimes your policy disables")
    return Assessment(Risk.LOW, (), f"{name} is covered by no regime")
