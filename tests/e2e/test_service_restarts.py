"""`cctv-sentinel run` survives a broker restart and its own SIGKILL without losing or
duplicating a camera (real agent process, real Mosquitto, emulated cameras on the LAN)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest

from tests.agent.service.lan import (
    TOPICS,
    ServiceLan,
    camera_id_of,
    cameras_in,
    events_in,
    now,
    wait,
)
from tests.agent.service.support import check
from tests.lab import netlab
from tests.lab.profiles import Profile, load_corpus

pytestmark = pytest.mark.lab

PROFILES = (
    "hikvision-ds-2cd2387g2-lu",
    "dahua-ipc-hfw1230s",
    "uniview-ipc322lb-sf28-a",
    "hikvision-ds-7608ni-k2",
    "dahua-ipc-hfw2231s-s-s2-routed",
)


@pytest.fixture(scope="module")
def profiles() -> list[Profile]:
    corpus = {p.id: p for p in load_corpus()}
    return [corpus[name] for name in PROFILES]


@pytest.fixture(scope="module")
def expected(profiles) -> set[str]:
    return {camera_id_of(p) for p in profiles if p.truth.kind in {"camera", "recorder"}}


@pytest.fixture
def bench(profiles, tmp_path) -> Iterator[ServiceLan]:
    if reason := netlab.lab_unavailable_reason():
        pytest.skip(reason)
    with netlab.Lab(workdir=tmp_path / "lab") as lab:
        bench = ServiceLan.build(lab, profiles, tmp_path)
        try:
            yield bench
        finally:
            bench.close()


def complete(state: dict[str, bytes], expected: set[str]) -> bool:
    """Status online, announcement, info, and exactly the expected cameras, once each."""
    return (
        state.get(TOPICS.status) == b"online"
        and TOPICS.discovery in state
        and TOPICS.info in state
        and set(cameras_in(state)) == expected
    )


def test_broker_restart_mid_run_leaves_the_retained_state_complete(bench, expected):
    sub = bench.subscriber()
    bench.start_agent()
    wait(sub, lambda s: events_in(s, "scan_finished") and complete(s.state(), expected), 60, bench)
    before = cameras_in(sub.state())

    bench.broker.restart()  # no persistence: the broker forgets every retained message
    watcher = bench.subscriber()
    wait(watcher, lambda s: complete(s.state(), expected), 30, bench)
    # What the broker itself now holds: a newcomer gets it as retained messages.
    newcomer = bench.subscriber()
    retained = wait(
        newcomer,
        lambda s: (
            complete({t: m.payload for t, m in s.retained().items()}, expected) and s.retained()
        ),
        15,
        bench,
    )
    after = {t: json.loads(m.payload) for t, m in retained.items() if TOPICS.camera_id_of(t)}
    assert len(after) == len(expected), "no camera lost, none duplicated"
    for topic, payload in after.items():
        check("camera", payload)
        camera_id = TOPICS.camera_id_of(topic)
        assert camera_id in before
        assert payload["first_seen"] == before[camera_id]["first_seen"]
    assert "lost the connection" in bench.log()


def test_sigkill_sends_offline_and_a_restart_republishes_from_sqlite_first(bench, expected):
    sub = bench.subscriber()
    bench.start_agent()
    wait(sub, lambda s: events_in(s, "scan_finished") and complete(s.state(), expected), 60, bench)
    first = cameras_in(sub.state())

    bench.stop_agent(signal.SIGKILL)
    wait(sub, lambda s: s.state().get(TOPICS.status) == b"offline", 15, bench)  # the last will

    # Wipe the cameras from the broker, so only the agent's own memory can bring them back.
    for camera_id in first:
        bench.publish(TOPICS.camera(camera_id), b"", retain=True)
    wait(sub, lambda s: not cameras_in(s.state()), 15, bench)

    restarted = now()
    bench.start_agent()
    wait(sub, lambda s: set(cameras_in(s.state())) == expected, 30, bench)
    republished = [
        m.received
        for m in sub.messages()
        if m.received >= restarted and TOPICS.camera_id_of(m.topic) and m.payload
    ]
    finished = wait(
        sub,
        lambda s: [
            m.received
            for m in s.messages(TOPICS.event)
            if m.received >= restarted and m.json()["type"] == "scan_finished"
        ],
        60,
        bench,
    )
    assert max(republished[: len(expected)]) < finished[0], "state came from SQLite before the scan"
    second = cameras_in(sub.state())
    assert set(second) == set(first)
    for camera_id, payload in second.items():
        assert payload["first_seen"] == first[camera_id]["first_seen"]
    assert not events_in(sub, "camera_found", after=restarted), "nothing new was found"
