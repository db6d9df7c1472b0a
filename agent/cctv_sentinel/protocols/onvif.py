"""ONVIF device-service SOAP: the requests discovery sends, built and parsed here.

The agent's only ONVIF client (I/O in ``discovery/onvif.py``), with bounded
parsing and no WSDL: GetSystemDateAndTime (unauthenticated, and needed to
compute WS-Security timestamps the device accepts), GetDeviceInformation and
GetNetworkInterfaces, signed with a WS-Security UsernameToken
(PasswordDigest) when credentials are given, plus SOAP faults.
Elements are matched on local names: firmware moves them between the tds:
and tt: namespaces (and some use none).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SOAP_RESPONSE
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import (
    clean_or_none,
    normalise_mac,
    parse_bool,
    parse_int,
    parse_ipv4,
)

__all__ = [
    "GET_DEVICE_INFORMATION",
    "GET_NETWORK_INTERFACES",
    "GET_SYSTEM_DATE_AND_TIME",
    "DeviceInformation",
    "NetworkInterface",
    "SoapFault",
    "SoapFaultError",
    "build_get_device_information",
    "build_get_network_interfaces",
    "build_get_system_date_and_time",
    "build_request",
    "created_text",
    "parse_device_information",
    "parse_fault",
    "parse_network_interfaces",
    "parse_system_date_and_time",
    "password_digest",
]

SOAP_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
TDS: Final = "http://www.onvif.org/ver10/device/wsdl"
TT: Final = "http://www.onvif.org/ver10/schema"
_WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST_TYPE: Final = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
_BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

GET_SYSTEM_DATE_AND_TIME: Final = "<tds:GetSystemDateAndTime/>"
GET_DEVICE_INFORMATION: Final = "<tds:GetDeviceInformation/>"
GET_NETWORK_INTERFACES: Final = "<tds:GetNetworkInterfaces/>"

MAX_NONCE: Final = 64
"""Longest WS-Security nonce accepted from the caller (16 bytes is usual)."""

_CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """GetDeviceInformation: what the device says it is."""

    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    """One entry of GetNetworkInterfaces."""

    token: str | None
    name: str | None
    mac: str | None
    enabled: bool | None
    ipv4: str | None = None
    """The manual, else the DHCP-assigned, IPv4 address when reported."""


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A SOAP 1.2 (or 1.1) fault, codes reduced to their local names.

    ``code`` is e.g. ``Sender``; ``subcode`` the first subcode, e.g.
    ``NotAuthorized`` (ONVIF's ``ter:NotAuthorized``); ``subcodes`` all of
    them, outermost first.
    """

    code: str | None
    subcode: str | None
    reason: str | None
    subcodes: tuple[str, ...] = ()


class SoapFaultError(MalformedError):
    """The device answered a request with a SOAP fault instead of a result."""

    def __init__(self, fault: SoapFault) -> None:
        super().__init__(f"SOAP fault {fault.code}/{fault.subcode}: {fault.reason}")
        self.fault = fault


def _envelope(body_xml: str, header_xml: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:tds="{TDS}" xmlns:tt="{TT}">'
        f"{header_xml}<s:Body>{body_xml}</s:Body></s:Envelope>"
    ).encode()


def build_get_system_date_and_time() -> bytes:
    """GetSystemDateAndTime, without authentication (ONVIF allows it unauthenticated)."""
    return _envelope(GET_SYSTEM_DATE_AND_TIME)


def build_get_device_information() -> bytes:
    """GetDeviceInformation without an auth header (most firmware will want one)."""
    return _envelope(GET_DEVICE_INFORMATION)


def build_get_network_interfaces() -> bytes:
    """GetNetworkInterfaces without an auth header."""
    return _envelope(GET_NETWORK_INTERFACES)


