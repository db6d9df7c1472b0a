"""The agent's ONVIF client against a real third-party device server: ipycam with a password.

ipycam (PyPI) checks a WS-Security UsernameToken on every ONVIF call once it
has credentials, with its own PasswordDigest verifier and clock-skew check,
and guards its web pages with HTTP Basic. The real agent scans it as a user
would: the right password unlocks GetDeviceInformation, a wrong one is
reported as refused, none as required, and its Basic prompt over plain HTTP
never gets the password.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netlab
from tests.lab.peers import ipycam
from tests.lab.procs import child_env

pytestmark = pytest.mark.lab

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
CAM_IP = "198.18.0.70"
USER = "operator"
PASSWORD = "ipycam-Secret-7"


@pytest.fixture(scope="module")
def lan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[netlab.LanHandle]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    if importlib.util.find_spec("ipycam") is None:
        pytest.fail("ipycam missing (dependency group peers; scripts/bootstrap test installs it)")
    with netlab.Lab(workdir=tmp_path_factory.mktemp("ipycam-lab")) as lab:
        handle = lab.build_lan([], router=False)
        cam = lab.add_host("ipycam", f"{CAM_IP}/24", "02:00:00:00:00:70", handle.switch)
        argv = [
            sys.executable,
            "-P",
            str(ipycam.SCRIPT),
            CAM_IP,
            str(ipycam.PORT),
            ipycam.MANUFACTURER,
            ipycam.MODEL,
            ipycam.SERIAL,
            USER,
            PASSWORD,
        ]
        lab.start_ready(cam, argv, label="ipycam", timeout=60)
        yield handle


def scan(lan: netlab.LanHandle, tmp_path: Path, creds: str | None) -> dict[str, Any]:
    extra: list[str] = []
    if creds is not None:
        path = tmp_path / "creds.yaml"
        path.write_text(creds, encoding="utf-8")
        path.chmod(0o600)
        extra = ["--credentials", str(path)]
    done = lan.exec_in_scanner(
        [
            AGENT,
            "-vv",
            "scan",
            "--format",
            "json",
            "--raw",
            "--no-progress",
            *extra,
            "--network",
            f"{CAM_IP}/32",
        ],
        timeout=120,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert done.returncode in {0, 1}, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def fields(doc: dict[str, Any], probe: str, **match: str) -> dict[str, str]:
    host = next(h for h in doc["hosts"] if h["ip"] == CAM_IP)
    found = [
        o["fields"]
        for o in host["observations"]
        if o["probe"] == probe and all(o["fields"].get(k) == v for k, v in match.items())
    ]
    assert found, (probe, match, [o["probe"] for o in host["observations"]])
    return found[0]


def test_the_right_password_unlocks_device_information(lan: netlab.LanHandle, tmp_path: Path):
    doc = scan(lan, tmp_path, f"default: {{username: {USER}, password: {PASSWORD}}}\n")
    onvif = fields(doc, "onvif")
    assert onvif["auth"] == "ok"
    assert (onvif["manufacturer"], onvif["model"], onvif["serial"]) == (
        ipycam.MANUFACTURER,
        ipycam.MODEL,
        ipycam.SERIAL,
    )
    # Its web pages ask for Basic over plain HTTP: the password is withheld.
    assert fields(doc, "http", endpoint="/ISAPI/System/deviceInfo")["auth"] == "withheld"


def test_a_wrong_password_is_reported_as_refused(lan: netlab.LanHandle, tmp_path: Path):
    doc = scan(lan, tmp_path, f"default: {{username: {USER}, password: wrong}}\n")
    onvif = fields(doc, "onvif")
    assert onvif["auth"] == "failed"
    assert "model" not in onvif


def test_without_credentials_they_are_reported_as_required(lan: netlab.LanHandle, tmp_path: Path):
    onvif = fields(scan(lan, tmp_path, None), "onvif")
    assert onvif["auth"] == "required"
