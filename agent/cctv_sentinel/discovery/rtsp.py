"""RTSP fingerprint: OPTIONS for the Server and methods, DESCRIBE for the auth realm."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.errors import ProbeError, ProbeTimeoutError, ProtocolError
from cctv_sentinel.limits import MAX_RTSP_RESPONSE
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import rtsp
from cctv_sentinel.protocols.text import clean

_LOG = logging.getLogger(__name__)

RTSP_PORTS = frozenset({554, 8554})
USER_AGENT = "cctv-sentinel"


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, timeout: float
) -> rtsp.RtspResponse:
    async with asyncio.timeout(timeout):
        return await _exchange_unbounded(reader, writer, request)


async def _exchange_unbounded(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> rtsp.RtspResponse:
    writer.write(request)
    await writer.drain()
    buffer = b""
    while True:
        length = rtsp.response_length(buffer)
        if length is not None:
            return rtsp.parse_response(buffer[:length])
        chunk = await reader.read(MAX_RTSP_RESPONSE + 1 - len(buffer))
        if not chunk:
            raise ProbeError("connection closed before a complete RTSP reply")
        buffer += chunk


def options_fields(options: rtsp.RtspResponse) -> dict[str, str]:
    """What an OPTIONS answer says (pure): status, Server, methods."""
    fields: dict[str, str] = {"status": str(options.status)}
    if options.server:
        fields["server"] = options.server
    if options.public:
        fields["public"] = " ".join(options.public)
    return fields


def describe_fields(describe: rtsp.RtspResponse, known: Mapping[str, str]) -> dict[str, str]:
    """What a DESCRIBE answer adds to ``known`` (pure): status, Server, auth scheme and realm."""
    fields: dict[str, str] = {"describe_status": str(describe.status)}
    if describe.server and "server" not in known:
        fields["server"] = describe.server
    if describe.challenges:
        fields["auth_scheme"] = " ".join(dict.fromkeys(c.scheme for c in describe.challenges))
        realm = next(
            (c.params.get("realm") for c in describe.challenges if c.params.get("realm")),
            None,
        )
        if realm:
            fields["realm"] = clean(realm)
    return fields


async def fingerprint(ctx: ProbeContext, ip: str, port: int) -> bool:
    """Fingerprint one RTSP port; emit an observation; True when it spoke RTSP."""
    url = f"rtsp://{ip}:{port}/"
    writer: asyncio.StreamWriter | None = None
    fields: dict[str, str] = {}
    try:
        async with ctx.host_slot(ip), asyncio.timeout(ctx.timing.request_timeout):
            async with asyncio.timeout(ctx.timing.head_timeout):
                reader, writer = await asyncio.open_connection(ip, port)
            head = ctx.timing.head_timeout
            options = await _exchange(
                reader, writer, rtsp.build_request("OPTIONS", url, 1, USER_AGENT), head
            )
            fields.update(options_fields(options))
            describe = await _exchange(
                reader,
                writer,
                rtsp.build_request("DESCRIBE", url, 2, USER_AGENT, {"Accept": "application/sdp"}),
                head,
            )
            fields.update(describe_fields(describe, fields))
    except TimeoutError:
        _LOG.debug("rtsp: %s:%d too slow", ip, port)
    except (OSError, ProtocolError, ProbeError, ProbeTimeoutError) as err:
        _LOG.debug("rtsp: %s:%d: %s", ip, port, err)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.2)
    if not fields:
        return False
    ctx.emit(Observation(probe=ProbeName.RTSP, ip=ip, fields=fields, port=port, at=now()))
    return True
