"""RTSP/1.0 server answering OPTIONS and DESCRIBE (RFC 2326), with Digest/Basic."""

from __future__ import annotations

import asyncio
import contextlib
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator.wire import BadRequestError, drip, read_request, render

if TYPE_CHECKING:
    from tests.lab.emulator.auth import Credentials
    from tests.lab.emulator.context import Device
    from tests.lab.emulator.wire import Request

DEFAULT_PUBLIC: Final = (
    "OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER"
)
SLOW_LIMIT: Final = 600.0


class RtspServer:
    """One RTSP listener: the profile's ``rtsp`` block, or a hostile slow one."""

    def __init__(self, device: Device, credentials: Credentials | None, port: int) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw.get("rtsp") or {"port": port}
        self.credentials = credentials
        self.port = port
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        slow = device.hostile.get("rtsp_slow")
        self.slow_bps: int | None = (
            slow["bytes_per_second"]
            if isinstance(slow, dict) and slow.get("port") == port
            else None
        )

    async def start(self) -> None:
        """Listen on the (mapped) port."""
        self.server = await asyncio.start_server(
            self._client,
            self.device.options.bind,
            self.device.options.port(self.port),
            reuse_address=True,
            limit=32_768,
        )

    def close(self) -> None:
        """Stop listening and drop open connections."""
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
                with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ValueError):
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
                self.device.log("rtsp", peer, f"slow reply at {self.slow_bps} B/s")
                await drip(writer, b"RTSP/1.0 200 OK\r\n", self.slow_bps, SLOW_LIMIT)
                return
            while True:
                try:
                    request = await read_request(reader)
                except BadRequestError as err:
                    self.device.log("rtsp", peer, f"bad request ({err})")
                    writer.write(render("RTSP/1.0", 400, "Bad Request", [], b""))
                    await writer.drain()
                    return
                if request is None:
                    return
                self.device.log("rtsp", peer, f"{request.method} {request.target}")
                writer.write(self.respond(request, peer))
                await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            return
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _headers(self, request: Request) -> list[tuple[str, str]]:
        headers = [("CSeq", request.headers.get("cseq", "0"))]
        server = self.block.get("server")
        if server is not None:
            headers.append(("Server", server))
        headers.append(("Date", formatdate(usegmt=True)))
        return headers

    def respond(self, request: Request, peer: object) -> bytes:
        """The response bytes for one request."""
        headers = self._headers(request)
        method = request.method.upper()
        if method == "OPTIONS":
            headers.append(("Public", self.block.get("public") or DEFAULT_PUBLIC))
            return render("RTSP/1.0", 200, "OK", headers, b"")
        if method != "DESCRIBE":
            headers.append(("Allow", "OPTIONS, DESCRIBE"))
            return render("RTSP/1.0", 405, "Method Not Allowed", headers, b"")
        auth = self.block.get("auth")
        if auth and not self._authorised(auth, request):
            self.device.log("rtsp", peer, "DESCRIBE unauthorised")
            if auth["scheme"] == "Digest" and self.credentials is not None:
                challenge = self.credentials.digest_challenge(auth["realm"], qop=None)
                headers.append(("WWW-Authenticate", challenge))
                if auth.get("also_basic"):
                    headers.append(("WWW-Authenticate", f'Basic realm="{auth["realm"]}"'))
            else:
                headers.append(("WWW-Authenticate", f'Basic realm="{auth["realm"]}"'))
            return render("RTSP/1.0", 401, "Unauthorized", headers, b"")
        sdp = self._sdp().encode()
        headers += [
            ("Content-Base", request.target.rstrip("/") + "/"),
            ("Content-Type", "application/sdp"),
            ("Content-Length", str(len(sdp))),
        ]
        return render("RTSP/1.0", 200, "OK", headers, sdp)

    def _authorised(self, auth: dict[str, Any], request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header or self.credentials is None:
            return False
        if header.lower().startswith("basic "):
            # Basic is accepted only where the device offers it.
            if auth["scheme"] != "Basic" and not auth.get("also_basic"):
                return False
            return self.credentials.check_basic(header)
        return self.credentials.check_digest(header, "DESCRIBE", auth["realm"], request.target)

    def _sdp(self) -> str:
        ip = self.device.profile.network.ip
        session = int(time.time())
        return (
            "v=0\r\n"
            f"o=- {session} {session} IN IP4 {ip}\r\n"
            "s=Media Presentation\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            "m=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 H264/90000\r\n"
            "a=control:trackID=1\r\n"
        )
