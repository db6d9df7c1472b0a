"""ONVIF WS-Discovery (the 2005/04 draft ONVIF uses): Probe builder, reply parser.

Wire facts are in shared/PROTOCOLS.md section 2.1. Replies are matched on local
element names and on the WS-Addressing Action, never on namespace prefixes,
because firmware uses every prefix imaginable (``d:``, ``wsdd:``, ``dn:``,
``tdn:``...). The 2009 WS-DD 1.1 namespaces are read the same way.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_WSD_MESSAGE
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import clean, clean_or_none, normalise_mac, parse_int
from cctv_sentinel.protocols.text import tokens as split_tokens

__all__ = [
    "ACTION_PROBE",
    "OnvifScopes",
    "WsdMatch",
    "WsdMessage",
    "build_probe",
    "host_from_xaddrs",
    "is_video_device",
    "parse_message",
    "parse_scopes",
]

MAX_URI: Final = 512
"""Longest scope or XAddr kept: real ones are under 120 characters, but a
percent-encoded camera name can triple in length and must not be cut."""

MAX_MESSAGE_ID: Final = 256
"""Longest MessageID we put in a Probe (a urn:uuid is 45 characters)."""

_SOAP_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
_WSA: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_WSDD: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_DN: Final = "http://www.onvif.org/ver10/network/wsdl"
_TDS: Final = "http://www.onvif.org/ver10/device/wsdl"
_ANONYMOUS: Final = _WSA + "/role/anonymous"
_TO_DISCOVERY: Final = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

ACTION_PROBE: Final = _WSDD + "/Probe"
"""Action URI of a Probe; our own multicast Probe comes back with it."""

_ONVIF_SCOPE = re.compile(r"^onvif://www\.onvif\.org/", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]+$")
_TYPES = re.compile(
    r"^[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?( [A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?)*$"
)

Kind = Literal["probe", "probe_matches", "hello", "bye", "resolve_matches", "other"]

# Body element local name -> message kind. ProbeMatch (singular) covers
# firmware that leaves out the ProbeMatches wrapper (ipycam, PROTOCOLS.md 3).
_BODY_KINDS: Final[dict[str, Kind]] = {
    "Probe": "probe",
    "ProbeMatches": "probe_matches",
    "ProbeMatch": "probe_matches",
    "Hello": "hello",
    "Bye": "bye",
    "ResolveMatches": "resolve_matches",
    "ResolveMatch": "resolve_matches",
}
_MATCH_ELEMENTS: Final[dict[Kind, str]] = {
    "probe_matches": "ProbeMatch",
    "resolve_matches": "ResolveMatch",
    "hello": "Hello",
    "bye": "Bye",
}


@dataclass(frozen=True, slots=True)
class WsdMatch:
    """One endpoint described in a ProbeMatches, ResolveMatches, Hello or Bye."""

    endpoint: str | None
    types: tuple[str, ...]
    """Local names, e.g. ("NetworkVideoTransmitter", "Device")."""
    scopes: tuple[str, ...]
    """Full scope URIs as sent (not decoded)."""
    xaddrs: tuple[str, ...]
    metadata_version: int | None


@dataclass(frozen=True, slots=True)
class WsdMessage:
    """A WS-Discovery message: what it is, its addressing headers, its endpoints."""

    kind: Kind
    action: str | None
    message_id: str | None
    relates_to: str | None
    matches: tuple[WsdMatch, ...]


@dataclass(frozen=True, slots=True)
class OnvifScopes:
    """Percent-decoded values of the ``onvif://www.onvif.org/<key>/<value>`` scopes."""

    name: str | None
    hardware: str | None
    mac: str | None
    location: str | None
    manufacturer: str | None
    profiles: tuple[str, ...]
    types: tuple[str, ...]
    serial: str | None = None
    """ONVIF 23.12 ``SerialNumber`` scope (onvif/specs#360), rare in the field."""


