"""The vendor catalogue as data: vendors, OEM relabels, fingerprints, regimes, and its indexes.

Pure: no I/O. :mod:`cctv_sentinel.identify.catalogue.loader` reads and validates
the YAML in ``identify/data/`` and builds a :class:`Catalogue`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = [
    "Catalogue",
    "Fingerprint",
    "GenericLabels",
    "OemEntry",
    "Regime",
    "Relation",
    "Vendor",
    "normalise_label",
]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")

MAX_ALIAS_TOKENS: Final = 6
"""Longest alias (in words) tried as a prefix of a device label."""


def normalise_label(raw: str) -> str:
    """Fold a label for comparison: lower case, punctuation to single spaces.

    ``"ZheJiang Dahua Technology CO.,LTD."`` becomes
    ``"zhejiang dahua technology co ltd"``.
    """
    return _NON_ALNUM.sub(" ", raw.casefold()).strip()


# --------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Relation:
    """One ownership or affiliation link from a vendor to its parent."""

    parent: str
    kind: str
    start: int | None
    end: int | None
    source: str

    @property
    def current(self) -> bool:
        """True when the link still holds (no end year recorded)."""
        return self.end is None


@dataclass(frozen=True, slots=True)
class Vendor:
    """A maker or a brand, as the world knows it."""

    id: str
    name: str
    legal_names: tuple[str, ...]
    ieee_names: tuple[str, ...]
    aliases: tuple[str, ...]
    country: str
    role: str
    surveillance: bool
    made_by: str | None
    relations: tuple[Relation, ...]
    source: str
    note: str = ""
    jurisdiction_uncertain: str = ""
    """Why a regime that covers makers by country may not cover this one (with its source)."""


@dataclass(frozen=True, slots=True)
class OemEntry:
    """A brand's product line that is really made by another maker, for a period."""

    id: str
    brand: str
    maker: str
    lines: str
    models: re.Pattern[str] | None
    start: int | None
    end: int | None
    weight: float
    source: str
    note: str = ""

    def period(self) -> str:
        """The period as text: ``2018-2023``, ``since 2016``, or ``""``."""
        if self.start is not None and self.end is not None:
            return f"{self.start}-{self.end}"
        if self.start is not None:
            return f"since {self.start}"
        if self.end is not None:
            return f"until {self.end}"
        return ""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A rule over one or more observation fields, pointing at a maker or a camera."""

    id: str
    on: tuple[tuple[str, str], ...]
    match: str
    pattern: str | None
    regex: re.Pattern[str] | None
    require: tuple[tuple[str, re.Pattern[str]], ...]
    maker: str | None
    weight: float
    kind: str
    camera: bool | None
    """True: camera-class evidence; False: evidence of some other device; None: no opinion."""
    says: str
    source: str
    note: str = ""
    equipment: str | None = None
    """The kind of non-camera equipment a match shows (``router``, ``ont``...), if any."""

    def matches(self, value: str) -> bool:
        """True when ``value`` satisfies this rule's comparison (not ``require``)."""
        if self.regex is None:  # "present" and "label"
            return bool(value)
        return self.regex.search(value) is not None


EQUIPMENT_KINDS: Final = frozenset(
    {"router", "ont", "cpe", "switch", "radio", "alarm-panel", "access-control", "intercom"}
)
"""Kinds of equipment that is not a camera, as fingerprints and regimes name them."""


@dataclass(frozen=True, slots=True)
class EquipmentCover:
    """Equipment other than cameras that a regime covers: which kinds, by which makers, why."""

    kinds: tuple[str, ...]
    makers: tuple[str, ...]
    basis: str
    """The regime's words that cover it (quoted or closely paraphrased)."""


@dataclass(frozen=True, slots=True)
class Regime:
    """A government restriction and the makers it covers."""

    id: str
    jurisdiction: str
    name: str
    short: str
    effective: dt.date
    scope: str
    makers: tuple[str, ...]
    related: bool
    countries: tuple[str, ...]
    source: str
    note: str = ""
    equipment: tuple[EquipmentCover, ...] = ()
    """Non-camera equipment it covers (cameras and recorders are covered through ``makers``)."""


