"""Multicast DNS service discovery (RFC 6762/6763): one round of questions.

Queries go from UDP port 5353 as QM questions (RFC 6762 s5.4), so responders
answer by multicast with full-size messages. A query from any other port is a
"legacy unicast" query (s6.7): its answer must fit 512 bytes, and avahi drops
every record that does not fit ("not fitting in legacy unicast packet") — a
camera announcing eight services lost seven of them that way. The socket uses
SO_REUSEADDR and SO_REUSEPORT, so avahi or another responder on the agent's
host keeps working; QM rather than QU because a unicast answer to port 5353
would reach only one of the sockets sharing it, while a multicast one reaches
all. When 5353 cannot be shared we fall back to an ephemeral port and send one
question per packet, to keep each legacy answer small.

Records are joined per responder across packets: a responder may split one
answer over several (and sets TC when more follow), so an instance whose SRV
or TXT is still missing waits up to ``timing.mdns_tc_wait`` for the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cctv_sentinel.discovery.base import (
    Addr,
    DatagramReceiver,
    ProbeContext,
    now,
    open_receiver,
    send_and_listen,
    send_multicast,
    udp_socket,
)
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.limits import MAX_DNS_RECORDS, MAX_LIST_ITEMS, MAX_MDNS_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import mdns

_LOG = logging.getLogger(__name__)
_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.mdns")

PORT = 5353
GROUP: Addr = ("224.0.0.251", PORT)
# Service types cameras announce: Hikvision's CGI service (128keaton/hikvision-mdns),
# Axis (_axis-video), generic web/RTSP/ONVIF ones, and the DNS-SD meta-query.
SERVICE_TYPES = (
    "_services._dns-sd._udp.local",
    "_CGI._tcp.local",
    "_axis-video._tcp.local",
    "_rtsp._tcp.local",
    "_onvif._tcp.local",
    "_http._tcp.local",
)
MAX_INSTANCES = 4096
"""Distinct (ip, service, instance) triples kept from one query round."""
MAX_RESPONDERS = 4096
"""Responders whose records are being joined (a spoofing peer could claim many)."""
MAX_RECORDS_PER_RESPONDER = 4 * MAX_DNS_RECORDS
"""Records kept from one responder: several full answers' worth."""


def observation(ip: str, service: mdns.ServiceInstance) -> Observation:
    """Turn one resolved service instance into an observation."""
    fields: dict[str, str] = {"service": service.service}
    if service.instance:
        fields["instance"] = service.instance
    if service.target:
        fields["target"] = service.target
    if service.port is not None:
        fields["service_port"] = str(service.port)
    if service.txt:
        fields["txt"] = " ".join(service.txt[:MAX_LIST_ITEMS])
    mac = None
    for address in service.addresses:
        if ":" in address:
            mac = mdns.mac_from_eui64(address)
            if mac:
                fields["eui64_mac"] = mac
                break
    return Observation(probe=ProbeName.MDNS, ip=ip, fields=fields, port=PORT, at=now())


def _complete(service: mdns.ServiceInstance) -> bool:
    return service.port is not None and bool(service.txt)


@dataclass(slots=True)
class _Responder:
    """What one responder said so far, and which instances were reported."""

    records: list[mdns.DnsRecord] = field(default_factory=list)
    reported: set[tuple[str, str]] = field(default_factory=set)
    flush: asyncio.TimerHandle | None = None
    more_until: float = 0.0
    """Loop time until which more packets are expected (after a TC answer)."""


class Joiner:
    """Joins records per responder across packets and emits each instance once.

    An instance with its SRV and TXT is reported at once; one still missing
    them is reported ``wait`` seconds after that responder's last packet (or
    at :meth:`flush_all`), with what arrived by then.
    """

    def __init__(
        self,
        emit: Callable[[Observation], None],
        wait: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.emit = emit
        self.wait = wait
        self.loop = loop
        self.responders: dict[str, _Responder] = {}
        self.count = 0
        self.transport: DatagramReceiver | None = None
        """Once it is closed (the scan ended), nothing more is reported."""

    def __call__(self, data: bytes, addr: Addr) -> None:
        """Handle one datagram (answers only; queries and garbage are ignored)."""
        try:
            message = mdns.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed mDNS datagram from %s: %s", addr[0], err)
            return
        if not message.is_response or not message.records:
            return
        ip = addr[0]
        responder = self.responders.get(ip)
        if responder is None:
            if len(self.responders) >= MAX_RESPONDERS:
                return
            responder = self.responders[ip] = _Responder()
        room = MAX_RECORDS_PER_RESPONDER - len(responder.records)
        responder.records.extend(message.records[: max(0, room)])
        if message.truncated:
            responder.more_until = self.loop.time() + self.wait
        self._report(ip, responder, final=False)

    def _report(self, ip: str, responder: _Responder, *, final: bool) -> None:
        if self.transport is not None and self.transport.is_closing():
            return
        joined = mdns.DnsMessage(
            id=0, is_response=True, questions=(), records=tuple(responder.records)
        )
        waiting = False
        for service in mdns.services(joined):
            key = (service.service.lower(), service.instance.lower())
            if key in responder.reported:
                continue
            if not final and not _complete(service):
                waiting = True
                continue
            if self.count >= MAX_INSTANCES:
                return
            responder.reported.add(key)
            self.count += 1
            self.emit(observation(ip, service))
        if responder.flush is not None:
            responder.flush.cancel()
            responder.flush = None
        if waiting:
            responder.flush = self.loop.call_later(self.wait, self._final, ip, responder)

    def _final(self, ip: str, responder: _Responder) -> None:
        self._report(ip, responder, final=True)

    def expecting_more(self) -> float:
        """Seconds until the last responder that set TC should have sent the rest."""
        latest = max((r.more_until for r in self.responders.values()), default=0.0)
        return max(0.0, latest - self.loop.time())

    def flush_all(self) -> None:
        """Report every instance still waiting for records, with what it has."""
        for ip, responder in self.responders.items():
            self._report(ip, responder, final=True)


async def run(ctx: ProbeContext) -> None:
    """Ask for camera-related services and report every instance that answers."""
    ifaces = ctx.multicast_interfaces
    if not ifaces:
        return
    loop = asyncio.get_running_loop()
    joiner = Joiner(ctx.emit, ctx.timing.mdns_tc_wait, loop)
    try:
        sock = udp_socket(port=PORT, groups=[GROUP[0]], interfaces=ifaces, reuse=True)
        packets = [mdns.build_query(SERVICE_TYPES, unicast_response=False)]
    except OSError as err:
        _LOG.debug("mdns: cannot share UDP %d (%s); asking as a legacy unicast querier", PORT, err)
        sock = udp_socket()
        # Legacy answers are capped at 512 bytes: one question each keeps them small.
        packets = [mdns.build_query([name], unicast_response=True) for name in SERVICE_TYPES]
    transport = open_receiver(sock, "mdns", MAX_MDNS_MESSAGE, joiner)
    joiner.transport = transport
    try:

        def send() -> None:
            for packet in packets:
                send_multicast(sock, packet, GROUP, ifaces)

        await send_and_listen(send, ctx.timing)
        # A responder that set TC is still sending the rest of its answer; one
        # that keeps setting TC is not waited for beyond two such waits.
        for _ in range(2):
            more = joiner.expecting_more()
            if more <= 0:
                break
            await asyncio.sleep(more)
        joiner.flush_all()
    except BaseException:
        transport.close()
        raise
    if not ctx.listen_late(transport):
        transport.close()
