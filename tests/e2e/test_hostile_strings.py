"""A camera with hostile strings, on the wire, to what a subscriber receives.

An emulated Hikvision camera (the corpus profile) whose SADP answer, mDNS name and
ISAPI device information carry markdown links, HTML, bidi overrides, HTML entities,
ANSI escapes and CRLF; the real agent scans it in the lab LAN and publishes to a real
Mosquitto. Every device string in the camera payload arrives as plain text
(docs/security.md, Device strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.service.lan import ServiceLan, cameras_in, events_in, wait
from tests.agent.service.support import check
from tests.lab import netlab

pytestmark = pytest.mark.lab

PROFILE = netlab.REPO_ROOT / "tests" / "fixtures" / "devices" / "hikvision-ds-2cd2143g2-i.json"
CAMERA_ID = "bcad28000021"
MODEL = "DS-2CD2143G2-I [Update](https://evil.example/fw) <img src=x onerror=alert(1)>\u202e"
FIRMWARE = "V5.7.3\x1b[2J build_220112 **URGENT** www.evil.example &#x202E; `x`\r\nSet-Cookie: a"
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def hostile_profile(directory: Path) -> Path:
    raw = json.loads(PROFILE.read_text("utf-8"))
    raw["id"] = "hikvision-hostile-strings"
    fields = raw["sadp"]["fields"]
    fields["DeviceDescription"] = MODEL
    fields["SoftwareVersion"] = FIRMWARE
    for service in raw["mdns"]["services"]:
        service["instance"] = f"HIKVISION {MODEL}"
    path = directory / "hikvision-hostile-strings.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLan]:
    if reason := netlab.lab_unavailable_reason():
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("hostile-strings")
    with netlab.Lab(workdir=workdir / "lab") as lab:
        bench = ServiceLan.build(lab, [hostile_profile(workdir)], workdir)
        try:
            yield bench
        finally:
            bench.close()


def device_strings(payload: dict[str, Any]) -> list[str]:
    found = [payload[k] for k in ("brand", "model", "firmware", "serial", "explanation")]
    found += [e["value"] for e in payload["evidence"]]
    return [s for s in found if s]


def test_hostile_strings_arrive_as_plain_text(bench: ServiceLan) -> None:
    sub = bench.subscriber()
    bench.start_agent()
    wait(sub, lambda s: events_in(s, "scan_finished"), 60, bench)
    state = wait(sub, lambda s: CAMERA_ID in cameras_in(s.state()) and s.state(), 30, bench)
    payload = cameras_in(state)[CAMERA_ID]
    check("camera", payload)
    assert payload["manufacturer_id"] == "hikvision"
    texts = device_strings(payload)
    assert any("evil.example" in t for t in texts), texts  # the strings did arrive...
    for text in texts:  # ...as plain text
        assert not BIDI.search(text), text
        assert not re.search("[\x00-\x1f\x7f]", text), text
        assert not set("[]<>`*|\\") & set(text), text
        assert "://" not in text.replace("://www.hikvision.com", ""), text
        assert "www.evil" not in text, text
        assert not re.search(r"&#?\w+;", text), text
    for message in sub.messages():
        if message.topic.endswith("/event") and message.payload:
            camera = message.json().get("camera") or {}
            for key in ("brand", "model"):
                assert not set("[]<>") & set(camera.get(key) or ""), camera
