"""Weigh the evidence about one host and say who really made it (pure, no I/O).

Independent evidence adds up with diminishing returns (a noisy-OR over
evidence channels); evidence within one channel — two banners, two labels —
counts once, at its strongest. A proprietary discovery answer, a vendor
endpoint and the OUI outweigh a self-declared label, which OEM firmware
rewrites. Strong evidence for a maker that contradicts the winner lowers the
confidence, and the explanation says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.identify import camera
from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.identify.evidence import (
    MODEL_KIND,
    OUI_KIND,
    Hit,
    Label,
    Scan,
    oem_hit,
    oui_vendor,
    scan,
)
from cctv_sentinel.identify.vocabulary import FIRMWARE_FIELDS, MODEL_FIELDS, SERIAL_FIELDS
from cctv_sentinel.model import Attribution, Evidence, Host, Observation

__all__ = ["MIN_CLAIM", "attribute", "score"]

MIN_CLAIM: Final = 0.2
"""Below this score no maker is named: the camera's maker is unknown."""

CONFLICT_DAMPING: Final = 0.6
"""How much a contradicting maker's score lowers the winner's confidence.

With 0.6, a rival as strong as one label (0.5) takes 30 % off; a rival with a
proprietary answer (0.9) takes 54 % off, which drops a label-only winner
below the restricted threshold, as it should.
"""

LABEL_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("onvif", "manufacturer"),
    ("dhip", "vendor"),
    ("dhip", "manufacturer"),
    ("http", "manufacturer"),
    ("ssdp", "manufacturer"),
    ("wsd", "scope_manufacturer"),
    ("sadp", "oem"),
    ("wsd", "name"),
    ("mdns", "instance"),
    ("http", "title"),
)
"""Where the device's label (brand) comes from, first wins.

Only the first six may supply a label the catalogue does not know: a scope
name or a page title is free text, and only counts when it names a vendor.
"""

OUI_ONLY_NOTE: Final = (
    "OUI only: a module maker's network chip inside another brand's camera looks the same"
)

_FREE_TEXT: Final = frozenset(LABEL_FIELDS[7:])


@dataclass(frozen=True, slots=True)
class Score:
    """One maker's combined score and the channels that make it up."""

    maker: str
    value: float
    channels: dict[str, float]
    top: float


