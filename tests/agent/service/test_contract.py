"""The MQTT contract as code: what the builders make passes docs/mqtt.schema.json,
and what arrives on the command topic is parsed (or refused) as docs/mqtt.md says."""

from __future__ import annotations

import json
import string
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.model import Evidence
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.contract import CommandError, ScanStatus, Topics, parse_command
from tests.agent.service.support import (
    PAYLOADS,
    axis,
    check,
    dahua_routed,
    facts,
    fixture_payload,
    hikvision,
)

TOPICS = Topics("cctv_sentinel", "head-office")
REGIMES: dict[str, contract.RegimeRef] = {
    "us-ndaa-889": {"id": "us-ndaa-889", "name": "NDAA FY2019 Section 889", "jurisdiction": "US"}
}
T0 = 1_795_000_000.0


@pytest.fixture
def records(tmp_path):
    """Inventory records of a real Hikvision/Annke, an Axis and a routed Dahua camera."""
    inv = Inventory(tmp_path / "inv.sqlite3")
    inv.open()
    inv.observe(facts(hikvision() + axis() + dahua_routed()), at=T0, full_scan=True)
    yield {r.ip: r for r in inv.records()}
    inv.close()


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_payload_passes_the_schema(path):
    kind = path.stem
    for prefix in (
        "command_result",
        "command",
        "camera",
        "other_device",
        "event",
        "info",
        "announcement",
    ):
        if kind.startswith(prefix):
            kind = prefix
            break
    check(kind, json.loads(path.read_text("utf-8")))


def test_announcement_matches_the_documented_example():
    built = contract.announcement(TOPICS, name="Head office", version="0.1.0")
    check("announcement", built)
    assert built == fixture_payload("announcement")


def test_info_passes_the_schema_idle_and_scanning():
    counts = contract.count_cameras(["restricted", "low", "unknown", "elevated", "weird"], 1)
    assert counts == {
        "cameras": 5,
        "restricted": 1,
        "elevated": 1,
        "unknown": 2,
        "low": 1,
        "isolated": 1,
    }
    for status in (
        ScanStatus(interval=900),
        ScanStatus(scanning=True, last_started=T0, interval=900),
        ScanStatus(
            last_started=T0,
            last_finished=T0 + 2,
            last_duration=1.8,
            next_scan=T0 + 900,
            interval=900,
        ),
    ):
        payload = contract.info(
            TOPICS,
            name="Head office",
            version="0.1.0",
            catalogue_version="2026.11.1",
            networks=["192.168.10.0/24"],
            scan=status,
            counts=counts,
            regimes=list(REGIMES.values()),
            isolation={"backends": [], "default_backend": None, "modes": [], "auto_isolate": False},
        )
        check("info", payload)
        assert payload["scan"]["state"] == ("scanning" if status.scanning else "idle")


def test_camera_payloads_from_real_records_pass_the_schema(records):
    hik, ax, routed = records["198.18.0.21"], records["198.18.0.30"], records["198.18.1.10"]
    for record in (hik, ax, routed):
        payload = contract.camera_payload(record, regimes=REGIMES)
        check("camera", payload)
    hik_payload = contract.camera_payload(hik, regimes=REGIMES)
    assert hik_payload["camera_id"] == "bcad28000021"
    assert hik_payload["id_source"] == "mac"
    assert hik_payload["stable"] is True
    assert hik_payload["manufacturer_id"] == "hikvision"
    assert hik_payload["risk"] == "restricted"
    assert {"id": "us-ndaa-889", "name": "NDAA FY2019 Section 889", "jurisdiction": "US"} in (
        hik_payload["regimes"]
    )
    routed_payload = contract.camera_payload(routed, regimes=REGIMES)
    assert routed_payload["camera_id"] == "ip-198-18-1-10"
    assert routed_payload["stable"] is False
    assert routed_payload["mac"] is None


