"""`cctv-sentinel scan` against real third-party implementations on the lab LAN.

avahi, minidlna, GUPnP/GSSDP, gst-rtsp-server, lighttpd, ipycam and wsdd each
run in their own namespace (tests/lab/peers), next to three emulated cameras.
The agent runs as a user runs it, from the scanner namespace. What a user
relies on: every peer is found, each is called a camera exactly when its
evidence says so, nothing it announced is lost, and the run is clean.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netlab, peers
from tests.lab.procs import child_env
from tests.lab.profiles import load_corpus

pytestmark = pytest.mark.lab

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
LAN = "198.18.0.0/24"
CAMERAS = ("hikvision-ds-2cd2143g2-i", "dahua-ipc-hdw2431t-as-s2", "axis-p3245-lve")


@pytest.fixture(scope="module")
def peer_lan(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[netlab.LanHandle, list[peers.Peer]]]:
    reason = netlab.lab_unavailable_reason()
    if reason:
        if os.environ.get("CCTV_REQUIRE_LAB") == "1":
            pytest.fail(f"lab required but unavailable: {reason}")
        pytest.skip(reason)
    started = peers.standard_peers()
    missing = {p.kind: p.missing() for p in started if p.missing()}
    if missing:
        pytest.fail(f"peer software missing (scripts/bootstrap test installs it): {missing}")
    corpus = [p for p in load_corpus() if p.id in CAMERAS]
    with netlab.Lab(workdir=tmp_path_factory.mktemp("peer-lab")) as lab:
        lan = lab.build_lan(corpus, router=False)
        peers.start_peers(lab, lan.switch, started)
        yield lan, started


@pytest.fixture(scope="module")
def scan(peer_lan: tuple[netlab.LanHandle, list[peers.Peer]]) -> tuple[dict[str, Any], str]:
    lan, _ = peer_lan
    lan.flush_neigh()
    done = lan.exec_in_scanner(
        [AGENT, "scan", "--format", "json", "--raw", "--no-progress", "--network", LAN],
        timeout=120,
        env=child_env(),
    )
    assert done.returncode in {0, 1}, done.stderr  # 1: restricted cameras are on this LAN
    return json.loads(done.stdout), done.stderr


def _by_kind(started: list[peers.Peer]) -> dict[str, peers.Peer]:
    return {p.kind: p for p in started}


def test_every_peer_is_found_and_the_run_is_clean(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, stderr = scan
    assert "Traceback" not in stderr
    assert stderr.strip() == "", stderr
    seen = {h["ip"] for h in doc["hosts"]}
    assert {p.ip for p in started} <= seen, sorted({p.ip for p in started} - seen)


def test_cameras_exactly_where_the_evidence_says(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, _ = scan
    cameras = {c["ip"]: c for c in doc["cameras"]}
    wrong = {
        f"{p.kind} ({p.evidence})": p.ip in cameras
        for p in started
        if (p.ip in cameras) != p.camera
    }
    assert not wrong, f"verdict differs from the evidence: {wrong}"
    for peer in started:
        if peer.camera:
            assert cameras[peer.ip]["explanation"], peer.kind
    # The emulated cameras next to the peers are still found.
    assert {"198.18.0.21", "198.18.0.22", "198.18.0.23"} <= set(cameras)


def _observations(doc: dict[str, Any], ip: str, probe: str) -> list[dict[str, Any]]:
    host = next(h for h in doc["hosts"] if h["ip"] == ip)
    return [o for o in host["observations"] if o["probe"] == probe]


def test_every_avahi_service_is_heard_whole(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, _ = scan
    avahi = _by_kind(started)["avahi"]
    assert isinstance(avahi, peers.AvahiCamera)
    published = {(f"{s.type}.local", s.instance) for s in avahi.services()}
    heard = {
        (o["fields"]["service"], o["fields"].get("instance")): o
        for o in _observations(doc, avahi.ip, "mdns")
    }
    assert set(heard) == published
    for (_, instance), obs in heard.items():
        # SRV and TXT joined to every instance, however the answer was split.
        assert obs["fields"].get("service_port"), instance
        assert f"macaddress={avahi.serial}" in obs["fields"].get("txt", ""), instance
    # AAAA published over IPv4 gives the MAC back (EUI-64).
    assert any(o["fields"].get("eui64_mac") == avahi.mac for o in heard.values())


def test_every_upnp_device_is_described(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, _ = scan
    kinds = _by_kind(started)
    expect = {
        "minidlna": "urn:schemas-upnp-org:device:MediaServer:1",
        "gupnp-camera": "urn:schemas-upnp-org:device:DigitalSecurityCamera:1",
        "gupnp-light": "urn:schemas-upnp-org:device:BinaryLight:1",
    }
    for kind, device_type in expect.items():
        found = _observations(doc, kinds[kind].ip, "ssdp")
        assert found, kind
        # Every answer of a device is joined to it: one description per LOCATION.
        assert {o["fields"].get("device_type") for o in found} == {device_type}, kind
        assert all(o["fields"].get("location") for o in found)


def test_onvif_peer_is_asked_for_its_identity(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, _ = scan
    onvif_peer = _by_kind(started)["ipycam"]
    (camera,) = [c for c in doc["cameras"] if c["ip"] == onvif_peer.ip]
    assert camera["model"] == peers.ipycam.MODEL
    assert _observations(doc, onvif_peer.ip, "wsd")


def test_rtsp_and_web_realms_are_read(
    peer_lan: tuple[netlab.LanHandle, list[peers.Peer]], scan: tuple[dict[str, Any], str]
) -> None:
    _, started = peer_lan
    doc, _ = scan
    kinds = _by_kind(started)
    rtsp_auth = _observations(doc, kinds["gst-rtsp-digest"].ip, "rtsp")
    assert {o["fields"].get("realm") for o in rtsp_auth} == {peers.gst_rtsp.REALM}
    rtsp_open = _observations(doc, kinds["gst-rtsp"].ip, "rtsp")
    assert rtsp_open
    assert all("realm" not in o["fields"] for o in rtsp_open)
    web = _observations(doc, kinds["lighttpd-camera"].ip, "http")
    assert peers.lighttpd.REALM in {o["fields"].get("realm") for o in web}
    assert any(o["port"] == 443 for o in web)  # the TLS site was read too
