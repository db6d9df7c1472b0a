"""Live hosts and open TCP ports, without root.

On networks we sit on, every address gets one empty UDP datagram (the "ARP
poke"): the kernel resolves each address, and the neighbour table then lists
exactly the live hosts with their MACs, in a fraction of a second. Only those
are connect-scanned. On routed networks there is no neighbour table, so each
address gets one TCP connect on the first port (a SYN-ACK or a RST both prove
life) and live hosts get the full port list.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable

from cctv_sentinel import limits
from cctv_sentinel.discovery import netinfo
from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.model import Observation, ProbeName

_LOG = logging.getLogger(__name__)

DEFAULT_PORTS: tuple[int, ...] = (80, 443, 554, 8000, 8080, 8443, 8899, 34567, 37777)
"""Camera ports: web UI, RTSP, Hikvision SDK (8000), XMeye (34567, ONVIF on 8899),
Dahua SDK (37777), alternative web ports."""

QUIET_PORTS = frozenset({80, 443, 554, 8080, 8443, 8554, 8899})
"""Ports that speak only when spoken to (HTTP, RTSP): no banner wait."""

BANNER_BYTES = 64
"""Most bytes of an unprompted banner kept (Hikvision's port-8000 hello is 16)."""

ARP_POLL = 0.02
"""Seconds between reads of the neighbour table while hosts answer the poke."""

POKE_PORT = 9
"""The discard port: our poke datagrams carry nothing and mean nothing."""

POKE_BATCH = 16
"""Pokes sent per event-loop turn."""

_ALIVE_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET})


class SweepState:
    """Which hosts are known alive and which have been port-scanned."""

    def __init__(self) -> None:
        self.alive: set[str] = set()
        self.scanned: set[str] = set()
        self.macs: dict[str, str] = {}


async def _connect(ctx: ProbeContext, ip: str, port: int) -> tuple[bool, bool, bytes]:
    """Return (open, alive, banner) for one TCP port."""
    writer: asyncio.StreamWriter | None = None
    async with ctx.connections:
        await ctx.connect_pace.turn()
        try:
            async with asyncio.timeout(ctx.timing.connect_timeout):
                reader, writer = await asyncio.open_connection(ip, port)
        except TimeoutError:
            return False, False, b""
        except OSError as err:
            return False, err.errno in _ALIVE_ERRNOS, b""
        try:
            banner = b""
            if port not in QUIET_PORTS:
                with contextlib.suppress(TimeoutError, OSError):
                    async with asyncio.timeout(ctx.timing.banner_wait):
                        banner = await reader.read(BANNER_BYTES)
            return True, True, banner
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.2)


async def scan_ports(ctx: ProbeContext, ip: str, ports: Iterable[int]) -> list[int]:
    """Connect-scan ``ports`` of one host; emit each open port as soon as it answers."""
    open_ports: list[int] = []

    async def one(port: int) -> None:
        is_open, _alive, banner = await _connect(ctx, ip, port)
        if is_open:
            open_ports.append(port)
            fields = {"banner_hex": banner.hex()} if banner else {}
            ctx.emit(Observation(probe=ProbeName.SWEEP, ip=ip, fields=fields, port=port, at=now()))

    await asyncio.gather(*(one(p) for p in ports))
    return sorted(open_ports)


async def _poke(addresses: Iterable[str], between: Callable[[], None]) -> None:
    """Send the empty datagrams, ``POKE_BATCH`` per event-loop turn, calling ``between`` after each.

    Each one to an unresolved address makes the kernel broadcast an ARP request
    inside the call; on a bridge of many hosts that costs about a millisecond.
    In batches, answers that arrive meanwhile are still read between them, and
    ``between`` hands on the hosts that have answered so far. (Not in a worker
    thread: every send would have to win the interpreter back from the busy
    event loop, which spread a /24's pokes over a second.)
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for n, ip in enumerate(addresses):
            if n and not n % POKE_BATCH:
                between()
                await asyncio.sleep(0)
            with contextlib.suppress(OSError):  # EAGAIN on a full buffer: ARP still queued
                sock.sendto(b"", (ip, POKE_PORT))
    between()


def _hosts(nets: Iterable[ipaddress.IPv4Network], own: set[str]) -> list[str]:
    out: list[str] = []
    for net in nets:
        hosts = net.hosts() if net.prefixlen < 31 else iter(net)
        out.extend(ip for ip in map(str, hosts) if ip not in own)
    return out


async def sweep_on_link(
    ctx: ProbeContext,
    nets: Iterable[ipaddress.IPv4Network],
    state: SweepState,
    on_alive: Callable[[str, str | None], None],
) -> None:
    """ARP-poke every address, then report hosts as the neighbour table fills."""
    own = {str(i.address) for i in ctx.interfaces}
    addresses = _hosts(nets, own)
    if not addresses:
        return
    wanted = set(addresses)
    loop = asyncio.get_running_loop()

    def report() -> None:
        table = netinfo.neighbours()  # a small /proc read, cheaper than a thread hop
        for ip, mac in table.items():
            if ip in wanted and ip not in state.alive:
                state.alive.add(ip)
                state.macs[ip] = mac
                ctx.emit(Observation(probe=ProbeName.ARP, ip=ip, mac=mac, at=now()))
                on_alive(ip, mac)

    # Hosts on a wired LAN answer ARP within milliseconds: read the table while
    # poking and often after, and hand each new host on at once. Keep reading
    # until ``arp_settle`` for slow ones, then poke the silent addresses once
    # more (one kernel ARP retransmission, for lossy links) and read until
    # ``arp_repoke``.
    await _poke(addresses, report)
    start = loop.time()
    repoked = False
    while True:
        report()
        elapsed = loop.time() - start
        if elapsed >= ctx.timing.arp_repoke:
            return
        if elapsed >= ctx.timing.arp_settle and not repoked:
            repoked = True
            await _poke([ip for ip in addresses if ip not in state.alive], report)
        await asyncio.sleep(ARP_POLL)


async def sweep_routed(
    ctx: ProbeContext,
    nets: Iterable[ipaddress.IPv4Network],
    state: SweepState,
    on_alive: Callable[[str, str | None], None],
) -> None:
    """Find live hosts on routed networks with one TCP connect each."""
    own = {str(i.address) for i in ctx.interfaces}
    addresses = _hosts(nets, own)
    if not addresses or not ctx.ports:
        return
    first = ctx.ports[0]
    pending = iter(addresses)

    async def worker() -> None:
        # Workers share one iterator: a /16 is 65,534 addresses, and a
        # coroutine for each at once would cost tens of megabytes.
        for ip in pending:
            is_open, alive, _banner = await _connect(ctx, ip, first)
            if not (is_open or alive) or ip in state.alive:
                continue
            state.alive.add(ip)
            on_alive(ip, None)

    await asyncio.gather(
        *(worker() for _ in range(min(limits.ROUTED_SWEEP_WORKERS, len(addresses))))
    )
