"""Hikvision SADP discovery over UDP 37020 (multicast, broadcast and directed)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from cctv_sentinel.discovery.base import Addr, ProbeContext, now, udp_exchange
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.limits import MAX_SADP_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import sadp

_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.sadp")

PORT = 37020
GROUP: Addr = ("239.255.255.250", PORT)
MAX_SEEN = 65_536
"""Distinct (ip, serial) pairs remembered for de-duplication: a /16 of devices."""


def observation(ip: str, reply: sadp.SadpReply) -> Observation:
    """Turn one SADP ProbeMatch into an observation of the replying host."""
    fields: dict[str, str] = {}
    for key, value in (
        ("model", reply.model),
        ("serial", reply.serial),
        ("device_type", reply.device_type),
        ("firmware", reply.firmware),
        ("dsp_version", reply.dsp_version),
        ("oem", reply.oem_info),
        ("mac", reply.mac),
        ("ipv4", reply.ipv4),
    ):
        if value:
            fields[key] = value
    for key, number in (
        ("http_port", reply.http_port),
        ("command_port", reply.command_port),
    ):
        if number is not None:
            fields[key] = str(number)
    if reply.activated is not None:
        fields["activated"] = "true" if reply.activated else "false"
    return Observation(
        probe=ProbeName.SADP, ip=ip, fields=fields, mac=reply.mac, port=PORT, at=now()
    )


async def run(ctx: ProbeContext, unicast_hosts: Iterable[str] = ()) -> None:
    """Send SADP inquiries and report every ProbeMatch heard within the window."""
    seen: set[tuple[str, str | None]] = set()

    def handle(data: bytes, addr: Addr) -> None:
        try:
            message = sadp.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed SADP datagram from %s: %s", addr[0], err)
            return
        if not isinstance(message, sadp.SadpReply):
            return  # an inquiry: ours echoed, or another tool's
        key = (addr[0], message.serial or message.mac)
        if key in seen or len(seen) >= MAX_SEEN:
            return
        seen.add(key)
        ctx.emit(observation(addr[0], message))

    probe_id = str(uuid.uuid4()).upper()
    targets = [(ip, PORT) for ip in unicast_hosts]
    # Directed inquiries (to routed hosts) listen on an ephemeral port for the
    # unicast answer only: binding 37020 and joining the group again would
    # also hear every multicast answer meant for the link-wide inquiry.
    link_wide = not targets
    await udp_exchange(
        ctx,
        name="sadp",
        payloads=[
            sadp.build_inquiry(probe_id),
            sadp.build_inquiry(probe_id, "inquiry_v32"),
        ],
        handler=handle,
        max_size=MAX_SADP_MESSAGE,
        group=GROUP if link_wide else None,
        broadcast_port=PORT if link_wide else None,
        unicast=targets,
        linger=link_wide,
        bind_port=PORT if link_wide else 0,
        join=[GROUP[0]] if link_wide else [],
    )
