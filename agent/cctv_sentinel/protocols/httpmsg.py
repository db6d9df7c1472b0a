"""HTTP/1.x message heads (also used by SSDP and RTSP replies): parse and build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_HTTP_HEADERS, MAX_LABEL
from cctv_sentinel.protocols.text import clean

MAX_HEADER_LINES = 100
"""Most header lines kept from one reply; real cameras send 5-20."""

MAX_HEADER_VALUE = 1024
"""Longest header value kept (WWW-Authenticate with several challenges is ~300)."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status line and headers of an HTTP-like reply."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        lname = name.lower()
        return next((v for k, v in self.headers if k == lname), None)

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of a header (case-insensitive)."""
        lname = name.lower()
        return tuple(v for k, v in self.headers if k == lname)


def parse_response_head(data: bytes) -> ResponseHead:
    """Parse ``HTTP/1.1 200 OK`` (or RTSP/1.0) and the header lines after it.

    ``data`` may include the blank line and anything after it; only the head is
    read. Header names are lower-cased; values are cleaned device strings.
    """
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    if len(head) > MAX_HTTP_HEADERS:
        raise OversizeError(f"reply head longer than {MAX_HTTP_HEADERS} bytes")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    status_line = lines[0].decode("latin-1").strip()
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or "/" not in parts[0]:
        raise MalformedError("not an HTTP-style status line")
    try:
        status = int(parts[1])
    except ValueError as err:
        raise MalformedError("status code is not a number") from err
    if not 100 <= status <= 999:
        raise MalformedError("status code out of range")
    headers: list[tuple[str, str]] = []
    for raw in lines[1 : MAX_HEADER_LINES + 1]:
        if b":" not in raw:
            continue
        name, _, value = raw.partition(b":")
        key = clean(name, MAX_LABEL).lower()
        if key:
            headers.append((key, clean(value, MAX_HEADER_VALUE)))
    return ResponseHead(
        version=clean(parts[0], 16),
        status=status,
        reason=clean(parts[2] if len(parts) > 2 else "", MAX_LABEL),
        headers=tuple(headers),
    )


def build_request(
    method: str,
    target: str,
    host: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """Build a request with ``Host``, ``Connection: close`` and Content-Length as needed."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    lines = [f"{method} {target} {version}", f"Host: {host}"]
    lines.extend(f"{k}: {v}" for k, v in items)
    if not any(k.lower() == "connection" for k, _ in items):
        lines.append("Connection: close")
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
