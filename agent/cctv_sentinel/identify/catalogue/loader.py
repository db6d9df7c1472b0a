"""Load, validate and index the vendor catalogue (``identify/data/*.yaml``).

The catalogue is data about the world: who makes what, which labels are
relabels of whom, which protocol fingerprints betray a maker, and which
government regimes cover which makers. Every fact carries its public source;
the loader refuses an entry without one, unknown keys, duplicate aliases and
references to ids that do not exist, each with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from cctv_sentinel._util.files import load_yaml
from cctv_sentinel.errors import CatalogueError
from cctv_sentinel.identify import vocabulary
from cctv_sentinel.identify.catalogue.model import (
    EQUIPMENT_KINDS,
    Catalogue,
    EquipmentCover,
    Fingerprint,
    GenericLabels,
    OemEntry,
    Regime,
    Relation,
    Vendor,
    normalise_label,
)

__all__ = ["CATALOGUE_DIR", "load_catalogue"]

CATALOGUE_DIR: Final = Path(__file__).resolve().parent.parent / "data"
"""The catalogue shipped with the package."""

FILES: Final = ("meta.yaml", "vendors.yaml", "oem.yaml", "fingerprints.yaml", "regimes.yaml")

MAX_FILE_BYTES: Final = 2 * 1024 * 1024
"""A catalogue file larger than this is not ours (the shipped files are < 100 KiB)."""

ROLES: Final = frozenset({"maker", "brand"})
"""``maker``: designs/makes what it sells; ``brand``: sells others' products under its name."""

RELATION_KINDS: Final = frozenset({"subsidiary", "affiliate", "joint-venture", "brand", "owner"})
"""How a vendor hangs off its parent (``owner``: a holding that owns it)."""

MATCHES: Final = frozenset({"present", "equals", "prefix", "contains", "regex", "label"})
"""How a fingerprint compares a field: ``label`` resolves it against vendor aliases."""

KINDS: Final = frozenset(
    {
        "proprietary",
        "endpoint",
        "banner",
        "page",
        "certificate",
        "mdns",
        "ssdp",
        "label",
        "model",
        "service",
        "type",
        "equipment",
    }
)
"""Evidence channels. Evidence within one channel is not independent (max, not sum)."""

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MIN_SOURCE_LEN: Final = 8
"""A source shorter than this cannot be a URL, ``owner/repo:path`` or a dated title."""


# ------------------------------------------------------------------ validation


