"""ONVIF calls signed with credentials, through onvif-zeep-async (imported lazily).

Only used when the user gave credentials: building zeep clients costs tens of
milliseconds of CPU per host and importing the library half a second, which a
scan without credentials should not pay. Replies are size-capped: zeep reads
them whole, so the HTTP transport underneath bounds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from cctv_sentinel import limits
from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.errors import OversizeError, ProbeError
from cctv_sentinel.protocols.text import clean_or_none, normalise_mac

_IMPORT_LOCK = threading.Lock()
_onvif_module: Any = None


def import_onvif() -> Any:
    """Import onvif-zeep-async once (about half a second), hardened for our use."""
    global _onvif_module  # noqa: PLW0603  (a process-wide lazy import)
    with _IMPORT_LOCK:
        if _onvif_module is None:
            import onvif  # noqa: PLC0415  (lazy: slow import, needed only for ONVIF hosts)
            import onvif.settings  # noqa: PLC0415  (lazy, as above)

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
    threading.Thread(target=import_onvif, name="onvif-import", daemon=True).start()


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


def _text(value: Any) -> str | None:
    return clean_or_none(str(value)) if value is not None else None


async def signed_calls(
    ip: str, port: int, tls: bool, credential: Credential | None, timeout: float
) -> dict[str, str]:
    """GetDeviceInformation and GetNetworkInterfaces, signed with ``credential``."""
    onvif = await asyncio.to_thread(import_onvif)
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