def build_probe(message_id: str, types: str | None = "dn:NetworkVideoTransmitter") -> bytes:
    """Build a minimal Probe shaped like ONVIF Device Manager's.

    ``message_id`` is used as is when it already starts with ``urn:uuid:`` or
    ``uuid:``, otherwise ``urn:uuid:`` is prepended. ``types`` is a
    space-separated list of ``dn:``/``tds:`` qualified names; None sends an
    empty ``Probe`` that matches every target. Raises ValueError for values we
    would not want on the wire.
    """
    if len(message_id) > MAX_MESSAGE_ID or not _MESSAGE_ID.match(message_id):
        raise ValueError("message_id must be printable ASCII without spaces")
    if not message_id.lower().startswith(("urn:uuid:", "uuid:")):
        message_id = "urn:uuid:" + message_id
    if types is None:
        probe = "<wsdd:Probe/>"
    else:
        if not _TYPES.match(types) or len(types) > MAX_URI:
            raise ValueError("types must be space-separated qualified names")
        probe = f"<wsdd:Probe><wsdd:Types>{_xml.escape(types)}</wsdd:Types></wsdd:Probe>"
    # ODM's exact shape (ZoneMinder#1644): some Hikvision firmware answers a
    # differently shaped probe with a SOAP fault (device-onvif-camera#134).
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{_SOAP_ENV}" xmlns:wsa="{_WSA}"'
        f' xmlns:wsdd="{_WSDD}" xmlns:dn="{_DN}" xmlns:tds="{_TDS}">'
        "<SOAP-ENV:Header>"
        f"<wsa:MessageID>{_xml.escape(message_id)}</wsa:MessageID>"
        '<wsa:ReplyTo SOAP-ENV:mustUnderstand="true">'
        f"<wsa:Address>{_ANONYMOUS}</wsa:Address></wsa:ReplyTo>"
        f'<wsa:To SOAP-ENV:mustUnderstand="true">{_TO_DISCOVERY}</wsa:To>'
        f'<wsa:Action SOAP-ENV:mustUnderstand="true">{ACTION_PROBE}</wsa:Action>'
        "</SOAP-ENV:Header>"
        f"<SOAP-ENV:Body>{probe}</SOAP-ENV:Body>"
        "</SOAP-ENV:Envelope>"
    )
    return envelope.encode("utf-8")


def parse_message(data: bytes) -> WsdMessage:
    """Parse any WS-Discovery message (Probe, ProbeMatches, Hello, Bye...).

    Raises OversizeError above limits.MAX_WSD_MESSAGE, MalformedXmlError for
    bad XML and MalformedError when it is not a SOAP envelope with a Body.
    """
    if len(data) > MAX_WSD_MESSAGE:
        raise OversizeError(f"WS-Discovery message of {len(data)} bytes")
    root = _xml.parse(data, MAX_WSD_MESSAGE)
    if _xml.local(root.tag) != "Envelope":
        raise MalformedError("WS-Discovery message is not a SOAP envelope")
    body = _xml.child(root, "Body")
    if body is None:
        raise MalformedError("SOAP envelope without a Body")
    header = _xml.child(root, "Header")
    action = clean_or_none(_xml.text(header, "Action"), MAX_URI)
    kind = _kind(body, action)
    matches: tuple[WsdMatch, ...] = ()
    element = _MATCH_ELEMENTS.get(kind)
    if element is not None:
        found = _bounded(_xml.descendants(body, element), MAX_LIST_ITEMS)
        matches = tuple(_match(m) for m in found)
    return WsdMessage(
        kind=kind,
        action=action,
        message_id=clean_or_none(_xml.text(header, "MessageID"), MAX_URI),
        relates_to=clean_or_none(_xml.text(header, "RelatesTo"), MAX_URI),
        matches=matches,
    )


def _kind(body: _xml.Element, action: str | None) -> Kind:
    for elem in body:
        kind = _BODY_KINDS.get(_xml.local(elem.tag))
        if kind is not None:
            return kind
    if action:
        # Action URIs end in the message name in both 2005/04 and 2009/01.
        kind = _BODY_KINDS.get(action.rstrip("/").rsplit("/", 1)[-1])
        if kind is not None:
            return kind
    return "other"


def _bounded(items: Iterable[_xml.Element], limit: int) -> list[_xml.Element]:
    out: list[_xml.Element] = []
    for item in items:
        out.append(item)
        if len(out) >= limit:
            break
    return out


