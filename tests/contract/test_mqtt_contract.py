"""The MQTT contract, checked from both sides (docs/mqtt.md, docs/mqtt.schema.json).

- Every example payload in tests/fixtures/payloads/ passes the JSON Schema and the
  integration's own payload schema (custom_components/cctv_sentinel/models.py).
- Payloads built by the agent's publishing code (cctv_sentinel.mqtt.contract) from
  real model objects, through the real identify and the real SQLite inventory,
  pass the JSON Schema and the integration's schema, and mean the same there.
- Every command the integration builds passes the schema's ``command`` definition
  and the agent's own parser, and the agent's router answers it with a result the
  integration understands.

The agent is imported here, in the test only: the integration never imports it.
Runs with or without the Home Assistant pytest plugin (no sockets are used).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cctv_sentinel._util.secret import Secret
from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.discovery.replay import Answer, replay
from cctv_sentinel.identify import Policy, identify
from cctv_sentinel.identify.catalogue import load_catalogue
from cctv_sentinel.identify.other import other_device
from cctv_sentinel.inventory.records import CameraRecord
from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.model import Evidence
from cctv_sentinel.mqtt import contract as agent_contract
from cctv_sentinel.service import commands as agent_commands
from custom_components.cctv_sentinel import models, signing
from tests.agent.service import support

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "mqtt.schema.json").read_text("utf-8"))
PAYLOADS = REPO / "tests" / "fixtures" / "payloads"
INTEGRATION = REPO / "custom_components" / "cctv_sentinel"

# Which schema definition and which integration parser each example belongs to.
KINDS: dict[str, tuple[str, Any]] = {
    "announcement": ("announcement", models.parse_announcement),
    "info": ("info", models.parse_info),
    "camera": ("camera", models.parse_camera),
    "event": ("event", models.parse_event),
    "command_result": ("command_result", models.parse_command_result),
    "command": ("command", None),  # the integration sends commands, it never parses them
    # Equipment that is not a camera (issue 10): the agent's side of the contract; the
    # integration does not read it yet.
    "other_device": ("other_device", None),
}


@functools.cache
def validator(kind: str) -> Any:
    """A JSON Schema validator for one message definition."""
    sub = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{kind}"}
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(sub)
    return cls(sub, format_checker=cls.FORMAT_CHECKER)


def check(kind: str, payload: Any) -> None:
    """Fail with every schema error when ``payload`` is not a valid ``kind`` message."""
    errors = sorted(validator(kind).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def kind_of(path: Path) -> str:
    """The message kind of an example file, from its name."""
    for prefix in sorted(KINDS, key=len, reverse=True):
        if path.stem.startswith(prefix):
            return prefix
    raise AssertionError(f"no kind for {path.name}")


EXAMPLES = sorted(PAYLOADS.glob("*.json"))


def test_every_kind_has_examples() -> None:
    """The examples cover every JSON message of the contract."""
    assert {kind_of(path) for path in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_pass_both_schemas(path: Path) -> None:
    """Each example passes the JSON Schema and the integration's parser."""
    kind, parse = KINDS[kind_of(path)]
    text = path.read_text("utf-8")
    check(kind, json.loads(text))
    if parse is not None:
        parse(text)


def test_integration_never_imports_the_agent() -> None:
    """Only the MQTT contract is shared: no module of the integration imports cctv_sentinel."""
    for module in INTEGRATION.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] == "cctv_sentinel"], module.name


# --- the integration's commands ----------------------------------------------------------------

