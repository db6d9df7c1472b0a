"""ONVIF device service: GetDeviceInformation and GetNetworkInterfaces, bounded.

One path for every ONVIF call: the SOAP envelopes are built and parsed by
:mod:`cctv_sentinel.protocols.onvif` (pure, fuzzed, no WSDL), and sent
through our own bounded HTTP client (:mod:`.httpclient`: every reply capped
at ``limits.MAX_SOAP_RESPONSE``, one deadline per exchange, no redirects).

Without credentials the two questions are asked unauthenticated (most
firmware refuses, which is itself recorded). With credentials the device is
first asked GetSystemDateAndTime, which ONVIF requires to be answered
without credentials: an answer proves an ONVIF device service (camera
evidence, :mod:`.credential_policy`) and gives the device's clock, from
which the WS-Security ``Created`` time is taken, as the ONVIF Core
specification advises. The calls are then signed with a UsernameToken
``PasswordDigest`` (never the password itself). Firmware that also guards
its device service with HTTP authentication is answered with Digest; Basic
only as :func:`credential_policy.scheme_allowed` allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cctv_sentinel import limits
from cctv_sentinel.discovery import httpclient
from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.errors import ProbeError, ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import onvif as onvifproto

_LOG = logging.getLogger(__name__)

DEVICE_SERVICE_PATH = "/onvif/device_service"
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
NONCE_BYTES = 16

_REFUSALS = frozenset({"NotAuthorized", "FailedAuthentication", "InvalidSecurity"})
"""Fault subcodes that mean "who you are was not accepted" (ONVIF ter:, WS-Security wsse:)."""


class RefusedError(ProbeError):
    """The device refused the request at the HTTP level (401 without a SOAP answer)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one device service listens."""

    ip: str
    port: int
    path: str
    tls: bool

    @property
    def xaddr(self) -> str:
        """The service address as ONVIF writes it."""
        return f"{'https' if self.tls else 'http'}://{self.ip}:{self.port}{self.path}"


@dataclass(frozen=True, slots=True)
class Clock:
    """The device's clock relative to ours (ONVIF wants its own time in ``Created``)."""

    offset: float = 0.0

    def created(self) -> str:
        """Now on the device's clock, as WS-Security writes it."""
        try:
            moment = datetime.fromtimestamp(time.time() + self.offset, tz=UTC)
        except (OverflowError, OSError, ValueError):
            moment = datetime.now(tz=UTC)  # a clock at the end of time: use ours
        return onvifproto.created_text(moment)


async def post(
    ctx: ProbeContext, target: Target, body: bytes, credential: Credential | None = None
) -> bytes:
    """POST one SOAP envelope; answer an HTTP challenge once when a credential may.

    Returns the reply body (a SOAP answer or fault, whatever the status).
    Raises RefusedError for a 401 that carries no SOAP envelope, ProbeError
    for an oversize reply or a failed exchange.
    """
    async with ctx.host_slot(target.ip):
        reply = await httpclient.request(
            target.ip,
            target.port,
            target.path,
            method="POST",
            tls=target.tls,
            headers={"Content-Type": SOAP_CONTENT_TYPE},
            body=body,
            timeout=ctx.timing.request_timeout,
            head_timeout=ctx.timing.head_timeout,
            max_body=limits.MAX_SOAP_RESPONSE,
        )
    if reply.status == 401 and credential is not None:
        async with ctx.host_slot(target.ip):
            second = await httpclient.answer_challenge(
                reply,
                target.ip,
                target.port,
                target.path,
                credential=credential,
                method="POST",
                tls=target.tls,
                headers={"Content-Type": SOAP_CONTENT_TYPE},
                body=body,
                timeout=ctx.timing.request_timeout,
                head_timeout=ctx.timing.head_timeout,
                max_body=limits.MAX_SOAP_RESPONSE,
            )
        reply = second or reply
    if reply.truncated:
        raise ProbeError(f"SOAP reply over {limits.MAX_SOAP_RESPONSE} bytes")
    if reply.status == 401 and b"Envelope" not in reply.body:
        raise RefusedError(f"{target.ip}:{target.port} answered HTTP 401")
    return reply.body


async def preflight(ctx: ProbeContext, target: Target) -> Clock | None:
    """The device's clock when ``target`` answers as an ONVIF device service, else None.

    A SOAP fault (firmware that wants credentials even for the clock) still
    proves a device service; the clock is then taken to be ours.
    """
    asked = time.time()
    try:
        data = await post(ctx, target, onvifproto.build_get_system_date_and_time())
        device_time = onvifproto.parse_system_date_and_time(data)
        fault = onvifproto.parse_fault(data) if device_time is None else None
    except ProbeError as err:
        _LOG.debug("onvif: %s: %s", target.xaddr, err)
        return None
    except ProtocolError as err:
        _LOG.debug("onvif: %s answered with unusable XML: %s", target.xaddr, err)
        return None
    if device_time is not None:
        return Clock(offset=device_time.timestamp() - asked)
    return Clock() if fault is not None else None


