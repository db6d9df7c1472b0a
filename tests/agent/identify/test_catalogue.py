"""The catalogue: shipped data is complete and sourced; bad data is refused in one line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netaddr
import pytest
import yaml

from cctv_sentinel.errors import CatalogueError
from cctv_sentinel.identify import Catalogue, load_catalogue
from cctv_sentinel.identify.catalogue import CATALOGUE_DIR, normalise_label
from cctv_sentinel.identify.catalogue.loader import MIN_SOURCE_LEN


def _registry_orgs() -> set[str]:
    orgs: set[str] = set()
    base = Path(netaddr.eui.__file__).parent
    for name in ("oui.txt", "iab.txt"):
        for line in (base / name).read_text(encoding="utf-8", errors="replace").splitlines():
            if "(hex)" in line:
                orgs.add(line.split("(hex)", 1)[1].strip())
    return orgs


def test_packaged_catalogue_loads_with_a_version(catalogue: Catalogue) -> None:
    assert catalogue.version
    assert catalogue.updated
    assert len(catalogue.vendors) >= 40
    assert {
        "hikvision",
        "dahua",
        "huawei",
        "zte",
        "hytera",
        "uniview",
        "tiandy",
        "xiongmai",
    } <= set(catalogue.vendors)
    assert {
        "hanwha",
        "axis",
        "bosch",
        "mobotix",
        "vivotek",
        "ubiquiti",
        "reolink",
        "i-pro",
        "avigilon",
        "sony",
        "canon",
        "honeywell",
    } <= set(catalogue.vendors)


def test_required_regimes_are_present(catalogue: Catalogue) -> None:
    assert set(catalogue.regimes) == {
        "us-fcc-covered-list",
        "us-ndaa-889",
        "us-entity-list",
        "uk-2022-sensitive-sites",
        "au-2023-government-removal",
    }
    for regime_id in ("us-fcc-covered-list", "us-ndaa-889"):
        assert {"huawei", "zte", "hytera", "hikvision", "dahua"} <= set(
            catalogue.regimes[regime_id].makers
        )
    assert catalogue.regimes["uk-2022-sensitive-sites"].countries == ("CN",)


def test_every_fact_carries_a_source(catalogue: Catalogue) -> None:
    items: list[Any] = [
        *catalogue.vendors.values(),
        *catalogue.oem,
        *catalogue.fingerprints,
        *catalogue.regimes.values(),
    ]
    for item in items:
        assert len(item.source) >= MIN_SOURCE_LEN, item.id
    for vendor in catalogue.vendors.values():
        for rel in vendor.relations:
            assert len(rel.source) >= MIN_SOURCE_LEN, vendor.id


def test_ieee_names_are_spelled_as_the_registry_spells_them(catalogue: Catalogue) -> None:
    orgs = _registry_orgs()
    wrong = [(v.id, n) for v in catalogue.vendors.values() for n in v.ieee_names if n not in orgs]
    assert wrong == []


def test_oem_brands_and_makers_are_related_by_data(catalogue: Catalogue) -> None:
    """Every OEM maker is a real maker, every OEM brand relabels (or also sells others' lines)."""
    for entry in catalogue.oem:
        assert catalogue.vendors[entry.maker].role == "maker", entry.id


def test_label_resolution(catalogue: Catalogue) -> None:
    assert catalogue.resolve_label("HIKVISION DS-2CD2143G2-I") == "hikvision"
    assert catalogue.resolve_label("ZheJiang Dahua Technology CO.,LTD.") == "dahua"
    assert catalogue.resolve_label("Wisenet") == "hanwha"
    assert catalogue.resolve_label("Acme Cameras") is None
    assert catalogue.is_generic("IPCAM")
    assert catalogue.is_generic("ipcam ")
    assert catalogue.maker_of("ezviz") == "hikvision"
    assert catalogue.maker_of("imou") == "dahua"
    assert "hikvision" in catalogue.ancestors("ezviz")
    assert "dahua" not in catalogue.ancestors("lorex")  # sold in 2022
    assert "dahua" in catalogue.ancestors("lorex", current_only=False)


def test_loading_is_cached() -> None:
    assert load_catalogue() is load_catalogue()
    assert load_catalogue(CATALOGUE_DIR) is load_catalogue()


# ------------------------------------------------------------------ refusals

Mutator = Callable[[dict[str, Any]], None]


def _broken(tmp_path: Path, filename: str, mutate: Mutator) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    doc = yaml.safe_load((target / filename).read_text())
    mutate(doc)
    (target / filename).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def _vendor(doc: dict[str, Any], vendor_id: str) -> dict[str, Any]:
    return next(v for v in doc["vendors"] if v["id"] == vendor_id)


def _rule(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in doc["rules"] if r["id"] == rule_id)


BROKEN: list[tuple[str, str, Mutator, str]] = [
    (
        "vendor-without-source",
        "vendors.yaml",
        lambda d: _vendor(d, "axis").pop("source"),
        "vendor 'axis': missing 'source'",
    ),
    (
        "empty-source",
        "vendors.yaml",
        lambda d: _vendor(d, "axis").update(source="see web"),
        "'source' must be a URL",
    ),
    ("oem-without-source", "oem.yaml", lambda d: d["oem"][0].pop("source"), "missing 'source'"),
    (
        "rule-without-source",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").pop("source"),
        "rule 'hikvision-sadp': missing 'source'",
    ),
    (
        "regime-without-source",
        "regimes.yaml",
        lambda d: d["regimes"][0].pop("source"),
        "missing 'source'",
    ),
    (
        "relation-without-source",
        "vendors.yaml",
        lambda d: _vendor(d, "ezviz")["relations"][0].pop("source"),
        "relation #1: missing 'source'",
    ),
    (
        "unknown-vendor-key",
        "vendors.yaml",
        lambda d: _vendor(d, "axis").update(homepage="https://axis.com"),
        "unknown key 'homepage'",
    ),
    (
        "unknown-rule-key",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(wieght=0.9),
        "unknown key 'wieght'",
    ),
    ("unknown-top-level-key", "oem.yaml", lambda d: d.update(brands=[]), "unknown key 'brands'"),
    (
        "duplicate-alias",
        "vendors.yaml",
        lambda d: _vendor(d, "axis")["aliases"].append("Hikvision Digital Technology"),
        "duplicate alias",
    ),
    (
        "alias-repeats-name",
        "vendors.yaml",
        lambda d: _vendor(d, "dahua")["aliases"].append("DAHUA"),
        "repeats its name",
    ),
    (
        "alias-is-generic",
        "vendors.yaml",
        lambda d: _vendor(d, "axis")["aliases"].append("IPCAM"),
        "generic label",
    ),
    (
        "duplicate-vendor-id",
        "vendors.yaml",
        lambda d: d["vendors"].append(
            dict(_vendor(d, "axis"), name="Axis 2", aliases=[], legal_names=[], ieee_names=[])
        ),
        "duplicate id 'axis'",
    ),
    (
        "ieee-name-claimed-twice",
        "vendors.yaml",
        lambda d: _vendor(d, "axis")["ieee_names"].append("Mobotix AG"),
        "claimed by",
    ),
    (
        "dangling-oem-maker",
        "oem.yaml",
        lambda d: d["oem"][0].update(maker="acme"),
        "unknown vendor 'acme'",
    ),
    (
        "dangling-oem-brand",
        "oem.yaml",
        lambda d: d["oem"][0].update(brand="acme"),
        "unknown vendor 'acme'",
    ),
    (
        "dangling-rule-maker",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(maker="hikvison"),
        "unknown vendor 'hikvison'",
    ),
    (
        "dangling-regime-maker",
        "regimes.yaml",
        lambda d: d["regimes"][0]["makers"].append("acme"),
        "unknown vendor 'acme'",
    ),
    (
        "dangling-relation",
        "vendors.yaml",
        lambda d: _vendor(d, "ezviz")["relations"][0].update(parent="hikvison"),
        "unknown vendor 'hikvison'",
    ),
    (
        "dangling-made-by",
        "vendors.yaml",
        lambda d: _vendor(d, "ezviz").update(made_by="hikvison"),
        "unknown vendor 'hikvison'",
    ),
    (
        "made-by-cycle",
        "vendors.yaml",
        lambda d: _vendor(d, "hikvision").update(made_by="ezviz"),
        "made_by cycle",
    ),
    (
        "unknown-observation-field",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(fields=["sadp.modle"]),
        "unknown observation field 'sadp.modle'",
    ),
    (
        "unknown-probe",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(fields=["sapd.*"]),
        "unknown observation field",
    ),
    (
        "bad-regex",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-model").update(pattern="^(DS-"),
        "not a valid regular expression",
    ),
    (
        "pattern-missing",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-model").pop("pattern"),
        "needs a 'pattern'",
    ),
    (
        "weight-out-of-range",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(weight=1.5),
        "'weight' must be within",
    ),
    (
        "unknown-kind",
        "fingerprints.yaml",
        lambda d: _rule(d, "hikvision-sadp").update(kind="magic"),
        "'kind' must be one of",
    ),
    (
        "label-rule-with-maker",
        "fingerprints.yaml",
        lambda d: _rule(d, "onvif-manufacturer").update(maker="hikvision"),
        "through the vendor aliases",
    ),
    (
        "rule-without-purpose",
        "fingerprints.yaml",
        lambda d: _rule(d, "onvif-nvt-type").pop("camera"),
        "must name a 'maker'",
    ),
    (
        "bad-country",
        "vendors.yaml",
        lambda d: _vendor(d, "axis").update(country="Sweden"),
        "ISO 3166",
    ),
    (
        "bad-effective-date",
        "regimes.yaml",
        lambda d: d["regimes"][0].update(effective="soon"),
        "must be a date",
    ),
    (
        "relation-years-reversed",
        "vendors.yaml",
        lambda d: _vendor(d, "lorex")["relations"][1].update(**{"from": 2022, "to": 2018}),
        "'to' is before 'from'",
    ),
    ("empty-list", "oem.yaml", lambda d: d.update(oem=[]), "must be a non-empty list"),
    ("meta-without-version", "meta.yaml", lambda d: d.pop("version"), "missing 'version'"),
]


@pytest.mark.parametrize(
    ("filename", "mutate", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_bad_catalogue_is_refused(
    tmp_path: Path, filename: str, mutate: Mutator, message: str
) -> None:
    path = _broken(tmp_path, filename, mutate)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert text.startswith(filename.split(".", maxsplit=1)[0]) or filename in text


def test_invalid_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    (target / "oem.yaml").write_text("oem:\n  - id: x\n    lines: a: b\n")
    with pytest.raises(CatalogueError, match=r"oem\.yaml is not valid YAML at line 3"):
        load_catalogue(target)


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        load_catalogue(tmp_path / "nowhere")
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    (target / "regimes.yaml").unlink()
    with pytest.raises(CatalogueError, match=r"cannot read catalogue file .*regimes\.yaml"):
        load_catalogue(target)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target)
    (target / "oem.yaml").write_text("# " + "x" * (3 * 1024 * 1024))
    with pytest.raises(CatalogueError, match="is larger than 2 MiB"):
        load_catalogue(target)


def test_a_valid_copy_loads_and_a_fix_shows_up(tmp_path: Path) -> None:
    path = _broken(tmp_path, "meta.yaml", lambda d: d.update(version="9999.1"))
    assert load_catalogue(path).version == "9999.1"


def test_normalise_label() -> None:
    assert (
        normalise_label("ZheJiang Dahua Technology CO.,LTD.") == "zhejiang dahua technology co ltd"
    )
    assert normalise_label("  i-PRO ") == "i pro"
