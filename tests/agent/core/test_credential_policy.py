"""Credentials never leave in cleartext, and go only to hosts that look like cameras.

Real loopback servers (plain and TLS) that prompt for Basic or Digest record
every request they get; the tests read what crossed the wire.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.discovery import credential_policy, http, httpclient, onvif
from cctv_sentinel.discovery.base import ProbeContext, Timing
from cctv_sentinel.discovery.credentials import Credential, credentials_from_mapping
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.model import Observation, ProbeName
from tests.lab.emulator.tls import make_context

PASSWORD = "s3cret-pass"
BASIC_TOKEN = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()


@contextlib.asynccontextmanager
async def prompting_server(
    scheme: str, seen: list[bytes], tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """A server that answers 401 with a ``scheme`` challenge and 200 to any Authorization."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            if b"\r\nAuthorization:" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            else:
                challenge = (
                    'Basic realm="login"'
                    if scheme == "basic"
                    else 'Digest realm="login", qop="auth", nonce="n0nce"'
                )
                writer.write(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: "
                    + challenge.encode()
                    + b"\r\nContent-Length: 0\r\n\r\n"
                )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def crossed(seen: list[bytes]) -> bytes:
    return b"".join(seen)


def test_only_secret_keeping_schemes_by_default() -> None:
    plain = Credential("admin", Secret(PASSWORD))
    opted = Credential("admin", Secret(PASSWORD), named_host=True, basic_over_http=True)
    allowed = credential_policy.scheme_allowed
    assert allowed("Digest", tls=False, credential=plain)
    assert not allowed("Basic", tls=False, credential=plain)
    assert allowed("Basic", tls=True, credential=plain)
    assert allowed("Basic", tls=False, credential=opted)
    assert not allowed("Bearer", tls=True, credential=opted)
    assert not allowed("NTLM", tls=False, credential=opted)


async def test_basic_over_plain_http_is_never_answered_by_default() -> None:
    seen: list[bytes] = []
    credential = Credential("admin", Secret(PASSWORD))
    async with prompting_server("basic", seen) as port:
        first, second = await httpclient.request_with_auth(
            "127.0.0.1", port, "/ISAPI/System/deviceInfo", credential=credential, timeout=2
        )
    assert (first.status, second) == (401, None)
    assert len(seen) == 1
    assert b"Authorization" not in crossed(seen)
    assert BASIC_TOKEN.encode() not in crossed(seen)


async def test_basic_over_plain_http_only_for_the_host_the_file_opts_in() -> None:
    seen: list[bytes] = []
    creds = credentials_from_mapping(
        {
            "hosts": [
                {
                    "match": "127.0.0.1",
                    "username": "admin",
                    "password": PASSWORD,
                    "basic_over_http": True,
                }
            ]
        }
    )
    credential = creds.for_host("127.0.0.1")
    assert credential is not None
    assert (credential.named_host, credential.basic_over_http) == (True, True)
    async with prompting_server("basic", seen) as port:
        _, second = await httpclient.request_with_auth(
            "127.0.0.1", port, "/", credential=credential, timeout=2
        )
    assert second is not None
    assert second.status == 200
    assert f"Authorization: Basic {BASIC_TOKEN}".encode() in crossed(seen)


async def test_basic_inside_tls_is_answered() -> None:
    seen: list[bytes] = []
    credential = Credential("admin", Secret(PASSWORD))
    async with prompting_server("basic", seen, make_context("CN=cam", "127.0.0.1")) as port:
        _, second = await httpclient.request_with_auth(
            "127.0.0.1", port, "/", credential=credential, tls=True, timeout=5
        )
    assert second is not None
    assert second.status == 200


