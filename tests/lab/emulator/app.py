"""The emulator process: start every service of a profile, print READY, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any, Protocol

from tests.lab.emulator.auth import Credentials
from tests.lab.emulator.context import Device, Options
from tests.lab.emulator.httpd import HttpServer
from tests.lab.emulator.rtsp import RtspServer
from tests.lab.emulator.tcp import TcpPort

if TYPE_CHECKING:
    from tests.lab.emulator.wsd import WsDiscovery
    from tests.lab.profiles import Profile


class Service(Protocol):
    """Anything the emulator starts and later closes."""

    async def start(self) -> None:
        """Bind and begin serving."""

    def close(self) -> None:
        """Stop serving and release the socket."""


class Emulator:
    """All services of one device profile."""

    def __init__(self, profile: Profile, options: Options) -> None:
        self.device = Device(profile, options)
        self.services: list[Service] = []
        self.wsd: WsDiscovery | None = None
        self._stop = asyncio.Event()

    @property
    def raw(self) -> dict[str, Any]:
        """The substituted profile."""
        return self.device.raw

    def build(self) -> None:
        """Create (not yet start) every service the profile switches on."""
        raw = self.raw
        creds = raw.get("credentials")
        credentials = Credentials(creds["username"], creds["password"]) if creds else None
        self._build_udp()
        onvif_service = None
        if raw.get("onvif"):
            from tests.lab.emulator.onvif import OnvifService  # noqa: PLC0415

            onvif_service = OnvifService(self.device, credentials)
        ssdp = raw.get("ssdp")
        description: tuple[str, bytes] | None = None
        if ssdp:
            from tests.lab.emulator.ssdp import description_xml  # noqa: PLC0415

            description = (ssdp["location_path"], description_xml(ssdp))
        http_ports: set[int] = set()
        for block in raw.get("http") or []:
            port = block["port"]
            http_ports.add(port)
            self.services.append(
                HttpServer(
                    self.device,
                    block,
                    credentials=credentials,
                    onvif=onvif_service if onvif_service and raw["onvif"]["port"] == port else None,
                    description=description if ssdp and ssdp["location_port"] == port else None,
                    ssl_context=self._tls(block) if block.get("tls") else None,
                )
            )
        if ssdp and ssdp["location_port"] not in http_ports:
            # The UPnP SDK serves its description on a port of its own (49152 on Dahua).
            block = {"port": ssdp["location_port"], "server": ssdp["server"]}
            self.services.append(
                HttpServer(self.device, block, credentials=None, description=description)
            )
        slow = self.device.hostile.get("http_slow")
        if isinstance(slow, dict) and slow["port"] not in http_ports:
            self.services.append(HttpServer(self.device, {"port": slow["port"]}, credentials=None))
        rtsp = raw.get("rtsp")
        if rtsp:
            self.services.append(RtspServer(self.device, credentials, rtsp["port"]))
        slow = self.device.hostile.get("rtsp_slow")
        if isinstance(slow, dict) and (not rtsp or slow["port"] != rtsp["port"]):
            self.services.append(RtspServer(self.device, credentials, slow["port"]))
        self.services += [TcpPort(self.device, entry) for entry in raw.get("tcp") or []]

    def _build_udp(self) -> None:
        raw = self.raw
        if raw.get("udp_silent"):
            return
        # Imported per service so a profile pays only for what it plays.
        if raw.get("wsd"):
            from tests.lab.emulator.wsd import WsDiscovery  # noqa: PLC0415

            self.wsd = WsDiscovery(self.device)
            self.services.append(self.wsd)
        if raw.get("sadp"):
            from tests.lab.emulator.sadp import Sadp  # noqa: PLC0415

            self.services.append(Sadp(self.device))
        if raw.get("dhip"):
            from tests.lab.emulator.dhip import Dhip  # noqa: PLC0415

            self.services.append(Dhip(self.device))
        if raw.get("ssdp"):
            from tests.lab.emulator.ssdp import Ssdp  # noqa: PLC0415

            self.services.append(Ssdp(self.device))
        if raw.get("mdns"):
            from tests.lab.emulator.mdns import Mdns  # noqa: PLC0415

            self.services.append(Mdns(self.device))

    def _tls(self, block: dict[str, Any]) -> Any:
        from tests.lab.emulator.tls import make_context  # noqa: PLC0415

        return make_context(block.get("tls_subject"), self.device.profile.network.ip)

    async def start(self) -> None:
        """Start every service; on failure close what was started and re-raise."""
        started: list[Service] = []
        try:
            for service in self.services:
                await service.start()
                started.append(service)
        except BaseException:
            for service in started:
                service.close()
            raise

    def close(self) -> None:
        """Close every service."""
        for service in self.services:
            service.close()

    def stop(self) -> None:
        """Ask :meth:`run` to finish (signal handlers call this)."""
        self._stop.set()

    async def run(self, *, hello: bool = False) -> None:
        """Serve until stopped: build, start, READY, wait, Bye, close."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.set_exception_handler(self._quiet)
        try:
            self.build()
            await self.start()
            if hello and self.wsd is not None:
                self.device.log(
                    "wsd",
                    "-",
                    "Hello sent"
                    if self.wsd.announce(self.wsd.hello())
                    else "Hello not sent (no multicast here)",
                )
            sys.stdout.write(f"READY {self.device.profile.id}\n")
            sys.stdout.flush()
            await self._stop.wait()
            if hello and self.wsd is not None and self.wsd.announce(self.wsd.bye()):
                self.device.log("wsd", "-", "Bye sent")
                await asyncio.sleep(0.05)  # let the datagram leave before closing
        finally:
            self.close()
            # Give cancelled connection handlers a moment to finish.
            await asyncio.sleep(0)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)

    def _quiet(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # TLS handshakes aborted by scanners are routine; log them in one line.
        exc = context.get("exception")
        message = context.get("message", "")
        self.device.log("loop", "-", f"{message} {type(exc).__name__ if exc else ''}".strip())
