"""Passive listening between scans: devices that announce themselves on the link.

Heard without sending anything:

- WS-Discovery ``Hello`` and ``Bye`` (UDP 3702, 239.255.255.250): a Target
  Service multicasts Hello when it joins a network and Bye when it leaves
  (WS-Discovery 2005/04, sections 4.1 and 4.2);
- SSDP ``NOTIFY`` with ``ssdp:alive`` or ``ssdp:byebye`` (UDP 1900,
  239.255.255.250), which UPnP devices multicast when they come up, before
  they go, and again within every CACHE-CONTROL max-age (UPnP Device
  Architecture 1.1, section 1.2);
- unsolicited mDNS answers (UDP 5353, 224.0.0.251): the "announcing" step of
  RFC 6762 section 8.3, and goodbye packets with TTL 0 (section 10.1);
- SADP and DHIP device messages heard on UDP 37020 / 37810 and their groups
  (devices that announce, and answers to another SADP/DHIP tool's search).

Each datagram is size-checked, parsed by the pure parsers in ``protocols/``
and reported as a :class:`Sighting` (with an :class:`Observation` when the
message carries facts). A peer flooding the link is cut off per address.
The sockets use SO_REUSEADDR but not SO_REUSEPORT: they share the ports with
vendor tools, and a scan's own SADP socket (bound later, with SO_REUSEPORT)
still receives every unicast reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from cctv_sentinel import limits
from cctv_sentinel.discovery import dahua, mdns, sadp, wsdiscovery
from cctv_sentinel.discovery.base import Addr
from cctv_sentinel.discovery.netinfo import Interface
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import dhip as dhip_proto
from cctv_sentinel.protocols import mdns as mdns_proto
from cctv_sentinel.protocols import sadp as sadp_proto
from cctv_sentinel.protocols import ssdp as ssdp_proto
from cctv_sentinel.protocols import wsd as wsd_proto

_LOG = logging.getLogger(__name__)
_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.passive")

Kind = Literal["alive", "bye"]

MAX_SOURCES: Final = 4096
"""Addresses whose recent sightings are remembered (bounded: a peer can spoof many)."""
BURST: Final = 20
"""Sightings accepted from one address in a burst; announcements come in ones and twos."""
REFILL_PER_S: Final = 2.0
"""Sightings per second one address earns back after a burst."""
REPEAT_WINDOW: Final = 2.0
"""Seconds in which the same announcement from the same address is reported once.

Devices repeat announcements (mDNS at least twice, one second apart; SSDP once
per service and embedded device), and one report is enough.
"""


@dataclass(frozen=True, slots=True)
class Sighting:
    """A device made itself heard: ``alive`` (here, maybe new) or ``bye`` (leaving)."""

    ip: str
    probe: str
    kind: Kind
    at: float
    observation: Observation | None = None


Parser = Callable[[bytes, str, float], list[Sighting]]


def parse_wsd(data: bytes, ip: str, at: float) -> list[Sighting]:
    """Hello and Bye announcements; probes and answers to others are ignored."""
    message = wsd_proto.parse_message(data)
    if message.kind not in {"hello", "bye"}:
        return []
    kind: Kind = "alive" if message.kind == "hello" else "bye"
    return [
        Sighting(ip, ProbeName.WSD, kind, at, wsdiscovery.observation(ip, match, "multicast"))
        for match in message.matches
    ]


def parse_ssdp(data: bytes, ip: str, at: float) -> list[Sighting]:
    """NOTIFY ssdp:alive / ssdp:byebye; searches and answers are ignored."""
    message = ssdp_proto.parse_message(data)
    if message.kind != "notify":
        return []
    nts = (message.nts or "").lower()
    if nts not in {"ssdp:alive", "ssdp:byebye"}:
        return []
    fields = {
        key: value
        for key, value in (
            ("server", message.server),
            ("usn", message.usn),
            ("st", message.st),
            ("location", message.location),
        )
        if value
    }
    obs = Observation(probe=ProbeName.SSDP, ip=ip, fields=fields, port=1900, at=at)
    return [Sighting(ip, ProbeName.SSDP, "alive" if nts == "ssdp:alive" else "bye", at, obs)]


def parse_mdns(data: bytes, ip: str, at: float) -> list[Sighting]:
    """Unsolicited answers: an announcement, or a goodbye when every TTL is 0."""
    message = mdns_proto.parse_message(data)
    if not message.is_response or not message.records:
        return []
    found = mdns_proto.services(message)
    if all(record.ttl == 0 for record in message.records):
        return [Sighting(ip, ProbeName.MDNS, "bye", at, None)]
    return [Sighting(ip, ProbeName.MDNS, "alive", at, mdns.observation(ip, s)) for s in found]


def parse_sadp(data: bytes, ip: str, at: float) -> list[Sighting]:
    """A device's SADP message (inquiries, ours or another tool's, are ignored)."""
    message = sadp_proto.parse_message(data)
    if not isinstance(message, sadp_proto.SadpReply):
        return []
    return [Sighting(ip, ProbeName.SADP, "alive", at, sadp.observation(ip, message))]


def parse_dhip(data: bytes, ip: str, at: float) -> list[Sighting]:
    """A device's DHIP notifyDevInfo (search requests are ignored)."""
    message = dhip_proto.parse_message(data)
    if not isinstance(message, dhip_proto.DhipDevice):
        return []
    return [Sighting(ip, ProbeName.DHIP, "alive", at, dahua.observation(ip, message))]


@dataclass(frozen=True, slots=True)
class Channel:
    """One thing to listen to: a UDP port, the group to join, and its parser."""

    name: str
    port: int
    group: str
    max_size: int
    parse: Parser