@dataclass(frozen=True, slots=True)
class GenericLabels:
    """Labels that name no one (``IPCAM``, ``NVT``, ``General``)."""

    values: frozenset[str]
    source: str


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The whole catalogue, validated and indexed for fast attribution."""

    version: str
    updated: str
    vendors: Mapping[str, Vendor]
    oem: tuple[OemEntry, ...]
    fingerprints: tuple[Fingerprint, ...]
    regimes: Mapping[str, Regime]
    generic: GenericLabels
    path: Path
    _by_field: Mapping[tuple[str, str], tuple[Fingerprint, ...]] = field(
        repr=False, default_factory=dict
    )
    _labels: Mapping[str, str] = field(repr=False, default_factory=dict)
    _ieee: Mapping[str, str] = field(repr=False, default_factory=dict)
    _oem_by_brand: Mapping[str, tuple[OemEntry, ...]] = field(repr=False, default_factory=dict)
    _oem_models: tuple[OemEntry, ...] = field(repr=False, default=())

    def vendor(self, vendor_id: str) -> Vendor:
        """Return one vendor by id (KeyError when unknown)."""
        return self.vendors[vendor_id]

    def name_of(self, vendor_id: str | None) -> str | None:
        """Display name of a vendor id, or None."""
        if vendor_id is None:
            return None
        vendor = self.vendors.get(vendor_id)
        return vendor.name if vendor else vendor_id

    def rules_for(self, probe: str, field_name: str) -> tuple[Fingerprint, ...]:
        """Fingerprints that look at ``probe.field`` (``*`` = the probe answered)."""
        return self._by_field.get((probe, field_name), ())

    def is_generic(self, label: str) -> bool:
        """True for a label that names no maker (``IPCAM``, ``NVT``...)."""
        return normalise_label(label) in self.generic.values

    def resolve_label(self, label: str) -> str | None:
        """Vendor id a device label names, or None.

        The whole label is tried first, then its leading words, longest
        first, so ``"HIKVISION DS-2CD2143G2-I"`` resolves to ``hikvision``.
        """
        norm = normalise_label(label)
        if not norm:
            return None
        hit = self._labels.get(norm)
        if hit is not None:
            return hit
        words = norm.split(" ", MAX_ALIAS_TOKENS)
        for n in range(min(len(words) - 1, MAX_ALIAS_TOKENS), 0, -1):
            hit = self._labels.get(" ".join(words[:n]))
            if hit is not None:
                return hit
        return None

    def vendor_for_ieee(self, org: str) -> str | None:
        """Vendor id of an IEEE registry organisation name, or None."""
        return self._ieee.get(normalise_label(org))

    def maker_of(self, vendor_id: str) -> str:
        """The maker a vendor's devices are attributed to (follows ``made_by``)."""
        seen: set[str] = set()
        current = vendor_id
        while current not in seen:
            seen.add(current)
            vendor = self.vendors.get(current)
            if vendor is None or vendor.made_by is None:
                return current
            current = vendor.made_by
        return current

    def ancestors(self, vendor_id: str, *, current_only: bool = True) -> tuple[str, ...]:
        """Every parent up the ownership graph (nearest first), without ``vendor_id``."""
        out: list[str] = []
        queue = [vendor_id]
        while queue:
            vendor = self.vendors.get(queue.pop(0))
            if vendor is None:
                continue
            for rel in vendor.relations:
                if current_only and not rel.current:
                    continue
                if rel.parent != vendor_id and rel.parent not in out:
                    out.append(rel.parent)
                    queue.append(rel.parent)
        return tuple(out)

    def related(self, a: str, b: str) -> bool:
        """True when one vendor is the other, its maker, or in its ownership graph."""
        if a == b:
            return True
        ma, mb = self.maker_of(a), self.maker_of(b)
        if ma == mb:
            return True
        fam_a = {
            a,
            ma,
            *self.ancestors(a, current_only=False),
            *self.ancestors(ma, current_only=False),
        }
        fam_b = {
            b,
            mb,
            *self.ancestors(b, current_only=False),
            *self.ancestors(mb, current_only=False),
        }
        return bool(fam_a & fam_b)

    def oem_for_brand(self, brand_id: str) -> tuple[OemEntry, ...]:
        """OEM entries of one brand."""
        return self._oem_by_brand.get(brand_id, ())

    def oem_by_model(self, model: str) -> tuple[OemEntry, ...]:
        """OEM entries whose model pattern matches ``model``."""
        return tuple(e for e in self._oem_models if e.models is not None and e.models.search(model))

    def makes_via_oem(self, brand_id: str, maker_id: str) -> OemEntry | None:
        """The OEM entry saying ``brand_id`` sells products made by ``maker_id``, if any."""
        for entry in self._oem_by_brand.get(brand_id, ()):
            if entry.maker == maker_id or self.maker_of(entry.maker) == maker_id:
                return entry
        return None

    def country_of(self, vendor_id: str) -> str | None:
        """Country of a vendor, or None when unknown."""
        vendor = self.vendors.get(vendor_id)
        return vendor.country if vendor else None
