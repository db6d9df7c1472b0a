"""ONVIF WS-Discovery: multicast Probe on the link, directed Probe to routed hosts."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from cctv_sentinel.discovery.base import Addr, ProbeContext, now, udp_exchange
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_WSD_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import wsd

_LOG = logging.getLogger(__name__)
_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.wsd")

GROUP: Addr = ("239.255.255.250", 3702)
PORT = 3702
# ONVIF's NVT definition suggests probing for the NVT type; an empty Probe also
# catches cameras whose typed matching is broken (they then show their Types).
PROBE_TYPES: tuple[str | None, ...] = ("dn:NetworkVideoTransmitter", None)


def observation(ip: str, match: wsd.WsdMatch, via: str) -> Observation:
    """Turn one ProbeMatch into an observation of the replying host."""
    scopes = wsd.parse_scopes(match.scopes)
    fields: dict[str, str] = {"via": via}
    if match.endpoint:
        fields["endpoint"] = match.endpoint
    if match.types:
        fields["types"] = " ".join(match.types[:MAX_LIST_ITEMS])
    if match.scopes:
        fields["scopes"] = " ".join(match.scopes[:MAX_LIST_ITEMS])
    if match.xaddrs:
        fields["xaddrs"] = " ".join(match.xaddrs[:MAX_LIST_ITEMS])
    for key, value in (
        ("name", scopes.name),
        ("hardware", scopes.hardware),
        ("location", scopes.location),
        ("scope_mac", scopes.mac),
        ("scope_manufacturer", getattr(scopes, "manufacturer", None)),
    ):
        if value:
            fields[key] = value
    if wsd.is_video_device(match):
        fields["video"] = "yes"
    return Observation(probe=ProbeName.WSD, ip=ip, fields=fields, port=PORT, at=now())


class _Receiver:
    """Parses replies and emits each (host, endpoint) once."""

    def __init__(self, ctx: ProbeContext, via: str) -> None:
        self.ctx = ctx
        self.via = via
        self.seen: set[tuple[str, str | None]] = set()

    def __call__(self, data: bytes, addr: Addr) -> None:
        if len(data) > MAX_WSD_MESSAGE:
            return
        try:
            message = wsd.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed WS-Discovery datagram from %s: %s", addr[0], err)
            return
        if message.kind not in {"probe_matches", "hello", "resolve_matches"}:
            return  # our own Probe echoed back, or another client's
        for match in message.matches:
            key = (addr[0], match.endpoint)
            if key in self.seen or len(self.seen) >= 4 * MAX_LIST_ITEMS * 64:
                continue
            self.seen.add(key)
            self.ctx.emit(observation(addr[0], match, self.via))


def answer_body(data: bytes) -> bytes:
    """The part of a WS-Discovery message from its SOAP Body on.

    A device answers each Probe (two types, each sent twice) with the same
    ProbeMatches; only the header (MessageID, RelatesTo, MessageNumber) differs.
    Repeats of a body from the same address are dropped before parsing.
    """
    at = data.find(b"Body")
    return data[at:] if at >= 0 else data


def _probes() -> list[bytes]:
    return [wsd.build_probe(f"urn:uuid:{uuid.uuid4()}", types) for types in PROBE_TYPES]


async def run_multicast(ctx: ProbeContext) -> None:
    """Probe the link by multicast and listen for ProbeMatches for the window."""
    await udp_exchange(
        ctx,
        name="wsd",
        payloads=_probes(),
        handler=_Receiver(ctx, "multicast"),
        max_size=MAX_WSD_MESSAGE,
        group=GROUP,
        repeat_key=answer_body,
    )


async def run_unicast(ctx: ProbeContext, hosts: Iterable[str]) -> None:
    """Send a directed Probe to each host (crosses routers) and listen for the window."""
    await udp_exchange(
        ctx,
        name="wsd-unicast",
        payloads=_probes(),
        handler=_Receiver(ctx, "unicast"),
        max_size=MAX_WSD_MESSAGE,
        unicast=[(ip, PORT) for ip in hosts],
        linger=False,
        repeat_key=answer_body,
    )
