"""A small HTTP/1.1 client for talking to untrusted devices.

Why not a general-purpose client: here every byte read is bounded, every
exchange sits under one deadline (slow-loris replies end on time), bodies are
never decompressed (no gzip bombs), redirects are never followed implicitly,
and TLS certificates are read (for fingerprints) but not trusted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import ssl
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from cctv_sentinel.discovery.credential_policy import scheme_allowed
from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.errors import ProbeError, ProbeTimeoutError, ProtocolError
from cctv_sentinel.limits import MAX_HTTP_BODY, MAX_HTTP_HEADERS
from cctv_sentinel.protocols import http as httpproto
from cctv_sentinel.protocols.httpmsg import (
    ResponseHead,
    build_request,
    parse_response_head,
)

USER_AGENT = "cctv-sentinel"
MAX_CHUNK_LINE = 64
"""Longest chunk-size line accepted in a chunked body (hex size plus extensions)."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What a device answered, bounded."""

    head: ResponseHead
    body: bytes
    truncated: bool
    peer_cert: bytes | None

    @property
    def status(self) -> int:
        """HTTP status code."""
        return self.head.status


def _tls_context() -> ssl.SSLContext:
    # Cameras use self-signed certificates; we read them as evidence, never trust them.
    # A bare client context: no CA bundle to load, since nothing is verified.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError, ValueError):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # old camera firmware offers weak suites
    with contextlib.suppress(AttributeError, ValueError), warnings.catch_warnings():
        # Python 3.13 deprecates naming TLS 1.0; old camera firmware still speaks only that.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