def _match(elem: _xml.Element) -> WsdMatch:
    types = tuple(
        t
        for t in (
            clean(raw.rsplit(":", 1)[-1])
            for raw in (_xml.text(elem, "Types") or "").split()[:MAX_LIST_ITEMS]
        )
        if t
    )
    return WsdMatch(
        endpoint=clean_or_none(_xml.text(elem, "EndpointReference", "Address"), MAX_URI),
        types=types,
        scopes=split_tokens(_xml.text(elem, "Scopes"), MAX_LIST_ITEMS, MAX_URI),
        xaddrs=split_tokens(_xml.text(elem, "XAddrs"), MAX_LIST_ITEMS, MAX_URI),
        metadata_version=parse_int(
            _xml.text(elem, "MetadataVersion"), minimum=0, maximum=2**32 - 1
        ),
    )


def _scope_parts(scope: str) -> tuple[str, str] | None:
    """Split an ONVIF scope into (lower-case key, percent-decoded rest)."""
    match = _ONVIF_SCOPE.match(scope)
    if match is None:
        return None
    key, _, rest = scope[match.end() :].partition("/")
    return key.lower(), urllib.parse.unquote(rest, errors="replace")


def parse_scopes(scopes: Sequence[str]) -> OnvifScopes:
    """Read name, hardware, MAC, location, profiles and types from ONVIF scopes.

    Values are percent-decoded (``HIKVISION%20DS-2CD...`` becomes
    ``HIKVISION DS-2CD...``) and cleaned; the first scope of each key wins.
    """
    single: dict[str, str] = {}
    profiles: list[str] = []
    types: list[str] = []
    for scope in scopes[:MAX_LIST_ITEMS]:
        parts = _scope_parts(scope)
        if parts is None:
            continue
        key, value = parts
        cleaned = clean(value)
        if not cleaned:
            continue
        if key == "profile":
            if cleaned not in profiles:
                profiles.append(cleaned)
        elif key == "type":
            if cleaned not in types:
                types.append(cleaned)
        else:
            single.setdefault(key, cleaned)
    mac_raw = single.get("mac") or single.get("macaddress")
    return OnvifScopes(
        name=single.get("name"),
        hardware=single.get("hardware"),
        mac=normalise_mac(mac_raw),
        location=single.get("location"),
        # "mfr" is what some firmware sends (PROTOCOLS.md 2.1); HeroSpeed sends
        # "manufacturer" (ZoneMinder#1645).
        manufacturer=single.get("manufacturer") or single.get("mfr"),
        profiles=tuple(profiles),
        types=tuple(types),
        serial=single.get("serialnumber"),
    )


_VIDEO_TYPES: Final = frozenset({"NetworkVideoTransmitter"})
_WEAK_TYPES: Final = frozenset({"Device", "NetworkVideoDisplay"})
_VIDEO_SCOPE_TYPES: Final = frozenset(
    {"video_encoder", "networkvideotransmitter", "network_video_transmitter", "nvt"}
)
_VIDEO_PROFILES: Final = frozenset({"streaming", "s", "t", "g", "m"})


def is_video_device(match: WsdMatch) -> bool:
    """True when a match describes an ONVIF video device, not a printer or a PC.

    NetworkVideoTransmitter qualifies on its own. ``Device`` and
    ``NetworkVideoDisplay`` qualify only with an ONVIF scope that says video
    (type video_encoder, or a streaming profile): printers (``wsdp:Device
    wprt:PrintDeviceType``), Windows and Samba hosts (``wsdp:Device
    pub:Computer``) and NAS boxes carry no ONVIF scope.
    """
    types = set(match.types)
    if types & _VIDEO_TYPES:
        return True
    if not types & _WEAK_TYPES:
        return False
    for scope in match.scopes:
        parts = _scope_parts(scope)
        if parts is None:
            continue
        key, value = parts
        value = value.strip().lower()
        if key == "type" and value in _VIDEO_SCOPE_TYPES:
            return True
        if key == "profile" and value in _VIDEO_PROFILES:
            return True
    return False


def host_from_xaddrs(xaddrs: Iterable[str]) -> str | None:
    """Return the first IPv4 address found as the host of an XAddr URL."""
    for xaddr in xaddrs:
        try:
            host = urllib.parse.urlsplit(xaddr).hostname
            address = ipaddress.IPv4Address(host or "")
        except ValueError:
            continue
        if not address.is_unspecified:
            return str(address)
    return None