async def test_digest_is_answered_without_the_password() -> None:
    seen: list[bytes] = []
    credential = Credential("admin", Secret(PASSWORD))
    async with prompting_server("digest", seen) as port:
        _, second = await httpclient.request_with_auth(
            "127.0.0.1", port, "/", credential=credential, timeout=2
        )
    assert second is not None
    assert b"Authorization: Digest" in crossed(seen)
    assert PASSWORD.encode() not in crossed(seen)
    assert BASIC_TOKEN.encode() not in crossed(seen)


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("198.18.0.0/24", "allowed only for one named host"),
        ("198.18.0.0/31", "allowed only for one named host"),
    ],
)
def test_basic_over_http_cannot_cover_a_range(match: str, message: str) -> None:
    entry = {"match": match, "username": "a", "password": "b", "basic_over_http": True}
    with pytest.raises(ConfigError, match=message):
        credentials_from_mapping({"hosts": [entry]})


def test_basic_over_http_is_not_a_default_key_and_must_be_boolean() -> None:
    with pytest.raises(ConfigError, match="unknown key 'basic_over_http'"):
        credentials_from_mapping(
            {"default": {"username": "a", "password": "b", "basic_over_http": True}}
        )
    with pytest.raises(ConfigError, match="must be true or false"):
        credentials_from_mapping(
            {
                "hosts": [
                    {
                        "match": "10.0.0.1",
                        "username": "a",
                        "password": "b",
                        "basic_over_http": "yes",
                    }
                ]
            }
        )


def test_named_hosts_are_single_addresses_or_macs() -> None:
    creds = credentials_from_mapping(
        {
            "default": {"username": "d", "password": "x"},
            "hosts": [
                {"match": "10.0.0.0/24", "username": "range", "password": "x"},
                {"match": "10.0.0.7/32", "username": "one", "password": "x"},
                {"match": "bc:ad:28:00:00:99", "username": "mac", "password": "x"},
            ],
        }
    )
    named = {
        c.username: c.named_host
        for c in (
            creds.for_host("10.0.0.5"),
            creds.for_host("10.0.0.7"),
            creds.for_host("10.0.0.5", "bc:ad:28:00:00:99"),
            creds.for_host("192.0.2.1"),
        )
        if c is not None
    }
    assert named == {"range": False, "one": True, "mac": True, "d": False}


@pytest.mark.parametrize(
    ("probe", "fields", "camera"),
    [
        (ProbeName.SADP, {"model": "x"}, True),
        (ProbeName.DHIP, {"model": "x"}, True),
        (ProbeName.ONVIF, {"xaddr": "http://10.0.0.1/onvif/device_service"}, True),
        (ProbeName.WSD, {"video": "yes"}, True),
        (ProbeName.WSD, {"types": "wsdp:Device pub:Computer"}, False),
        (ProbeName.HTTP, {"realm": "IP Camera(C1234)", "title": "Hikvision"}, False),
        (ProbeName.RTSP, {"server": "Hikvision"}, False),
        (ProbeName.SSDP, {"server": "IPCamera"}, False),
    ],
)
def test_what_counts_as_camera_evidence(probe: ProbeName, fields: dict[str, str], camera: bool):
    obs = Observation(probe=probe, ip="10.0.0.1", fields=fields, at=0.0)
    assert credential_policy.says_camera(obs) is camera


async def test_evidence_arriving_while_waiting_wakes_the_waiter() -> None:
    evidence = credential_policy.CameraEvidence()
    assert not await evidence.wait("10.0.0.1", 0.01)
    waiter = asyncio.create_task(evidence.wait("10.0.0.1", 5))
    await asyncio.sleep(0)
    evidence.note(Observation(probe=ProbeName.SADP, ip="10.0.0.1", fields={}, at=0.0))
    assert await asyncio.wait_for(waiter, 1)
    assert "10.0.0.1" in evidence
    assert "10.0.0.2" not in evidence


def context(creds_data: dict[str, object], seen: list[Observation]) -> ProbeContext:
    return ProbeContext(
        networks=(),
        interfaces=(),
        ports=(),
        timing=Timing(window=0.2, request_timeout=0.3, head_timeout=0.3),
        credentials=credentials_from_mapping(creds_data, Path.cwd()),
        emit=seen.append,
    )