_TLS: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The shared, non-verifying TLS context (built once)."""
    global _TLS  # noqa: PLW0603  (built lazily: creating it costs ~10 ms)
    if _TLS is None:
        _TLS = _tls_context()
    return _TLS


async def _read_body(
    reader: asyncio.StreamReader, head: ResponseHead, max_body: int, method: str
) -> tuple[bytes, bool]:
    if method == "HEAD" or head.status in {204, 304} or 100 <= head.status < 200:
        return b"", False
    if (head.header("transfer-encoding") or "").lower().endswith("chunked"):
        return await _read_chunked(reader, max_body)
    length_text = head.header("content-length")
    if length_text is not None and length_text.strip().isdigit():
        length = int(length_text.strip())
        want = min(length, max_body)
        data = await reader.read(want) if want else b""
        while len(data) < want:
            more = await reader.read(want - len(data))
            if not more:
                break
            data += more
        return data, length > max_body
    data = b""
    while len(data) < max_body:
        more = await reader.read(max_body - len(data))
        if not more:
            return data, False
        data += more
    return data, True


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> tuple[bytes, bool]:
    body = bytearray()
    while len(body) < max_body:
        line = await reader.readline()
        if not line or len(line) > MAX_CHUNK_LINE:
            break
        try:
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            break
        if size <= 0:
            return bytes(body), False
        take = min(size, max_body - len(body))
        body += await reader.readexactly(take)
        if take < size:
            return bytes(body), True
        await reader.readline()  # CRLF after the chunk
    return bytes(body), len(body) >= max_body


async def request(
    ip: str,
    port: int,
    path: str,
    *,
    method: str = "GET",
    tls: bool = False,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: float,
    head_timeout: float | None = None,
    max_body: int = MAX_HTTP_BODY,
) -> HttpReply:
    """Send one request and read one bounded reply, all within ``timeout`` seconds.

    The connection, the request and the reply's head must also be done within
    ``head_timeout`` (default: ``timeout``), so silent ports are left early.

    Raises ProbeTimeoutError on timeout, ProbeError on connection failures and
    replies that are not HTTP.
    """
    host = ip if port in {80, 443} else f"{ip}:{port}"
    hdrs = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    hdrs.update(headers or {})
    payload = build_request(method, path, host, hdrs, body)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            async with asyncio.timeout(min(timeout, head_timeout or timeout)):
                reader, writer = await asyncio.open_connection(
                    ip, port, ssl=tls_context() if tls else None, limit=MAX_HTTP_HEADERS
                )
                writer.write(payload)
                await writer.drain()
                raw_head = await reader.readuntil(b"\r\n\r\n")
            head = parse_response_head(raw_head)
            data, truncated = await _read_body(reader, head, max_body, method)
            cert = None
            if tls:
                ssl_object = writer.get_extra_info("ssl_object")
                if ssl_object is not None:
                    cert = ssl_object.getpeercert(binary_form=True)
            return HttpReply(head=head, body=data, truncated=truncated, peer_cert=cert)
    except TimeoutError as err:
        raise ProbeTimeoutError(f"{ip}:{port} did not answer within {timeout:g} s") from err
    except asyncio.LimitOverrunError as err:
        raise ProbeError(f"{ip}:{port} sent a reply head over {MAX_HTTP_HEADERS} bytes") from err
    except asyncio.IncompleteReadError as err:
        raise ProbeError(f"{ip}:{port} closed the connection mid-reply") from err
    except ProtocolError as err:
        raise ProbeError(f"{ip}:{port} did not answer HTTP: {err}") from err
    except (OSError, ssl.SSLError, ValueError) as err:
        raise ProbeError(f"{ip}:{port}: {type(err).__name__}") from err
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.2)


async def request_with_auth(
    ip: str,
    port: int,
    path: str,
    *,
    credential: Credential | None,
    method: str = "GET",
    tls: bool = False,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: float,
    head_timeout: float | None = None,
    max_body: int = MAX_HTTP_BODY,
) -> tuple[HttpReply, HttpReply | None]:
    """Request ``path``; on a 401 with a usable challenge and a credential, answer it once.

    Whether ``credential`` may go to this host at all is the caller's decision
    (:func:`credential_policy.may_send`). Returns (first reply, authenticated
    reply or None).
    """
    first = await request(
        ip,
        port,
        path,
        method=method,
        tls=tls,
        headers=headers,
        body=body,
        timeout=timeout,
        head_timeout=head_timeout,
        max_body=max_body,
    )
    if credential is None:
        return first, None
    second = await answer_challenge(
        first,
        ip,
        port,
        path,
        credential=credential,
        method=method,
        tls=tls,
        headers=headers,
        body=body,
        timeout=timeout,
        head_timeout=head_timeout,
        max_body=max_body,
    )
    return first, second


async def answer_challenge(
    first: HttpReply,
    ip: str,
    port: int,
    path: str,
    *,
    credential: Credential,
    method: str = "GET",
    tls: bool = False,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: float,
    head_timeout: float | None = None,
    max_body: int = MAX_HTTP_BODY,
) -> HttpReply | None:
    """Repeat the request that got ``first`` with credentials, when its 401 may be answered.

    A challenge may be answered only in a form that keeps the password secret
    (:func:`credential_policy.scheme_allowed`): a Basic challenge over plain
    HTTP goes unanswered unless the credentials file opted this host in.
    None when ``first`` is no 401 or has no challenge we may answer.
    """
    if first.status != 401:
        return None
    challenges = httpproto.parse_www_authenticate(
        ", ".join(first.head.header_all("www-authenticate"))
    )
    auth = authorization(challenges, method=method, uri=path, credential=credential, tls=tls)
    if auth is None:
        return None
    return await request(
        ip,
        port,
        path,
        method=method,
        tls=tls,
        headers={**(headers or {}), "Authorization": auth},
        body=body,
        timeout=timeout,
        head_timeout=head_timeout,
        max_body=max_body,
    )


def authorization(
    challenges: tuple[httpproto.Challenge, ...],
    *,
    method: str,
    uri: str,
    credential: Credential,
    tls: bool,
) -> str | None:
    """Answer the strongest challenge we support and may answer (Digest before Basic)."""
    for challenge in challenges:
        if challenge.scheme.lower() == "digest":
            try:
                answer: str = httpproto.digest_authorization(
                    challenge,
                    method=method,
                    uri=uri,
                    username=credential.username,
                    password=credential.password.reveal(),
                    cnonce=secrets.token_hex(8),
                )
            except ProtocolError:
                continue  # no nonce, an algorithm we do not know: try the next challenge
            return answer
    for challenge in challenges:
        scheme = challenge.scheme
        if scheme.lower() == "basic" and scheme_allowed(scheme, tls=tls, credential=credential):
            token = f"{credential.username}:{credential.password.reveal()}"
            return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return None
