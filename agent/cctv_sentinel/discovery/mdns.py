"""Multicast DNS service discovery (RFC 6762/6763), one-shot legacy queries.

Queries go from an ephemeral port, so responders answer by unicast to us
(RFC 6762 section 6.7) and we need not bind 5353 next to avahi.
"""

from __future__ import annotations

import logging

from cctv_sentinel.discovery.base import Addr, ProbeContext, now, udp_exchange
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_MDNS_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import mdns

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


async def run(ctx: ProbeContext) -> None:
    """Ask for camera-related services and report every instance that answers."""
    seen: set[tuple[str, str, str]] = set()

    def handle(data: bytes, addr: Addr) -> None:
        try:
            message = mdns.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed mDNS datagram from %s: %s", addr[0], err)
            return
        if not message.is_response:
            return
        for service in mdns.services(message):
            key = (addr[0], service.service, service.instance or "")
            if key in seen or len(seen) >= MAX_INSTANCES:
                continue
            seen.add(key)
            ctx.emit(observation(addr[0], service))

    await udp_exchange(
        ctx,
        name="mdns",
        payloads=[mdns.build_query(SERVICE_TYPES, unicast_response=True)],
        handler=handle,
        max_size=MAX_MDNS_MESSAGE,
        group=GROUP,
    )