def refused(err: BaseException) -> bool:
    """True when ``err`` says the device did not accept who we are (or that we are nobody)."""
    if isinstance(err, RefusedError):
        return True
    if isinstance(err, onvifproto.SoapFaultError):
        fault = err.fault
        if _REFUSALS.intersection(fault.subcodes or (fault.subcode or "",)):
            return True
        reason = (fault.reason or "").lower()
        return "not authorized" in reason or "unauthorized" in reason
    return False


def device_information_fields(info: onvifproto.DeviceInformation) -> dict[str, str]:
    """What a GetDeviceInformation answer says (pure; also used to replay saved answers)."""
    pairs = (
        ("manufacturer", info.manufacturer),
        ("model", info.model),
        ("firmware", info.firmware),
        ("serial", info.serial),
        ("hardware", info.hardware_id),
    )
    return {key: value for key, value in pairs if value}


async def ask(
    ctx: ProbeContext,
    target: Target,
    credential: Credential | None,
    clock: Clock,
) -> dict[str, str]:
    """GetDeviceInformation, then GetNetworkInterfaces (optional), signed when given a credential.

    Raises SoapFaultError, RefusedError, ProbeError or ProtocolError when
    GetDeviceInformation gets no usable answer.
    """

    def envelope(body_xml: str) -> bytes:
        if credential is None:
            return onvifproto.build_request(
                body_xml, username=None, password=None, nonce=b"", created=""
            )
        return onvifproto.build_request(
            body_xml,
            username=credential.username,
            password=credential.password.reveal(),
            nonce=secrets.token_bytes(NONCE_BYTES),
            created=clock.created(),
        )

    data = await post(ctx, target, envelope(onvifproto.GET_DEVICE_INFORMATION), credential)
    fields = device_information_fields(onvifproto.parse_device_information(data))
    with contextlib.suppress(ProbeError, ProtocolError):
        # Optional: many firmwares restrict it; the MAC matters for routed cameras.
        data = await post(ctx, target, envelope(onvifproto.GET_NETWORK_INTERFACES), credential)
        for iface in onvifproto.parse_network_interfaces(data):
            if iface.mac and iface.enabled is not False:
                fields["mac"] = iface.mac
                break
    return fields


async def _unauthenticated(ctx: ProbeContext, target: Target) -> dict[str, str] | None:
    """Ask without credentials; None when the answer is not ONVIF at all.

    GetDeviceInformation is itself the test: a SOAP answer (information or a
    fault) means ONVIF; anything else means not ONVIF.
    """
    try:
        fields = await ask(ctx, target, None, Clock())
    except onvifproto.SoapFaultError as err:
        return {"auth": "required" if refused(err) else "fault"}
    except (ProbeError, ProtocolError) as err:  # a bare HTTP 401 included: any server says that
        _LOG.debug("onvif: %s is not an ONVIF device service: %s", target.xaddr, err)
        return None
    return {"auth": "none", **fields}


async def _signed(
    ctx: ProbeContext, target: Target, credential: Credential, clock: Clock
) -> dict[str, str]:
    try:
        return {"auth": "ok", **await ask(ctx, target, credential, clock)}
    except (ProbeError, ProtocolError) as err:
        _LOG.debug("onvif: %s: signed call: %s", target.xaddr, err)
        if refused(err):
            return {"auth": "failed"}
        return {"error": type(err).__name__}


def target_of(ip: str, xaddr: str | None, port: int | None) -> Target | None:
    """The device service to ask: the announced XAddr (same host only) or ``port``."""
    if not xaddr:
        return Target(ip, port, DEVICE_SERVICE_PATH, False) if port is not None else None
    try:
        parts = urlsplit(xaddr)
        tls = parts.scheme == "https"
        announced = parts.port or (443 if tls else 80)
    except ValueError:
        return None
    if parts.hostname != ip:
        return None  # never follow an address a device merely mentions
    return Target(ip, announced, parts.path or DEVICE_SERVICE_PATH, tls)


async def probe(
    ctx: ProbeContext,
    ip: str,
    xaddr: str | None,
    port: int | None,
    mac: str | None,
    slots: asyncio.Semaphore,
) -> bool:
    """Ask one host's ONVIF device service who it is; True when it is ONVIF."""
    target = target_of(ip, xaddr, port)
    if target is None or not ctx.in_scope(ip):
        return False
    credential = ctx.credentials.for_host(ip, mac)
    fields: dict[str, str] = {"xaddr": target.xaddr}
    async with slots:
        if credential is None:
            answer = await _unauthenticated(ctx, target)
            if answer is None:
                return False
            fields.update(answer)
        else:
            clock = await preflight(ctx, target)
            if clock is None:
                return False
            # Answering as an ONVIF device service is camera evidence (credential_policy);
            # what is sent is a WS-Security digest, never the password.
            ctx.evidence.add(ip)
            fields.update(await _signed(ctx, target, credential, clock))
    found_mac = fields.get("mac")
    ctx.emit(
        Observation(
            probe=ProbeName.ONVIF, ip=ip, fields=fields, mac=found_mac, port=target.port, at=now()
        )
    )
    return True
