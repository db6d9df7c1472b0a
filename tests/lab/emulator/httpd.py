"""A minimal HTTP/1.1 server for one port of a device profile (asyncio streams).

It serves the profile's routes with Digest or Basic authentication where a
route asks for it, the ONVIF device service, the SSDP description document,
and the hostile huge-body and slow modes.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator.wire import BadRequestError, Request, drip, read_request, render

if TYPE_CHECKING:
    import ssl

    from tests.lab.emulator.auth import Credentials
    from tests.lab.emulator.context import Device
    from tests.lab.emulator.onvif import OnvifService

CHUNK: Final = b"A" * 65_536
SLOW_LIMIT: Final = 600.0
"""A slow reply stops after 10 minutes even if the client never gives up."""
UNAUTHORIZED_BODY: Final = (
    b"<!DOCTYPE html>\r\n<html><head><title>Document Error: Unauthorized</title>"
    b"</head>\r\n<body><h2>Access Error: 401 -- Unauthorized</h2></body>\r\n</html>\r\n"
)


def reason(status: int) -> str:
    """The standard reason phrase for a status code."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class HttpServer:
    """Serves one ``http[]`` entry (or a synthetic one) on one TCP port."""

    def __init__(
        self,
        device: Device,
        block: dict[str, Any],
        *,
        credentials: Credentials | None,
        onvif: OnvifService | None = None,
        description: tuple[str, bytes] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.device = device
        self.block = block
        self.port: int = block["port"]
        self.credentials = credentials
        self.onvif = onvif
        self.description = description
        self.ssl_context = ssl_context
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        slow = device.hostile.get("http_slow")
        self.slow_bps: int | None = (
            slow["bytes_per_second"]
            if isinstance(slow, dict) and slow.get("port") == self.port
            else None
        )
        huge = device.hostile.get("http_huge_body")
        self.huge: int | None = huge if isinstance(huge, int) and huge > 0 else None
        self.proto = "https" if ssl_context else "http"

    async def start(self) -> None:
        """Listen on the (mapped) port."""
        options = self.device.options
        self.server = await asyncio.start_server(
            self._client,
            options.bind,
            options.port(self.port),
            ssl=self.ssl_context,
            reuse_address=True,
            limit=32_768,
        )

    def close(self) -> None:
        """Stop listening and drop every open connection."""
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if self.slow_bps is not None:
                await self._slow(reader, writer, peer)
                return
            while True:
                try:
                    request = await read_request(reader)
                except BadRequestError as err:
                    self.device.log(self.proto, peer, f"bad request ({err})")
                    await self._send(writer, "HTTP/1.1", 400, [], b"", close=True)
                    return
                if request is None:
                    return
                keep = await self._dispatch(request, writer, peer)
                if not keep or request.wants_close():
                    return
        except (TimeoutError, ConnectionError, OSError):
            return
        except asyncio.CancelledError:
            raise
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _slow(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        # Read whatever request comes (briefly), then drip a reply that never ends.
        with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ValueError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        self.device.log(self.proto, peer, f"slow reply at {self.slow_bps} B/s")
        assert self.slow_bps is not None
        await drip(writer, b"HTTP/1.1 200 OK\r\n", self.slow_bps, SLOW_LIMIT)

    async def _dispatch(self, request: Request, writer: asyncio.StreamWriter, peer: object) -> bool:
        """Answer one request; return False when the connection must close."""
        method = request.method.upper()
        version = "HTTP/1.1"
        head = method == "HEAD"
        self.device.log(self.proto, peer, f"{method} {request.target}")
        onvif = self.onvif
        if onvif is not None and request.path == onvif.block["path"]:
            if method != "POST":
                await self._send(writer, version, 405, [("Allow", "POST")], b"", head=head)
                return True
            stall = self.device.options.stall_signed
            if stall and b"UsernameToken" in request.body:
                self.device.log(self.proto, peer, f"holding a signed request for {stall:g} s")
                await asyncio.sleep(stall)
            local = writer.get_extra_info("sockname")
            status, ctype, body = onvif.handle(request.body, local[:2], peer)
            await self._send(writer, version, status, [("Content-Type", ctype)], body)
            return True
        if method not in ("GET", "HEAD", "POST"):
            await self._send(writer, version, 405, [("Allow", "GET, HEAD, POST")], b"", head=head)
            return True
        if self.description is not None and request.path == self.description[0]:
            headers = [("Content-Type", 'text/xml; charset="utf-8"')]
            await self._send(writer, version, 200, headers, self.description[1], head=head)
            return True
        if self.huge is not None and request.path == "/":
            await self._huge(writer, version, head)
            return False
        routes: dict[str, Any] = self.block.get("routes") or {}
        route = routes.get(request.target) or routes.get(request.path)
        if route is None:
            route = self.block.get("not_found") or {"status": 404, "body": "<html>404</html>"}
            route = {"content_type": "text/html", **route, "status": route.get("status", 404)}
        if not self._authorised(route, request):
            await self._unauthorised(writer, version, route, head)
            return True
        headers = list((route.get("headers") or {}).items())
        body = str(route.get("body", "")).encode()
        if body or "content_type" in route:
            headers.append(("Content-Type", route.get("content_type", "text/html")))
        await self._send(writer, version, int(route.get("status", 200)), headers, body, head=head)
        return True

    def _authorised(self, route: dict[str, Any], request: Request) -> bool:
        scheme = route.get("auth")
        if not scheme:
            return True
        header = request.headers.get("authorization", "")
        if self.credentials is None or not header:
            return False
        realm = route.get("realm", "")
        if scheme == "digest":
            return self.credentials.check_digest(
                header, request.method.upper(), realm, request.target
            )
        return self.credentials.check_basic(header)

    async def _unauthorised(
        self, writer: asyncio.StreamWriter, version: str, route: dict[str, Any], head: bool
    ) -> None:
        realm = route.get("realm", "")
        if route.get("auth") == "digest" and self.credentials is not None:
            challenge = self.credentials.digest_challenge(realm, qop=route.get("qop", "auth"))
        else:
            challenge = f'Basic realm="{realm}"'
        headers = [("WWW-Authenticate", challenge), ("Content-Type", "text/html")]
        await self._send(writer, version, 401, headers, UNAUTHORIZED_BODY, head=head)

    async def _huge(self, writer: asyncio.StreamWriter, version: str, head: bool) -> None:
        assert self.huge is not None
        headers = self._common([("Content-Type", "text/html")])
        headers.append(("Content-Length", str(self.huge)))
        headers.append(("Connection", "close"))
        writer.write(render(version, 200, "OK", headers, b""))
        await writer.drain()
        if head:
            return
        left = self.huge
        while left > 0:
            chunk = CHUNK if left >= len(CHUNK) else CHUNK[:left]
            writer.write(chunk)
            await writer.drain()
            left -= len(chunk)

    def _common(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = [("Date", formatdate(usegmt=True))]
        server = self.block.get("server")
        if server is not None:
            out.append(("Server", server))
        out += list((self.block.get("headers") or {}).items())
        return out + headers

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        version: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        head: bool = False,
        close: bool = False,
    ) -> None:
        all_headers = self._common(headers)
        all_headers.append(("Content-Length", str(len(body))))
        if close:
            all_headers.append(("Connection", "close"))
        writer.write(render(version, status, reason(status), all_headers, b"" if head else body))
        await writer.drain()