class _Section:
    """Reads one mapping entry and turns problems into CatalogueError lines."""

    def __init__(
        self, where: str, data: Any, allowed: Iterable[str], required: Iterable[str]
    ) -> None:
        self.where = where
        if not isinstance(data, Mapping):
            raise CatalogueError(f"{where}: expected a mapping, got {type(data).__name__}")
        allowed_set = frozenset(allowed)
        unknown = sorted(str(k) for k in data if k not in allowed_set)
        if unknown:
            raise CatalogueError(f"{where}: unknown key {unknown[0]!r}")
        for key in required:
            if key not in data or data[key] is None or data[key] == "":
                raise CatalogueError(f"{where}: missing {key!r}")
        self.data: Mapping[str, Any] = data

    def fail(self, message: str) -> CatalogueError:
        return CatalogueError(f"{self.where}: {message}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(f"missing {key!r}")
        if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
            raise self.fail(f"{key!r} must be text")
        text = str(value).strip()
        if not text and default is None:
            raise self.fail(f"{key!r} is empty")
        return text

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.data.get(key) is not None else None

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{key!r} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key!r} must be true or false")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key!r} must be a number")
        if not low <= float(value) <= high:
            raise self.fail(f"{key!r} must be within {low}..{high}")
        return float(value)

    def year(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
            raise self.fail(f"{key!r} must be a year")
        return value

    def source(self) -> str:
        src = self.text("source")
        if len(src) < MIN_SOURCE_LEN:
            raise self.fail("'source' must be a URL, owner/repo:path or a dated document title")
        return src

    def slug(self, key: str) -> str:
        value = self.text(key)
        if not _SLUG.match(value):
            raise self.fail(f"{key!r} {value!r} is not a lower-case slug")
        return value

    def regex(self, key: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise self.fail(f"{key!r} is not a valid regular expression: {err}") from err


def _read_yaml(path: Path) -> Any:
    return load_yaml(path, what="catalogue file", max_bytes=MAX_FILE_BYTES, error=CatalogueError)


def _entries(doc: Any, filename: str, key: str) -> list[Any]:
    if not isinstance(doc, Mapping):
        raise CatalogueError(f"{filename}: expected a mapping with {key!r}")
    extra = sorted(str(k) for k in doc if k != key)
    if extra:
        raise CatalogueError(f"{filename}: unknown key {extra[0]!r}")
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise CatalogueError(f"{filename}: {key!r} must be a non-empty list")
    return items


def _relation(where: str, data: Any) -> Relation:
    s = _Section(
        where, data, ("parent", "kind", "from", "to", "source"), ("parent", "kind", "source")
    )
    kind = s.text("kind")
    if kind not in RELATION_KINDS:
        raise s.fail(f"'kind' must be one of {', '.join(sorted(RELATION_KINDS))}")
    start, end = s.year("from"), s.year("to")
    if start is not None and end is not None and end < start:
        raise s.fail("'to' is before 'from'")
    return Relation(parent=s.slug("parent"), kind=kind, start=start, end=end, source=s.source())


_VENDOR_KEYS = (
    "id",
    "name",
    "legal_names",
    "ieee_names",
    "aliases",
    "country",
    "role",
    "surveillance",
    "made_by",
    "relations",
    "source",
    "note",
    "jurisdiction_uncertain",
)


def _vendor(index: int, data: Any) -> Vendor:
    where = f"vendors.yaml: vendor #{index + 1}"
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        where = f"vendors.yaml: vendor {data['id']!r}"
    s = _Section(where, data, _VENDOR_KEYS, ("id", "name", "country", "role", "source"))
    country = s.text("country")
    if not _COUNTRY.match(country):
        raise s.fail("'country' must be an ISO 3166 alpha-2 code")
    role = s.text("role")
    if role not in ROLES:
        raise s.fail(f"'role' must be one of {', '.join(sorted(ROLES))}")
    rels_raw = data.get("relations") or []
    if not isinstance(rels_raw, list):
        raise s.fail("'relations' must be a list")
    relations = tuple(_relation(f"{where} relation #{i + 1}", r) for i, r in enumerate(rels_raw))
    made_by = s.slug("made_by") if data.get("made_by") is not None else None
    return Vendor(
        id=s.slug("id"),
        name=s.text("name"),
        legal_names=s.texts("legal_names"),
        ieee_names=s.texts("ieee_names"),
        aliases=s.texts("aliases"),
        country=country,
        role=role,
        surveillance=s.flag("surveillance", default=False),
        made_by=made_by,
        relations=relations,
        source=s.source(),
        note=s.text("note", ""),
        jurisdiction_uncertain=s.text("jurisdiction_uncertain", ""),
    )


_OEM_KEYS = ("id", "brand", "maker", "lines", "models", "from", "to", "weight", "source", "note")


def _oem(index: int, data: Any) -> OemEntry:
    where = f"oem.yaml: entry #{index + 1}"
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        where = f"oem.yaml: entry {data['id']!r}"
    s = _Section(where, data, _OEM_KEYS, ("id", "brand", "maker", "lines", "weight", "source"))
    models = s.opt_text("models")
    start, end = s.year("from"), s.year("to")
    if start is not None and end is not None and end < start:
        raise s.fail("'to' is before 'from'")
    return OemEntry(
        id=s.slug("id"),
        brand=s.slug("brand"),
        maker=s.slug("maker"),
        lines=s.text("lines"),
        models=s.regex("models", models) if models else None,
        start=start,
        end=end,
        weight=s.number("weight", 0.05, 0.95),
        source=s.source(),
        note=s.text("note", ""),
    )


_RULE_KEYS = (
    "id",
    "fields",
    "match",
    "pattern",
    "require",
    "maker",
    "weight",
    "kind",
    "camera",
    "equipment",
    "says",
    "source",
    "note",
)


def _targets(s: _Section) -> tuple[tuple[str, str], ...]:
    raw = s.texts("fields")
    if not raw:
        raise s.fail("'fields' must name at least one probe.field")
    out: list[tuple[str, str]] = []
    for item in raw:
        probe, sep, field_name = item.partition(".")
        if not sep or not vocabulary.known_field(probe, field_name):
            raise s.fail(f"'fields' names unknown observation field {item!r}")
        out.append((probe, field_name))
    return tuple(out)


def _compile_match(s: _Section, match: str, pattern: str | None) -> re.Pattern[str] | None:
    if match in {"present", "label"}:
        if pattern is not None:
            raise s.fail(f"match {match!r} takes no 'pattern'")
        return None
    if pattern is None:
        raise s.fail(f"match {match!r} needs a 'pattern'")
    if match == "equals":
        return s.regex("pattern", f"^{re.escape(pattern)}$")
    if match == "prefix":
        return s.regex("pattern", f"^{re.escape(pattern)}")
    if match == "contains":
        return s.regex("pattern", re.escape(pattern))
    return s.regex("pattern", pattern)


def _equipment_kind(s: _Section, camera: bool | None) -> str | None:
    equipment = s.opt_text("equipment")
    if equipment is not None and (camera is not False or equipment not in EQUIPMENT_KINDS):
        raise s.fail(
            "'equipment' needs 'camera: false' and one of " + ", ".join(sorted(EQUIPMENT_KINDS))
        )
    return equipment


def _rule(index: int, data: Any) -> Fingerprint:
    where = f"fingerprints.yaml: rule #{index + 1}"
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        where = f"fingerprints.yaml: rule {data['id']!r}"
    s = _Section(
        where, data, _RULE_KEYS, ("id", "fields", "match", "weight", "kind", "says", "source")
    )
    match = s.text("match")
    if match not in MATCHES:
        raise s.fail(f"'match' must be one of {', '.join(sorted(MATCHES))}")
    kind = s.text("kind")
    if kind not in KINDS:
        raise s.fail(f"'kind' must be one of {', '.join(sorted(KINDS))}")
    targets = _targets(s)
    pattern = s.opt_text("pattern")
    regex = _compile_match(s, match, pattern)
    req_raw = data.get("require") or {}
    if not isinstance(req_raw, Mapping):
        raise s.fail("'require' must map field names to regular expressions")
    probes = {p for p, _ in targets}
    require: list[tuple[str, re.Pattern[str]]] = []
    for fname, pat in req_raw.items():
        if not isinstance(fname, str) or not isinstance(pat, str | int):
            raise s.fail("'require' must map field names to regular expressions")
        if not all(vocabulary.known_field(p, fname) for p in probes):
            raise s.fail(f"'require' names unknown field {fname!r}")
        require.append((fname, s.regex(f"require.{fname}", str(pat))))
    maker = s.slug("maker") if data.get("maker") is not None else None
    weight = s.number("weight", 0.0, 0.99)
    camera_raw = data.get("camera")
    if camera_raw is not None and not isinstance(camera_raw, bool):
        raise s.fail("'camera' must be true or false")
    camera: bool | None = camera_raw
    equipment = _equipment_kind(s, camera)
    if match == "label":
        if maker is not None:
            raise s.fail("a 'label' rule names its maker through the vendor aliases, not 'maker'")
    elif maker is None and camera is None:
        raise s.fail("a rule must name a 'maker' or say whether it shows a camera ('camera')")
    return Fingerprint(
        id=s.slug("id"),
        on=targets,
        match=match,
        pattern=pattern,
        regex=regex,
        require=tuple(require),
        maker=maker,
        weight=weight,
        kind=kind,
        camera=camera,
        says=s.text("says"),
        source=s.source(),
        note=s.text("note", ""),
        equipment=equipment,
    )


_REGIME_KEYS = (
    "id",
    "jurisdiction",
    "name",
    "short",
    "effective",
    "scope",
    "makers",
    "related",
    "countries",
    "equipment",
    "source",
    "note",
)


def _cover(where: str, data: Any) -> EquipmentCover:
    s = _Section(where, data, ("kinds", "makers", "basis", "source"), ("kinds", "makers", "basis"))
    kinds = s.texts("kinds")
    unknown = [k for k in kinds if k not in EQUIPMENT_KINDS]
    if not kinds or unknown:
        raise s.fail("'kinds' must list some of " + ", ".join(sorted(EQUIPMENT_KINDS)))
    makers = s.texts("makers")
    if not makers or not all(_SLUG.match(m) for m in makers):
        raise s.fail("'makers' must list vendor ids")
    return EquipmentCover(kinds=kinds, makers=makers, basis=s.text("basis"))


def _regime(index: int, data: Any) -> Regime:
    where = f"regimes.yaml: regime #{index + 1}"
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        where = f"regimes.yaml: regime {data['id']!r}"
    s = _Section(
        where,
        data,
        _REGIME_KEYS,
        ("id", "jurisdiction", "name", "short", "effective", "scope", "source"),
    )
    raw_date = data.get("effective")
    if isinstance(raw_date, dt.datetime):
        effective = raw_date.date()
    elif isinstance(raw_date, dt.date):
        effective = raw_date
    else:
        try:
            effective = dt.date.fromisoformat(str(raw_date))
        except ValueError as err:
            raise s.fail("'effective' must be a date (YYYY-MM-DD)") from err
    makers = s.texts("makers")
    for m in makers:
        if not _SLUG.match(m):
            raise s.fail(f"maker {m!r} is not a vendor id")
    countries = s.texts("countries")
    for c in countries:
        if not _COUNTRY.match(c):
            raise s.fail(f"country {c!r} is not an ISO 3166 alpha-2 code")
    if not makers and not countries:
        raise s.fail("a regime must cover 'makers' or 'countries'")
    covers_raw = data.get("equipment") or []
    if not isinstance(covers_raw, list):
        raise s.fail("'equipment' must be a list")
    equipment = tuple(_cover(f"{where} equipment #{i + 1}", c) for i, c in enumerate(covers_raw))
    return Regime(
        id=s.slug("id"),
        jurisdiction=s.text("jurisdiction"),
        name=s.text("name"),
        short=s.text("short"),
        effective=effective,
        scope=s.text("scope"),
        makers=makers,
        related=s.flag("related", default=True),
        countries=countries,
        source=s.source(),
        note=s.text("note", ""),
        equipment=equipment,
    )


def _generic(doc: Any) -> GenericLabels:
    s = _Section(
        "fingerprints.yaml: generic_labels", doc, ("values", "source"), ("values", "source")
    )
    values = frozenset(normalise_label(v) for v in s.texts("values"))
    return GenericLabels(values=values - {""}, source=s.source())


def _unique(kind: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise CatalogueError(f"{kind}: duplicate id {item!r}")
        seen.add(item)


def _check_refs(
    vendors: Mapping[str, Vendor],
    oem: Iterable[OemEntry],
    rules: Iterable[Fingerprint],
    regimes: Iterable[Regime],
) -> None:
    def need(where: str, ref: str | None) -> None:
        if ref is not None and ref not in vendors:
            raise CatalogueError(f"{where}: unknown vendor {ref!r}")

    for v in vendors.values():
        need(f"vendors.yaml: vendor {v.id!r} made_by", v.made_by)
        if v.made_by == v.id:
            raise CatalogueError(f"vendors.yaml: vendor {v.id!r} is made_by itself")
        for rel in v.relations:
            need(f"vendors.yaml: vendor {v.id!r} relation", rel.parent)
            if rel.parent == v.id:
                raise CatalogueError(f"vendors.yaml: vendor {v.id!r} is its own parent")
    for e in oem:
        need(f"oem.yaml: entry {e.id!r} brand", e.brand)
        need(f"oem.yaml: entry {e.id!r} maker", e.maker)
        if e.brand == e.maker:
            raise CatalogueError(f"oem.yaml: entry {e.id!r} maps a brand to itself")
    for r in rules:
        need(f"fingerprints.yaml: rule {r.id!r} maker", r.maker)
    for g in regimes:
        covered = [m for cover in g.equipment for m in cover.makers]
        for m in (*g.makers, *covered):
            need(f"regimes.yaml: regime {g.id!r} makers", m)


def _label_index(vendors: Mapping[str, Vendor], generic: GenericLabels) -> dict[str, str]:
    index: dict[str, str] = {}
    for v in vendors.values():
        names = {normalise_label(n) for n in (v.name, *v.aliases, *v.legal_names)}
        names.discard("")
        for raw in v.aliases:
            if raw != v.name and normalise_label(raw) == normalise_label(v.name):
                raise CatalogueError(
                    f"vendors.yaml: vendor {v.id!r}: alias {raw!r} repeats its name"
                )
        for norm in sorted(names):
            if norm in generic.values:
                raise CatalogueError(
                    f"vendors.yaml: vendor {v.id!r}: alias {norm!r} is listed as a generic label"
                )
            other = index.get(norm)
            if other is not None and other != v.id:
                raise CatalogueError(
                    f"vendors.yaml: duplicate alias {norm!r} (vendors {other!r} and {v.id!r})"
                )
            index[norm] = v.id
    return index


def _ieee_index(vendors: Mapping[str, Vendor]) -> dict[str, str]:
    index: dict[str, str] = {}
    for v in vendors.values():
        for name in v.ieee_names:
            norm = normalise_label(name)
            other = index.get(norm)
            if other is not None and other != v.id:
                raise CatalogueError(
                    f"vendors.yaml: IEEE name {name!r} claimed by {other!r} and {v.id!r}"
                )
            index[norm] = v.id
    return index


def _check_cycles(vendors: Mapping[str, Vendor]) -> None:
    for start in vendors:
        seen = {start}
        current: str | None = vendors[start].made_by
        while current is not None:
            if current in seen:
                raise CatalogueError(f"vendors.yaml: made_by cycle through {start!r}")
            seen.add(current)
            current = vendors[current].made_by


def _meta(doc: Any) -> tuple[str, str]:
    s = _Section("meta.yaml", doc, ("version", "updated", "description"), ("version", "updated"))
    return s.text("version"), s.text("updated")


def _build(path: Path) -> Catalogue:
    if not path.is_dir():
        raise CatalogueError(f"catalogue directory {path} does not exist")
    docs = {name: _read_yaml(path / name) for name in FILES}
    version, updated = _meta(docs["meta.yaml"])

    vendor_list = [
        _vendor(i, d)
        for i, d in enumerate(_entries(docs["vendors.yaml"], "vendors.yaml", "vendors"))
    ]
    _unique("vendors.yaml", (v.id for v in vendor_list))
    vendors = {v.id: v for v in vendor_list}

    oem = tuple(_oem(i, d) for i, d in enumerate(_entries(docs["oem.yaml"], "oem.yaml", "oem")))
    _unique("oem.yaml", (e.id for e in oem))

    fp_doc = docs["fingerprints.yaml"]
    if not isinstance(fp_doc, Mapping):
        raise CatalogueError(
            "fingerprints.yaml: expected a mapping with 'generic_labels' and 'rules'"
        )
    extra = sorted(str(k) for k in fp_doc if k not in {"generic_labels", "rules"})
    if extra:
        raise CatalogueError(f"fingerprints.yaml: unknown key {extra[0]!r}")
    generic = _generic(fp_doc.get("generic_labels"))
    rules = tuple(
        _rule(i, d)
        for i, d in enumerate(
            _entries({"rules": fp_doc.get("rules")}, "fingerprints.yaml", "rules")
        )
    )
    _unique("fingerprints.yaml", (r.id for r in rules))

    regime_list = [
        _regime(i, d)
        for i, d in enumerate(_entries(docs["regimes.yaml"], "regimes.yaml", "regimes"))
    ]
    _unique("regimes.yaml", (g.id for g in regime_list))

    _check_refs(vendors, oem, rules, regime_list)
    _check_cycles(vendors)
    labels = _label_index(vendors, generic)
    ieee = _ieee_index(vendors)

    by_field: dict[tuple[str, str], list[Fingerprint]] = {}
    for rule in rules:
        for target in rule.on:
            by_field.setdefault(target, []).append(rule)
    oem_by_brand: dict[str, list[OemEntry]] = {}
    for entry in oem:
        oem_by_brand.setdefault(entry.brand, []).append(entry)

    return Catalogue(
        version=version,
        updated=updated,
        vendors=vendors,
        oem=oem,
        fingerprints=rules,
        regimes={g.id: g for g in regime_list},
        generic=generic,
        path=path,
        _by_field={k: tuple(v) for k, v in by_field.items()},
        _labels=labels,
        _ieee=ieee,
        _oem_by_brand={k: tuple(v) for k, v in oem_by_brand.items()},
        _oem_models=tuple(e for e in oem if e.models is not None),
    )


@functools.lru_cache(maxsize=8)
def _cached(path: Path) -> Catalogue:
    return _build(path)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate the catalogue (the packaged one by default); cached per path.

    Raises CatalogueError with a one-line reason naming the file and entry.
    """
    target = (path or CATALOGUE_DIR).resolve()
    return _cached(target)
