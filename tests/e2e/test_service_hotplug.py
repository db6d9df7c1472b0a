"""A camera plugged into the LAN while `cctv-sentinel run` runs is published within 5 s,
long before the next scheduled scan; one that says goodbye is marked missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.service.lan import TOPICS, ServiceLan, cameras_in, events_in, now, wait
from tests.agent.service.support import check
from tests.lab import netlab
from tests.lab.profiles import clone, load_corpus

pytestmark = pytest.mark.lab

NEW_IP = "198.18.0.150"
NEW_MAC = "bc:ad:28:00:01:50"  # a Hikvision OUI, as the cloned profile's own
NEW_ID = NEW_MAC.replace(":", "")
BUDGET = 5.0
"""Seconds from "the device is up" to "its retained state is on the broker" (the issue's goal)."""


@pytest.fixture
def bench(tmp_path) -> Iterator[ServiceLan]:
    if reason := netlab.lab_unavailable_reason():
        pytest.skip(reason)
    corpus = {p.id: p for p in load_corpus()}
    with netlab.Lab(workdir=tmp_path / "lab") as lab:
        bench = ServiceLan.build(
            lab, [corpus["axis-p3245-lve"], corpus["dahua-ipc-hdw2431t-as-s2"]], tmp_path
        )
        try:
            yield bench
        finally:
            bench.close()


def test_a_camera_plugged_in_is_published_within_5_seconds(bench, tmp_path):
    template = {p.id: p for p in load_corpus()}["hikvision-ds-2cd2143g2-i"]
    newcomer = clone(
        template, NEW_IP, NEW_MAC, "DS-2CD2143G2-I20240101AAWRJ99990150", id="hotplug-hik"
    )
    sub = bench.subscriber()
    bench.start_agent()  # next scheduled scan: 10 minutes after the first
    wait(sub, lambda s: events_in(s, "scan_finished"), 60, bench)
    assert NEW_ID not in cameras_in(sub.state())

    host = bench.lab.add_host("hot", f"{NEW_IP}/24", NEW_MAC, switch=bench.lan.switch)
    profile_path = newcomer.write(tmp_path / "profiles")
    emulator = bench.lab.start_emulator(host, profile_path, max_delay=0.05, extra_args=["--hello"])
    plugged = now()  # the emulator is up and has announced itself (WS-Discovery Hello)

    message = wait(sub, lambda s: s.last(TOPICS.camera(NEW_ID)), 15, bench)
    took = message.received - plugged
    assert took < BUDGET, f"published after {took:.2f} s"
    payload = message.json()
    check("camera", payload)
    assert payload["ip"] == NEW_IP
    assert payload["manufacturer_id"] == "hikvision"
    assert payload["risk"] == "restricted"
    assert len(events_in(sub, "scan_started")) == 1, (
        "no scheduled scan ran: the announcement did it"
    )
    found = wait(
        sub,
        lambda s: [e for e in events_in(s, "camera_found") if e["camera_id"] == NEW_ID],
        10,
        bench,
    )
    check("event", found[0])

    # Unplugged politely: the emulator multicasts a WS-Discovery Bye on the way out.
    emulator.stop()
    gone = wait(
        sub, lambda s: cameras_in(s.state()).get(NEW_ID, {}).get("state") == "missing", 10, bench
    )
    assert gone
    assert [e["camera_id"] for e in events_in(sub, "camera_missing")] == [NEW_ID]