def _combine(weights: Iterable[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return 1.0 - remaining


def score(hits: Sequence[Hit]) -> list[Score]:
    """Scores per maker, best first (ties: strongest single evidence, then id)."""
    channels: dict[str, dict[str, float]] = defaultdict(dict)
    for hit in hits:
        maker = hit.evidence.maker
        if maker is None or hit.evidence.weight <= 0:
            continue
        per = channels[maker]
        per[hit.kind] = max(per.get(hit.kind, 0.0), hit.evidence.weight)
    scores = [
        Score(maker, _combine(per.values()), per, max(per.values()))
        for maker, per in channels.items()
    ]
    scores.sort(key=lambda s: (-s.value, -s.top, s.maker))
    return scores


def _first(host: Host, fields: Iterable[tuple[str, str]]) -> str | None:
    for probe, field_name in fields:
        for obs in host.observations:
            if obs.probe == probe:
                value = obs.fields.get(field_name)
                if value:
                    return value
    return None


STATED_SOURCE: Final = "the device's own answer, as received"


def _stated(
    host: Host, fields: Iterable[tuple[str, str]], what: str
) -> tuple[str | None, Evidence | None]:
    """The first source (by trust) that states ``what``, and an evidence record naming it."""
    for probe, field_name in fields:
        for obs in host.observations:
            value = obs.fields.get(field_name) if obs.probe == probe else None
            if value:
                return value, Evidence(
                    probe=probe,
                    field=field_name,
                    value=value,
                    maker=None,
                    weight=0.0,
                    rule=what,
                    source=STATED_SOURCE,
                    note=f"{what} as {probe} {field_name} states it",
                )
    return None, None


def _model_from_text(hits: Sequence[Hit]) -> tuple[str | None, Evidence | None]:
    """A model spelled in a banner or page a rule matched (strongest, then by value)."""
    found = sorted(
        (h for h in hits if h.model), key=lambda h: (-h.evidence.weight, h.model, h.evidence.rule)
    )
    if not found:
        return None, None
    model, ev = found[0].model, found[0].evidence
    return model, Evidence(
        probe=ev.probe,
        field=ev.field,
        value=model or "",
        maker=None,
        weight=0.0,
        rule="model",
        source=ev.source,
        note=f"model read from the text rule {ev.rule} matched",
    )


def _brand_label(labels: Sequence[Label]) -> Label | None:
    order = {key: i for i, key in enumerate(LABEL_FIELDS)}
    ranked = sorted(
        (lb for lb in labels if not lb.generic and (lb.probe, lb.field) in order),
        key=lambda lb: (order[(lb.probe, lb.field)], lb.rank),
    )
    for lb in ranked:
        if lb.vendor is not None:
            return lb
    for lb in ranked:
        if (lb.probe, lb.field) not in _FREE_TEXT:
            return lb
    return None


def _oem_hits(
    found: Scan, brand_id: str | None, catalogue: Catalogue
) -> tuple[list[Hit], str | None]:
    """OEM-table evidence, and the brand a model number alone reveals."""
    hits: list[Hit] = []
    seen: set[str] = set()
    inferred_brand: str | None = None
    if brand_id is not None:
        for entry in catalogue.oem_for_brand(brand_id):
            if entry.models is None:
                hits.append(
                    oem_hit(entry, catalogue, catalogue.name_of(brand_id) or brand_id, "label")
                )
                seen.add(entry.id)
    for model in found.models:
        for entry in catalogue.oem_by_model(model):
            if entry.id in seen:
                continue
            if brand_id is not None and entry.brand != brand_id:
                # The model pattern belongs to another brand's line; the label wins.
                continue
            seen.add(entry.id)
            hits.append(oem_hit(entry, catalogue, model, "model"))
            if brand_id is None and inferred_brand is None:
                inferred_brand = entry.brand
    return hits, inferred_brand


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


MAX_SAYS: Final = 4
"""Evidence named in the one-line explanation; the full list is in ``evidence``."""

_EXPLAIN_ORDER: Final = (
    "proprietary",
    "endpoint",
    OUI_KIND,
    "banner",
    "certificate",
    "ssdp",
    "mdns",
    "page",
    "service",
    "model",
    "oem",
    "label",
)
"""Channels in the order a person can most easily check them (and trust them)."""


def _says(hits: Iterable[Hit], maker: str) -> list[str]:
    """The strongest evidence phrase per channel, strongest first, at most MAX_SAYS."""
    per_kind: dict[str, tuple[float, str]] = {}
    for hit in hits:
        ev = hit.evidence
        if ev.maker != maker or ev.weight <= 0:
            continue
        best = per_kind.get(hit.kind)
        if best is None or ev.weight > best[0]:
            per_kind[hit.kind] = (ev.weight, hit.says)
    order = {kind: i for i, kind in enumerate(_EXPLAIN_ORDER)}
    ranked = [
        per_kind[kind][1]
        for kind in sorted(per_kind, key=lambda k: (order.get(k, 99), -per_kind[k][0]))
    ]
    if len(ranked) > MAX_SAYS:
        extra = len(ranked) - (MAX_SAYS - 1)
        ranked = [*ranked[: MAX_SAYS - 1], f"{extra} more signals"]
    return ranked


def _explain(
    catalogue: Catalogue,
    winner: Score | None,
    rival: Score | None,
    hits: Sequence[Hit],
    brand_label: Label | None,
    generic: Sequence[Label],
) -> str:
    label_part = ""
    if brand_label is not None:
        label_name = (
            catalogue.name_of(brand_label.vendor) if brand_label.vendor else brand_label.value
        )
        label_part = f"label {label_name}"
    elif generic:
        label_part = f"label {generic[0].value!r} is generic"
    if winner is None:
        tail = "no evidence establishes the maker"
        return f"{label_part}; {tail}" if label_part else tail[0].upper() + tail[1:]
    maker_name = catalogue.name_of(winner.maker) or winner.maker
    says = _says(hits, winner.maker)
    own_label = (
        brand_label is not None
        and brand_label.vendor is not None
        and (
            catalogue.maker_of(brand_label.vendor) == winner.maker
            and catalogue.vendors[brand_label.vendor].role == "maker"
        )
    )
    verb = "says" if len(says) == 1 else "say"
    sentence = f"{_join(says)} {verb} {maker_name}"
    if label_part and not own_label:
        sentence = f"{label_part}; {sentence}"
    if set(winner.channels) == {OUI_KIND}:
        sentence += f" ({OUI_ONLY_NOTE})"
    if rival is not None:
        rival_says = _says(hits, rival.maker)
        rival_name = catalogue.name_of(rival.maker) or rival.maker
        sentence += (
            f"; but {_join(rival_says)} {'says' if len(rival_says) == 1 else 'say'} {rival_name}"
        )
    return sentence


def _brand_vendor(
    catalogue: Catalogue, label: Label | None, inferred: str | None, oui_id: str | None
) -> str | None:
    """The vendor whose name the device carries, refined by a brand-owned OUI."""
    oui_brand = None
    if oui_id is not None and catalogue.vendors[oui_id].role == "brand":
        oui_brand = oui_id
    if label is not None and label.vendor is not None:
        labelled = label.vendor
        # "HIKVISION" in ONVIF on a NIC registered to Prama Hikvision India: the
        # regional brand is the more specific label for the same maker.
        if (
            oui_brand is not None
            and catalogue.vendors[labelled].role == "maker"
            and catalogue.maker_of(oui_brand) == labelled
        ):
            return oui_brand
        return labelled
    if label is not None:
        return None
    return inferred or oui_brand


def _rival(
    catalogue: Catalogue, scores: Sequence[Score], winner: str, brand: str | None
) -> Score | None:
    for other in scores:
        if other.maker == winner or catalogue.related(other.maker, winner):
            continue
        if (
            brand is not None
            and catalogue.vendors[brand].role == "brand"
            and catalogue.related(other.maker, brand)
        ):
            continue  # e.g. a Lorex camera on FLIR's OUI: FLIR once owned the Lorex brand
        return other
    return None


def attribute_scan(host: Host, found: Scan, catalogue: Catalogue) -> Attribution:
    """Attribution from an already collected :class:`Scan` (see :func:`attribute`)."""
    brand_label = _brand_label(found.labels)
    label_id = brand_label.vendor if brand_label is not None else None
    oui_id = oui_vendor(found, catalogue)
    oem, inferred = _oem_hits(
        found, label_id or (oui_id if _is_brand(catalogue, oui_id) else None), catalogue
    )
    brand_id = _brand_vendor(catalogue, brand_label, inferred, oui_id)
    hits = [*found.hits, *oem]
    scores = score(hits)
    winner = scores[0] if scores and scores[0].value >= MIN_CLAIM else None
    rival: Score | None = None
    confidence = 0.0
    if winner is not None:
        rival = _rival(catalogue, scores, winner.maker, brand_id)
        confidence = winner.value * (1.0 - CONFLICT_DAMPING * (rival.value if rival else 0.0))
    brand: str | None = None
    if brand_id is not None:
        brand = catalogue.name_of(brand_id)
    elif brand_label is not None:
        brand = brand_label.value
    elif winner is not None and any(
        h.kind == MODEL_KIND and h.evidence.maker == winner.maker for h in hits
    ):
        # A model number in the maker's own grammar: OEM lines carry their own
        # prefixes (see oem.yaml), so the box says the maker's name.
        brand = catalogue.name_of(winner.maker)
    elif winner is not None and _shows_own_name(catalogue, hits, winner.maker):
        # A banner, page or certificate of the maker's own that spells its name.
        brand = catalogue.name_of(winner.maker)
    elif winner is not None and oui_id == winner.maker:
        # No label anywhere, and the network interface is the real maker's own:
        # such devices are sold under the maker's name (a recorder that speaks
        # only SADP and ISAPI, say). OEM boxes show their label somewhere.
        brand = catalogue.name_of(winner.maker)
    shown_label = brand_label
    if brand_id is not None and (brand_label is None or brand_label.vendor != brand_id):
        shown_label = Label("catalogue", "brand", brand or brand_id, brand_id, False, -1)
    generic = [lb for lb in found.labels if lb.generic and (lb.probe, lb.field) not in _FREE_TEXT]
    is_camera, reasons = camera.decide(host, found, catalogue)
    evidence: list[Evidence] = sorted(
        (h.evidence for h in hits), key=lambda e: (-e.weight, e.probe, e.rule, e.field, e.value)
    )
    guess = registrant_guess(found, catalogue) if winner is None else None
    explanation = _explain(catalogue, winner, rival, hits, shown_label, generic)
    if guess is not None:
        explanation += f"; {REGISTRANT_GUESS_NOTE.format(name=guess)}"
    model, model_ev = _stated(host, MODEL_FIELDS, "model")
    if model is None:
        model, model_ev = _model_from_text(hits)
    firmware, firmware_ev = _stated(host, FIRMWARE_FIELDS, "firmware")
    evidence.extend(e for e in (model_ev, firmware_ev) if e is not None)
    return Attribution(
        is_camera=is_camera,
        manufacturer=catalogue.name_of(winner.maker) if winner else guess,
        manufacturer_id=winner.maker if winner else None,
        brand=brand,
        model=model,
        firmware=firmware,
        serial=_first(host, SERIAL_FIELDS),
        confidence=round(confidence, 3),
        evidence=tuple(evidence),
        explanation=explanation,
        camera_reasons=reasons,
        equipment=None if is_camera else _equipment(hits),
    )


REGISTRANT_GUESS_NOTE: Final = (
    "maker guessed from the OUI registrant {name} alone (not in the catalogue; a network "
    "module's maker may not be the device's)"
)

_LEGAL_FORM = re.compile(
    r"[\s,.]+(co\.?,?\s*ltd\.?|co\.?|ltd\.?|limited|inc\.?|incorporated|corp\.?|corporation|"
    r"gmbh|s\.?a\.?|s\.?r\.?l\.?|b\.?v\.?|ag|llc|l\.?l\.?c\.?|pte|pty|plc|oy|ab|kg)\.?$",
    re.IGNORECASE,
)


def registrant_name(org: str) -> str:
    """The registrant's name without its legal form ("Acme Networks, Inc." -> "Acme Networks")."""
    name = org.strip()
    while True:
        shorter = _LEGAL_FORM.sub("", name).strip(" ,.")
        if shorter == name or not shorter:
            return name
        name = shorter


def registrant_guess(found: Scan, catalogue: Catalogue) -> str | None:
    """A generic maker guess: the OUI registrant, when the catalogue does not know it.

    It names no catalogue maker (``manufacturer_id`` stays None, so no regime is
    applied), and the explanation says it is a guess.
    """
    if found.oui is None or catalogue.vendor_for_ieee(found.oui.org) is not None:
        return None
    return registrant_name(found.oui.org) or None


def _equipment(hits: Sequence[Hit]) -> str | None:
    """The kind of equipment the strongest equipment evidence shows (ties: by name)."""
    found = sorted(
        (-h.evidence.weight, h.equipment) for h in hits if h.equipment and h.camera is False
    )
    return found[0][1] if found else None


_SHOWN_KINDS: Final = frozenset({"banner", "page", "certificate", "ssdp", "mdns"})


def _shows_own_name(catalogue: Catalogue, hits: Sequence[Hit], maker: str) -> bool:
    vendor = catalogue.vendors.get(maker)
    if vendor is None or vendor.role != "maker":
        return False
    names = {re.sub(r"[^a-z0-9]", "", n.lower()) for n in (vendor.name, *vendor.aliases)}
    names.discard("")
    for hit in hits:
        if hit.kind in _SHOWN_KINDS and hit.evidence.maker == maker:
            shown = re.sub(r"[^a-z0-9]", "", hit.evidence.value.lower())
            if any(name in shown for name in names):
                return True
    return False


def _is_brand(catalogue: Catalogue, vendor_id: str | None) -> bool:
    return vendor_id is not None and catalogue.vendors[vendor_id].role == "brand"


def _observation_key(obs: Observation) -> tuple[str, int, str, tuple[tuple[str, str], ...]]:
    return (obs.probe, obs.port or 0, obs.mac or "", tuple(sorted(obs.fields.items())))


def canonical(host: Host) -> Host:
    """The host with its observations in a fixed order, whatever order they arrived in.

    Every "first source wins" choice downstream (label, model, firmware) then
    depends only on what was seen, never on which answer came first.
    """
    ordered = tuple(sorted(host.observations, key=_observation_key))
    if ordered == host.observations:
        return host
    return Host(ip=host.ip, mac=host.mac, open_ports=host.open_ports, observations=ordered)


def attribute(host: Host, catalogue: Catalogue) -> Attribution:
    """Who really made this host, how sure we are, and why (pure, order-independent)."""
    host = canonical(host)
    return attribute_scan(host, scan(host, catalogue), catalogue)