@pytest.mark.parametrize("scheme", ["digest", "basic"])
async def test_vendor_endpoint_of_a_host_with_no_camera_evidence_gets_no_credential(
    scheme: str,
) -> None:
    seen: list[bytes] = []
    observations: list[Observation] = []
    ctx = context({"default": {"username": "admin", "password": PASSWORD}}, observations)
    async with prompting_server(scheme, seen) as port:
        await http.endpoint(ctx, "127.0.0.1", port, False, "/ISAPI/System/deviceInfo", None)
    assert b"Authorization" not in crossed(seen)
    (obs,) = observations
    assert obs.fields["auth"] == "withheld"


async def test_vendor_endpoint_of_a_camera_gets_digest_but_never_basic() -> None:
    observations: list[Observation] = []
    ctx = context({"default": {"username": "admin", "password": PASSWORD}}, observations)
    ctx.emit(Observation(probe=ProbeName.SADP, ip="127.0.0.1", fields={}, at=0.0))
    for scheme, expected in (("digest", "ok"), ("basic", "withheld")):
        seen: list[bytes] = []
        async with prompting_server(scheme, seen) as port:
            await http.endpoint(ctx, "127.0.0.1", port, False, "/ISAPI/System/deviceInfo", None)
        assert observations[-1].fields["auth"] == expected, scheme
        assert PASSWORD.encode() not in crossed(seen)
        assert BASIC_TOKEN.encode() not in crossed(seen)


async def test_a_host_the_file_names_needs_no_other_evidence() -> None:
    seen: list[bytes] = []
    observations: list[Observation] = []
    ctx = context(
        {"hosts": [{"match": "127.0.0.1", "username": "admin", "password": PASSWORD}]},
        observations,
    )
    async with prompting_server("digest", seen) as port:
        await http.endpoint(ctx, "127.0.0.1", port, False, "/ISAPI/System/deviceInfo", None)
    assert observations[-1].fields["auth"] == "ok"
    assert PASSWORD.encode() not in crossed(seen)


DEVICE_INFORMATION = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    b' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body>'
    b"<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme</tds:Manufacturer>"
    b"<tds:Model>Cam-1</tds:Model></tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
)


@pytest.mark.parametrize(("scheme", "answered"), [("digest", True), ("basic", False)])
async def test_onvif_behind_http_auth_gets_digest_never_basic(scheme: str, answered: bool) -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                seen.append(head + body)
                if b"\r\nAuthorization: Digest" in head:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: "
                        + str(len(DEVICE_INFORMATION)).encode()
                        + b"\r\n\r\n"
                        + DEVICE_INFORMATION
                    )
                else:
                    challenge = (
                        b'Digest realm="onvif", qop="auth", nonce="n1"'
                        if scheme == "digest"
                        else b'Basic realm="onvif"'
                    )
                    writer.write(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: "
                        + challenge
                        + b"\r\nContent-Length: 0\r\n\r\n"
                    )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ctx = context({}, [])
        target = onvif.Target("127.0.0.1", port, onvif.DEVICE_SERVICE_PATH, False)
        credential = Credential("admin", Secret(PASSWORD))
        if answered:
            fields = await onvif.ask(ctx, target, credential, onvif.Clock())
            assert fields == {"manufacturer": "Acme", "model": "Cam-1"}
        else:
            with pytest.raises(onvif.RefusedError) as err:
                await onvif.ask(ctx, target, credential, onvif.Clock())
            assert onvif.refused(err.value)
    finally:
        server.close()
        await server.wait_closed()
    wire = crossed(seen)
    assert b"#PasswordDigest" in wire  # WS-Security in the body, as always
    assert PASSWORD.encode() not in wire
    assert BASIC_TOKEN.encode() not in wire
