"""UDP sockets for discovery responders: bind, join groups, reply, flood."""

from __future__ import annotations

import array
import asyncio
import fcntl
import socket
import struct
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1
_IFF_MULTICAST = 0x1000
MAX_DATAGRAM = 65_535

Handler = Callable[[bytes, tuple[str, int]], None]


def multicast_interfaces() -> list[tuple[int, str]]:
    """(index, name) of every interface that is up and has the MULTICAST flag."""
    found: list[tuple[int, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for index, name in socket.if_nameindex():
            request = struct.pack("16sH14x", name.encode()[:15], 0)
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, request)
            except OSError:
                continue
            flags = struct.unpack_from("16sH", reply)[1]
            if flags & _IFF_UP and flags & _IFF_MULTICAST:
                found.append((index, name))
    return found


def join_groups(sock: socket.socket, groups: Iterable[str]) -> list[str]:
    """Join each group on every multicast interface; return what was joined."""
    joined: list[str] = []
    for group in groups:
        for index, name in multicast_interfaces():
            # struct ip_mreqn: group, local address (any), interface index.
            mreq = (
                socket.inet_aton(group)
                + socket.inet_aton("0.0.0.0")
                + array.array("i", [index]).tobytes()
            )
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            except OSError:
                continue
            joined.append(f"{group}%{name}")
    return joined


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.handler(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for replies to vanished clients are routine; ignore them.
        pass


class UdpService:
    """One bound UDP socket that hands datagrams to a handler and can reply."""

    def __init__(self, device: Device, name: str, port: int) -> None:
        self.device = device
        self.name = name
        self.port = device.options.port(port)
        self.transport: asyncio.DatagramTransport | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    async def start(self, handler: Handler, groups: Iterable[str] = ()) -> None:
        """Bind with SO_REUSEADDR, join the groups, and start receiving."""
        options = self.device.options
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            # TTL 1: replies and announcements never cross a router (as on devices).
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.bind((options.bind, self.port))
            if options.multicast_ok and options.bind == "0.0.0.0":
                joined = join_groups(sock, groups)
                if joined:
                    self.device.log(self.name, "-", "joined " + " ".join(joined))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(handler), sock=sock)
        self.transport = transport

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send one datagram (times the hostile flood count) now."""
        if self.transport is None or self.transport.is_closing():
            return
        for _ in range(self.device.flood):
            self.transport.sendto(data, addr)
        # What was sent, so a test can compare it with what the scanner heard.
        self.device.log(self.name, addr, f"sent {len(data)} bytes x{self.device.flood}")

    def send_many(self, datagrams: Iterable[bytes], addr: tuple[str, int]) -> None:
        """Send several datagrams in order."""
        for data in datagrams:
            self.send(data, addr)

    def send_multicast(self, data: bytes, group: str, port: int) -> bool:
        """Send to a group when multicast is allowed; return whether it was sent."""
        if not self.device.options.multicast_ok:
            return False
        self.send(data, (group, self.device.options.port(port)))
        return True

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds (random reply delays)."""
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            action()

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    def close(self) -> None:
        """Cancel pending replies and close the socket."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self.transport is not None:
            self.transport.close()
