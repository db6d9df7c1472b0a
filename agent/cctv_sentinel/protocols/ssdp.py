"""SSDP (UPnP discovery, UDP 1900) messages and UPnP device descriptions.

SSDP messages are HTTP-shaped datagrams: an M-SEARCH request, the unicast
``HTTP/1.1 200 OK`` answers, and NOTIFY announcements (shared/PROTOCOLS.md
2.4). Dahua's SDK puts maker and serial straight into SERVER, USN and ST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SSDP_MESSAGE
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import clean, clean_or_none, decode, parse_int

__all__ = [
    "SsdpMessage",
    "UpnpDescription",
    "build_msearch",
    "max_age",
    "parse_description",
    "parse_message",
]

MAX_DESCRIPTION: Final = 64 * 1024
"""Most bytes of a UPnP device description parsed: cameras serve 1-4 KiB,
routers with many embedded devices and services about 20 KiB."""

MAX_HEADER_VALUE: Final = 512
"""Longest SSDP header value kept (LOCATION URLs and USNs are under 200)."""

MAX_URL: Final = 512
"""Longest URL kept from a description."""

_GROUP: Final = "239.255.255.250:1900"
_ST = re.compile(r"^[\x21-\x7e]{1,256}$")
_STATUS_LINE = re.compile(r"^HTTP/\d\.\d\s+(\d{3})(?:\s|$)", re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^(NOTIFY|M-SEARCH)\s+\*\s+HTTP/\d\.\d$", re.IGNORECASE)

Kind = Literal["response", "notify", "msearch"]


@dataclass(frozen=True, slots=True)
class SsdpMessage:
    """One SSDP datagram: what kind it is and its headers."""

    kind: Kind
    headers: tuple[tuple[str, str], ...]
    """(lower-cased name, cleaned value), in the order received."""
    server: str | None
    location: str | None
    usn: str | None
    st: str | None
    """ST in search answers, NT in NOTIFY."""
    nts: str | None
    cache_control: str | None
    status: int | None = None
    """Status code of a response (200 for a search answer)."""

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k == lowered), None)


@dataclass(frozen=True, slots=True)
class UpnpDescription:
    """The root device of a UPnP description document."""

    device_type: str | None
    friendly_name: str | None
    manufacturer: str | None
    manufacturer_url: str | None
    model_name: str | None
    model_number: str | None
    model_description: str | None
    model_url: str | None
    serial: str | None
    udn: str | None
    presentation_url: str | None
    embedded_device_types: tuple[str, ...] = ()
    """deviceType of embedded devices, at most limits.MAX_LIST_ITEMS."""


def build_msearch(st: str = "ssdp:all", mx: int = 2) -> bytes:
    """Build an M-SEARCH for the SSDP multicast group.

    ``mx`` is the most seconds a device may wait before answering (UPnP 1.1
    allows 1 to 5). Raises ValueError for values outside that or an ST with
    spaces or control characters.
    """
    if not _ST.match(st):
        raise ValueError("st must be printable ASCII without spaces")
    if not 1 <= mx <= 5:
        raise ValueError("mx must be between 1 and 5")
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {_GROUP}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {st}\r\n"
        "\r\n"
    ).encode("ascii")


def parse_message(data: bytes) -> SsdpMessage:
    """Parse an SSDP datagram (search answer, NOTIFY or M-SEARCH).

    Lines may end in CRLF or a bare LF (both are seen). Raises OversizeError
    above limits.MAX_SSDP_MESSAGE and MalformedError when the first line is
    neither an HTTP status line nor a NOTIFY / M-SEARCH request line.
    """
    if len(data) > MAX_SSDP_MESSAGE:
        raise OversizeError(f"SSDP message of {len(data)} bytes")
    lines = decode(data).replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    status: int | None = None
    kind: Kind
    status_match = _STATUS_LINE.match(first)
    request_match = _REQUEST_LINE.match(first)
    if status_match is not None:
        kind = "response"
        status = int(status_match.group(1))
    elif request_match is not None:
        kind = "notify" if request_match.group(1).upper() == "NOTIFY" else "msearch"
    else:
        raise MalformedError("not an SSDP message")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            break  # the blank line ends the head
        name, sep, value = line.partition(":")
        key = clean(name, 64).lower()
        if not sep or not key:
            continue
        headers.append((key, clean(value, MAX_HEADER_VALUE)))
        if len(headers) >= MAX_LIST_ITEMS:
            break
    found: dict[str, str] = {}
    for key, value in headers:
        found.setdefault(key, value)
    return SsdpMessage(
        kind=kind,
        headers=tuple(headers),
        server=found.get("server") or None,
        location=found.get("location") or None,
        usn=found.get("usn") or None,
        st=(found.get("st") or found.get("nt")) or None,
        nts=found.get("nts") or None,
        cache_control=found.get("cache-control") or None,
        status=status,
    )


def parse_description(data: bytes) -> UpnpDescription:
    """Parse a UPnP device description (the XML at an SSDP LOCATION).

    Raises OversizeError above MAX_DESCRIPTION, MalformedXmlError for bad
    XML and MalformedError when there is no root ``device``.
    """
    if len(data) > MAX_DESCRIPTION:
        raise OversizeError(f"UPnP description of {len(data)} bytes")
    root = _xml.parse(data, MAX_DESCRIPTION)
    if _xml.local(root.tag) != "root":
        raise MalformedError("UPnP description without a root element")
    device = _xml.child(root, "device")
    if device is None:
        raise MalformedError("UPnP description without a device")
    embedded: list[str] = []
    device_list = _xml.child(device, "deviceList")
    if device_list is not None:
        for sub in _xml.descendants(device_list, "device"):
            sub_type = clean_or_none(_xml.text(sub, "deviceType"), MAX_URL)
            if sub_type:
                embedded.append(sub_type)
                if len(embedded) >= MAX_LIST_ITEMS:
                    break

    def field(name: str, max_len: int = 128) -> str | None:
        return clean_or_none(_xml.text(device, name), max_len)

    return UpnpDescription(
        device_type=field("deviceType", MAX_URL),
        friendly_name=field("friendlyName"),
        manufacturer=field("manufacturer"),
        manufacturer_url=field("manufacturerURL", MAX_URL),
        model_name=field("modelName"),
        model_number=field("modelNumber"),
        model_description=field("modelDescription"),
        model_url=field("modelURL", MAX_URL),
        serial=field("serialNumber"),
        udn=field("UDN", MAX_URL),
        presentation_url=field("presentationURL", MAX_URL),
        embedded_device_types=tuple(embedded),
    )


def max_age(message: SsdpMessage) -> int | None:
    """Seconds from ``CACHE-CONTROL: max-age=N``, or None."""
    value = message.cache_control or ""
    for part in value.split(","):
        key, _, number = part.strip().partition("=")
        if key.strip().lower() == "max-age":
            return parse_int(number, minimum=0, maximum=2**31 - 1)
    return None
