"""`cctv-sentinel scan` end to end: the real agent on a LAN of emulated devices.

Every honest profile of the corpus runs on the wire in its own network
namespace; the agent runs as a process in the scanner's namespace, exactly as
a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netlab
from tests.lab.procs import child_env
from tests.lab.profiles import Profile, clone, load_corpus

pytestmark = pytest.mark.lab

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
LAN = "198.18.0.0/24"
FAR = "198.18.1.0/24"
CAMERA_KINDS = {"camera", "recorder"}
CAMERA_KEYS = {
    "ip",
    "mac",
    "brand",
    "manufacturer",
    "manufacturer_id",
    "model",
    "firmware",
    "risk",
    "confidence",
    "regimes",
    "discovered_by",
    "ports",
    "explanation",
    "risk_reason",
    "evidence",
}


def expected_cameras(profiles: list[Profile]) -> dict[str, Profile]:
    return {p.network.ip: p for p in profiles if p.truth.kind in CAMERA_KINDS}


def run_scan(
    lan: netlab.LanHandle, *args: str, timeout: float = 60
) -> tuple[int, dict[str, Any], str]:
    done = lan.exec_in_scanner(
        [AGENT, "scan", "--format", "json", "--no-progress", *args],
        timeout=timeout,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def corpus() -> list[Profile]:
    return load_corpus()


@pytest.fixture(scope="module")
def corpus_lan(
    corpus: list[Profile], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[netlab.LanHandle]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    with netlab.Lab(workdir=tmp_path_factory.mktemp("corpus-lab")) as lab:
        yield lab.build_lan(corpus)


def test_finds_every_camera_and_no_non_camera(
    corpus: list[Profile], corpus_lan: netlab.LanHandle
) -> None:
    code, doc, _ = run_scan(corpus_lan, "--raw", "--network", LAN, "--network", FAR)
    expected = expected_cameras(corpus)
    found = {c["ip"]: c for c in doc["cameras"]}
    assert set(found) == set(expected), (
        f"missed {sorted(set(expected) - set(found))}, "
        f"not cameras {sorted(set(found) - set(expected))}"
    )
    assert code == 1  # restricted cameras are on this LAN
    non_cameras = [p for p in corpus if p.truth.kind not in CAMERA_KINDS]
    assert non_cameras, "the corpus must hold non-cameras for this test to mean anything"
    seen_hosts = {h["ip"] for h in doc["hosts"]}
    for profile in non_cameras:
        # They answered (WS-Discovery, SSDP, HTTP...) and were seen, but are not cameras.
        assert profile.network.ip in seen_hosts, profile.id
    for camera in doc["cameras"]:
        assert set(camera) >= CAMERA_KEYS
        assert camera["risk"] in {"restricted", "elevated", "unknown", "low"}
        assert 0.0 <= camera["confidence"] <= 1.0
        assert camera["discovered_by"], camera["ip"]
    assert doc["scan"]["networks"] == [LAN, FAR]
    assert doc["catalogue_version"]


def test_routed_camera_is_found_by_unicast_without_a_mac(
    corpus: list[Profile], corpus_lan: netlab.LanHandle
) -> None:
    routed = [p for p in corpus if p.network.routed]
    assert routed, "the corpus must hold a routed camera"
    _, doc, _ = run_scan(corpus_lan, "--raw", "--network", LAN, "--network", FAR)
    cameras = {c["ip"]: c for c in doc["cameras"]}
    hosts = {h["ip"]: h for h in doc["hosts"]}
    for profile in routed:
        ip = profile.network.ip
        assert ip in cameras, f"routed camera {ip} not reported"
        probes = {o["probe"] for o in hosts[ip]["observations"]}
        assert "arp" not in probes  # behind a router: no neighbour entry
        assert "sweep" in probes
        if profile.raw.get("wsd"):
            via = {o["fields"].get("via") for o in hosts[ip]["observations"] if o["probe"] == "wsd"}
            assert via == {"unicast"}  # multicast never crosses the router


def test_default_networks_are_the_hosts_own(corpus_lan: netlab.LanHandle) -> None:
    _, doc, _ = run_scan(corpus_lan)
    assert doc["scan"]["networks"] == [LAN]
    assert all(c["ip"].startswith("198.18.0.") for c in doc["cameras"])


def test_credentials_unlock_onvif_and_isapi_and_stay_secret(
    corpus_lan: netlab.LanHandle, corpus: list[Profile], tmp_path: Path
) -> None:
    hik = next(p for p in corpus if p.id == "hikvision-ds-2cd2143g2-i")
    secret = hik.raw["credentials"]["password"]
    creds = tmp_path / "creds.yaml"
    creds.write_text(
        "hosts:\n"
        f"  - match: {hik.network.ip}\n"
        f"    username: {hik.raw['credentials']['username']}\n"
        f"    password: {secret}\n",
        encoding="utf-8",
    )
    creds.chmod(0o600)
    done = corpus_lan.exec_in_scanner(
        [
            AGENT,
            "-vv",
            "scan",
            "--format",
            "json",
            "--raw",
            "--no-progress",
            "--credentials",
            str(creds),
            "--network",
            f"{hik.network.ip}/32",
        ],
        timeout=60,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert secret not in done.stdout
    assert secret not in done.stderr
    doc = json.loads(done.stdout)
    (host,) = [h for h in doc["hosts"] if h["ip"] == hik.network.ip]
    onvif = [o for o in host["observations"] if o["probe"] == "onvif"]
    assert onvif
    assert onvif[0]["fields"]["auth"] == "ok"
    info = hik.raw["onvif"]["device_information"]
    assert onvif[0]["fields"]["model"] == info["Model"]
    assert onvif[0]["fields"]["firmware"] == info["FirmwareVersion"]
    isapi = [
        o for o in host["observations"] if o["fields"].get("endpoint") == "/ISAPI/System/deviceInfo"
    ]
    assert isapi
    assert isapi[0]["fields"]["auth"] == "ok"
    assert isapi[0]["fields"]["model"] == hik.truth.model


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--network", "10.0.0.0/8", "--ports", "0"], "out of range"),
        (["--network", "not-a-net"], "is not an IPv4 network"),
        (["--network", "127.0.0.0/8"], "loopback"),
        (["--timeout", "abc"], "not a number"),
        (["--credentials", "/nonexistent/creds.yaml"], "cannot read credentials file"),
        (["--raw"], "--raw needs --format json"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = subprocess.run(
        [AGENT, "scan", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr


# --- hostile devices ---------------------------------------------------------------

HOSTILE_DEADLINE = 6.0
MEMORY_BOUND_MB = 96
"""Peak RSS a scan of the hostile LAN may reach (measured: about 46 MB, docs/benchmarks.md)."""


@pytest.fixture(scope="module")
def hostile_lan(
    corpus: list[Profile], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[netlab.LanHandle, list[Profile]]]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    hostile = [p for p in load_corpus(include_hostile=True) if p.is_hostile]
    honest = [
        p
        for p in corpus
        if p.id in {"hikvision-ds-2cd2143g2-i", "dahua-ipc-hdw2431t-as-s2", "axis-p3245-lve"}
    ]
    with netlab.Lab(workdir=tmp_path_factory.mktemp("hostile-lab")) as lab:
        yield lab.build_lan([*honest, *hostile]), honest


def test_hostile_devices_neither_crash_nor_stall_the_scan(
    hostile_lan: tuple[netlab.LanHandle, list[Profile]],
) -> None:
    lan, honest = hostile_lan
    proc = lan.popen_in_scanner(
        [AGENT, "scan", "--format", "json", "--no-progress", "--timeout", str(HOSTILE_DEADLINE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    start = time.monotonic()
    out, err = proc.communicate(timeout=HOSTILE_DEADLINE + 30)
    took = time.monotonic() - start
    # Python start-up and output come on top of the scan's own deadline.
    assert took < HOSTILE_DEADLINE + 3, f"scan took {took:.1f} s"
    assert proc.returncode in {0, 1}, err
    assert "Traceback" not in err
    doc = json.loads(out)
    found = {c["ip"] for c in doc["cameras"]}
    for profile in honest:
        assert profile.network.ip in found, profile.id


def test_hostile_scan_stays_within_its_memory_bound(
    hostile_lan: tuple[netlab.LanHandle, list[Profile]], tmp_path: Path
) -> None:
    lan, _ = hostile_lan
    report = tmp_path / "rss.json"
    # Measured from a small forking helper: see tests/lab/peakrss.py for why.
    done = lan.exec_in_scanner(
        [
            sys.executable,
            "-m",
            "tests.lab.peakrss",
            str(report),
            "--",
            AGENT,
            "scan",
            "--format",
            "json",
            "--no-progress",
            "--timeout",
            str(HOSTILE_DEADLINE),
        ],
        timeout=HOSTILE_DEADLINE + 30,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert done.returncode in {0, 1}, done.stderr
    peak_mb = json.loads(report.read_text(encoding="utf-8"))["peak_rss_kb"] / 1024
    assert peak_mb < MEMORY_BOUND_MB, f"peak RSS {peak_mb:.0f} MB"


DEADLINE = 5.0
"""Long enough for signed calls to start on a loaded 2-core host."""
DEADLINE_SLACK = 0.1
"""The scan ends within 100 ms of --timeout, whatever its follow-ups are doing."""
STALLER_IP = "198.18.0.190"


def test_deadline_holds_with_credentials_and_stalling_follow_ups(
    hostile_lan: tuple[netlab.LanHandle, list[Profile]], tmp_path: Path
) -> None:
    lan, honest = hostile_lan
    hik = next(p for p in honest if p.id == "hikvision-ds-2cd2143g2-i")
    # A copy of the Hikvision camera that holds every signed ONVIF request for a
    # minute: with credentials the scan's follow-up to it is still waiting at
    # the deadline (the hostile LAN's drips end at the head timeout on their own).
    staller = clone(hik, STALLER_IP, "c0:56:e3:00:01:90", "STALL0190", id="hik-staller")
    lan.add_device(staller, emulator_args=["--stall-signed", "60"])
    creds = tmp_path / "creds.yaml"
    creds.write_text(
        "hosts:\n"
        f"  - match: {LAN}\n"
        f"    username: {hik.raw['credentials']['username']}\n"
        f"    password: {hik.raw['credentials']['password']}\n",
        encoding="utf-8",
    )
    creds.chmod(0o600)
    try:
        start = time.monotonic()
        code, doc, err = run_scan(lan, "--credentials", str(creds), "--timeout", str(DEADLINE))
        took = time.monotonic() - start
        stalled = "holding a signed request" in lan.emulators["hik-staller"].stderr()
    finally:
        lan.remove_device("hik-staller")
    assert code in {0, 1}, err
    assert stalled, f"the signed follow-up never reached the staller: {doc['scan']['errors']}"
    # The held request ends either at its own bounded timeout or, when it started
    # late, at the scan's deadline (then the scan says so); never after it.
    errors = doc["scan"]["errors"]
    assert all("deadline" in e for e in errors if "onvif" in e.lower()), errors
    duration = doc["scan"]["duration_s"]
    assert duration <= DEADLINE + DEADLINE_SLACK, f"scan ran {duration:.3f} s"
    # Nothing a follow-up started keeps the process alive after its scan: what
    # remains is start-up, verdicts and output (about 0.5 s on a loaded host).
    print(f"--timeout {DEADLINE}: scan {duration:.3f} s, process {took:.3f} s")
    assert took - duration < 3.0, f"{took - duration:.2f} s outside the scan"
