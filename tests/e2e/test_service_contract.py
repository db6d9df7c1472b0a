"""`cctv-sentinel run` end to end: what a real subscriber receives matches docs/mqtt.md.

The real agent process runs in the scanner namespace of the LAN fixture, scans
emulated cameras on the wire and publishes to a real Mosquitto on another LAN
host; every message a subscriber receives is checked against
docs/mqtt.schema.json, the schema the documentation points at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.agent.service.lan import (
    TOPICS,
    ServiceLan,
    camera_id_of,
    cameras_in,
    events_in,
    wait,
)
from tests.agent.service.support import check
from tests.lab import netlab
from tests.lab.profiles import Profile, load_corpus

pytestmark = pytest.mark.lab

PROFILES = (
    "hikvision-ds-2cd2143g2-i",
    "dahua-ipc-hdw2431t-as-s2",
    "axis-p3245-lve",
    "dahua-ipc-hfw2231s-s-s2-routed",
    "hp-laserjet-pro-m404dn",
)


@pytest.fixture(scope="module")
def profiles() -> list[Profile]:
    corpus = {p.id: p for p in load_corpus()}
    return [corpus[name] for name in PROFILES]


@pytest.fixture(scope="module")
def bench(profiles, tmp_path_factory) -> Iterator[ServiceLan]:
    if reason := netlab.lab_unavailable_reason():
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("service-contract")
    with netlab.Lab(workdir=workdir / "lab") as lab:
        bench = ServiceLan.build(lab, profiles, workdir)
        try:
            yield bench
        finally:
            bench.close()


def test_what_a_subscriber_receives_matches_the_contract(bench, profiles):
    sub = bench.subscriber()
    bench.start_agent()
    cameras = [p for p in profiles if p.truth.kind in {"camera", "recorder"}]
    expected = {camera_id_of(p): p for p in cameras}
    wait(sub, lambda s: events_in(s, "scan_finished"), 60, bench)
    state = wait(
        sub, lambda s: set(expected) <= set(cameras_in(s.state())) and s.state(), 30, bench
    )

    # Every message on the wire, retained or not, is one the contract describes.
    for message in sub.messages():
        topic = message.topic
        assert topic == TOPICS.discovery or topic.startswith(TOPICS.root + "/"), topic
        if topic == TOPICS.status:
            assert message.payload in {b"online", b"offline"}
            continue
        body = message.json()
        if topic == TOPICS.discovery:
            check("announcement", body)
        elif topic == TOPICS.info:
            check("info", body)
        elif topic == TOPICS.event:
            check("event", body)
        else:
            assert TOPICS.camera_id_of(topic) is not None, topic
            check("camera", body)
            assert message.retain or message.qos == 1

    assert state[TOPICS.status] == b"online"
    found = cameras_in(state)
    assert set(found) == set(expected), "the printer is not a camera; every camera is found"
    for camera_id, profile in expected.items():
        payload = found[camera_id]
        assert payload["ip"] == profile.network.ip
        assert payload["manufacturer_id"] == profile.truth.manufacturer, camera_id
        assert (payload["risk"] == "restricted") is profile.truth.restricted, camera_id
        assert payload["stable"] is not camera_id.startswith("ip-")
        if payload["serial"] is not None:
            assert payload["serial"].startswith("\u2026")
            assert len(payload["serial"]) == 5
    info = json.loads(state[TOPICS.info])
    assert info["counts"]["cameras"] == len(expected)
    assert info["counts"]["restricted"] == sum(p.truth.restricted for p in cameras)
    assert sorted(info["networks"]) == ["198.18.0.0/24", "198.18.1.0/24"]
    finished = events_in(sub, "scan_finished")[0]
    assert finished["details"]["cameras"] == len(expected)


def test_commands_are_answered_over_the_wire(bench):
    sub = bench.subscriber([TOPICS.command_result, TOPICS.event])
    commands = [
        {"schema_version": 1, "command_id": "e2e-rescan", "command": "rescan"},
        {
            "schema_version": 1,
            "command_id": "e2e-iso",
            "command": "isolate",
            "camera_id": "bcad28000021",
        },
        {"schema_version": 1, "command_id": "e2e-bad", "command": "shutdown"},
    ]
    for command in commands:
        bench.publish(TOPICS.command, json.dumps(command).encode())
    bench.publish(TOPICS.command, b"\x00\xff garbage")
    results = wait(
        sub,
        lambda s: len(s.messages(TOPICS.command_result)) >= 4 and s.messages(TOPICS.command_result),
        30,
        bench,
    )
    by_id = {}
    for message in results:
        body = message.json()
        check("command_result", body)
        by_id[body["command_id"]] = body
    assert by_id["e2e-rescan"]["status"] == "accepted"
    assert by_id["e2e-iso"]["status"] == "not_configured"
    assert by_id["e2e-bad"]["status"] == "error"
    assert by_id[None]["message"] == "command is not valid JSON"
    wait(sub, lambda s: events_in(s, "scan_finished"), 60, bench)
    assert bench.agent is not None
    assert bench.agent.poll() is None, "the agent survived"
