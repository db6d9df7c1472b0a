"""What every probe shares: timing, scope, the observation sink and UDP plumbing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from cctv_sentinel import limits
from cctv_sentinel.discovery.credential_policy import CameraEvidence
from cctv_sentinel.discovery.credentials import Credentials
from cctv_sentinel.discovery.netinfo import Interface
from cctv_sentinel.model import Observation

_LOG = logging.getLogger(__name__)

Addr = tuple[str, int]

_SO_RCVBUFFORCE: Final = 33
"""Linux's option number (asm-generic/socket.h); Python's socket module does not name it."""


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
    connect_pace: Pacer = field(default_factory=lambda: Pacer(limits.CONNECTS_PER_TURN))
    """New TCP connections of the sweep per event-loop turn."""
    spawn: Callable[[Coroutine[Any, Any, Any], str], None] | None = None
    """Runs work as part of the scan (the scan waits for it); None outside a Scanner."""
    keep_listening: bool = False
    """Discovery sockets stay open after their window, until :meth:`close_late_listeners`."""
    evidence: CameraEvidence = field(default_factory=CameraEvidence)
    """Hosts whose answers say camera: only they (or hosts the file names) get credentials."""
    _host_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _late: list[Listener] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self.emit

        def emit(obs: Observation) -> None:
            self.evidence.note(obs)  # before the sink: its follow-ups may need the evidence
            sink(obs)

        self.emit = emit

    def listen_late(self, transport: Listener) -> bool:
        """Keep a probe's socket open after its window, so late answers still count.

        Returns False (and the caller closes it) when this context does not keep
        sockets open. The owner closes them all with :meth:`close_late_listeners`
        when the scan ends.
        """
        if not self.keep_listening:
            return False
        self._late.append(transport)
        return True

    def drain_late_listeners(self) -> None:
        """Hand on what the kept-open sockets have received but not parsed yet."""
        for listener in list(self._late):
            listener.drain()

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
        """Hold one of the limited connection slots for ``ip`` (and a global one).

        Follow-up connections are paced like the sweep's (``connect_pace``).
        """
        slot = self._host_slots.get(ip)
        if slot is None:
            slot = self._host_slots[ip] = asyncio.Semaphore(limits.PER_HOST_CONNECTIONS)
        async with slot, self.connections:
            await self.connect_pace.turn()
            yield


class Pacer:
    """Lets at most ``per_turn`` callers through per event-loop turn, first come first served.

    Each TCP connect on a LAN makes the kernel do the whole handshake's work inside
    the call (on a bridge of namespaces, for both ends): hundreds started in one
    turn hold the loop for a large part of a second, while answers wait unread and
    timers late. Paced, other callbacks run between the batches.
    """

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._left = per_turn
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._tick_armed = False

    async def turn(self) -> None:
        """Return when this caller may start its work (at once, or in a later turn)."""
        if self._left > 0 and not self._waiters:
            self._left -= 1
            self._arm()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._arm()
        await waiter

    def _arm(self) -> None:
        if not self._tick_armed:
            self._tick_armed = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._tick_armed = False
        self._left = self.per_turn
        while self._left > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled caller gives its place up
                waiter.set_result(None)
                self._left -= 1
        if self._waiters:
            self._arm()


def now() -> float:
    """Wall-clock timestamp for observations."""
    return time.time()


class Listener(Protocol):
    """Something the scan closes when it ends (a discovery socket kept open)."""

    def close(self) -> None:
        """Stop receiving and release the socket (idempotent)."""

    def is_closing(self) -> bool:
        """True once :meth:`close` was called."""

    def drain(self) -> None:
        """Hand on at once everything waiting in the socket and in user space."""


class DatagramReceiver:
    """Reads a discovery socket dry at every wake-up and parses what it read in small batches.

    asyncio's own datagram transport reads one datagram per socket per event
    loop turn: while the sweep keeps the loop busy, a burst of answers waits
    in the kernel's buffer and overflows it. Here the reader callback only
    copies datagrams out of the kernel (up to ``UDP_DRAIN_BATCH`` a wake-up),
    drops oversize ones, repeats (multicast and unicast copies of one answer,
    floods; with ``repeat_key``, answers that differ only where the protocol
    says nothing about the device, like the header of a WS-Discovery answer to
    a resent Probe) and anything past ``MAX_DATAGRAMS_PER_PROBE``; the
    handler then parses at most ``UDP_HANDLE_BATCH`` per loop turn, so reading
    keeps pace with arrival whatever the parsing costs.

    The handler is called in the event loop with the raw bytes and the sender;
    it must not raise (an exception is logged and the datagram dropped).
    """

    def __init__(
        self,
        sock: socket.socket,
        name: str,
        max_size: int,
        handler: Callable[[bytes, Addr], None],
        repeat_key: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.sock = sock
        self.repeat_key = repeat_key
        self.name = name
        self.max_size = max_size
        self.handler = handler
        self.received = 0
        self.dropped = 0
        self.repeats = 0
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[tuple[bytes, Addr]] = collections.deque()
        self._queued_bytes = 0
        self._scheduled = False
        self._closed = False
        self._digests: set[tuple[str, int]] = set()
        self._loop.add_reader(sock.fileno(), self._readable)

    def is_closing(self) -> bool:
        """True once the socket is closed."""
        return self._closed

    def close(self) -> None:
        """Stop reading, drop what was not parsed yet and close the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self.sock.fileno())
        self._queue.clear()
        self.sock.close()

    def _readable(self) -> None:
        for _ in range(limits.UDP_DRAIN_BATCH):
            try:
                data, addr = self.sock.recvfrom(self.max_size + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:  # an ICMP error queued on the socket (port unreachable)
                _LOG.debug("%s: %s", self.name, err)
                continue
            self._accept(data, (str(addr[0]), int(addr[1])))
        if self._queue and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._handle_some)

    def _accept(self, data: bytes, addr: Addr) -> None:
        self.received += 1
        if (
            len(data) > self.max_size
            or self.received > limits.MAX_DATAGRAMS_PER_PROBE
            or self._queued_bytes + len(data) > limits.UDP_QUEUE_BYTES
        ):
            self.dropped += 1
            return
        digest = (addr[0], hash(data if self.repeat_key is None else self.repeat_key(data)))
        if digest in self._digests:
            self.repeats += 1
            return
        self._digests.add(digest)
        self._queue.append((data, addr))
        self._queued_bytes += len(data)

    def _handle_some(self) -> None:
        self._scheduled = False
        for _ in range(limits.UDP_HANDLE_BATCH):
            if self._closed or not self._queue:
                return
            data, addr = self._queue.popleft()
            self._queued_bytes -= len(data)
            try:
                self.handler(data, addr)
            except Exception:  # noqa: BLE001  (task boundary: one bad datagram must not end the probe)
                _LOG.debug(
                    "%s: handler failed for a datagram from %s", self.name, addr[0], exc_info=True
                )
        if self._queue and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self._handle_some)

    def drain(self) -> None:
        """Read the socket dry and hand every waiting datagram to the handler now."""
        if self._closed:
            return
        self._readable()
        while self._queue and not self._closed:
            self._handle_some()


