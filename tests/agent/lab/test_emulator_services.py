"""The emulator's TCP services: HTTP (+digest/basic, TLS), ONVIF, RTSP, banners."""

from __future__ import annotations

import base64
import gc
import hashlib
import ipaddress
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
import warnings
from xml.etree import ElementTree as ET

import pytest
from cryptography import x509

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.discovery import onvif
from cctv_sentinel.discovery.base import ProbeContext, Timing
from cctv_sentinel.discovery.credentials import Credential, Credentials
from cctv_sentinel.protocols import onvif as onvifproto
from tests.lab.emulator.testing import EmulatorProcess
from tests.lab.profiles import DEVICES_DIR

HIK = DEVICES_DIR / "hikvision-ds-2cd2143g2-i.json"
DAHUA = DEVICES_DIR / "dahua-ipc-hdw2431t-as-s2.json"
AXIS = DEVICES_DIR / "axis-p3245-lve.json"
PASSWORD = "Sentinel-test-1"


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


def exchange(port: int, request: bytes, *, until: bytes = b"\r\n\r\n", tls=None) -> bytes:
    """Send raw bytes on a fresh connection; read until ``until`` and the body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls is not None:
        sock = tls.wrap_socket(sock)
    with sock:
        sock.sendall(request)
        data = b""
        while until not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(match.group(1)) if match else 0
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body


def split(reply: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return lines[0], headers, body


def header(headers, name):
    return [v for k, v in headers if k == name.lower()]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_header(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    ha1 = md5(f"{user}:{params['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if params.get("qop") == "auth":
        cnonce, nc = "0a4f113b", "00000001"
        response = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
        )
    response = md5(f"{ha1}:{params['nonce']}:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
        f'uri="{uri}", response="{response}"'
    )


def get(port: int, target: str, extra: str = "", method: str = "GET") -> bytes:
    return exchange(
        port,
        (
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n"
        ).encode(),
    )


# --- HTTP ----------------------------------------------------------------------------------


def test_http_routes_server_header_and_404(hik):
    port = hik.port(80)
    status, headers, body = split(get(port, "/"))
    assert status == "HTTP/1.1 302 Found"
    assert header(headers, "Location") == ["/doc/page/login.asp"]
    assert header(headers, "Server") == [""]  # Hikvision G2: empty Server header
    assert header(headers, "X-Frame-Options") == ["SAMEORIGIN"]
    assert header(headers, "Date")
    status, headers, body = split(get(port, "/doc/page/login.asp"))
    assert status == "HTTP/1.1 200 OK"
    assert header(headers, "Content-Type") == ["text/html"]
    assert b"seajs" in body
    assert int(header(headers, "Content-Length")[0]) == len(body)
    status, _, body = split(get(port, "/nope"))
    assert status == "HTTP/1.1 404 Not Found"
    assert b"Document Error" in body


def test_http_head_has_no_body(hik):
    status, headers, body = split(get(hik.port(80), "/doc/page/login.asp", method="HEAD"))
    assert status == "HTTP/1.1 200 OK"
    assert body == b""
    assert int(header(headers, "Content-Length")[0]) > 0


def test_http_query_route_matched_exactly_then_path(dahua):
    port = dahua.port(80)
    status, _, _ = split(get(port, "/cgi-bin/magicBox.cgi?action=getSystemInfo"))
    assert status == "HTTP/1.1 401 Unauthorized"
    status, _, _ = split(get(port, "/cgi-bin/magicBox.cgi?action=other"))
    assert status == "HTTP/1.1 404 Not Found"
    # No Server header at all on this profile.
    _, headers, _ = split(get(port, "/"))
    assert header(headers, "Server") == []


def test_http_digest_401_then_200_then_wrong_password(hik):
    port = hik.port(80)
    uri = "/ISAPI/System/deviceInfo"
    status, headers, _ = split(get(port, uri))
    assert status == "HTTP/1.1 401 Unauthorized"
    (challenge,) = header(headers, "WWW-Authenticate")
    assert challenge.startswith('Digest qop="auth", realm="IP Camera(45678)", nonce="')
    auth = digest_header(challenge, "GET", uri, "admin", PASSWORD)
    status, headers, body = split(get(port, uri, f"Authorization: {auth}\r\n"))
    assert status == "HTTP/1.1 200 OK"
    assert header(headers, "Content-Type") == ["application/xml"]
    root = ET.fromstring(body)
    ns = {"h": "http://www.hikvision.com/ver20/XMLSchema"}
    assert root.findtext("h:model", namespaces=ns) == "DS-2CD2143G2-I"
    assert root.findtext("h:macAddress", namespaces=ns) == "bc:ad:28:00:00:21"
    wrong = digest_header(challenge, "GET", uri, "admin", "not-the-password")
    status, headers, _ = split(get(port, uri, f"Authorization: {wrong}\r\n"))
    assert status == "HTTP/1.1 401 Unauthorized"
    assert header(headers, "WWW-Authenticate")  # a fresh challenge
    other_user = digest_header(challenge, "GET", uri, "root", PASSWORD)
    assert split(get(port, uri, f"Authorization: {other_user}\r\n"))[0].endswith("401 Unauthorized")
    # The digest is bound to the URI it was computed for.
    replay = digest_header(challenge, "GET", "/ISAPI/Other", "admin", PASSWORD)
    assert split(get(port, uri, f"Authorization: {replay}\r\n"))[0].endswith("401 Unauthorized")
    # A forged nonce is refused even with the right password.
    forged = challenge.replace('nonce="', 'nonce="00')
    forged_auth = digest_header(forged, "GET", uri, "admin", PASSWORD)
    assert split(get(port, uri, f"Authorization: {forged_auth}\r\n"))[0].endswith(
        "401 Unauthorized"
    )


def test_http_digest_with_urllib_client(dahua):
    url = f"http://127.0.0.1:{dahua.port(80)}/cgi-bin/magicBox.cgi?action=getSystemInfo"
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, url, "admin", PASSWORD)
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))
    with opener.open(url, timeout=5) as reply:
        body = reply.read().decode()
    assert "serialNumber=7F0A2C3PAJ00022\r\n" in body
    bad = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    bad.add_password(None, url, "admin", "wrong")
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(bad))
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(url, timeout=5)
    assert err.value.code == 401
    err.value.close()
    # urllib's digest handler drops the 401 answer of each first try without closing it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_http_basic_auth(tmp_path):
    raw = (DEVICES_DIR / "axis-p3245-lve.json").read_text()
    raw = raw.replace(
        '"auth": "digest", "realm": "AXIS_{MAC_BARE}"',
        '"auth": "basic", "realm": "AXIS_{MAC_BARE}"',
    )
    path = tmp_path / "axis-p3245-lve.json"
    path.write_text(raw)
    with EmulatorProcess(path) as emu:
        target = "/axis-cgi/param.cgi?action=list&group=root.Brand"
        status, headers, _ = split(get(emu.port(80), target))
        assert status == "HTTP/1.1 401 Unauthorized"
        assert header(headers, "WWW-Authenticate") == ['Basic realm="AXIS_ACCC8E000023"']
        good = base64.b64encode(f"root:{PASSWORD}".encode()).decode()
        status, _, body = split(get(emu.port(80), target, f"Authorization: Basic {good}\r\n"))
        assert status == "HTTP/1.1 200 OK"
        assert b"root.Brand.ProdNbr=P3245-LVE" in body
        bad = base64.b64encode(b"root:nope").decode()
        status, _, _ = split(get(emu.port(80), target, f"Authorization: Basic {bad}\r\n"))
        assert status == "HTTP/1.1 401 Unauthorized"


def test_http_keep_alive_serves_several_requests(hik):
    with socket.create_connection(("127.0.0.1", hik.port(80)), timeout=5) as sock:
        request = b"GET /doc/page/login.asp HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request + request)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200 OK") < 2 and time.monotonic() < deadline:
            data += sock.recv(65536)
    assert data.count(b"HTTP/1.1 200 OK") == 2


def test_http_bad_request_gets_400(hik):
    reply = exchange(hik.port(80), b"NONSENSE\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 Bad Request")


def test_tls_self_signed_subject(axis):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", axis.port(443)), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = tls.recv(4096)
    assert reply.startswith(b"HTTP/1.1 302 Found")
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.rfc4514_string() == "CN=axis-accc8e000023"
    assert cert.issuer == cert.subject


# --- ONVIF ---------------------------------------------------------------------------------


def onvif_context(port: int) -> ProbeContext:
    return ProbeContext(
        networks=(ipaddress.IPv4Network("127.0.0.1/32"),),
        interfaces=(),
        ports=(port,),
        timing=Timing(request_timeout=5, head_timeout=5),
        credentials=Credentials(),
        emit=lambda _obs: None,
    )


async def test_onvif_client_with_credentials(hik):
    # The agent's own ONVIF client (WS-Security PasswordDigest on the device's clock).
    port = hik.port(80)
    ctx = onvif_context(port)
    target = onvif.Target("127.0.0.1", port, onvif.DEVICE_SERVICE_PATH, False)
    clock = await onvif.preflight(ctx, target)
    assert clock is not None
    credential = Credential("admin", Secret(PASSWORD))
    fields = await onvif.ask(ctx, target, credential, clock)
    assert fields == {
        "manufacturer": "HIKVISION",
        "model": "DS-2CD2143G2-I",
        "serial": "DS-2CD2143G2-I20220315AAWR412345678",
        "firmware": "V5.7.3 build 220112",
        "hardware": "88",
        "mac": "bc:ad:28:00:00:21",
    }


async def test_onvif_client_wrong_password_is_refused(dahua):
    port = dahua.port(80)
    ctx = onvif_context(port)
    target = onvif.Target("127.0.0.1", port, onvif.DEVICE_SERVICE_PATH, False)
    clock = await onvif.preflight(ctx, target)
    assert clock is not None  # the clock is always readable ...
    with pytest.raises(onvifproto.SoapFaultError) as err:
        await onvif.ask(ctx, target, Credential("admin", Secret("wrong")), clock)
    assert onvif.refused(err.value)
    assert err.value.fault.reason == "Sender not Authorized"
    # ... but without any token the device is refused as well.
    with pytest.raises(onvifproto.SoapFaultError) as bare:
        await onvif.ask(ctx, target, None, clock)
    assert onvif.refused(bare.value)


SOAP_NO_AUTH = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    b'<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
    b"</s:Body></s:Envelope>"
)


def soap_post(port: int, body: bytes) -> tuple[str, list, bytes]:
    request = (
        b"POST /onvif/device_service HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/soap+xml; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    return split(exchange(port, request))


@pytest.mark.parametrize(("fixture", "status"), [("hik", 401), ("dahua", 400)])
def test_onvif_raw_soap_without_credentials_faults(request, fixture, status):
    emu = request.getfixturevalue(fixture)
    line, headers, body = soap_post(emu.port(80), SOAP_NO_AUTH)
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert header(headers, "Content-Type") == ["application/soap+xml; charset=utf-8"]
    root = ET.fromstring(body)
    ns = {"env": "http://www.w3.org/2003/05/soap-envelope"}
    code = root.find("env:Body/env:Fault/env:Code", ns)
    assert code.findtext("env:Value", namespaces=ns) == "env:Sender"
    assert code.findtext("env:Subcode/env:Value", namespaces=ns) == "ter:NotAuthorized"


def test_onvif_password_digest_token_by_hand(hik):
    nonce = os.urandom(16)
    created = "2026-11-28T10:00:00Z"
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + PASSWORD.encode()).digest()
    ).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    ptype = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

    def envelope(password_digest: str) -> bytes:
        return (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
            f'<s:Header><Security xmlns="{wsse}"><UsernameToken>'
            f"<Username>admin</Username>"
            f'<Password Type="{ptype}">{password_digest}</Password>'
            f"<Nonce>{base64.b64encode(nonce).decode()}</Nonce>"
            f'<Created xmlns="{wsu}">{created}</Created>'
            "</UsernameToken></Security></s:Header>"
            '<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
            "</s:Body></s:Envelope>"
        ).encode()

    line, _, body = soap_post(hik.port(80), envelope(digest))
    assert line == "HTTP/1.1 200 OK"
    assert b"<tds:Manufacturer>HIKVISION</tds:Manufacturer>" in body
    wrong = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"x").digest()).decode()
    line, _, body = soap_post(hik.port(80), envelope(wrong))
    assert line.startswith("HTTP/1.1 401")
    assert b"ter:NotAuthorized" in body


def test_onvif_unknown_operation_and_bad_xml(hik):
    unknown = SOAP_NO_AUTH.replace(b"GetDeviceInformation", b"GetSomethingElse")
    line, _, body = soap_post(hik.port(80), unknown)
    assert line.startswith("HTTP/1.1 500")
    assert b"ter:ActionNotSupported" in body
    line, _, body = soap_post(hik.port(80), b"<s:Envelope")
    assert line.startswith("HTTP/1.1 400")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    line, _, body = soap_post(hik.port(80), bomb)
    assert line.startswith("HTTP/1.1 400")
    assert b"ter:WellFormed" in body


# --- RTSP -----------------------------------------------------------------------------------


def rtsp(port: int, text: str) -> tuple[str, list, bytes]:
    return split(exchange(port, text.encode()))


def test_rtsp_options(dahua):
    line, headers, _ = rtsp(
        dahua.port(554), "OPTIONS rtsp://198.18.0.22:554/ RTSP/1.0\r\nCSeq: 7\r\n\r\n"
    )
    assert line == "RTSP/1.0 200 OK"
    assert header(headers, "CSeq") == ["7"]
    assert header(headers, "Server") == ["Dahua Rtsp Server"]
    assert "DESCRIBE" in header(headers, "Public")[0]


def test_rtsp_describe_digest_and_basic_challenges(hik):
    url = "rtsp://198.18.0.21:554/Streaming/Channels/101"
    line, headers, _ = rtsp(
        hik.port(554), f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"
    )
    assert line == "RTSP/1.0 401 Unauthorized"
    challenges = header(headers, "WWW-Authenticate")
    assert len(challenges) == 2
    assert challenges[0].startswith('Digest realm="IP Camera(45678)", nonce="')
    assert challenges[1] == 'Basic realm="IP Camera(45678)"'
    assert header(headers, "Server") == []  # Hikvision sends none
    auth = digest_header(challenges[0], "DESCRIBE", url, "admin", PASSWORD)
    line, headers, body = rtsp(
        hik.port(554), f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: {auth}\r\n\r\n"
    )
    assert line == "RTSP/1.0 200 OK"
    assert header(headers, "Content-Type") == ["application/sdp"]
    assert body.startswith(b"v=0\r\n")
    assert b"m=video" in body
    wrong = digest_header(challenges[0], "DESCRIBE", url, "admin", "bad")
    line, _, _ = rtsp(
        hik.port(554), f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 4\r\nAuthorization: {wrong}\r\n\r\n"
    )
    assert line == "RTSP/1.0 401 Unauthorized"
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    line, _, _ = rtsp(
        hik.port(554), f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 5\r\nAuthorization: Basic {basic}\r\n\r\n"
    )
    assert line == "RTSP/1.0 200 OK"


def test_rtsp_describe_realm_login_to_serial(dahua):
    line, headers, _ = rtsp(
        dahua.port(554), "DESCRIBE rtsp://198.18.0.22/cam/realmonitor RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    )
    assert line == "RTSP/1.0 401 Unauthorized"
    challenges = header(headers, "WWW-Authenticate")
    assert len(challenges) == 1
    assert challenges[0].startswith('Digest realm="Login to 7F0A2C3PAJ00022"')


# --- raw TCP banner -------------------------------------------------------------------------


def test_tcp_banner_sent_on_connect(hik, dahua):
    with socket.create_connection(("127.0.0.1", hik.port(8000)), timeout=5) as sock:
        assert sock.recv(64) == bytes.fromhex("000000100000001e0000001e00000000")
    with socket.create_connection(("127.0.0.1", dahua.port(37777)), timeout=5) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(64)  # open, silent, still connected
