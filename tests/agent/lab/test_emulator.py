"""The emulator as a process, and its UDP discovery responders, on the wire.

Every request is written here as raw bytes (independent of the agent); every
reply is read from a real socket on 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.lab.emulator.testing import ROOT, EmulatorProcess, free_port
from tests.lab.profiles import DEVICES_DIR, clone, load_profile

HIK = DEVICES_DIR / "hikvision-ds-2cd2143g2-i.json"
DAHUA = DEVICES_DIR / "dahua-ipc-hdw2431t-as-s2.json"
AXIS = DEVICES_DIR / "axis-p3245-lve.json"

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}


@pytest.fixture(scope="module")
def hik():
    with EmulatorProcess(HIK) as emu:
        yield emu


@pytest.fixture(scope="module")
def dahua():
    with EmulatorProcess(DAHUA) as emu:
        yield emu


@pytest.fixture(scope="module")
def axis():
    with EmulatorProcess(AXIS) as emu:
        yield emu


def udp_exchange(
    port: int, payload: bytes, *, wait: float = 1.0, settle: float = 0.3
) -> list[bytes]:
    """Send one datagram to 127.0.0.1:port and collect replies until quiet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Room for a flood of replies (hostile udp_flood) without kernel drops.
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, 8 << 20)
        except (OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.sendto(payload, ("127.0.0.1", port))
        replies: list[bytes] = []
        sock.settimeout(wait)
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                return replies
            replies.append(data)
            sock.settimeout(settle)


# --- process model ------------------------------------------------------------------


def test_ready_line_and_sigterm_exits_zero():
    emu = EmulatorProcess(AXIS).start()
    try:
        assert emu.ready_line == "READY axis-p3245-lve"
        assert emu.terminate(signal.SIGTERM) == 0
        assert emu.stdout_rest() == ""  # exactly one line on stdout
    finally:
        emu.cleanup()


def test_sigint_exits_zero_and_frees_ports():
    emu = EmulatorProcess(DAHUA).start()
    try:
        port = emu.port(80)
        assert emu.terminate(signal.SIGINT) == 0
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # released: nothing left listening
    finally:
        emu.cleanup()


def test_invalid_profile_exits_2_with_reasons(tmp_path: Path):
    raw = json.loads(HIK.read_text())
    raw["network"]["mac"] = "zz:00:00:00:00:01"
    raw["bogus"] = 1
    bad = tmp_path / "hikvision-ds-2cd2143g2-i.json"
    bad.write_text(json.dumps(raw))
    done = subprocess.run(
        [sys.executable, "-m", "tests.lab.emulator", str(bad), "--bind", "127.0.0.1"],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert b"READY" not in done.stdout
    assert b"network.mac" in done.stderr
    assert b"unknown key 'bogus'" in done.stderr


def test_port_in_use_exits_1_without_ready():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        others = {p: free_port() for p in (554, 8000, 3702, 5353, 37020)}
        mapping = ",".join(f"{k}={v}" for k, v in {80: taken, **others}.items())
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.lab.emulator",
                str(HIK),
                "--bind",
                "127.0.0.1",
                "--port-map",
                mapping,
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert b"READY" not in done.stdout
    assert b"cannot start" in done.stderr


def test_bad_port_map_is_a_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "tests.lab.emulator", str(HIK), "--port-map", "80:90"],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert b"PORT=PORT" in done.stderr


def test_requests_are_logged_without_passwords(hik):
    url = f"http://127.0.0.1:{hik.port(80)}/doc/page/login.asp"
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.status == 200
    time.sleep(0.1)
    log = hik.stderr()
    assert "GET /doc/page/login.asp" in log
    assert "Sentinel-test-1" not in log


# --- WS-Discovery ---------------------------------------------------------------------


def probe(types: str | None, message_id: str, scopes: str | None = None) -> bytes:
    types_xml = f"<d:Types>{types}</d:Types>" if types is not None else ""
    scopes_xml = f"<d:Scopes>{scopes}</d:Scopes>" if scopes is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/"
        "anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        '<a:Action s:mustUnderstand="1">'
        "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
        f"</s:Header><s:Body><d:Probe>{types_xml}{scopes_xml}</d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def test_wsd_probe_matches_shape(hik):
    message_id = f"urn:uuid:{uuid.uuid4()}"
    replies = udp_exchange(hik.port(3702), probe("dn:NetworkVideoTransmitter", message_id))
    assert len(replies) == 1
    root = ET.fromstring(replies[0])
    header = root.find("s:Header", NS)
    assert header.findtext("a:RelatesTo", namespaces=NS) == message_id
    assert header.findtext("a:MessageID", namespaces=NS) != message_id
    assert header.findtext("a:MessageID", namespaces=NS).startswith("urn:uuid:")
    assert header.findtext("a:To", namespaces=NS).endswith("/role/anonymous")
    assert header.findtext("a:Action", namespaces=NS) == (
        "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
    )
    match = root.find("s:Body/d:ProbeMatches/d:ProbeMatch", NS)
    assert match.findtext("a:EndpointReference/a:Address", namespaces=NS) == (
        "urn:uuid:3fa85f64-5717-4562-b3fc-bcad28000021"
    )
    assert match.findtext("d:Types", namespaces=NS).split() == [
        "dn:NetworkVideoTransmitter",
        "tds:Device",
    ]
    scopes = match.findtext("d:Scopes", namespaces=NS).split()
    assert "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I" in scopes
    assert "onvif://www.onvif.org/MAC/bc:ad:28:00:00:21" in scopes
    assert match.findtext("d:XAddrs", namespaces=NS) == ("http://198.18.0.21/onvif/device_service")
    assert match.findtext("d:MetadataVersion", namespaces=NS) == "10"
    # The Types prefixes are declared, so a namespace-aware client resolves them.
    assert b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in replies[0]


def test_wsd_empty_probe_and_device_type_match(hik):
    assert len(udp_exchange(hik.port(3702), probe(None, "uuid:1"))) == 1
    assert len(udp_exchange(hik.port(3702), probe("", "uuid:2"))) == 1
    assert len(udp_exchange(hik.port(3702), probe("tds:Device", "uuid:3"))) == 1


def test_wsd_no_reply_to_other_type(hik):
    assert udp_exchange(hik.port(3702), probe("wprt:PrintDeviceType", "uuid:4")) == []


def test_wsd_scope_filter(hik):
    hit = probe(None, "uuid:5", "onvif://www.onvif.org/Profile/Streaming")
    miss = probe(None, "uuid:6", "onvif://www.onvif.org/Profile/Q")
    assert len(udp_exchange(hik.port(3702), hit)) == 1
    assert udp_exchange(hik.port(3702), miss) == []


def test_wsd_ignores_non_probes_and_garbage(hik):
    port = hik.port(3702)
    not_probe = probe(None, "uuid:7").replace(b"/discovery/Probe<", b"/discovery/Hello<")
    assert udp_exchange(port, not_probe, wait=0.5) == []
    assert udp_exchange(port, b"<not xml", wait=0.3) == []
    bomb = b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]><s>&a;</s>'
    assert udp_exchange(port, bomb, wait=0.3) == []
    # Still alive after all that.
    assert len(udp_exchange(port, probe(None, "uuid:8"))) == 1


