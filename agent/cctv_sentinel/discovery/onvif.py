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
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from cctv_sentinel import limits
from cctv_sentinel.credentials import Credential
from cctv_sentinel.discovery import httpclient
from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.errors import OversizeError, ProbeError, ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import onvif as onvifproto
from cctv_sentinel.protocols.text import clean_or_none, normalise_mac

_LOG = logging.getLogger(__name__)

DEVICE_SERVICE_PATH = "/onvif/device_service"
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

_IMPORT_LOCK = threading.Lock()
_onvif_module: Any = None


def _import_onvif() -> Any:
    """Import onvif-zeep-async once (about half a second), hardened for our use."""
    global _onvif_module  # noqa: PLW0603  (a process-wide lazy import)
    with _IMPORT_LOCK:
        if _onvif_module is None:
            import onvif  # noqa: PLC0415  (lazy: slow import, needed only for ONVIF hosts)
            import onvif.settings  # noqa: PLC0415

            settings = onvif.settings.DEFAULT_SETTINGS
            # The library turns on lxml's huge_tree; a device's reply must never get that.
            settings.xml_huge_tree = False
            settings.forbid_dtd = True
            settings.forbid_entities = True
            settings.forbid_external = True
            for name in ("zeep", "httpx", "httpcore", "onvif"):
                # zeep logs whole SOAP envelopes (WS-Security headers included) at DEBUG.
                logging.getLogger(name).setLevel(logging.WARNING)
            _onvif_module = onvif
    return _onvif_module


def _wsdl_dir(onvif: Any) -> str:
    """Where this onvif-zeep-async keeps its WSDL files.

    Releases differ: some install them inside the package, some beside it, and
    the library's default only knows one of the two.
    """
    package = Path(onvif.__file__).parent
    for candidate in (package / "wsdl", package.parent / "wsdl"):
        if (candidate / "devicemgmt.wsdl").is_file():
            return str(candidate)
    raise ProbeError("onvif-zeep-async is installed without its WSDL files")


def prewarm() -> None:
    """Start importing onvif-zeep-async in a thread, so the first ONVIF host does not wait."""
    threading.Thread(target=_import_onvif, name="onvif-import", daemon=True).start()


class _CappedStream(httpx.AsyncByteStream):
    """A response body that raises once it exceeds ``cap`` bytes."""

    def __init__(self, inner: httpx.AsyncByteStream, cap: int) -> None:
        self._inner = inner
        self._cap = cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if total > self._cap:
                raise OversizeError(f"SOAP reply over {self._cap} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that bounds every reply body (zeep reads replies whole)."""

    def __init__(self, cap: int = limits.MAX_SOAP_RESPONSE) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=False)
        self._cap = cap

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward the request; wrap the reply stream in the cap."""
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self._cap),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._inner.aclose()


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


def _text(value: Any) -> str | None:
    return clean_or_none(str(value)) if value is not None else None


async def _zeep_calls(
    ip: str, port: int, tls: bool, credential: Credential | None, timeout: float
) -> dict[str, str]:
    onvif = await asyncio.to_thread(_import_onvif)
    host = f"https://{ip}" if tls else ip
    user = credential.username if credential else None
    password = credential.password.reveal() if credential else None
    camera = onvif.ONVIFCamera(host, port, user, password, wsdl_dir=_wsdl_dir(onvif), no_cache=True)
    fields: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            service = await camera.create_devicemgmt_service()
            # Swap the library's HTTP client for one whose replies are size-capped.
            old_client = service.transport.client
            service.transport.client = httpx.AsyncClient(
                transport=CappedTransport(), timeout=timeout
            )
            await old_client.aclose()
            # Without credentials use the library's unauthenticated client: its
            # WS-Security signer cannot sign for an empty user.
            prefix = "" if credential else "authless_"
            info = await getattr(service, prefix + "GetDeviceInformation")()
            for key, attr in (
                ("manufacturer", "Manufacturer"),
                ("model", "Model"),
                ("firmware", "FirmwareVersion"),
                ("serial", "SerialNumber"),
                ("hardware", "HardwareId"),
            ):
                value = _text(getattr(info, attr, None))
                if value:
                    fields[key] = value
            with contextlib.suppress(Exception):
                # Optional: many firmwares restrict it; the MAC matters for routed cameras.
                interfaces = await getattr(service, prefix + "GetNetworkInterfaces")()
                for iface in interfaces[: limits.MAX_LIST_ITEMS]:
                    mac = normalise_mac(
                        _text(getattr(getattr(iface, "Info", None), "HwAddress", None))
                    )
                    if mac and getattr(iface, "Enabled", True):
                        fields["mac"] = mac
                        break
    finally:
        with contextlib.suppress(Exception):
            await camera.close()
    return fields


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
    for key, value in (
        ("manufacturer", info.manufacturer),
        ("model", info.model),
        ("firmware", info.firmware),
        ("serial", info.serial),
        ("hardware", info.hardware_id),
    ):
        if value:
            fields[key] = value
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
    async with slots:
        if not await preflight(ctx, ip, port, path, tls):
            return False
        credential = ctx.credentials.for_host(ip, mac)
        fields: dict[str, str] = {"xaddr": f"{'https' if tls else 'http'}://{ip}:{port}{path}"}
        try:
            if credential is None or path != DEVICE_SERVICE_PATH:
                # zeep hard-codes the device service path; other paths stay unauthenticated.
                fields.update(await _unauthenticated(ctx, ip, port, path, tls))
            else:
                fields.update(
                    await _zeep_calls(ip, port, tls, credential, ctx.timing.request_timeout * 2)
                )
                fields["auth"] = "ok"
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001  (zeep, httpx, lxml raise many types)
            if _refused(err):
                fields["auth"] = "failed" if credential else "required"
            else:
                fields["error"] = clean_or_none(type(err).__name__) or "error"
            _LOG.debug("onvif: %s:%d: %s", ip, port, type(err).__name__)
    found_mac = fields.get("mac")
    ctx.emit(
        Observation(probe=ProbeName.ONVIF, ip=ip, fields=fields, mac=found_mac, port=port, at=now())
    )
    return True
