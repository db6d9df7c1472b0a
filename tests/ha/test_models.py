"""The integration's payload schema and policy: strict on the contract, calm on hostile input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.cctv_sentinel.devices import camera_name
from custom_components.cctv_sentinel.models import (
    MAX_PAYLOAD_BYTES,
    PayloadError,
    UnsupportedSchemaError,
    agent_topics,
    build_command,
    decode,
    normalise_base_topic,
    parse_announcement,
    parse_camera,
    parse_command_result,
    parse_event,
    parse_info,
    parse_status,
    split_discovery_topic,
)
from custom_components.cctv_sentinel.policy import Policy

from .conftest import PAYLOADS, payload

PARSERS = (parse_announcement, parse_camera, parse_command_result, parse_event, parse_info)


def text(data: dict[str, Any]) -> str:
    """JSON text of a payload."""
    return json.dumps(data)


def test_camera_fields() -> None:
    """The example restricted camera parses into the fields entities use."""
    camera = parse_camera(text(payload("camera_restricted")))
    assert camera.camera_id == "bcad28001021"
    assert camera.manufacturer == "Hikvision"
    assert camera.brand == "Annke"
    assert camera.risk == "restricted"
    assert [regime.id for regime in camera.regimes] == ["us-fcc-covered-list", "us-ndaa-889"]
    assert camera.last_seen.isoformat() == "2026-11-28T09:15:02+00:00"
    assert not camera.isolated
    assert parse_camera(text(payload("camera_isolated"))).isolated


def test_unknown_fields_are_ignored() -> None:
    """A new field is not a new version (docs/mqtt.md): still accepted."""
    data = payload("camera_low", future_field={"x": 1})
    data["isolation"]["future"] = True
    assert parse_camera(text(data)).camera_id == "accc8e0a0b0c"


def test_optional_descriptive_fields_default() -> None:
    """Descriptive fields may be missing; the verdict may not."""
    data = payload("camera_low")
    for key in ("ports", "discovered_by", "evidence", "explanation", "serial", "isolation"):
        del data[key]
    camera = parse_camera(text(data))
    assert camera.ports == ()
    assert camera.isolation.state == "none"
    for key in ("risk", "confidence", "ip", "camera_id", "last_seen"):
        broken = payload("camera_low")
        del broken[key]
        with pytest.raises(PayloadError):
            parse_camera(text(broken))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"camera_id": "BCAD28001021"}, "upper-case id"),
        ({"camera_id": "../../etc"}, "path in id"),
        ({"ip": "999.1.1.1"}, "bad IP"),
        ({"mac": "bc-ad-28-00-10-21"}, "MAC with dashes"),
        ({"confidence": 1.5}, "confidence above 1"),
        ({"confidence": True}, "boolean confidence"),
        ({"risk": "banned"}, "unknown risk"),
        ({"brand": "x" * 257}, "over-long brand"),
        ({"ports": [0]}, "port 0"),
        ({"last_seen": "2026-11-28T09:15:02"}, "time without offset"),
        ({"last_seen": "yesterday"}, "not a time"),
        ({"state": "gone"}, "unknown state"),
        ({"regimes": [{"id": "x"}]}, "regime without name"),
        ({"evidence": "lots"}, "evidence not a list"),
        ({"stable": "yes"}, "stable not boolean"),
        ({"ip": 3232238101}, "IP as a number"),
        ({"last_seen": 1732785302}, "time as a number"),
        ({"ports": [80.5]}, "fractional port"),
        ({"regimes": [{"id": "r", "name": "n", "jurisdiction": "j"}] * 257}, "too many regimes"),
    ],
)
def test_camera_contract_violations(changes: dict[str, Any], why: str) -> None:
    """Each violation of docs/mqtt.md is refused with PayloadError."""
    with pytest.raises(PayloadError):
        parse_camera(text(payload("camera_restricted", **changes)))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        b'"text"',
        b"{}",
        b'{"schema_version": "1"}',
        b'{"schema_version": true}',
        b"[" * 100_000,
        b'{"schema_version": 1, "camera_id": ' + b"1" * 5000 + b"}",
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    """Garbage, deep nesting and huge numbers raise PayloadError, nothing else."""
    for parse in PARSERS:
        with pytest.raises(PayloadError):
            parse(data)


@pytest.mark.parametrize(
    ("fixture", "parse", "changes"),
    [
        ("info", parse_info, {"counts": {"cameras": "3"}}),
        ("info", parse_info, {"scan": {"state": "idle", "last_finished": "x" * 65}}),
        ("info", parse_info, {"isolation": {"backends": "nftables"}}),
        ("event_scan_finished", parse_event, {"details": ["cameras", 3]}),
        ("event_scan_finished", parse_event, {"camera_id": "Camera-1"}),
        ("command_result_accepted", parse_command_result, {"status": "maybe"}),
        ("announcement", parse_announcement, {"agent_id": "Head Office"}),
    ],
)
def test_other_contract_violations(fixture: str, parse: Any, changes: dict[str, Any]) -> None:
    """Info, events, results and announcements are checked as strictly as cameras."""
    with pytest.raises(PayloadError):
        parse(text(payload(fixture, **changes)))


def test_camera_names() -> None:
    """Label and model; a model that already names the label; one of them; the IP last."""
    base = payload("camera_restricted")
    cases = [
        ({}, "Annke C800"),
        ({"model": "annke C800"}, "annke C800"),
        ({"brand": None}, "Hikvision C800"),
        ({"model": None}, "Annke camera"),
        ({"brand": None, "manufacturer": None}, "C800"),
        # Device strings are shown as plain text: no control or bidi characters.
        ({"brand": "Ann\u202eke\x1b[2J", "model": "C800\r\nInjected"}, "Annke [2J C800 Injected"),
        ({"brand": None, "manufacturer": None, "model": None}, "Camera 192.168.10.21"),
    ]
    for changes, name in cases:
        assert camera_name(parse_camera(text({**base, **changes}))) == name


def test_size_cap_before_parsing() -> None:
    """Oversize payloads are refused without being parsed."""
    data = b'{"schema_version": 1, "pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(PayloadError, match="larger than"):
        decode(data)


def test_newer_schema_version() -> None:
    """A newer contract is recognised as such (it opens a repair, not a warning)."""
    with pytest.raises(UnsupportedSchemaError) as err:
        parse_camera(text(payload("camera_low", schema_version=2)))
    assert err.value.version == 2


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=512))
def test_arbitrary_bytes_never_escape(data: bytes | str) -> None:
    """Any bytes at all: a result or PayloadError."""
    for parse in PARSERS:
        with contextlib.suppress(PayloadError):
            parse(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(PAYLOADS.glob("camera_*.json"))), st.text(max_size=12), json_values)
def test_mutated_cameras_never_escape(path: Any, key: str, value: Any) -> None:
    """A real camera payload with any field replaced by any JSON: parsed or refused."""
    data = json.loads(path.read_text("utf-8"))
    data[key if key else "risk"] = value
    with contextlib.suppress(PayloadError):
        parse_camera(text(data))


def test_status() -> None:
    """online/offline in any case and padding; anything else is a PayloadError."""
    assert parse_status("online") is True
    assert parse_status(b" OFFLINE\n") is False
    with pytest.raises(PayloadError):
        parse_status("on")


def test_event_and_result() -> None:
    """Events and command results parse from the examples."""
    event = parse_event(text(payload("event_restricted_detected")))
    assert (event.type, event.camera_id) == ("restricted_detected", "bcad28001021")
    result = parse_command_result(text(payload("command_result_not_configured")))
    assert (result.status, result.succeeded) == ("not_configured", False)
    assert parse_command_result(text(payload("command_result_accepted"))).succeeded


def test_topics() -> None:
    """Topics are laid out as docs/mqtt.md says; camera ids come only from camera topics."""
    topics = agent_topics("site/a", "vlan-20")
    assert topics.status == "site/a/vlan-20/status"
    assert topics.camera == "site/a/vlan-20/camera/+"
    assert topics.command_result == "site/a/vlan-20/command/result"
    assert topics.discovery == "site/a/discovery/vlan-20"
    assert topics.camera_id("site/a/vlan-20/camera/bcad28001021") == "bcad28001021"
    assert topics.camera_id("site/a/vlan-20/camera/x/y") is None
    assert topics.camera_id("site/a/other/camera/bcad28001021") is None
    assert split_discovery_topic("site/a/discovery/vlan-20") == ("site/a", "vlan-20")
    assert split_discovery_topic("discovery/vlan-20") is None
    assert split_discovery_topic("site/discovery/Vlan") is None


@pytest.mark.parametrize("bad", ["", "  ", "a/#", "a/+/b", "/a", "a/", "x" * 201, "a\x00b"])
def test_base_topic_validation(bad: str) -> None:
    """Wildcards, NUL, edge slashes, empty and over-long topics are refused."""
    with pytest.raises(PayloadError):
        normalise_base_topic(bad)
    assert normalise_base_topic(" site/cameras ") == "site/cameras"


def test_announcement_base_topic_is_checked() -> None:
    """An announcement cannot smuggle a wildcard base topic."""
    with pytest.raises(PayloadError):
        parse_announcement(text(payload("announcement", base_topic="#")))


def test_build_command() -> None:
    """Commands carry what the contract needs and refuse what it forbids."""
    rescan = build_command("rescan", command_id="c-1", user_id="u", user_name="Jo")
    assert rescan == {
        "schema_version": 1,
        "command_id": "c-1",
        "command": "rescan",
        "requested_by": {"source": "home_assistant", "user_id": "u", "user_name": "Jo"},
    }
    isolate = build_command("isolate", camera_id="bcad28001021", mode="internet", reason="r" * 300)
    assert len(isolate["reason"]) == 256
    assert 1 <= len(isolate["command_id"]) <= 64
    with pytest.raises(ValueError, match="unknown command"):
        build_command("format_disk")
    with pytest.raises(ValueError, match="camera id"):
        build_command("isolate")
    with pytest.raises(ValueError, match="camera id"):
        build_command("release", camera_id="; rm -rf /")
    with pytest.raises(ValueError, match="not valid"):
        build_command("release", camera_id="bcad28001021", mode="internet")


def test_policy() -> None:
    """All regimes ignored: elevated. Acknowledged or isolated: no repair."""
    camera = parse_camera(text(payload("camera_restricted")))
    default = Policy.from_options({})
    assert default.restricted(camera)
    assert default.needs_repair(camera)
    partly = Policy(ignored_regimes=frozenset({"us-ndaa-889"}))
    assert partly.risk(camera) == "restricted"
    ignored = Policy(ignored_regimes=frozenset({"us-ndaa-889", "us-fcc-covered-list"}))
    assert ignored.risk(camera) == "elevated"
    assert not ignored.alerting(camera)
    assert Policy(ignored_regimes=ignored.ignored_regimes, alert_elevated=True).alerting(camera)
    assert not Policy(acknowledged=frozenset({camera.camera_id})).needs_repair(camera)
    isolated = parse_camera(text(payload("camera_isolated")))
    assert default.alerting(isolated)
    assert not default.needs_repair(isolated)
    low = parse_camera(text(payload("camera_low")))
    assert not Policy(alert_elevated=True).alerting(low)