def test_serial_is_masked_unless_the_user_opts_in(records):
    hik = records["198.18.0.21"]
    masked = contract.camera_payload(hik, regimes=REGIMES)["serial"]
    assert masked == "\u20265678"
    full = contract.camera_payload(hik, regimes=REGIMES, publish_serials=True)["serial"]
    assert full == "DS-2CD2143G2-I20220101AAWRJ12345678"
    assert "12345678" not in json.dumps(contract.camera_payload(hik, regimes=REGIMES))


def test_device_strings_are_sanitised_on_the_wire(records):
    hostile = replace(
        records["198.18.0.21"],
        brand="\x1b[31mEvil\x1b[0m\u202e",
        model="M" * 1000,
        evidence=(
            Evidence.from_json(
                {"probe": "http", "field": "title", "value": "x\x00" * 500, "weight": "bad"}
            ),
        ),
    )
    payload = contract.camera_payload(hostile, regimes=REGIMES)
    check("camera", payload)
    assert payload["brand"] == "31mEvil0m"  # ESC and bidi gone, and the brackets (markup)
    assert len(payload["model"]) <= 128
    assert "\x00" not in payload["evidence"][0]["value"]
    assert payload["evidence"][0]["weight"] == 0.0


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        ("[Update](https://evil.example/x)", "Update(https: evil.example/x)"),
        ("<img src=x onerror=alert(1)>", "img src=x onerror=alert(1)"),
        ("**URGENT** _now_ `x` ~~y~~ |a|b|", "URGENT now x y a b"),
        ("call www.evil.example", "call www evil.example"),
        ("a &#x202E; b", "a & #x202E; b"),
        ("IPC_HFW2231S-S-S2 V2.800 (beta)", "IPC_HFW2231S-S-S2 V2.800 (beta)"),
        ("DS-2CD2143G2-I\r\nX-Injected: 1", "DS-2CD2143G2-I X-Injected: 1"),
        ("\u2066evil\u2069\u202a\u202b\u202c\u202d", "evil"),
    ],
)
def test_markup_loses_its_meaning_on_the_wire(records, raw, published):
    hostile = replace(
        records["198.18.0.21"],
        brand=raw,
        model=raw,
        firmware=raw,
        serial=raw,
        explanation=f"label {raw}",
        evidence=(Evidence.from_json({"probe": "http", "field": "title", "value": raw}),),
    )
    payload = contract.camera_payload(hostile, regimes=REGIMES, publish_serials=True)
    check("camera", payload)
    assert payload["brand"] == payload["model"] == payload["firmware"] == published
    assert payload["serial"] == published
    assert payload["explanation"] == f"label {published}"
    assert payload["evidence"][0]["value"] == published
    event = contract.event_camera(hostile)
    assert (event["brand"], event["model"]) == (published, published)


def test_last_seen_override_and_isolation_object(records):
    hik = records["198.18.0.21"]
    isolation: contract.CameraIsolation = {
        "state": "isolated",
        "mode": "internet",
        "backend": "nftables",
        "since": iso(T0),
    }
    payload = contract.camera_payload(hik, regimes=REGIMES, isolation=isolation, last_seen=T0 - 60)
    check("camera", payload)
    assert payload["last_seen"] == iso(T0 - 60)
    assert payload["isolation"]["state"] == "isolated"


@pytest.mark.parametrize(
    "kind",
    [
        "camera_found",
        "camera_changed",
        "camera_missing",
        "camera_gone",
        "restricted_detected",
        "restricted_cleared",
        "isolation_applied",
        "isolation_released",
        "isolation_failed",
        "scan_started",
        "scan_finished",
    ],
)
def test_every_event_type_passes_the_schema(records, kind):
    hik = records["198.18.0.21"]
    about_camera = kind.startswith(("camera", "restricted", "isolation"))
    payload = contract.event(
        kind,
        time=T0,
        camera_id=hik.camera_id if about_camera else None,
        camera=contract.event_camera(hik) if about_camera else None,
        changes={"firmware": ("V5.5.0", hik.firmware)} if kind == "camera_changed" else None,
        details={"cameras": 3, "restricted": 1, "duration_s": 1.8}
        if kind == "scan_finished"
        else None,
    )
    check("event", payload)
    assert payload["changes"] == (
        {"firmware": ["V5.5.0", hik.firmware]} if kind == "camera_changed" else {}
    )
    assert payload["event_id"] != contract.event(kind, time=T0)["event_id"]


