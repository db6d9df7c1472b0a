"""What every probe shares: timing, scope, the observation sink and UDP plumbing."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from cctv_sentinel import limits
from cctv_sentinel.discovery.credential_policy import CameraEvidence
from cctv_sentinel.discovery.credentials import Credentials
from cctv_sentinel.discovery.netinfo import Interface
from cctv_sentinel.model import Observation

_LOG = logging.getLogger(__name__)

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Timing:
    """Time budget of the probes, in seconds (tests shrink these, never sleep)."""

    window: float = limits.UDP_LISTEN_WINDOW
    retransmits: int = limits.UDP_RETRANSMITS
    retransmit_gap: float = limits.UDP_RETRANSMIT_GAP
    connect_timeout: float = limits.CONNECT_TIMEOUT
    request_timeout: float = limits.REQUEST_TIMEOUT
    head_timeout: float = limits.HEAD_TIMEOUT
    arp_settle: float = limits.ARP_SETTLE
    arp_repoke: float = limits.ARP_REPOKE
    banner_wait: float = 0.25
    ssdp_mx: int = limits.SSDP_MX
    ssdp_margin: float = limits.SSDP_MARGIN
    mdns_tc_wait: float = limits.MDNS_TC_WAIT


@dataclass(slots=True)
class ProbeContext:
    """Everything a probe needs: where to look, how long, and where to report."""

    networks: tuple[ipaddress.IPv4Network, ...]
    interfaces: tuple[Interface, ...]
    ports: tuple[int, ...]
    timing: Timing
    credentials: Credentials
    emit: Callable[[Observation], None]
    connections: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(limits.GLOBAL_CONCURRENCY)
    )
    spawn: Callable[[Coroutine[Any, Any, Any], str], None] | None = None
    """Runs work as part of the scan (the scan waits for it); None outside a Scanner."""
    keep_listening: bool = False
    """Discovery sockets stay open after their window, until :meth:`close_late_listeners`."""
    evidence: CameraEvidence = field(default_factory=CameraEvidence)
    """Hosts whose answers say camera: only they (or hosts the file names) get credentials."""
    _host_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _late: list[asyncio.BaseTransport] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self.emit

        def emit(obs: Observation) -> None:
            self.evidence.note(obs)  # before the sink: its follow-ups may need the evidence
            sink(obs)

        self.emit = emit

    def listen_late(self, transport: asyncio.BaseTransport) -> bool:
        """Keep a probe's socket open after its window, so late answers still count.

        Returns False (and the caller closes it) when this context does not keep
        sockets open. The owner closes them all with :meth:`close_late_listeners`
        when the scan ends.
        """
        if not self.keep_listening:
            return False
        self._late.append(transport)
        return True

    def close_late_listeners(self) -> None:
        """Close every socket kept open by :meth:`listen_late` (idempotent)."""
        late, self._late = self._late, []
        for transport in late:
            transport.close()

    def in_scope(self, ip: str) -> bool:
        """True when ``ip`` lies in a network we were asked to scan.

        Follow-up traffic (HTTP, RTSP, ONVIF, unicast probes) goes only to
        addresses in scope, never to an address a device merely mentions.
        """
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def on_link(self, ip: str) -> bool:
        """True when ``ip`` is on a network one of our interfaces sits on."""
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return any(addr in iface.network for iface in self.interfaces)

    @property
    def multicast_interfaces(self) -> tuple[Interface, ...]:
        """Interfaces that face a scanned network and can send multicast."""
        return tuple(
            i
            for i in self.interfaces
            if i.usable and i.multicast and any(i.network.overlaps(n) for n in self.networks)
        )

    @property
    def broadcast_targets(self) -> tuple[str, ...]:
        """Directed broadcast addresses of the scanned on-link networks."""
        targets: list[str] = []
        for iface in self.multicast_interfaces:
            bcast = str(iface.network.broadcast_address)
            if iface.network.prefixlen < 31 and bcast not in targets:
                targets.append(bcast)
        return tuple(targets)

    @contextlib.asynccontextmanager
    async def host_slot(self, ip: str) -> AsyncIterator[None]:
        """Hold one of the limited connection slots for ``ip`` (and a global one)."""
        slot = self._host_slots.get(ip)
        if slot is None:
            slot = self._host_slots[ip] = asyncio.Semaphore(limits.PER_HOST_CONNECTIONS)
        async with slot, self.connections:
            yield


def now() -> float:
    """Wall-clock timestamp for observations."""
    return time.time()


class DatagramCollector(asyncio.DatagramProtocol):
    """Receives datagrams, drops oversize ones and floods, and hands the rest on.

    The handler is called in the event loop with the raw bytes and the sender;
    it must be quick (the pure parsers are) and must not raise.
    """

    def __init__(self, name: str, max_size: int, handler: Callable[[bytes, Addr], None]) -> None:
        self.name = name
        self.max_size = max_size
        self.handler = handler
        self.received = 0
        self.dropped = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """Check size and count, then dispatch."""
        self.received += 1
        if len(data) > self.max_size or self.received > limits.MAX_DATAGRAMS_PER_PROBE:
            self.dropped += 1
            return
        try:
            self.handler(data, (str(addr[0]), int(addr[1])))
        except Exception:  # noqa: BLE001  (task boundary: one bad datagram must not end the probe)
            _LOG.debug(
                "%s: handler failed for a datagram from %s",
                self.name,
                addr[0],
                exc_info=True,
            )

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (port unreachable after unicast probes) are expected."""
        _LOG.debug("%s: %s", self.name, exc)


