"""Device profiles: every file validates, and the validator catches each kind of error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import netaddr
import pytest

from tests.lab.profiles import (
    DEVICES_DIR,
    HOSTILE_DIR,
    PLACEHOLDERS,
    ProfileError,
    clone,
    from_raw,
    load_corpus,
    load_profile,
    placeholder_values,
    substitute,
    validate,
    validate_corpus,
)

HONEST_FILES = sorted(DEVICES_DIR.glob("*.json"))
HOSTILE_FILES = sorted(HOSTILE_DIR.glob("*.json"))
SEEDS = ("hikvision-ds-2cd2143g2-i", "dahua-ipc-hdw2431t-as-s2", "axis-p3245-lve")


@pytest.mark.parametrize("path", HONEST_FILES + HOSTILE_FILES, ids=lambda p: p.stem)
def test_every_profile_file_validates(path: Path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert validate(raw, name=path.stem) == []
    profile = load_profile(path)
    assert profile.id == path.stem
    # After substitution no placeholder is left anywhere.
    assert not any(f"{{{name}}}" in json.dumps(profile.raw) for name in PLACEHOLDERS)


def test_corpus_loads_sorted_without_duplicates():
    honest = load_corpus()
    everything = load_corpus(include_hostile=True)
    assert [p.id for p in honest] == sorted(p.id for p in honest)
    assert {p.id for p in honest} >= set(SEEDS)
    assert not any(p.is_hostile for p in honest)
    assert len(everything) == len(honest) + len(HOSTILE_FILES)
    assert validate_corpus(everything) == []


@pytest.mark.parametrize("path", HONEST_FILES, ids=lambda p: p.stem)
def test_honest_mac_oui_is_ieee_registered(path: Path):
    profile = load_profile(path)
    oui = netaddr.EUI(profile.network.mac).oui
    assert oui.registration().org  # raises NotRegisteredError when unknown


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=lambda p: p.stem)
def test_hostile_profiles_sit_in_their_range(path: Path):
    profile = load_profile(path)
    assert int(profile.network.ip.rsplit(".", 1)[1]) in range(201, 231)
    assert int(profile.network.mac[:2], 16) & 0x02  # locally administered


def test_seed_truths():
    by_id = {p.id: p for p in load_corpus()}
    hik, dahua, axis = (by_id[s] for s in SEEDS)
    assert (hik.truth.manufacturer, hik.truth.restricted) == ("hikvision", True)
    assert (dahua.truth.manufacturer, dahua.truth.restricted) == ("dahua", True)
    assert (axis.truth.manufacturer, axis.truth.restricted) == ("axis", False)
    assert netaddr.EUI(hik.network.mac).oui.registration().org.startswith("Hangzhou Hikvision")
    assert netaddr.EUI(dahua.network.mac).oui.registration().org.startswith("Zhejiang Dahua")
    assert netaddr.EUI(axis.network.mac).oui.registration().org.startswith("Axis")


# --- the validator catches each kind of error -----------------------------------------------


def base() -> dict:
    """A minimal valid profile."""
    return {
        "id": "test-device",
        "description": "a test device",
        "sources": [{"fact": "everything", "source": "this test"}],
        "truth": {
            "kind": "camera",
            "manufacturer": "hikvision",
            "brand": "Hikvision",
            "model": "X",
            "restricted": True,
        },
        "network": {"ip": "198.18.0.50", "mac": "bc:ad:28:00:00:50"},
        "serial": "SERIAL-{mac_bare}",
        "credentials": {"username": "admin", "password": "pw"},
        "http": [{"port": 80, "routes": {"/": {"status": 200, "body": "{ip}"}}}],
        "onvif": {
            "port": 80,
            "path": "/onvif/device_service",
            "device_information": {"Manufacturer": "HIKVISION"},
        },
    }


def test_base_is_valid():
    assert validate(base(), name="test-device") == []


def mutate(path: str, value=None, *, delete: bool = False):
    def apply(raw: dict) -> dict:
        keys = path.split(".")
        target = raw
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if delete:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return raw

    return apply


CASES = [
    ("unknown top-level key", mutate("colour", "red"), "unknown key 'colour'"),
    ("unknown nested key", mutate("truth.vendor", "x"), "profile.truth: unknown key 'vendor'"),
    ("missing sources", mutate("sources", delete=True), "missing required key 'sources'"),
    ("empty sources", mutate("sources", []), "profile.sources: needs at least 1"),
    ("source without source", mutate("sources", [{"fact": "x"}]), "missing required key 'source'"),
    ("missing truth", mutate("truth", delete=True), "missing required key 'truth'"),
    ("missing network", mutate("network", delete=True), "missing required key 'network'"),
    ("kind outside vocabulary", mutate("truth.kind", "doorbell"), "'doorbell' is not one of"),
    ("manufacturer not a slug", mutate("truth.manufacturer", "Hik Vision"), "lower-case slug"),
    ("restricted not bool", mutate("truth.restricted", "yes"), "expected true or false"),
    ("bad IP", mutate("network.ip", "198.18.0.300"), "is not an IPv4 address"),
    ("IP off the lab", mutate("network.ip", "192.168.1.10"), "outside the lab range"),
    ("IP reserved", mutate("network.ip", "198.18.0.5"), "devices use 198.18.0.10-200"),
    (
        "honest in hostile range",
        mutate("network.ip", "198.18.0.210"),
        "devices use 198.18.0.10-200",
    ),
    (
        "routed on the LAN",
        mutate("network.routed", True),
        "a routed device belongs in 198.18.1.0/24",
    ),
    ("bad MAC format", mutate("network.mac", "bc:ad:28:00:00"), "is not a lower-case"),
    ("upper-case MAC", mutate("network.mac", "BC:AD:28:00:00:50"), "is not a lower-case"),
    ("multicast MAC", mutate("network.mac", "01:00:5e:00:00:01"), "is a multicast address"),
    ("id differs from file", mutate("id", "other-device"), "differs from the file name"),
    ("id with bad characters", mutate("id", "Test_Device"), "must match [a-z0-9-]+"),
    (
        "port collision http/rtsp",
        mutate("rtsp", {"port": 80}),
        "port 80: used by both http[0] and rtsp",
    ),
    (
        "port collision tcp/tcp",
        mutate("tcp", [{"port": 8000}, {"port": 8000}]),
        "port 8000: used by both tcp[0] and tcp[1]",
    ),
    ("port out of range", mutate("http.0.port", 70000), "expected a TCP/UDP port"),
    ("port as text", mutate("http.0.port", "80"), "expected a TCP/UDP port"),
    ("onvif off every http port", mutate("onvif.port", 8080), "not one of the http[] ports"),
    ("ONVIF auth without credentials", mutate("credentials", delete=True), "credentials: required"),
    (
        "route auth without credentials",
        lambda raw: mutate("onvif", None)(
            mutate("http.0.routes./", {"auth": "basic", "realm": "r"})(
                mutate("credentials", delete=True)(raw)
            )
        ),
        "credentials: required",
    ),
    ("placeholder typo", mutate("description", "at {IP}"), "unknown placeholder {IP}"),
    (
        "serial placeholder without serial",
        lambda raw: mutate("description", "dev {serial}")(mutate("serial", None)(raw)),
        "{serial} is used",
    ),
    ("banner not hex", mutate("tcp", [{"port": 8000, "banner_hex": "xyz"}]), "hex digits"),
    ("header with newline", mutate("http.0.headers", {"X-A": "a\r\nX-B: b"}), "one-line"),
    ("unknown hostile mode", mutate("hostile", {"teleport": True}), "unknown key 'teleport'"),
    ("bad wsd block", mutate("wsd", {"endpoint": "x"}), "profile.wsd: missing required key"),
    ("dhip mac_in", mutate("dhip", {"device_info": {}, "mac_in": "side"}), "'side' is not one of"),
    (
        "route auth without realm",
        mutate("http.0.routes./", {"auth": "digest"}),
        "auth needs a realm",
    ),
]


@pytest.mark.parametrize(("what", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validator_catches(what, change, expected):
    raw = change(base())
    errors = validate(raw, name="test-device")
    assert any(expected in e for e in errors), (what, errors)


def test_hostile_devices_use_their_own_range():
    raw = base()
    raw["hostile"] = {"udp_flood": 5}
    errors = validate(raw, name="test-device")
    assert any("hostile devices use 198.18.0.201-230" in e for e in errors)
    raw["network"]["ip"] = "198.18.0.220"
    assert validate(raw, name="test-device") == []


def test_routed_device_in_routed_subnet():
    raw = base()
    raw["network"].update(ip="198.18.1.10", routed=True)
    assert validate(raw) == []


def test_placement_off_still_guards_the_lab_range():
    raw = base()
    raw["network"]["ip"] = "198.18.0.250"
    assert validate(raw, placement=False) == []
    raw["network"]["ip"] = "10.0.0.1"
    assert any("outside the lab range" in e for e in validate(raw, placement=False))


def test_not_an_object():
    assert validate([1, 2]) == ["profile: expected a JSON object, got list"]


def test_corpus_duplicates_are_reported():
    one = from_raw(base())
    raw = base()
    raw["id"] = "test-device-2"
    two = from_raw(raw)  # same IP, MAC, serial as one
    errors = validate_corpus([one, two])
    assert any(e.startswith("duplicate ip 198.18.0.50") for e in errors)
    assert any(e.startswith("duplicate mac bc:ad:28:00:00:50") for e in errors)
    assert any(e.startswith("duplicate serial") for e in errors)
    three = from_raw(base())
    assert any(e.startswith("duplicate id test-device") for e in validate_corpus([one, three]))


def test_load_corpus_reports_every_bad_file(tmp_path: Path):
    good = base()
    (tmp_path / "test-device.json").write_text(json.dumps(good))
    bad = base()
    bad["id"] = "wrong-name"
    (tmp_path / "other.json").write_text(json.dumps(bad))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ProfileError) as err:
        load_corpus(directory=tmp_path)
    text = "\n".join(err.value.errors)
    assert "broken.json: not JSON" in text
    assert "other.json: id: 'wrong-name' differs" in text


def test_load_profile_errors(tmp_path: Path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ProfileError, match="expected a JSON object"):
        load_profile(tmp_path / "list.json")


# --- placeholders and clones -------------------------------------------------------------------


def test_placeholder_values():
    values = placeholder_values("198.18.0.7", "bc:ad:28:0a:0b:0c", "S-{MAC_BARE}")
    assert values == {
        "ip": "198.18.0.7",
        "mac": "bc:ad:28:0a:0b:0c",
        "MAC": "BC:AD:28:0A:0B:0C",
        "mac_dash": "bc-ad-28-0a-0b-0c",
        "MAC_DASH": "BC-AD-28-0A-0B-0C",
        "mac_bare": "bcad280a0b0c",
        "MAC_BARE": "BCAD280A0B0C",
        "serial": "S-BCAD280A0B0C",
    }


def test_substitute_keys_values_and_leaves_other_braces():
    values = {"ip": "1.2.3.4", "serial": "S1"}
    out = substitute({"{serial}": ["{ip}", 'x {"a": 1} {other}', 5]}, values)
    assert out == {"S1": ["1.2.3.4", 'x {"a": 1} {other}', 5]}


def test_profile_typed_fields():
    profile = load_profile(DEVICES_DIR / "dahua-ipc-hdw2431t-as-s2.json")
    assert profile.truth.kind == "camera"
    assert profile.network.ip == "198.18.0.22"
    assert profile.tcp_ports == (80, 554, 37777, 49152)
    assert profile.udp_ports == (1900, 3702, 37810)
    assert profile.raw["dhip"]["device_info"]["SerialNo"] == "7F0A2C3PAJ00022"
    assert profile.template["dhip"]["device_info"]["SerialNo"] == "{serial}"
    assert profile.service("sadp") is None
    assert not profile.is_hostile


def test_clone_restamps_every_address_field(tmp_path: Path):
    original = load_profile(DEVICES_DIR / "hikvision-ds-2cd2143g2-i.json")
    copy_ = clone(
        original, "198.18.0.150", "BC:AD:28:00:01:50", "DS-2CD2143G2-I20220315AAWR400000150"
    )
    assert copy_.id == "hikvision-ds-2cd2143g2-i-198-18-0-150"
    assert copy_.network.ip == "198.18.0.150"
    assert copy_.network.mac == "bc:ad:28:00:01:50"
    fields = copy_.raw["sadp"]["fields"]
    assert fields["MAC"] == "bc-ad-28-00-01-50"
    assert fields["IPv4Address"] == "198.18.0.150"
    assert fields["DeviceSN"] == "DS-2CD2143G2-I20220315AAWR400000150"
    assert copy_.raw["wsd"]["endpoint"].endswith("bcad28000150")
    assert copy_.raw["wsd"]["xaddrs"] == ["http://198.18.0.150/onvif/device_service"]
    assert copy_.truth == original.truth
    # The original is untouched and still plays at its own address.
    assert original.raw["sadp"]["fields"]["IPv4Address"] == "198.18.0.21"
    assert validate_corpus([original, copy_]) == []
    # A written clone loads back as the same device.
    path = copy_.write(tmp_path)
    assert path.name == "hikvision-ds-2cd2143g2-i-198-18-0-150.json"
    again = load_profile(path, placement=False)
    assert again.raw == copy_.raw
    # Clones of clones keep working (from the template, not the substituted dict).
    twice = clone(copy_, "198.18.0.151", "bc:ad:28:00:01:51", None, id="x-151")
    assert twice.raw["sadp"]["fields"]["DeviceSN"] == "DS-2CD2143G2-I20220315AAWR400000150"
    assert twice.raw["sadp"]["fields"]["IPv4Address"] == "198.18.0.151"


def test_clone_refuses_addresses_outside_the_lab():
    original = load_profile(DEVICES_DIR / "axis-p3245-lve.json")
    with pytest.raises(ProfileError, match="outside the lab range"):
        clone(original, "192.168.0.10", "ac:cc:8e:00:01:00", None)
    with pytest.raises(ProfileError, match="multicast"):
        clone(original, "198.18.0.99", "01:cc:8e:00:01:00", None)


def test_profile_is_frozen():
    profile = from_raw(copy.deepcopy(base()))
    with pytest.raises(AttributeError):
        profile.id = "x"  # type: ignore[misc]