@pytest.mark.parametrize("name", ["command_rescan", "command_isolate", "command_release"])
def test_documented_commands_parse(name):
    raw = fixture_payload(name)
    command = parse_command(json.dumps(raw).encode())
    assert command.command == raw["command"]
    assert command.command_id == raw["command_id"]
    assert command.camera_id == raw.get("camera_id")
    if name == "command_isolate":
        assert command.mode == "internet"
        assert command.requested_by.source == "home_assistant"
        assert command.requested_by.user_name == "Jo"
        assert command.reason == "restricted vendor"


def test_unknown_fields_in_a_command_are_ignored():
    payload = {"schema_version": 1, "command_id": "x", "command": "rescan", "future": {"a": 1}}
    assert parse_command(json.dumps(payload).encode()).command == "rescan"


@pytest.mark.parametrize(
    ("payload", "message", "command_id", "command"),
    [
        (b"not json", "command is not valid JSON", None, None),
        (b"\xff\xfe", "command is not valid JSON", None, None),
        (b"[1, 2]", "command must be a JSON object", None, None),
        (b"{" * 5000 + b"}" * 5000, "command is not valid JSON", None, None),
        (b" " * 20000, "command is larger than 16384 bytes", None, None),
        (b'{"schema_version": 1, "command": "rescan"}', "command_id: missing", None, "rescan"),
        (
            b'{"schema_version": 1, "command_id": "c9", "command": "reboot"}',
            "command: expected one of rescan, isolate, release",
            "c9",
            "reboot",
        ),
        (
            b'{"schema_version": 2, "command_id": "c9", "command": "rescan"}',
            "schema_version: version 2 is not supported (this agent speaks 1)",
            "c9",
            "rescan",
        ),
        (
            b'{"schema_version": true, "command_id": "c9", "command": "rescan"}',
            "schema_version: expected an integer",
            "c9",
            "rescan",
        ),
        (
            b'{"schema_version": 1, "command_id": "c9", "command": "isolate"}',
            "camera_id: missing (needed by isolate)",
            "c9",
            "isolate",
        ),
        (
            b'{"schema_version": 1, "command_id": "c9", "command": "release", "camera_id": "../x"}',
            "camera_id: not a camera id (see docs/mqtt.md)",
            "c9",
            "release",
        ),
        (
            (
                b'{"schema_version": 1, "command_id": "c9", "command": "isolate", '
                b'"camera_id": "bcad28001021", "mode": "everything"}'
            ),
            "mode: expected one of internet, quarantine",
            "c9",
            "isolate",
        ),
        (
            b'{"schema_version": 1, "command_id": "' + b"x" * 65 + b'", "command": "rescan"}',
            "command_id: expected 1 to 64 characters",
            None,
            "rescan",
        ),
    ],
)
def test_malformed_commands_are_refused_with_a_reason(payload, message, command_id, command):
    with pytest.raises(CommandError) as caught:
        parse_command(payload)
    err = caught.value
    assert err.message == message
    assert err.command_id == command_id
    assert err.command == command
    result = contract.command_result(
        command_id=err.command_id,
        command=err.command,
        status="error",
        message=err.message,
        camera_id=None,
        time=T0,
    )
    check("command_result", result)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
