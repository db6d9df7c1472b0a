"""No camera password crosses plain HTTP, whoever asks for it (issue 11, item 1).

On the lab LAN, next to an emulated Hikvision camera, runs a host that is no
camera and answers every request with ``401 WWW-Authenticate: Basic`` on ports
80 and 8080, the ISAPI and Dahua CGI endpoints included, and answers ONVIF's
unauthenticated GetSystemDateAndTime like a device service so that the
agent's ONVIF probe goes on to the calls that need credentials. The sink
records every byte it is sent. The real agent scans with a credentials file:
the password (or its Basic token) reaches the sink only when the file opts
that one host in with ``basic_over_http: true``, while the real camera is
still unlocked by Digest and WS-Security.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netlab
from tests.lab.procs import child_env
from tests.lab.profiles import Profile, load_corpus

pytestmark = pytest.mark.lab

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
LAN = "198.18.0.0/24"
SINK_IP = "198.18.0.60"
CAMERA = "hikvision-ds-2cd2143g2-i"


@pytest.fixture(scope="module")
def camera() -> Profile:
    return next(p for p in load_corpus() if p.id == CAMERA)


@pytest.fixture(scope="module")
def sink_lan(
    camera: Profile, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[netlab.LanHandle, Path]]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("sink-lab")
    log = workdir / "sink.jsonl"
    with netlab.Lab(workdir=workdir) as lab:
        lan = lab.build_lan([camera], router=False)
        sink = lab.add_host("sink", f"{SINK_IP}/24", "02:00:00:00:00:60", lan.switch)
        lab.start_ready(
            sink,
            [sys.executable, "-m", "tests.lab.basic_sink", SINK_IP, str(log), "80", "8080"],
            label="basic-sink",
        )
        yield lan, log


def scan(lan: netlab.LanHandle, creds: Path) -> dict[str, Any]:
    done = lan.exec_in_scanner(
        [
            AGENT,
            "scan",
            "--format",
            "json",
            "--raw",
            "--no-progress",
            "--credentials",
            str(creds),
            "--network",
            LAN,
        ],
        timeout=120,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in {0, 1}, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def received(log: Path) -> list[dict[str, Any]]:
    """What the sink was sent since the last call (the log is emptied)."""
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text("utf-8").splitlines() if line]
    log.write_text("", encoding="utf-8")
    return lines


def write_creds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "creds.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def secrets_of(camera: Profile) -> tuple[str, str, str]:
    user = camera.raw["credentials"]["username"]
    password = camera.raw["credentials"]["password"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return user, password, token


def observation(doc: dict[str, Any], ip: str, probe: str, **match: str) -> dict[str, Any]:
    host = next(h for h in doc["hosts"] if h["ip"] == ip)
    found = [
        o["fields"]
        for o in host["observations"]
        if o["probe"] == probe and all(o["fields"].get(k) == v for k, v in match.items())
    ]
    assert found, (probe, match, host["observations"])
    return found[0]


def assert_nothing_secret(requests: list[dict[str, Any]], password: str, token: str) -> None:
    wire = "".join(r["head"] + r["body"] for r in requests)
    assert password not in wire
    assert token not in wire
    assert "Authorization: Basic" not in wire
    assert "#PasswordText" not in wire


def test_default_credentials_never_reach_a_basic_prompt(
    sink_lan: tuple[netlab.LanHandle, Path], camera: Profile, tmp_path: Path
) -> None:
    lan, log = sink_lan
    user, password, token = secrets_of(camera)
    creds = write_creds(tmp_path, f"default: {{username: {user}, password: {password}}}\n")
    received(log)
    doc = scan(lan, creds)
    requests = received(log)
    # The sink was asked everything a camera is asked, on both ports ...
    paths = {(r["port"], r["head"].split(" ", 2)[1]) for r in requests}
    for port in (80, 8080):
        assert (port, "/ISAPI/System/deviceInfo") in paths
        assert (port, "/cgi-bin/magicBox.cgi?action=getSystemInfo") in paths
    assert any("GetDeviceInformation" in r["body"] for r in requests), "ONVIF calls not made"
    # ... and was never given the password.
    assert_nothing_secret(requests, password, token)
    isapi = observation(doc, SINK_IP, "http", endpoint="/ISAPI/System/deviceInfo")
    assert isapi["auth"] == "withheld"
    # The real camera next to it still opens to Digest and WS-Security.
    ip = camera.network.ip
    assert observation(doc, ip, "http", endpoint="/ISAPI/System/deviceInfo")["auth"] == "ok"
    assert observation(doc, ip, "onvif")["auth"] == "ok"


def test_a_named_host_without_the_opt_in_gets_no_basic(
    sink_lan: tuple[netlab.LanHandle, Path], camera: Profile, tmp_path: Path
) -> None:
    lan, log = sink_lan
    user, password, token = secrets_of(camera)
    creds = write_creds(
        tmp_path,
        f"hosts:\n  - {{match: {SINK_IP}, username: {user}, password: {password}}}\n",
    )
    received(log)
    scan(lan, creds)
    requests = received(log)
    assert requests
    assert_nothing_secret(requests, password, token)


def test_the_host_the_file_opts_in_gets_basic_and_no_other(
    sink_lan: tuple[netlab.LanHandle, Path], camera: Profile, tmp_path: Path
) -> None:
    lan, log = sink_lan
    user, password, token = secrets_of(camera)
    creds = write_creds(
        tmp_path,
        f"default: {{username: {user}, password: {password}}}\n"
        "hosts:\n"
        f"  - {{match: {SINK_IP}, username: {user}, password: {password},"
        " basic_over_http: true}\n",
    )
    received(log)
    doc = scan(lan, creds)
    requests = received(log)
    # The user asked for it, for this one host: the sink now gets the Basic token.
    assert any(f"Authorization: Basic {token}" in r["head"] for r in requests)
    isapi = observation(doc, SINK_IP, "http", endpoint="/ISAPI/System/deviceInfo")
    assert isapi["auth"] == "failed"  # the sink accepts nobody