def created_text(moment: datetime) -> str:
    """``moment`` as a WS-Security ``Created`` value (UTC, whole seconds, ``Z``)."""
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security PasswordDigest: base64(sha1(nonce + created + password))."""
    raw = nonce + created.encode("utf-8") + password.encode("utf-8")
    return base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode("ascii")


def build_request(
    body_xml: str,
    *,
    username: str | None,
    password: str | None,
    nonce: bytes,
    created: str,
) -> bytes:
    """Wrap ``body_xml`` in a SOAP 1.2 envelope, with a UsernameToken when given.

    ``body_xml`` is our own fragment (such as GET_DEVICE_INFORMATION) and may
    use the ``tds:`` and ``tt:`` prefixes, which the envelope declares.
    ``created`` is the UTC time as ``YYYY-MM-DDThh:mm:ssZ``, best taken from
    the device's own clock (GetSystemDateAndTime) as ONVIF advises. With no
    username (or no password) no Security header is added. Raises ValueError
    for an empty or overlong nonce or a malformed ``created``.
    """
    if username is None or password is None:
        return _envelope(body_xml)
    if not 0 < len(nonce) <= MAX_NONCE:
        raise ValueError(f"nonce must be 1 to {MAX_NONCE} bytes")
    if not _CREATED.match(created):
        raise ValueError("created must look like 2024-01-31T12:00:00Z")
    digest = password_digest(nonce, created, password)
    header = (
        "<s:Header>"
        f'<wsse:Security s:mustUnderstand="1" xmlns:wsse="{_WSSE}" xmlns:wsu="{_WSU}">'
        "<wsse:UsernameToken>"
        f"<wsse:Username>{_xml.escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{_DIGEST_TYPE}">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{_BASE64}">'
        f"{base64.b64encode(nonce).decode('ascii')}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security></s:Header>"
    )
    return _envelope(body_xml, header)


def _body(data: bytes) -> _xml.Element:
    if len(data) > MAX_SOAP_RESPONSE:
        raise OversizeError(f"SOAP response of {len(data)} bytes")
    root = _xml.parse(data, MAX_SOAP_RESPONSE)
    if _xml.local(root.tag) != "Envelope":
        raise MalformedError("not a SOAP envelope")
    body = _xml.child(root, "Body")
    if body is None:
        raise MalformedError("SOAP envelope without a Body")
    return body


def _response(data: bytes, name: str) -> _xml.Element:
    """The ``<name>`` element of the Body; a fault raises SoapFaultError."""
    body = _body(data)
    found = _xml.child(body, name)
    if found is not None:
        return found
    fault = _fault(body)
    if fault is not None:
        raise SoapFaultError(fault)
    raise MalformedError(f"SOAP body has no {name}")


def parse_system_date_and_time(data: bytes) -> datetime | None:
    """The device's UTC clock from GetSystemDateAndTimeResponse, or None.

    None when the device reports no UTCDateTime (some send only local time),
    an impossible date, or answers with a SOAP fault (some firmware wants
    credentials even for this call; parse_fault tells which). Raises
    MalformedError for anything that is neither.
    """
    try:
        response = _response(data, "GetSystemDateAndTimeResponse")
    except SoapFaultError:
        return None
    utc = _xml.first(response, "UTCDateTime")
    if utc is None:
        return None

    def number(*path: str, top: int) -> int | None:
        return parse_int(_xml.text(utc, *path), minimum=0, maximum=top)

    parts = (
        number("Date", "Year", top=9999),
        number("Date", "Month", top=12),
        number("Date", "Day", top=31),
        number("Time", "Hour", top=23),
        number("Time", "Minute", top=59),
        number("Time", "Second", top=60),
    )
    if any(p is None for p in parts):
        return None
    year, month, day, hour, minute, second = (p or 0 for p in parts)
    try:
        # A leap second (60) is folded into the next minute's first second.
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError:
        return None


def parse_device_information(data: bytes) -> DeviceInformation:
    """Parse GetDeviceInformationResponse.

    Raises SoapFaultError for a fault (``NotAuthorized`` without
    credentials is usual) and MalformedError for any other answer.
    """
    response = _response(data, "GetDeviceInformationResponse")

    def field(name: str) -> str | None:
        return clean_or_none(_xml.text(response, name))

    return DeviceInformation(
        manufacturer=field("Manufacturer"),
        model=field("Model"),
        firmware=field("FirmwareVersion"),
        serial=field("SerialNumber"),
        hardware_id=field("HardwareId"),
    )


def parse_network_interfaces(data: bytes) -> tuple[NetworkInterface, ...]:
    """Parse GetNetworkInterfacesResponse (at most limits.MAX_LIST_ITEMS entries).

    Raises SoapFaultError for a fault and MalformedError for any other answer.
    """
    response = _response(data, "GetNetworkInterfacesResponse")
    out: list[NetworkInterface] = []
    for iface in _xml.children(response, "NetworkInterfaces"):
        config = _xml.child(iface, "IPv4", "Config")
        address = _xml.text(config, "Manual", "Address") or _xml.text(config, "FromDHCP", "Address")
        out.append(
            NetworkInterface(
                token=clean_or_none(iface.get("token")),
                name=clean_or_none(_xml.text(iface, "Info", "Name")),
                mac=normalise_mac(_xml.text(iface, "Info", "HwAddress")),
                enabled=parse_bool(_xml.text(iface, "Enabled")),
                ipv4=parse_ipv4(address),
            )
        )
        if len(out) >= MAX_LIST_ITEMS:
            break
    return tuple(out)


def parse_fault(data: bytes) -> SoapFault | None:
    """Return the SOAP fault in an envelope, or None when there is none.

    Reads SOAP 1.2 (Code/Value, Subcode/Value, Reason/Text) and SOAP 1.1
    (faultcode, faultstring). Raises MalformedError when ``data`` is not a
    SOAP envelope.
    """
    return _fault(_body(data))


def _qname_local(value: str | None) -> str | None:
    if value is None:
        return None
    return clean_or_none(value.strip().rsplit(":", 1)[-1])


def _fault(body: _xml.Element) -> SoapFault | None:
    fault = _xml.child(body, "Fault")
    if fault is None:
        return None
    code_elem = _xml.child(fault, "Code")
    if code_elem is None:  # SOAP 1.1
        return SoapFault(
            code=_qname_local(_xml.text(fault, "faultcode")),
            subcode=None,
            reason=clean_or_none(_xml.text(fault, "faultstring"), 512),
        )
    subcodes: list[str] = []
    node = _xml.child(code_elem, "Subcode")
    while node is not None and len(subcodes) < MAX_LIST_ITEMS:
        value = _qname_local(_xml.text(node, "Value"))
        if value:
            subcodes.append(value)
        node = _xml.child(node, "Subcode")
    reason = _xml.text(fault, "Reason", "Text")
    return SoapFault(
        code=_qname_local(_xml.text(code_elem, "Value")),
        subcode=subcodes[0] if subcodes else None,
        reason=clean_or_none(reason, 512) if reason else None,
        subcodes=tuple(subcodes),
    )