COMMANDS = {
    "rescan": models.build_command("rescan", user_id="8d1c", user_name="Jo"),
    "rescan-anonymous": models.build_command("rescan"),
    "isolate": models.build_command("isolate", camera_id="bcad28001021"),
    "isolate-mode": models.build_command(
        "isolate", camera_id="uuid-55cfe3d7-0000-1000-8000-bcad28000021", mode="quarantine",
        reason="restricted vendor (Home Assistant repair)", user_id="8d1c", user_name="Jo",
    ),
    "release": models.build_command("release", camera_id="ip-198-18-1-10", reason="x" * 400),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_commands_pass_the_schema(name: str) -> None:
    """Every command the integration builds passes docs/mqtt.schema.json's `command`."""
    check("command", COMMANDS[name])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_agent_parses_the_integrations_commands(name: str) -> None:
    """The agent's parser accepts each command and reads what the integration meant."""
    sent = COMMANDS[name]
    parsed = agent_contract.parse_command(models.encode(sent).encode("utf-8"))
    assert parsed.command_id == sent["command_id"]
    assert parsed.command == sent["command"]
    assert parsed.camera_id == sent.get("camera_id")
    assert parsed.mode == sent.get("mode")
    assert parsed.reason == sent.get("reason")
    assert parsed.requested_by.source == "home_assistant"
    assert parsed.requested_by.user_id == sent["requested_by"]["user_id"]
    assert parsed.requested_by.user_name == sent["requested_by"]["user_name"]


def test_agent_topics_match_the_integrations() -> None:
    """Both sides lay out the same topics for the same base and agent id."""
    theirs = agent_contract.Topics("site/cameras", "vlan-20")
    ours = models.agent_topics("site/cameras", "vlan-20")
    assert (ours.discovery, ours.status, ours.info, ours.camera) == (
        theirs.discovery,
        theirs.status,
        theirs.info,
        theirs.camera_filter,
    )
    assert (ours.event, ours.command, ours.command_result) == (
        theirs.event,
        theirs.command,
        theirs.command_result,
    )
    assert ours.camera_id(theirs.camera("bcad28001021")) == "bcad28001021"
    assert models.split_discovery_topic(theirs.discovery) == ("site/cameras", "vlan-20")


# --- the agent's payloads, from real model objects ------------------------------------------------


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Camera records from real observations, through the real identify and inventory."""
    facts = support.facts(support.hikvision() + support.axis() + support.dahua_routed())
    inventory = Inventory(tmp_path_factory.mktemp("inventory") / "state.db")
    inventory.open()
    try:
        inventory.observe(facts, at=1_764_320_000.0, full_scan=True)
        return list(inventory.records())
    finally:
        inventory.close()


@pytest.fixture(scope="module")
def regimes() -> dict[str, Any]:
    """The published form of every regime in the agent's catalogue."""
    catalogue = load_catalogue()
    return {
        rid: {"id": rid, "name": regime.name, "jurisdiction": regime.jurisdiction}
        for rid, regime in catalogue.regimes.items()
    }


def roundtrip(kind: str, payload: Any) -> Any:
    """Encode as the agent does, check the JSON Schema, parse as the integration does."""
    wire = agent_contract.encode(payload)
    check(kind, json.loads(wire))
    return KINDS[kind][1](wire)


def test_agent_camera_payloads(records: list[Any], regimes: dict[str, Any]) -> None:
    """Every camera payload the agent builds parses, with the same verdict, in the integration."""
    assert {r.risk for r in records} >= {"restricted", "low"}
    isolated = {"state": "isolated", "mode": "internet", "backend": "nftables",
                "since": iso(1_764_320_100.0)}  # fmt: skip
    for record in records:
        for isolation in (agent_contract.NOT_ISOLATED, isolated):
            camera = roundtrip(
                "camera",
                agent_contract.camera_payload(record, regimes=regimes, isolation=isolation),
            )
            assert camera.camera_id == record.camera_id
            assert camera.risk == record.risk
            assert camera.manufacturer == record.manufacturer
            assert camera.ip == record.ip
            assert camera.mac == record.mac
            assert [r.id for r in camera.regimes] == list(record.regimes)
            assert camera.isolated == (isolation is isolated)
            assert camera.serial is None or camera.serial.startswith("…")


def test_agent_info_announcement_events_results(
    records: list[Any], regimes: dict[str, Any]
) -> None:
    """Announcement, info, every event type and every result status parse in the integration."""
    topics = agent_contract.Topics("cctv_sentinel", "lab")
    announcement = roundtrip(
        "announcement", agent_contract.announcement(topics, name="Lab agent", version="0.1.0")
    )
    assert (announcement.agent_id, announcement.base_topic) == ("lab", "cctv_sentinel")

    for backends in ([], ["nftables"]):
        info = roundtrip(
            "info",
            agent_contract.info(
                topics,
                name="Lab agent",
                version="0.1.0",
                catalogue_version="2026.11.1",
                networks=["198.18.0.0/24"],
                scan=agent_contract.ScanStatus(
                    last_started=1_764_320_000.0,
                    last_finished=1_764_320_002.0,
                    last_duration=2.0,
                    next_scan=1_764_320_900.0,
                    interval=900.0,
                ),
                counts=agent_contract.count_cameras((r.risk for r in records), 0),
                regimes=list(regimes.values()),
                isolation={
                    "backends": backends,
                    "default_backend": None,
                    "modes": [],
                    "auto_isolate": False,
                },
            ),
        )
        assert info.agent_id == "lab"
        assert bool(info.isolation.backends) == bool(backends)
        assert info.scan.last_finished is not None

    record = next(r for r in records if r.risk == "restricted")
    for kind in models.EVENT_TYPES:
        event = roundtrip(
            "event",
            agent_contract.event(
                kind,
                time=1_764_320_000.0,
                camera_id=record.camera_id,
                camera=agent_contract.event_camera(record),
                changes={"ip": ("198.18.0.20", record.ip)} if kind == "camera_changed" else None,
                details={"message": "done"},
            ),
        )
        assert (event.type, event.camera_id) == (kind, record.camera_id)

    for status in models.RESULT_STATUSES:
        result = roundtrip(
            "command_result",
            agent_contract.command_result(
                command_id="c-1",
                command="isolate",
                status=status,
                message="",
                camera_id=record.camera_id,
                time=1_764_320_000.0,
            ),
        )
        assert result.succeeded == (status in ("ok", "accepted"))


def test_agent_router_answers_the_integrations_commands(tmp_path: Path, records: list[Any]) -> None:
    """Commands from the integration through the agent's router: answers the integration reads."""
    port = agent_commands.IsolationPort.create(None, state_dir=tmp_path, broker_host=None)
    router = agent_commands.CommandRouter(
        port=port,
        camera={r.camera_id: r for r in records}.get,
        rescan=lambda _wait: agent_commands.Rescan("accepted", "rescan started"),
        clock=lambda: 1_764_320_000.0,
    )
    camera_id = records[0].camera_id
    sent = [
        models.build_command("rescan"),
        models.build_command("isolate", camera_id=camera_id, mode="internet"),
        models.build_command("release", camera_id=camera_id),
    ]
    answers = [
        asyncio.run(router.handle(models.encode(command).encode("utf-8"))) for command in sent
    ]
    results = [roundtrip("command_result", answer) for answer in answers]
    assert [r.command_id for r in results] == [c["command_id"] for c in sent]
    assert [r.status for r in results] == ["accepted", "not_configured", "not_configured"]
    assert results[1].camera_id == camera_id


# --- signed commands: the integration signs, the agent verifies --------------------------------

SECRET = "0123456789abcdef-shared-secret"
TOPIC = "cctv_sentinel/site-a/command"


def _authority(now: float, secret: str = SECRET) -> agent_commands.CommandAuthority:
    return agent_commands.CommandAuthority(
        topic=TOPIC,
        secret=agent_contract_secret(secret),
        max_age=60,
        clock=lambda: now,
    )


def agent_contract_secret(value: str) -> Secret:
    return Secret(value)


@settings(max_examples=60, deadline=None)
@given(
    reason=st.one_of(st.none(), st.text(max_size=300)),
    user_name=st.one_of(st.none(), st.text(max_size=300)),
    nonce=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_the_agent_verifies_what_the_integration_signs(
    reason: str | None, user_name: str | None, nonce: str
) -> None:
    """Any command the integration signs (any text in it) passes the agent's check, once;
    the schema accepts it; another secret or another agent's topic does not verify."""
    now = 1_764_320_000.0
    command = models.build_command(
        "isolate", camera_id="bcad28001021", reason=reason, user_id="8d1c", user_name=user_name
    )
    signed = signing.sign(command, topic=TOPIC, secret=SECRET, now=now, nonce=nonce)
    check("command", signed)
    raw = models.encode(signed).encode("utf-8")
    parsed = agent_contract.parse_command(raw)
    assert parsed.sent_at == now
    found = _authority(now + 30).check(parsed)
    assert (found.refusal, found.verified) == (None, True)
    assert _authority(now, secret=SECRET + "!").check(parsed).refusal is not None
    elsewhere = agent_commands.CommandAuthority(
        topic="cctv_sentinel/site-b/command",
        secret=agent_contract_secret(SECRET),
        max_age=60,
        clock=lambda: now,
    )
    assert elsewhere.check(parsed).refusal is not None
    assert agent_contract.signature_valid(parsed, topic=TOPIC, secret=SECRET.encode())


def test_the_integrations_unsigned_commands_carry_their_time() -> None:
    stamped = signing.stamp(models.build_command("rescan"), now=1_764_320_000.0)
    check("command", stamped)
    parsed = agent_contract.parse_command(models.encode(stamped).encode("utf-8"))
    assert parsed.sent_at == 1_764_320_000.0
    assert parsed.signature is None


# Whatever a device says ends up in these fields; the agent cleans and bounds it.
device_text = st.one_of(st.none(), st.text(max_size=400))


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "brand": device_text,
            "model": device_text,
            "firmware": device_text,
            "serial": device_text,
            "confidence": st.floats(min_value=-1.0, max_value=2.0, allow_nan=False),
            "risk": st.sampled_from(["restricted", "elevated", "unknown", "low"]),
            "ports": st.lists(st.integers(min_value=1, max_value=65535), max_size=20),
            "value": st.text(max_size=600),
            "note": st.text(max_size=600),
        }
    )
)
def test_anything_the_agent_publishes_parses(regimes: dict[str, Any], said: dict[str, Any]) -> None:
    """Hostile device strings, out-of-range numbers: the agent's payload still parses here."""
    note = said["note"]
    record = CameraRecord(
        camera_id="bcad28001021",
        id_source="mac",
        ip="198.18.0.21",
        mac="bc:ad:28:00:10:21",
        onvif_uuid=None,
        serial_key=None,
        first_seen=1_764_320_000.0,
        last_seen=1_764_320_000.0,
        ports=tuple(said["ports"]),
        discovered_by=("sadp", "wsd"),
        brand=said["brand"],
        manufacturer=said["brand"],
        manufacturer_id="hikvision",
        model=said["model"],
        firmware=said["firmware"],
        serial=said["serial"],
        confidence=said["confidence"],
        risk=said["risk"],
        risk_reason=note,
        regimes=tuple(regimes),
        explanation=note,
        evidence=(
            Evidence(
                probe="sadp",
                field="model",
                value=said["value"],
                maker="hikvision",
                weight=said["confidence"],
                rule="sadp-reply",
                source=note,
                note=note,
            ),
        ),
    )
    camera = roundtrip("camera", agent_contract.camera_payload(record, regimes=regimes))
    assert camera.risk == said["risk"]
    assert 0.0 <= camera.confidence <= 1.0