CHANNELS: Final[tuple[Channel, ...]] = (
    Channel("wsd", 3702, "239.255.255.250", limits.MAX_WSD_MESSAGE, parse_wsd),
    Channel("ssdp", 1900, "239.255.255.250", limits.MAX_SSDP_MESSAGE, parse_ssdp),
    Channel("mdns", 5353, "224.0.0.251", limits.MAX_MDNS_MESSAGE, parse_mdns),
    Channel("sadp", 37020, "239.255.255.250", limits.MAX_SADP_MESSAGE, parse_sadp),
    Channel("dhip", 37810, "239.255.255.251", limits.MAX_DHIP_MESSAGE, parse_dhip),
)


def listen_socket(port: int, group: str, interfaces: Iterable[Interface]) -> socket.socket:
    """A non-blocking UDP socket on ``port`` that has joined ``group`` on each interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    joined = 0
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))  # noqa: S104  (announcements arrive on any interface)
        for iface in interfaces:
            mreq = socket.inet_aton(group) + socket.inet_aton(str(iface.address))
            with contextlib.suppress(OSError):  # already joined through another address
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                joined += 1
    except BaseException:
        sock.close()
        raise
    if not joined:
        sock.close()
        raise OSError(f"could not join {group} on any interface")
    return sock


class _Limiter:
    """Per-address token buckets and a short memory of repeats, both bounded."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._recent: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()

    def allow(self, sighting: Sighting, key: str) -> bool:
        """True when this sighting is news and its sender is within its budget.

        Exact repeats are dropped first, free of charge; everything else spends
        a token of the sender's bucket.
        """
        now = sighting.at
        ident = (sighting.ip, sighting.probe, sighting.kind, key)
        seen = self._recent.get(ident)
        if seen is not None and now - seen < REPEAT_WINDOW:
            return False
        tokens, last = self._buckets.pop(sighting.ip, (float(BURST), now))
        tokens = min(float(BURST), tokens + (now - last) * REFILL_PER_S)
        ok = tokens >= 1.0
        self._buckets[sighting.ip] = (tokens - 1.0 if ok else tokens, now)
        while len(self._buckets) > MAX_SOURCES:
            self._buckets.popitem(last=False)
        if ok:
            self._recent.pop(ident, None)
            self._recent[ident] = now
            while len(self._recent) > MAX_SOURCES:
                self._recent.popitem(last=False)
        return ok


def _key(sighting: Sighting) -> str:
    obs = sighting.observation
    if obs is None:
        return ""
    for name in ("endpoint", "usn", "instance", "serial", "mac"):
        value = obs.get(name)
        if value:
            return value
    return ""


class _Receiver(asyncio.DatagramProtocol):
    """Drops oversize datagrams, hands the rest to the channel's handler, never raises."""

    def __init__(self, channel: Channel, handler: Callable[[bytes, Addr], None]) -> None:
        self.channel = channel
        self.handler = handler

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """Check the size, then dispatch."""
        if len(data) > self.channel.max_size:
            return
        try:
            self.handler(data, (str(addr[0]), int(addr[1])))
        except Exception:  # noqa: BLE001  (one bad datagram must not stop the listener)
            _LOG.debug(
                "passive %s: a datagram from %s broke the handler",
                self.channel.name,
                addr[0],
                exc_info=True,
            )

    def error_received(self, exc: Exception) -> None:
        """Nothing is sent, so errors are only logged."""
        _LOG.debug("passive %s: %s", self.channel.name, exc)


def _same(receiver: _Receiver) -> _Receiver:
    return receiver


class PassiveListener:
    """Listens on every channel it can bind and reports sightings; sends nothing."""

    def __init__(
        self,
        interfaces: Sequence[Interface],
        on_sighting: Callable[[Sighting], None],
        *,
        channels: Sequence[Channel] = CHANNELS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interfaces = tuple(i for i in interfaces if i.usable and i.multicast)
        self.on_sighting = on_sighting
        self.channels = tuple(channels)
        self.clock = clock
        self.listening: list[str] = []
        self.sightings = 0
        self._transports: list[asyncio.DatagramTransport] = []
        self._limiter = _Limiter()

    async def start(self) -> list[str]:
        """Bind every channel that can be bound; return the names listening."""
        loop = asyncio.get_running_loop()
        if not self.interfaces:
            _LOG.warning("passive listening is off: no multicast-capable network interface")
            return []
        for channel in self.channels:
            try:
                sock = listen_socket(channel.port, channel.group, self.interfaces)
            except OSError as err:
                _LOG.warning(
                    "passive %s listening is off: cannot bind UDP %d (%s)",
                    channel.name,
                    channel.port,
                    err.strerror or err,
                )
                continue
            receiver = _Receiver(channel, self._handler(channel))
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_same, receiver), sock=sock
            )
            self._transports.append(transport)
            self.listening.append(channel.name)
        return list(self.listening)

    def _handler(self, channel: Channel) -> Callable[[bytes, Addr], None]:
        def handle(data: bytes, addr: Addr) -> None:
            try:
                found = channel.parse(data, addr[0], self.clock())
            except ProtocolError as err:
                _TRAFFIC.debug(
                    "dropped a malformed %s datagram from %s: %s", channel.name, addr[0], err
                )
                return
            for sighting in found:
                if self._limiter.allow(sighting, _key(sighting)):
                    self.sightings += 1
                    self.on_sighting(sighting)

        return handle

    def close(self) -> None:
        """Stop listening (idempotent)."""
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        self.listening.clear()