command_like = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.integers(0, 3) | st.booleans() | st.text(max_size=3),
        "command_id": st.text(max_size=70) | st.integers(),
        "command": st.sampled_from(["rescan", "isolate", "release", "x", ""]) | st.integers(),
        "camera_id": st.sampled_from(["bcad28001021", "ip-198-18-1-10", "BAD", ""]),
        "mode": st.sampled_from(["internet", "quarantine", "x"]),
        "backend": st.text(max_size=70),
        "reason": st.text(max_size=300),
        "requested_by": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, command_like))
def test_any_json_gives_a_command_or_a_refusal_never_a_crash(data):
    payload = json.dumps(data).encode()
    try:
        command = parse_command(payload)
    except CommandError as err:
        result = contract.command_result(
            command_id=err.command_id,
            command=err.command,
            status="error",
            message=err.message,
            camera_id=None,
            time=T0,
        )
    else:
        check("command", json.loads(payload))
        result = contract.command_result(
            command_id=command.command_id,
            command=command.command,
            status="accepted",
            message="ok",
            camera_id=command.camera_id,
            time=T0,
        )
    check("command_result", result)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_command_or_a_refusal(data):
    messages: list[str] = []
    try:
        parse_command(data)
    except CommandError as err:
        messages.append(err.message)
    assert all(messages)


def test_topics_follow_the_contract():
    assert TOPICS.discovery == "cctv_sentinel/discovery/head-office"
    assert TOPICS.status == "cctv_sentinel/head-office/status"
    assert TOPICS.camera("bcad28001021") == "cctv_sentinel/head-office/camera/bcad28001021"
    assert TOPICS.camera_id_of("cctv_sentinel/head-office/camera/bcad28001021") == "bcad28001021"
    assert TOPICS.camera_id_of("cctv_sentinel/head-office/camera/bcad28001021/x") is None
    assert TOPICS.camera_id_of("cctv_sentinel/other/camera/bcad28001021") is None
    assert TOPICS.command_result == "cctv_sentinel/head-office/command/result"


@pytest.mark.parametrize(
    ("base", "ok"),
    [
        ("cctv_sentinel", True),
        ("site/a/cctv", True),
        ("", False),
        ("a/#", False),
        ("a/+/b", False),
        ("/lead", False),
        ("trail/", False),
        ("a//b", False),
        ("x" * 129, False),
    ],
)
def test_base_topic_validation(base, ok):
    assert contract.valid_base_topic(base) is ok


@given(st.text(alphabet=string.printable + "éßü", max_size=100))
def test_safe_agent_id_always_fits_the_contract(text):
    assert contract.AGENT_ID_RE.match(contract.safe_agent_id(text))


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=200), st.integers(1, 150))
def test_the_fast_clean_path_is_exactly_clean(text, max_len):
    from cctv_sentinel.protocols.text import clean as slow  # noqa: PLC0415

    assert contract.clean(text, max_len) == slow(text, max_len)


_MARKUP_HEAVY = st.text(alphabet="[]<>*`|\\~_&:/#;wW. aZ09é\u202e\t", max_size=80)


@settings(max_examples=3000, deadline=None)
@example("Visit WWW.evil.example", 100)  # a step's test is case-blind where its pattern is
@example("[http]://x and ww[w].y", 100)  # one step can create what a later step rewrites
@example("a &amp; b |_x_|", 100)
@given(st.one_of(_MARKUP_HEAVY, st.text(max_size=120)), st.integers(1, 150))
def test_plain_skipping_absent_steps_is_exactly_every_step(text, max_len):
    # Every step run unconditionally, in the documented order: what plain()
    # must give whatever steps it skips because they would change nothing.
    from cctv_sentinel.mqtt.contract import common  # noqa: PLC0415

    full = common.clean(text, max_len).translate(common._MARKUP)
    full = common._EDGE_UNDERSCORE.sub("", full)
    full = common._WWW.sub("www ", common._SCHEME.sub(r"\1: ", full))
    full = common._SPACES.sub(" ", common._ENTITY.sub("& ", full)).strip()
    assert contract.plain(text, max_len) == full