def set_receive_buffer(sock: socket.socket, size: int = limits.DISCOVERY_RCVBUF) -> int:
    """Ask for a ``size``-byte receive buffer; return what the kernel granted.

    As root SO_RCVBUFFORCE passes ``net.core.rmem_max``; otherwise SO_RCVBUF is
    capped there (Linux reports double the request: its bookkeeping share).
    """
    force = getattr(socket, "SO_RCVBUFFORCE", _SO_RCVBUFFORCE if sys.platform == "linux" else None)
    done = False
    if force is not None and os.geteuid() == 0:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            done = True
        except OSError as err:  # no CAP_NET_ADMIN in this namespace
            _LOG.debug("SO_RCVBUFFORCE refused (%s); asking with SO_RCVBUF", err)
    if not done:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    if granted < size:
        _LOG.debug(
            "receive buffer %d bytes of %d asked (raise net.core.rmem_max, or run as root)",
            granted,
            size,
        )
    return granted


def udp_socket(
    *,
    port: int = 0,
    groups: Iterable[str] = (),
    interfaces: Iterable[Interface] = (),
    reuse: bool = False,
) -> socket.socket:
    """Make a non-blocking UDP socket for discovery.

    The receive buffer holds a burst of answers (``limits.DISCOVERY_RCVBUF``),
    multicast TTL is 1 (discovery never leaves the link), our own multicast is
    not looped back, broadcast is allowed, and ``groups`` are joined on every
    given interface.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        set_receive_buffer(sock)
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


def open_receiver(
    sock: socket.socket,
    name: str,
    max_size: int,
    handler: Callable[[bytes, Addr], None],
    repeat_key: Callable[[bytes], bytes] | None = None,
) -> DatagramReceiver:
    """Start reading an already configured socket with a :class:`DatagramReceiver`."""
    return DatagramReceiver(sock, name, max_size, handler, repeat_key)


async def send_and_listen(
    send: Callable[[], object], timing: Timing, window: float | None = None
) -> None:
    """Send a probe (with resends) and listen until the window closes.

    ``send`` runs ``timing.retransmits`` times, ``retransmit_gap`` apart; the
    call returns ``window`` (default ``timing.window``) seconds after the first
    send. ``send`` runs in a worker thread: the kernel delivers a multicast or
    broadcast datagram to every local receiver inside the sending call (on a
    bridge of namespaces or a host with many listeners this costs milliseconds
    per datagram), and the event loop must keep reading answers meanwhile.
    """
    loop = asyncio.get_running_loop()
    end = 0.0
    for attempt in range(max(1, timing.retransmits)):
        if attempt:
            await asyncio.sleep(timing.retransmit_gap)
        await asyncio.to_thread(send)
        if not attempt:
            end = loop.time() + (timing.window if window is None else window)
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
    linger: bool = True,
    repeat_key: Callable[[bytes], bytes] | None = None,
) -> None:
    """Send discovery payloads by multicast, directed broadcast and unicast; listen.

    ``bind_port``/``join`` are for protocols whose replies are themselves
    multicast (SADP): the socket binds that port with SO_REUSEADDR, so vendor
    tools or a second agent can listen too, and joins the groups. When the port
    is taken exclusively we fall back to an ephemeral port (unicast replies only).
    ``window`` overrides ``ctx.timing.window`` (seconds from the first send).
    With ``linger`` (the default) the socket stays open after the window while
    the scan runs (:meth:`ProbeContext.listen_late`), so late answers still
    reach ``handler`` and join their device; directed probes to many routed
    hosts pass False to keep the number of open sockets bounded. ``repeat_key``
    picks the part of a datagram that tells one answer from another
    (:class:`DatagramReceiver`).
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
    transport = open_receiver(sock, name, max_size, handler, repeat_key)
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