# --- equipment that is not a camera -----------------------------------------------------------


def _other_devices() -> list[Any]:
    """Other devices from raw answers, through the real replay, identify and other-device rules."""
    catalogue = load_catalogue()
    answers = (
        [
            Answer("telnet-banner", b"ZXHN F660 Login:", port=23),
            Answer("mac", value="f0:1b:24:00:00:01"),
        ],
        [Answer("banner", b"HUAWEI-VRP-3.10", field="ssh.banner")],
    )
    devices = []
    for one in answers:
        host = replay(one).host
        attribution, _ = identify(host, catalogue, Policy())
        device = other_device(host, attribution, catalogue, Policy())
        assert device is not None
        devices.append(device)
    return devices


def test_agent_other_device_payloads(regimes: dict[str, Any]) -> None:
    """Every other-device payload passes the schema, on its own topic, never as a camera."""
    topics = agent_contract.Topics("site/cameras", "vlan-20")
    devices = _other_devices()
    assert {d.kind for d in devices} == {"ont", "router"}
    for device in devices:
        payload = agent_contract.other_device_payload(
            device, regimes=regimes, first_seen=1_764_320_000.0, last_seen=1_764_320_060.0
        )
        wire = json.loads(agent_contract.encode(payload))
        check("other_device", wire)
        assert wire["kind"] == device.kind
        assert wire["risk"] == "restricted"
        assert "camera_id" not in wire
        topic = topics.other(wire["device_id"])
        assert topics.other_id_of(topic) == wire["device_id"]
        assert topics.camera_id_of(topic) is None
        with pytest.raises(AssertionError):
            check("camera", wire)
    ont = agent_contract.other_device_payload(
        devices[0], regimes=regimes, first_seen=1_764_320_000.0, last_seen=1_764_320_060.0
    )
    assert ont["device_id"] == "f01b24000001"
    assert ont["id_source"] == "mac"


def test_the_announcement_names_the_other_device_topics() -> None:
    topics = agent_contract.Topics("site/cameras", "vlan-20")
    said = agent_contract.announcement(topics, name="Site", version="0.1.0")
    check("announcement", said)
    assert said["topics"]["other"] == "site/cameras/vlan-20/other/+"
    models.parse_announcement(agent_contract.encode(said))
