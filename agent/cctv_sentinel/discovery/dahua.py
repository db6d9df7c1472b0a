"""Dahua DHIP discovery over UDP 37810 (multicast, broadcast and directed)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cctv_sentinel.discovery.base import Addr, ProbeContext, now, udp_exchange
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.limits import MAX_DHIP_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import dhip

_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.dhip")

PORT = 37810
GROUP: Addr = ("239.255.255.251", PORT)
MAX_SEEN = 65_536
"""Distinct (ip, serial) pairs remembered for de-duplication: a /16 of devices."""


def observation(ip: str, device: dhip.DhipDevice) -> Observation:
    """Turn one client.notifyDevInfo reply into an observation of the replying host."""
    fields: dict[str, str] = {}
    for key, value in (
        ("device_class", device.device_class),
        ("model", device.model),
        ("serial", device.serial),
        ("firmware", device.firmware),
        ("manufacturer", device.manufacturer),
        ("vendor", device.vendor),
        ("name", device.machine_name),
        ("mac", device.mac),
        ("ipv4", device.ipv4),
    ):
        if value:
            fields[key] = value
    for key, number in (("http_port", device.http_port), ("port", device.port)):
        if number is not None:
            fields[key] = str(number)
    return Observation(
        probe=ProbeName.DHIP, ip=ip, fields=fields, mac=device.mac, port=PORT, at=now()
    )


async def run(ctx: ProbeContext, unicast_hosts: Iterable[str] = ()) -> None:
    """Send DHDiscover.search and report every device that answers within the window."""
    seen: set[tuple[str, str | None]] = set()

    def handle(data: bytes, addr: Addr) -> None:
        try:
            message = dhip.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed DHIP datagram from %s: %s", addr[0], err)
            return
        if not isinstance(message, dhip.DhipDevice):
            return  # a search request: ours echoed, or another tool's
        key = (addr[0], message.serial or message.mac)
        if key in seen or len(seen) >= MAX_SEEN:
            return
        seen.add(key)
        ctx.emit(observation(addr[0], message))

    targets = [(ip, PORT) for ip in unicast_hosts]
    link_wide = not targets  # directed searches (routed hosts) send nothing link-wide
    await udp_exchange(
        ctx,
        name="dhip",
        payloads=[dhip.build_search()],
        handler=handle,
        max_size=MAX_DHIP_MESSAGE,
        group=GROUP if link_wide else None,
        broadcast_port=PORT if link_wide else None,
        unicast=targets,
        linger=link_wide,
    )
