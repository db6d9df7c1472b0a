"""SSDP (UPnP) discovery: M-SEARCH, then the device description from LOCATION."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from cctv_sentinel.discovery import httpclient
from cctv_sentinel.discovery.base import Addr, ProbeContext, now, udp_exchange
from cctv_sentinel.errors import ProbeError, ProtocolError
from cctv_sentinel.limits import MAX_HTTP_BODY, MAX_SSDP_MESSAGE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import ssdp

_LOG = logging.getLogger(__name__)
_TRAFFIC = logging.getLogger("cctv_sentinel.traffic.ssdp")

PORT = 1900
GROUP: Addr = ("239.255.255.250", PORT)
SEARCH_TARGETS = ("ssdp:all", "upnp:rootdevice")
MAX_DEVICES = 4096
"""Distinct (ip, USN) pairs kept from one search; beyond that it is a flood."""


def description_fields(desc: ssdp.UpnpDescription) -> dict[str, str]:
    """What a UPnP device description says (pure)."""
    fields: dict[str, str] = {}
    for key, value in (
        ("device_type", desc.device_type),
        ("name", desc.friendly_name),
        ("manufacturer", desc.manufacturer),
        ("manufacturer_url", desc.manufacturer_url),
        ("model", desc.model_name),
        ("model_number", desc.model_number),
        ("model_description", desc.model_description),
        ("serial", desc.serial),
        ("udn", desc.udn),
        ("presentation_url", desc.presentation_url),
    ):
        if value:
            fields[key] = value
    return fields


def description_target(
    ctx: ProbeContext, ip: str, location: str | None
) -> tuple[int, str, bool] | None:
    """Return (port, path, tls) when LOCATION points back at the replying host.

    We never fetch a LOCATION that names another address: a device must not be
    able to steer our traffic off the networks we were asked to scan.
    """
    if not location:
        return None
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or parts.hostname != ip or not ctx.in_scope(ip):
        return None
    tls = parts.scheme == "https"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return (port or (443 if tls else 80), path, tls)


def message_fields(reply: ssdp.SsdpMessage) -> dict[str, str]:
    """What an M-SEARCH answer's headers say (pure)."""
    fields: dict[str, str] = {}
    for key, value in (
        ("server", reply.server),
        ("usn", reply.usn),
        ("st", reply.st),
        ("location", reply.location),
    ):
        if value:
            fields[key] = value
    return fields


async def _describe(ctx: ProbeContext, ip: str, reply: ssdp.SsdpMessage) -> None:
    fields = message_fields(reply)
    target = description_target(ctx, ip, reply.location)
    if target is not None:
        port, path, tls = target
        try:
            async with ctx.host_slot(ip):
                answer = await httpclient.request(
                    ip,
                    port,
                    path,
                    tls=tls,
                    timeout=ctx.timing.request_timeout,
                    head_timeout=ctx.timing.head_timeout,
                    max_body=MAX_HTTP_BODY,
                )
            if answer.status == 200 and not answer.truncated:
                fields.update(description_fields(ssdp.parse_description(answer.body)))
        except (ProbeError, ProtocolError) as err:
            _LOG.debug("ssdp: description %s from %s not usable: %s", path, ip, err)
    ctx.emit(Observation(probe=ProbeName.SSDP, ip=ip, fields=fields, port=PORT, at=now()))


def listen_window(ctx: ProbeContext) -> float:
    """Seconds from the first M-SEARCH until the socket's window closes.

    Devices may answer up to MX seconds after each search (UPnP DA 1.1), so
    the window runs MX plus a margin past the last resend.
    """
    timing = ctx.timing
    last_send = timing.retransmit_gap * max(0, timing.retransmits - 1)
    return last_send + timing.ssdp_mx + timing.ssdp_margin


async def run(ctx: ProbeContext) -> None:
    """M-SEARCH the link, then fetch each answering device's description.

    Description fetches run as scan work (``ctx.spawn``) when there is a
    scan, so an answer heard after the window, while the socket is kept open,
    still gets its description.
    """
    seen: set[tuple[str, str | None]] = set()
    locations: set[tuple[str, str | None]] = set()
    tasks: set[asyncio.Task[None]] = set()

    def handle(data: bytes, addr: Addr) -> None:
        try:
            message = ssdp.parse_message(data)
        except ProtocolError as err:
            _TRAFFIC.debug("dropped a malformed SSDP datagram from %s: %s", addr[0], err)
            return
        if message.kind != "response":
            return
        key = (addr[0], message.usn)
        if key in seen or len(seen) >= MAX_DEVICES:
            return
        seen.add(key)
        # One description fetch per (host, LOCATION): embedded devices share it.
        if (addr[0], message.location) in locations:
            return
        locations.add((addr[0], message.location))
        if ctx.spawn is not None:
            ctx.spawn(_describe(ctx, addr[0], message), f"ssdp-describe {addr[0]}")
            return
        task = asyncio.create_task(_describe(ctx, addr[0], message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        await udp_exchange(
            ctx,
            name="ssdp",
            payloads=[ssdp.build_msearch(st, mx=ctx.timing.ssdp_mx) for st in SEARCH_TARGETS],
            handler=handle,
            max_size=MAX_SSDP_MESSAGE,
            group=GROUP,
            window=listen_window(ctx),
            linger=True,
        )
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
