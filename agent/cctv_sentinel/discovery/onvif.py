"""ONVIF device service: GetDeviceInformation and GetNetworkInterfaces.

A cheap, bounded pre-flight (GetSystemDateAndTime, which ONVIF requires to be
answered without credentials) runs through our own hardened parser first, so
a host that is not ONVIF, or answers with an XML bomb, never goes further.

Without credentials the two questions are asked the same way, unauthenticated
(most firmware refuses, which is itself recorded). With credentials they go
through onvif-zeep-async, which signs them with a WS-Security UsernameToken,
over an HTTP client whose reply size is capped. Building zeep clients costs
tens of milliseconds of CPU per host, so it is done only when it can pay off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from cctv_sentinel import limits
from cctv_sentinel.discovery import httpclient
from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.errors import ProbeError, ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import onvif as onvifproto
from cctv_sentinel.protocols.text import clean_or_none

_LOG = logging.getLogger(__name__)

DEVICE_SERVICE_PATH = "/onvif/device_service"
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"


async def preflight(ctx: ProbeContext, ip: str, port: int, path: str, tls: bool) -> bool:
    """True when ``path`` answers GetSystemDateAndTime as an ONVIF device service."""
    try:
        async with ctx.host_slot(ip):
            reply = await httpclient.request(
                ip,
                port,
                path,
                method="POST",
                tls=tls,
                headers={"Content-Type": SOAP_CONTENT_TYPE},
                body=onvifproto.build_get_system_date_and_time(),
                timeout=ctx.timing.request_timeout,
                head_timeout=ctx.timing.head_timeout,
                max_body=limits.MAX_SOAP_RESPONSE,
            )
    except ProbeError as err:
        _LOG.debug("onvif: %s:%d%s: %s", ip, port, path, err)
        return False
    if reply.truncated or not reply.body:
        return False
    try:
        if onvifproto.parse_system_date_and_time(reply.body) is not None:
            return True
        return onvifproto.parse_fault(reply.body) is not None
    except ProtocolError as err:
        _LOG.debug("onvif: %s:%d%s answered with unusable XML: %s", ip, port, path, err)
        return False


def _refused(err: BaseException) -> bool:
    text = f"{type(err).__name__} {err}".lower()
    return any(
        word in text
        for word in (
            "notauthorized",
            "not authorized",
            "unauthorized",
            "401",
            "sender not auth",
        )
    )


async def _soap(ctx: ProbeContext, ip: str, port: int, path: str, tls: bool, body: bytes) -> bytes:
    async with ctx.host_slot(ip):
        reply = await httpclient.request(
            ip,
            port,
            path,
            method="POST",
            tls=tls,
            headers={"Content-Type": SOAP_CONTENT_TYPE},
            body=body,
            timeout=ctx.timing.request_timeout,
            head_timeout=ctx.timing.head_timeout,
            max_body=limits.MAX_SOAP_RESPONSE,
        )
    if reply.truncated:
        raise ProbeError(f"SOAP reply over {limits.MAX_SOAP_RESPONSE} bytes")
    return reply.body


def device_information_fields(info: onvifproto.DeviceInformation) -> dict[str, str]:
    """What a GetDeviceInformation answer says (pure)."""
    return {
        key: value
        for key, value in (
            ("manufacturer", info.manufacturer),
            ("model", info.model),
            ("firmware", info.firmware),
            ("serial", info.serial),
            ("hardware", info.hardware_id),
        )
        if value
    }


async def _unauthenticated(
    ctx: ProbeContext, ip: str, port: int, path: str, tls: bool
) -> dict[str, str]:
    """Ask without credentials, through our own bounded client and parser."""
    fields: dict[str, str] = {}
    try:
        data = await _soap(ctx, ip, port, path, tls, onvifproto.build_get_device_information())
        info = onvifproto.parse_device_information(data)
    except onvifproto.SoapFaultError as err:
        refused = (err.fault.subcode or "") in {
            "NotAuthorized",
            "FailedAuthentication",
        } or _refused(err)
        fields["auth"] = "required" if refused else "fault"
        return fields
    fields["auth"] = "none"
    fields.update(device_information_fields(info))
    with contextlib.suppress(ProbeError, ProtocolError):
        data = await _soap(ctx, ip, port, path, tls, onvifproto.build_get_network_interfaces())
        for iface in onvifproto.parse_network_interfaces(data):
            if iface.mac and iface.enabled is not False:
                fields["mac"] = iface.mac
                break
    return fields


async def probe(
    ctx: ProbeContext,
    ip: str,
    xaddr: str | None,
    port: int | None,
    mac: str | None,
    slots: asyncio.Semaphore,
) -> bool:
    """Ask one host's ONVIF device service who it is; True when it is ONVIF."""
    tls = False
    path = DEVICE_SERVICE_PATH
    if xaddr:
        try:
            parts = urlsplit(xaddr)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if parts.hostname != ip or not ctx.in_scope(ip):
            return False
        tls = parts.scheme == "https"
        path = parts.path or DEVICE_SERVICE_PATH
    if port is None:
        return False
    credential = ctx.credentials.for_host(ip, mac)
    fields: dict[str, str] = {"xaddr": f"{'https' if tls else 'http'}://{ip}:{port}{path}"}
    async with slots:
        if credential is None or path != DEVICE_SERVICE_PATH:
            # zeep hard-codes the device service path; other paths stay unauthenticated.
            # Unauthenticated, GetDeviceInformation is itself the test: a SOAP answer
            # (information or a fault) means ONVIF; anything else means not ONVIF.
            try:
                fields.update(await _unauthenticated(ctx, ip, port, path, tls))
            except (ProbeError, ProtocolError) as err:
                _LOG.debug("onvif: %s:%d%s is not an ONVIF device service: %s", ip, port, path, err)
                return False
        elif not await preflight(ctx, ip, port, path, tls):
            return False
        else:
            try:
                from cctv_sentinel.discovery import onvif_zeep  # noqa: PLC0415  (lazy: httpx, zeep)

                fields.update(
                    await onvif_zeep.signed_calls(
                        ip, port, tls, credential, ctx.timing.request_timeout * 2
                    )
                )
                fields["auth"] = "ok"
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001  (zeep, httpx, lxml raise many types)
                if _refused(err):
                    fields["auth"] = "failed"
                else:
                    fields["error"] = clean_or_none(type(err).__name__) or "error"
                _LOG.debug("onvif: %s:%d: %s", ip, port, type(err).__name__)
    found_mac = fields.get("mac")
    ctx.emit(
        Observation(probe=ProbeName.ONVIF, ip=ip, fields=fields, mac=found_mac, port=port, at=now())
    )
    return True