def test_wsd_reply_delay_is_bounded_by_max_delay():
    with EmulatorProcess(AXIS, max_delay=0.4) as emu:
        started = time.monotonic()
        replies = udp_exchange(emu.port(3702), probe(None, "uuid:9"), wait=2.0)
        elapsed = time.monotonic() - started
    assert len(replies) == 1
    assert elapsed < 0.4 + 0.3 + 0.5  # delay bound + settle + slack


# --- SADP -----------------------------------------------------------------------------------


def sadp_inquiry(uid: str, types: str = "inquiry") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{uid}</Uuid><Types>{types}</Types></Probe>"
    ).encode()


@pytest.mark.parametrize("types", ["inquiry", "inquiry_v32"])
def test_sadp_reply(hik, types):
    uid = str(uuid.uuid4()).upper()
    replies = udp_exchange(hik.port(37020), sadp_inquiry(uid, types))
    assert len(replies) == 1  # unicast; the multicast copy is suppressed on loopback
    assert replies[0].startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(replies[0])
    assert root.tag == "ProbeMatch"
    assert root.findtext("Uuid") == uid
    assert root.findtext("Types") == "inquiry"
    assert root.findtext("DeviceDescription") == "DS-2CD2143G2-I"
    assert root.findtext("DeviceSN") == "DS-2CD2143G2-I20220315AAWR412345678"
    assert root.findtext("MAC") == "bc-ad-28-00-00-21"
    assert root.findtext("IPv4Address") == "198.18.0.21"
    names = [child.tag for child in root]
    assert names[:4] == ["Uuid", "Types", "DeviceType", "DeviceDescription"]


def test_sadp_ignores_other_messages(hik):
    port = hik.port(37020)
    assert udp_exchange(port, sadp_inquiry("X", "update"), wait=0.4) == []
    assert udp_exchange(port, b"<ProbeMatch><Uuid>X</Uuid></ProbeMatch>", wait=0.3) == []


