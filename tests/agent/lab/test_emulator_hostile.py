"""Every hostile mode does what the profile format says it does."""

from __future__ import annotations

import json
import re
import socket
import struct
import time

import pytest

from tests.agent.lab.test_emulator import dhip_frame, dns_query, probe, sadp_inquiry, udp_exchange
from tests.lab.emulator.testing import EmulatorProcess
from tests.lab.profiles import HOSTILE_DIR, load_profile

DHIP_SEARCH = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'


@pytest.fixture
def emulator(request):
    with EmulatorProcess(HOSTILE_DIR / f"{request.param}.json") as emu:
        yield emu


def test_every_hostile_profile_is_covered_here():
    covered = {
        "wsd-xml-bomb",
        "wsd-oversize",
        "onvif-xml-bomb",
        "http-huge",
        "http-slow",
        "rtsp-slow",
        "sadp-malformed",
        "dhip-malformed",
        "mdns-loop",
        "udp-flood",
    }
    assert {p.stem for p in HOSTILE_DIR.glob("*.json")} == covered
    for path in HOSTILE_DIR.glob("*.json"):
        profile = load_profile(path)
        assert profile.is_hostile
        assert profile.truth.kind == "non-camera"


@pytest.mark.parametrize("emulator", ["wsd-xml-bomb"], indirect=True)
def test_wsd_xml_bomb(emulator):
    replies = udp_exchange(emulator.port(3702), probe(None, "urn:uuid:bomb-1"))
    assert len(replies) == 1
    data = replies[0]
    assert len(data) < 32_768
    assert b"<!DOCTYPE" in data
    assert b"<!ENTITY lol9" in data
    assert data.count(b"&lol8;") == 10
    assert b"<wsa:RelatesTo>urn:uuid:bomb-1</wsa:RelatesTo>" in data
    assert b"<d:Types>&lol9;</d:Types>" in data


@pytest.mark.parametrize("emulator", ["wsd-oversize"], indirect=True)
def test_wsd_oversize(emulator):
    replies = udp_exchange(emulator.port(3702), probe(None, "urn:uuid:big-1"))
    assert len(replies) == 1
    assert 60 * 1024 <= len(replies[0]) <= 65_507
    assert b"<wsa:RelatesTo>urn:uuid:big-1</wsa:RelatesTo>" in replies[0]


@pytest.mark.parametrize("emulator", ["udp-flood"], indirect=True)
def test_udp_flood(emulator):
    replies = udp_exchange(emulator.port(3702), probe(None, "urn:uuid:flood"), settle=0.5)
    assert len(replies) == 200
    assert all(b"urn:uuid:flood" in r for r in replies)
    replies = udp_exchange(emulator.port(37020), sadp_inquiry("F-1"), settle=0.5)
    assert len(replies) == 200
    assert all(b"<Uuid>F-1</Uuid>" in r for r in replies)


@pytest.mark.parametrize("emulator", ["onvif-xml-bomb"], indirect=True)
def test_onvif_xml_bomb(emulator):
    body = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        b'<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
        b"</s:Body></s:Envelope>"
    )
    request = (
        b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/soap+xml\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with socket.create_connection(("127.0.0.1", emulator.port(80)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"<!ENTITY lol9" in data
    assert b"<tds:Manufacturer>&lol9;</tds:Manufacturer>" in data


@pytest.mark.parametrize("emulator", ["http-huge"], indirect=True)
def test_http_huge_body(emulator):
    with socket.create_connection(("127.0.0.1", emulator.port(80)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        assert length == 8_000_000
        received = len(body)
        while chunk := sock.recv(1 << 20):
            received += len(chunk)
    assert received == 8_000_000


def read_for(port: int, request: bytes, seconds: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        sock.settimeout(0.2)
        data = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize("emulator", ["http-slow"], indirect=True)
def test_http_slow_drips_one_byte_per_second(emulator):
    data = read_for(emulator.port(8080), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2.6)
    assert 2 <= len(data) <= 4
    assert b"HTTP/1.1 200 OK\r\n".startswith(data)


@pytest.mark.parametrize("emulator", ["rtsp-slow"], indirect=True)
def test_rtsp_slow_drips_one_byte_per_second(emulator):
    data = read_for(emulator.port(554), b"OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", 2.6)
    assert 2 <= len(data) <= 4
    assert b"RTSP/1.0 200 OK\r\n".startswith(data)


@pytest.mark.parametrize("emulator", ["sadp-malformed"], indirect=True)
def test_sadp_malformed(emulator):
    replies = udp_exchange(emulator.port(37020), sadp_inquiry("M-1"))
    assert len(replies) >= 5
    assert any(r.endswith(b"<DeviceType>1381") for r in replies)  # truncated
    not_utf8 = [r for r in replies if b"\xff\xfe" in r]
    assert not_utf8
    with pytest.raises(UnicodeDecodeError):
        not_utf8[0].decode("utf-8")
    assert any(len(r) > 60_000 for r in replies)  # oversize
    assert any(r.count(b"<a>") >= 5_000 for r in replies)  # nesting
    assert any(b"<!ENTITY" in r for r in replies)  # entity bomb
    assert b"" in replies  # an empty datagram
    # The device is still there afterwards.
    assert udp_exchange(emulator.port(37020), sadp_inquiry("M-2"))


@pytest.mark.parametrize("emulator", ["dhip-malformed"], indirect=True)
def test_dhip_malformed(emulator):
    replies = udp_exchange(emulator.port(37810), dhip_frame(DHIP_SEARCH))
    assert len(replies) >= 6
    magics = {r[4:8] for r in replies if len(r) >= 8}
    assert b"PIHD" in magics
    lying = [
        r
        for r in replies
        if len(r) >= 32
        and r[4:8] == b"DHIP"
        and struct.unpack_from("<Q", r, 16)[0] != len(r) - struct.unpack_from("<I", r)[0]
    ]
    assert lying  # a header whose length does not match the body
    assert any(r.count(b"[") >= 30_000 for r in replies)  # nesting bomb
    bodies = []
    for r in replies:
        try:
            bodies.append(json.loads(r[32:]))
        except (ValueError, RecursionError, UnicodeDecodeError):
            continue
    assert any(isinstance(b.get("params", {}).get("deviceInfo"), list) for b in bodies)
    # Bare JSON still gets nothing, as from an honest device.
    assert udp_exchange(emulator.port(37810), DHIP_SEARCH, wait=0.3) == []


def name_loops(data: bytes, offset: int) -> bool:
    seen = set()
    while True:
        if offset >= len(data):
            return True  # runs off the end: also malformed
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset in seen:
                return True
            seen.add(offset)
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length == 0:
            return False
        offset += 1 + length


@pytest.mark.parametrize("emulator", ["mdns-loop"], indirect=True)
def test_mdns_pointer_loops(emulator):
    replies = udp_exchange(emulator.port(5353), dns_query("_CGI._tcp.local", 12, qid=7))
    assert len(replies) >= 3
    for reply in replies:
        qid, flags, _qd, _an = struct.unpack_from("!HHHH", reply)
        assert (qid, flags & 0x8000) == (7, 0x8000)
        assert name_loops(reply, 12)
    assert replies[0][12:14] == b"\xc0\x0c"  # a name that points at itself
    # Any question gets the same treatment.
    assert udp_exchange(emulator.port(5353), dns_query("anything.local", 1))