def udp_socket(
    *,
    port: int = 0,
    groups: Iterable[str] = (),
    interfaces: Iterable[Interface] = (),
    reuse: bool = False,
) -> socket.socket:
    """Make a non-blocking UDP socket for discovery.

    Multicast TTL is 1 (discovery never leaves the link), our own multicast is
    not looped back, broadcast is allowed, and ``groups`` are joined on every
    given interface.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(AttributeError, OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.bind(("0.0.0.0", port))  # noqa: S104  (replies arrive on any interface)
        for group in groups:
            for iface in interfaces:
                mreq = socket.inet_aton(group) + socket.inet_aton(str(iface.address))
                with contextlib.suppress(OSError):  # already joined via another address
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    except BaseException:
        sock.close()
        raise
    return sock


def send_multicast(
    sock: socket.socket, payload: bytes, group: Addr, interfaces: Iterable[Interface]
) -> int:
    """Send ``payload`` to a multicast group out of each interface; return sends that worked."""
    sent = 0
    for iface in interfaces:
        try:
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_MULTICAST_IF,
                socket.inet_aton(str(iface.address)),
            )
            sock.sendto(payload, group)
            sent += 1
        except OSError as err:
            _LOG.debug("multicast send to %s via %s failed: %s", group, iface.name, err)
    return sent


def send_to(sock: socket.socket, payload: bytes, targets: Iterable[Addr]) -> int:
    """Send ``payload`` by unicast or broadcast to each target; return sends that worked."""
    sent = 0
    for target in targets:
        try:
            sock.sendto(payload, target)
            sent += 1
        except OSError as err:
            _LOG.debug("send to %s failed: %s", target, err)
    return sent


async def open_collector(
    sock: socket.socket,
    name: str,
    max_size: int,
    handler: Callable[[bytes, Addr], None],
) -> tuple[asyncio.DatagramTransport, DatagramCollector]:
    """Attach a :class:`DatagramCollector` to an already configured socket."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: DatagramCollector(name, max_size, handler), sock=sock
    )
    return transport, protocol


async def send_and_listen(
    send: Callable[[], object], timing: Timing, window: float | None = None
) -> None:
    """Send a probe (with resends) and listen until the window closes.

    ``send`` runs ``timing.retransmits`` times, ``retransmit_gap`` apart; the
    call returns ``window`` (default ``timing.window``) seconds after the first send.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + (timing.window if window is None else window)
    for attempt in range(max(1, timing.retransmits)):
        if attempt:
            await asyncio.sleep(timing.retransmit_gap)
        send()
    remaining = end - loop.time()
    if remaining > 0:
        await asyncio.sleep(remaining)


async def udp_exchange(
    ctx: ProbeContext,
    *,
    name: str,
    payloads: Iterable[bytes],
    handler: Callable[[bytes, Addr], None],
    max_size: int,
    group: Addr | None = None,
    broadcast_port: int | None = None,
    unicast: Iterable[Addr] = (),
    bind_port: int = 0,
    join: Iterable[str] = (),
    window: float | None = None,
    linger: bool = False,
) -> None:
    """Send discovery payloads by multicast, directed broadcast and unicast; listen.

    ``bind_port``/``join`` are for protocols whose replies are themselves
    multicast (SADP): the socket binds that port with SO_REUSEADDR, so vendor
    tools or a second agent can listen too, and joins the groups. When the port
    is taken exclusively we fall back to an ephemeral port (unicast replies only).
    ``window`` overrides ``ctx.timing.window`` (seconds from the first send).
    With ``linger`` the socket stays open after the window while the scan
    runs (:meth:`ProbeContext.listen_late`), so late answers still reach
    ``handler``.
    """
    packets = list(payloads)
    ifaces = ctx.multicast_interfaces
    targets = [t for t in unicast if ctx.in_scope(t[0])]
    bcast = [(b, broadcast_port) for b in ctx.broadcast_targets] if broadcast_port else []
    if not targets and not (ifaces and (group or bcast)):
        return
    try:
        sock = udp_socket(port=bind_port, groups=join, interfaces=ifaces, reuse=bool(bind_port))
    except OSError as err:
        _LOG.debug("%s: cannot bind UDP %d (%s); using an ephemeral port", name, bind_port, err)
        sock = udp_socket()
    transport, _ = await open_collector(sock, name, max_size, handler)
    try:

        def send() -> None:
            for packet in packets:
                if group is not None:
                    send_multicast(sock, packet, group, ifaces)
                send_to(sock, packet, bcast)
                send_to(sock, packet, targets)

        await send_and_listen(send, ctx.timing, window)
    except BaseException:
        transport.close()
        raise
    if not (linger and ctx.listen_late(transport)):
        transport.close()