# --- DHIP ------------------------------------------------------------------------------------

DHIP_BODY = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'


def dhip_frame(body: bytes) -> bytes:
    return (
        struct.pack("<I", 32) + b"DHIP" + bytes(8) + struct.pack("<QQ", len(body), len(body)) + body
    )


def test_dhip_reply_framing(dahua):
    replies = udp_exchange(dahua.port(37810), dhip_frame(DHIP_BODY))
    assert len(replies) == 1
    data = replies[0]
    header_len, magic = struct.unpack_from("<I4s", data)
    assert (header_len, magic) == (32, b"DHIP")
    length, again = struct.unpack_from("<QQ", data, 16)
    assert length == again == len(data) - 32
    message = json.loads(data[32:])
    assert message["mac"] == "3c:ef:8c:00:00:22"
    assert message["method"] == "client.notifyDevInfo"
    info = message["params"]["deviceInfo"]
    assert info["DeviceType"] == "IPC-HDW2431T-AS-S2"
    assert info["SerialNo"] == "7F0A2C3PAJ00022"
    assert info["IPv4Address"]["IPAddress"] == "198.18.0.22"
    assert info["Port"] == 37777


def test_dhip_no_reply_to_bare_json_or_bad_magic(dahua):
    port = dahua.port(37810)
    assert udp_exchange(port, DHIP_BODY, wait=0.5) == []
    reversed_magic = dhip_frame(DHIP_BODY).replace(b"DHIP", b"PIHD", 1)
    assert udp_exchange(port, reversed_magic, wait=0.3) == []
    other = dhip_frame(b'{"method":"DHDiscover.getVersion"}')
    assert udp_exchange(port, other, wait=0.3) == []


# --- SSDP -----------------------------------------------------------------------------------


def m_search(st: str) -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        f'MAN: "ssdp:discover"\r\nMX: 1\r\nST: {st}\r\n\r\n'
    ).encode()


def headers_of(reply: bytes) -> tuple[str, dict[str, str]]:
    lines = reply.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().upper()] = v.strip()
    return lines[0], headers


def test_ssdp_reply_and_description(dahua):
    replies = udp_exchange(dahua.port(1900), m_search("upnp:rootdevice"))
    assert len(replies) == 1
    status, headers = headers_of(replies[0])
    assert status == "HTTP/1.1 200 OK"
    assert headers["SERVER"] == (
        "Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK"
    )
    assert headers["USN"] == "uuid:www.dahuatech.com.device_3_0-7F0A2C3PAJ00022"
    assert headers["ST"] == "upnp:rootdevice"
    assert headers["CACHE-CONTROL"] == "max-age=1800"
    assert "EXT" in headers
    assert headers["X-USER-AGENT"] == "redsonic"
    location = headers["LOCATION"]
    assert location == "http://198.18.0.22:49152/upnp_device_desc.xml"
    url = f"http://127.0.0.1:{dahua.port(49152)}/upnp_device_desc.xml"
    with urllib.request.urlopen(url, timeout=5) as reply:
        root = ET.fromstring(reply.read())
    upnp = {"u": "urn:schemas-upnp-org:device-1-0"}
    assert root.tag == "{urn:schemas-upnp-org:device-1-0}root"
    assert root.findtext("u:device/u:manufacturer", namespaces=upnp) == "Dahua"
    assert root.findtext("u:device/u:serialNumber", namespaces=upnp) == "7F0A2C3PAJ00022"


def test_ssdp_all_and_non_matching(dahua, axis):
    everything = udp_exchange(dahua.port(1900), m_search("ssdp:all"))
    targets = sorted(headers_of(r)[1]["ST"] for r in everything)
    assert targets == ["upnp:rootdevice", "urn:schemas-upnp-org:device:Basic:1"]
    usns = {headers_of(r)[1]["USN"] for r in everything}
    assert (
        "uuid:www.dahuatech.com.device_3_0-7F0A2C3PAJ00022::urn:schemas-upnp-org:device:Basic:1"
    ) in usns
    assert (
        udp_exchange(
            dahua.port(1900), m_search("urn:dial-multiscreen-org:service:dial:1"), wait=0.5
        )
        == []
    )
    # Not an M-SEARCH: silence.
    notify = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNTS: ssdp:alive\r\n\r\n"
    assert udp_exchange(axis.port(1900), notify, wait=0.3) == []


# --- mDNS -----------------------------------------------------------------------------------


