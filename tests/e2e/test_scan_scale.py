"""A full scan of a LAN of 142 emulated devices hears every discovery answer they sent.

The corpus's on-link profiles and their clones fill the /24; every WS-Discovery
answer carries a gSOAP server's namespace table (3.4-3.6 KiB, as real
ProbeMatches are) and waits a random 0-500 ms (APP_MAX_DELAY) before it is
sent, SSDP answers a random 0..MX seconds. What each device's emulator logged
as sent to the scanner is compared with what the scan reports, protocol by
protocol, and the scanner namespace's UDP receive-buffer drop counter (what
``nstat`` shows as UdpRcvbufErrors) must not move.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import netlab, scale
from tests.lab.procs import child_env
from tests.lab.profiles import Profile

pytestmark = pytest.mark.lab

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
DEVICES = 142


def udp_counters(lan: netlab.LanHandle) -> dict[str, int]:
    """The scanner namespace's UDP counters (/proc/net/snmp, what nstat reads)."""
    text = lan.lab.run(lan.scanner, ["cat", "/proc/net/snmp"], capture_output=True, text=True)
    names, values = re.findall(r"^Udp: (.*)$", text.stdout, re.MULTILINE)[:2]
    return dict(zip(names.split(), map(int, values.split()), strict=True))


@pytest.fixture(scope="module")
def profiles() -> list[Profile]:
    return scale.lan_profiles(DEVICES)


@pytest.fixture(scope="module")
def big_lan(
    profiles: list[Profile], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[netlab.LanHandle]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    with netlab.Lab(workdir=tmp_path_factory.mktemp("scale-lab")) as lab:
        yield lab.build_lan(profiles, router=False, emulator_args=["--gsoap-envelope"])


def test_every_discovery_answer_is_heard_and_no_buffer_overflows(
    profiles: list[Profile], big_lan: netlab.LanHandle
) -> None:
    before = udp_counters(big_lan)
    done = big_lan.exec_in_scanner(
        [AGENT, "scan", "--format", "json", "--raw", "--no-progress", "--network", "198.18.0.0/24"],
        timeout=120,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    after = udp_counters(big_lan)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in {0, 1}, done.stderr
    doc = json.loads(done.stdout)
    assert not [e for e in doc["scan"]["errors"] if "deadline" in e], doc["scan"]["errors"]

    sent = scale.sent_by_devices(big_lan)
    heard = scale.heard_by_scan(doc)
    # The LAN exercises every protocol at scale, the WS-Discovery burst most.
    assert len(sent["wsd"]) >= 100
    assert all(sent[p] for p in scale.DISCOVERY), {p: len(s) for p, s in sent.items()}
    missed = {p: sorted(sent[p] - heard[p]) for p in scale.DISCOVERY if sent[p] - heard[p]}
    assert not missed, f"answers sent but not heard: {missed}"
    assert after["RcvbufErrors"] == before["RcvbufErrors"], (before, after)
    assert after["InErrors"] == before["InErrors"], (before, after)

    cameras = {p.network.ip for p in profiles if p.truth.kind in scale.CAMERA_KINDS}
    found = {c["ip"] for c in doc["cameras"]}
    assert found == cameras, (
        f"missed {sorted(cameras - found)}, not cameras {sorted(found - cameras)}"
    )
