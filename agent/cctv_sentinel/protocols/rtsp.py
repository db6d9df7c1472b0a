"""RTSP/1.0 (RFC 2326): requests we send and the replies cameras give.

OPTIONS and an unauthenticated DESCRIBE are enough to fingerprint a camera:
``Server`` (``Dahua Rtsp Server``), the Digest realm (``Login to <serial>``
on Dahua/Amcrest, ``IP Camera(C1214)`` on Hikvision) and the Public list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_HTTP_HEADERS, MAX_LIST_ITEMS, MAX_RTSP_RESPONSE
from cctv_sentinel.protocols.http import Challenge, parse_www_authenticate
from cctv_sentinel.protocols.httpmsg import parse_response_head
from cctv_sentinel.protocols.text import clean, parse_int

__all__ = ["RtspResponse", "build_request", "parse_response", "response_length"]

_METHOD = re.compile(r"^[A-Z_]{1,32}$")
_LINE_SAFE = re.compile(r"^[^\x00-\x1f\x7f]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")

MAX_CSEQ: Final = 2**31 - 1
"""Largest CSeq believed; RFC 2326 only says it is a positive integer."""


@dataclass(frozen=True, slots=True)
class RtspResponse:
    """Status, headers and the fingerprint-relevant parts of an RTSP reply."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    """(lower-cased name, cleaned value), in the order received."""
    server: str | None
    cseq: int | None
    public: tuple[str, ...]
    """Methods listed in ``Public`` (OPTIONS replies)."""
    challenges: tuple[Challenge, ...]
    """Every challenge of every WWW-Authenticate header, in order."""

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k == lowered), None)


def build_request(
    method: str,
    url: str,
    cseq: int,
    user_agent: str,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """Build an RTSP/1.0 request with no body (OPTIONS, DESCRIBE...).

    Raises ValueError for a method that is not an upper-case token, a
    non-positive CSeq, or any value containing control characters (which
    would let a value inject headers).
    """
    if not _METHOD.match(method):
        raise ValueError("method must be an upper-case token")
    if not 0 < cseq <= MAX_CSEQ:
        raise ValueError("cseq must be a positive 31-bit integer")
    headers = {"CSeq": str(cseq), "User-Agent": user_agent, **(extra or {})}
    for name, value in headers.items():
        if not _HEADER_NAME.match(name) or not _LINE_SAFE.match(value):
            raise ValueError(f"bad RTSP header {name!r}")
    if not url or not _LINE_SAFE.match(url) or " " in url:
        raise ValueError("url must be one line without spaces")
    lines = [f"{method} {url} RTSP/1.0"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _head_end(buffer: bytes) -> int | None:
    """Index just past the blank line ending the head, or None."""
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    candidates = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
    return min(candidates) if candidates else None


def response_length(buffer: bytes) -> int | None:
    """Bytes of the first complete response in ``buffer``, or None if more is needed.

    A response is its head plus ``Content-Length`` bytes of body. Raises
    OversizeError when the head or the whole response would exceed
    limits.MAX_RTSP_RESPONSE, and MalformedError for a Content-Length that
    is not a number.
    """
    end = _head_end(buffer[: MAX_RTSP_RESPONSE + 4])
    if end is None:
        if len(buffer) > min(MAX_RTSP_RESPONSE, MAX_HTTP_HEADERS):
            raise OversizeError("RTSP response head too long")
        return None
    length = 0
    for line in buffer[:end].decode("latin-1").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "content-length":
            parsed = parse_int(value, minimum=0, maximum=MAX_RTSP_RESPONSE)
            if parsed is None:
                if value.strip().isdigit():
                    raise OversizeError("RTSP body longer than the limit")
                raise MalformedError("RTSP Content-Length is not a number")
            length = parsed
            break
    total = end + length
    if total > MAX_RTSP_RESPONSE:
        raise OversizeError("RTSP response longer than the limit")
    return total if len(buffer) >= total else None


def parse_response(data: bytes) -> RtspResponse:
    """Parse one RTSP response (its head; a body such as SDP is ignored).

    Raises OversizeError above limits.MAX_RTSP_RESPONSE and MalformedError
    when the status line is not ``RTSP/x.y <code> <reason>``.
    """
    if len(data) > MAX_RTSP_RESPONSE:
        raise OversizeError(f"RTSP response of {len(data)} bytes")
    end = _head_end(data)
    head = parse_response_head(data[:end] if end is not None else data)
    if not head.version.upper().startswith("RTSP/"):
        raise MalformedError("not an RTSP status line")
    headers = head.headers
    public: list[str] = []
    for item in (head.header("public") or "").split(","):
        method = clean(item, 32)
        if method and len(public) < MAX_LIST_ITEMS:
            public.append(method)
    challenges: list[Challenge] = []
    for value in head.header_all("www-authenticate"):
        challenges.extend(parse_www_authenticate(value))
    return RtspResponse(
        status=head.status,
        reason=head.reason,
        headers=headers,
        server=head.header("server") or None,
        cseq=parse_int(head.header("cseq"), minimum=0, maximum=MAX_CSEQ),
        public=tuple(public),
        challenges=tuple(challenges[:MAX_LIST_ITEMS]),
    )