def dns_query(name: str, qtype: int, *, qu: bool = False, qid: int = 0x1234) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    qclass = 1 | (0x8000 if qu else 0)
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, qclass)


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    labels = []
    end = None
    for _ in range(64):
        length = data[offset]
        if length & 0xC0 == 0xC0:
            end = end or offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length == 0:
            return ".".join(labels), end or offset + 1
        labels.append(data[offset + 1 : offset + 1 + length].decode())
        offset += 1 + length
    raise AssertionError("name loop")


def parse_response(data: bytes):
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
    offset = 12
    for _ in range(qd):
        _, offset = read_name(data, offset)
        offset += 4
    records = []
    for _ in range(an + ns + ar):
        name, offset = read_name(data, offset)
        rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        rdata = data[offset : offset + rdlen]
        records.append((name, rtype, rclass, ttl, rdata, offset))
        offset += rdlen
    return qid, flags, qd, an, records


def test_mdns_ptr_srv_txt_a_aaaa(hik):
    replies = udp_exchange(hik.port(5353), dns_query("_CGI._tcp.local", 12, qid=0x4242))
    assert len(replies) == 1
    data = replies[0]
    qid, flags, qd, an, records = parse_response(data)
    assert qid == 0x4242  # legacy unicast (source port != 5353) echoes the id
    assert flags & 0x8400 == 0x8400
    assert qd == 1
    assert an == 1
    by_type = {}
    for name, rtype, _rclass, ttl, rdata, offset in records:
        by_type.setdefault(rtype, []).append((name, ttl, rdata, offset))
        assert ttl <= 10  # RFC 6762 6.7 legacy unicast TTLs
    instance = "HIKVISION DS-2CD2143G2-I - 412345678._CGI._tcp.local"
    ptr_name, _, _, ptr_off = by_type[12][0]
    assert ptr_name == "_CGI._tcp.local"
    assert read_name(data, ptr_off)[0] == instance
    srv_name, _, srv, srv_off = by_type[33][0]
    assert srv_name == instance
    assert struct.unpack_from("!HHH", srv)[2] == 80
    assert read_name(data, srv_off + 6)[0] == "DS-2CD2143G2-I20220315AAWR412345678.local"
    assert by_type[16][0][2] == b"\x06path=/"
    assert socket.inet_ntoa(by_type[1][0][2]) == "198.18.0.21"
    assert socket.inet_ntop(socket.AF_INET6, by_type[28][0][2]) == "fe80::bead:28ff:fe00:21"


def test_mdns_services_enumeration_and_silence(axis):
    data = udp_exchange(axis.port(5353), dns_query("_services._dns-sd._udp.local", 12))[0]
    _, _, _, an, records = parse_response(data)
    targets = sorted(read_name(data, off)[0] for _n, t, _c, _ttl, _r, off in records if t == 12)
    assert an == 2
    assert targets == ["_axis-video._tcp.local", "_http._tcp.local"]
    assert udp_exchange(axis.port(5353), dns_query("_CGI._tcp.local", 12), wait=0.4) == []
    # A response (QR bit set) is never answered.
    response = bytearray(dns_query("_axis-video._tcp.local", 12))
    response[2] |= 0x80
    assert udp_exchange(axis.port(5353), bytes(response), wait=0.3) == []


def test_mdns_txt_carries_axis_mac(axis):
    query = dns_query("AXIS P3245-LVE - ACCC8E000023._axis-video._tcp.local", 16, qu=True)
    data = udp_exchange(axis.port(5353), query)[0]
    _, _, _, _, records = parse_response(data)
    txt = [r[4] for r in records if r[1] == 16]
    assert txt == [b"\x17macaddress=ACCC8E000023"]


def test_profile_placeholders_reach_the_wire():
    profile = load_profile(AXIS)
    assert profile.serial == "ACCC8E000023"
    assert profile.raw["mdns"]["hostname"] == "axis-accc8e000023.local"


def test_a_clone_plays_at_its_new_address(tmp_path: Path):
    original = load_profile(HIK)
    copy_ = clone(
        original, "198.18.0.250", "bc:ad:28:00:02:50", "DS-2CD2143G2-I20220315AAWR400000250"
    )
    with EmulatorProcess(copy_.write(tmp_path)) as emu:
        assert emu.ready_line == "READY hikvision-ds-2cd2143g2-i-198-18-0-250"
        replies = udp_exchange(emu.port(37020), sadp_inquiry("C-1"))
        root = ET.fromstring(replies[0])
        assert root.findtext("IPv4Address") == "198.18.0.250"
        assert root.findtext("MAC") == "bc-ad-28-00-02-50"
        assert root.findtext("DeviceSN") == "DS-2CD2143G2-I20220315AAWR400000250"
