"""Turn a host's observations into evidence hits, by running the catalogue's rules.

This is the only place that reads observation fields against fingerprints;
:mod:`attribution` weighs the hits and :mod:`camera` decides what the device is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cctv_sentinel.identify import oui
from cctv_sentinel.identify.catalogue import Catalogue, Fingerprint, OemEntry
from cctv_sentinel.identify.vocabulary import ANY, MODEL_FIELDS
from cctv_sentinel.model import Evidence, Host, Observation

__all__ = [
    "MODEL_KIND",
    "OUI_KIND",
    "OUI_WEIGHT",
    "Hit",
    "Label",
    "Scan",
    "oui_vendor",
    "scan",
]

OUI_WEIGHT: Final = 0.6
"""Weight of the IEEE OUI of the host's MAC.

Stronger than a self-declared label (0.5): OEM firmware rewrites labels but
the network chip keeps its maker's assignment. Weaker than a proprietary
discovery answer (0.9): a module made by one maker can sit inside another
maker's housing, and the OUI then names the module maker.
"""

OUI_KIND: Final = "oui"
MODEL_KIND: Final = "model"
OEM_KIND: Final = "oem"
OUI_SOURCE: Final = "IEEE MA-L/IAB registry as shipped by netaddr"
OUI_NOTE: Final = (
    "the OUI names who registered the network interface's address block; a module "
    "made by one maker inside another brand's housing shows the module maker"
)
MAX_VALUE: Final = 96
"""Characters of a field value kept in an evidence record (page bodies are long)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One piece of evidence plus how it is weighed and what it says about the device."""

    evidence: Evidence
    kind: str
    says: str
    camera: bool | None
    equipment: str | None = None
    """The kind of non-camera equipment this evidence shows (``router``...), if any."""
    model: str | None = None
    """A model number the matched text spells (the rule's ``(?P<model>...)`` group)."""


@dataclass(frozen=True, slots=True)
class Label:
    """A name the device gives itself (ONVIF manufacturer, DHIP vendor, page title...)."""

    probe: str
    field: str
    value: str
    vendor: str | None
    generic: bool
    rank: int


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything the rules found in one host's observations."""

    hits: tuple[Hit, ...]
    labels: tuple[Label, ...]
    models: tuple[str, ...]
    oui: oui.OuiRecord | None
    mac: str | None


def _short(value: str, rule: Fingerprint) -> str:
    if len(value) <= MAX_VALUE:
        return value
    if rule.regex is not None:
        found = rule.regex.search(value)
        if found:
            start = max(0, found.start() - 16)
            return ("\u2026" if start else "") + value[start : start + MAX_VALUE] + "\u2026"
    return value[: MAX_VALUE - 1] + "\u2026"


def _model_group(rule: Fingerprint, value: str) -> str | None:
    if rule.regex is None or "model" not in rule.regex.groupindex:
        return None
    found = rule.regex.search(value)
    model = found.group("model") if found else None
    return model.strip() if model else None


def _requirements_met(rule: Fingerprint, obs: Observation) -> bool:
    for field_name, regex in rule.require:
        value = obs.fields.get(field_name)
        if value is None or regex.search(value) is None:
            return False
    return True


class _Collector:
    """Gathers hits and labels, dropping repeats (the same page on ports 80 and 8080)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.cat = catalogue
        self.hits: list[Hit] = []
        self.labels: list[Label] = []
        self._seen: set[tuple[str, str | None, str]] = set()
        self._seen_labels: set[tuple[str, str, str]] = set()

    def add(self, hit: Hit) -> None:
        ev = hit.evidence
        key = (ev.rule, ev.maker, ev.value.casefold())
        if key in self._seen:
            return
        self._seen.add(key)
        self.hits.append(hit)

    def rule(self, rule: Fingerprint, obs: Observation, field_name: str, value: str) -> None:
        if rule.match == "label":
            self.label(rule, obs, field_name, value)
            return
        self.add(
            Hit(
                evidence=Evidence(
                    probe=obs.probe,
                    field=field_name if field_name != ANY else "answer",
                    value=_short(value, rule),
                    maker=rule.maker,
                    weight=rule.weight if rule.maker else 0.0,
                    rule=rule.id,
                    source=rule.source,
                    note=rule.note,
                ),
                kind=rule.kind,
                says=rule.says,
                camera=rule.camera,
                equipment=rule.equipment,
                model=_model_group(rule, value),
            )
        )

    def label(self, rule: Fingerprint, obs: Observation, field_name: str, value: str) -> None:
        key = (obs.probe, field_name, value.casefold())
        if key in self._seen_labels:
            return
        self._seen_labels.add(key)
        generic = self.cat.is_generic(value)
        vendor_id = None if generic else self.cat.resolve_label(value)
        self.labels.append(
            Label(obs.probe, field_name, value, vendor_id, generic, rank=len(self.labels))
        )
        if vendor_id is None:
            return
        vendor = self.cat.vendors[vendor_id]
        maker = self.cat.maker_of(vendor_id)
        # A pure relabeller's name says nothing about who made the device; the OEM
        # table speaks for it instead (see attribution).
        claims = vendor.role == "maker" or vendor.made_by is not None
        note = (
            ""
            if maker == vendor_id
            else f"{vendor.name} devices are made by {self.cat.name_of(maker)}"
        )
        self.add(
            Hit(
                evidence=Evidence(
                    probe=obs.probe,
                    field=field_name,
                    value=_short(value, rule),
                    maker=maker if claims else None,
                    weight=rule.weight if claims else 0.0,
                    rule=rule.id,
                    source=f"{rule.source}; {vendor.source}" if note else rule.source,
                    note=note or ("" if claims else f"{vendor.name} sells products made by others"),
                ),
                kind=rule.kind,
                says=f"{rule.says} {value}",
                camera=rule.camera,
            )
        )


def _models(host: Host) -> tuple[str, ...]:
    found: list[str] = []
    for probe, field_name in MODEL_FIELDS:
        for obs in host.observations:
            if obs.probe != probe:
                continue
            value = obs.fields.get(field_name)
            if value and value not in found:
                found.append(value)
    return tuple(found)


def _host_mac(host: Host) -> str | None:
    if host.mac:
        return host.mac
    for obs in host.observations:
        if obs.mac:
            return obs.mac
    return None


def oem_hit(entry: OemEntry, catalogue: Catalogue, value: str, why: str) -> Hit:
    """Evidence that a brand's line is made by ``entry.maker`` (from the OEM table)."""
    period = entry.period()
    brand = catalogue.name_of(entry.brand)
    maker = catalogue.name_of(entry.maker)
    note = f"{brand} {entry.lines}: made by {maker}" + (f" ({period})" if period else "")
    return Hit(
        evidence=Evidence(
            probe="catalogue",
            field=why,
            value=value,
            maker=catalogue.maker_of(entry.maker),
            weight=entry.weight,
            rule=f"oem:{entry.id}",
            source=entry.source,
            note=note,
        ),
        kind=OEM_KIND,
        says=f"{brand} OEM record",
        camera=None,
    )


def _oui_hit(record: oui.OuiRecord, catalogue: Catalogue, *, by_arp: bool) -> Hit:
    vendor_id = catalogue.vendor_for_ieee(record.org)
    vendor = catalogue.vendors.get(vendor_id) if vendor_id else None
    maker: str | None = None
    note = "registrant not in the catalogue"
    if vendor is not None:
        if vendor.role == "maker" or vendor.made_by is not None:
            maker = catalogue.maker_of(vendor.id)
            note = OUI_NOTE
        else:
            # A brand registered the address block for products others make;
            # the OEM table, not the OUI, says who made them.
            note = f"registered to {vendor.name}, a brand that sells products made by others"
    return Hit(
        evidence=Evidence(
            probe="arp" if by_arp else "mac",
            field="oui",
            value=f"{record.prefix} ({record.org})",
            maker=maker,
            weight=OUI_WEIGHT if maker else 0.0,
            rule="oui",
            source=OUI_SOURCE,
            note=note,
        ),
        kind=OUI_KIND,
        says=f"OUI {record.prefix} ({record.org})",
        camera=None,
    )


def oui_vendor(found: Scan, catalogue: Catalogue) -> str | None:
    """Vendor id the host's OUI is registered to, if the catalogue knows it."""
    if found.oui is None:
        return None
    return catalogue.vendor_for_ieee(found.oui.org)


def scan(host: Host, catalogue: Catalogue) -> Scan:
    """Run every applicable fingerprint over the host's observations, plus its OUI."""
    col = _Collector(catalogue)
    for obs in host.observations:
        for rule in catalogue.rules_for(obs.probe, ANY):
            if _requirements_met(rule, obs):
                col.rule(rule, obs, ANY, f"{obs.probe} answered")
        for field_name, value in obs.fields.items():
            if not value:
                continue
            for rule in catalogue.rules_for(obs.probe, field_name):
                if rule.matches(value) and _requirements_met(rule, obs):
                    col.rule(rule, obs, field_name, value)
    mac = _host_mac(host)
    record = oui.lookup(mac)
    if record is not None:
        col.add(_oui_hit(record, catalogue, by_arp=host.mac is not None))
    return Scan(
        hits=tuple(col.hits),
        labels=tuple(col.labels),
        models=_models(host),
        oui=record,
        mac=mac,
    )
