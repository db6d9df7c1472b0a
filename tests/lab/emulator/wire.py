"""Reading and writing HTTP-style messages (HTTP/1.1 and RTSP/1.0) on streams."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final

MAX_HEAD: Final = 16_384
"""Request line plus headers; real clients send well under 2 KiB."""
MAX_BODY: Final = 1_048_576
"""SOAP requests are a few KiB; anything over 1 MiB is refused."""
IDLE_TIMEOUT: Final = 30.0
"""A silent connection is closed after this many seconds."""


class BadRequestError(ValueError):
    """The peer sent something that is not a request we can read."""


@dataclass
class Request:
    """A parsed request: method, target, version, headers (lower-case), body."""

    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    def wants_close(self) -> bool:
        """Whether the connection ends after this response."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection != "keep-alive"
        return connection == "close"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; None when the peer closed cleanly between requests."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None
        raise BadRequestError("connection closed inside the header") from err
    except asyncio.LimitOverrunError as err:
        raise BadRequestError("header too large") from err
    if len(head) > MAX_HEAD:
        raise BadRequestError("header too large")
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError as err:  # pragma: no cover - latin-1 decodes anything
        raise BadRequestError("undecodable header") from err
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequestError("bad request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequestError("bad header line")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequestError("chunked bodies are not accepted")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as err:
        raise BadRequestError("bad Content-Length") from err
    if length < 0 or length > MAX_BODY:
        raise BadRequestError("body too large")
    body = b""
    if length:
        try:
            body = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
        except asyncio.IncompleteReadError as err:
            raise BadRequestError("body cut short") from err
    return Request(method, target, version, headers, body)


def render(
    version: str, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """Serialise a response head and body."""
    head = f"{version} {status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("latin-1", "replace") + b"\r\n" + body


async def drip(
    writer: asyncio.StreamWriter, data: bytes, bytes_per_second: int, limit: float
) -> None:
    """Write ``data`` then endless padding, ``bytes_per_second`` at a time.

    Stops when the peer goes away or after ``limit`` seconds, so a forgotten
    client never keeps the emulator busy for ever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    pending = bytearray(data)
    while loop.time() < deadline and not writer.is_closing():
        if len(pending) < bytes_per_second:
            pending += b"X-Padding: " + b"a" * 64 + b"\r\n"
        chunk = bytes(pending[:bytes_per_second])
        del pending[:bytes_per_second]
        writer.write(chunk)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            return
        await asyncio.sleep(1.0)
