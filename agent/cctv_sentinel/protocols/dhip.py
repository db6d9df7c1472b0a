"""Dahua discovery on UDP 37810 (DHIP): the search request and the device reply.

A DHIP frame is a 32-byte header followed by JSON (shared/PROTOCOLS.md 2.3):

====== ====== ==========================================================
offset size   value
====== ====== ==========================================================
0      u32 LE header length, 0x20
4      4      the ASCII bytes ``DHIP`` (packing 0x44484950 gives "PIHD",
              which some models ignore: rroller/dahua discovery.py)
8      u32 LE session id, 0 for discovery
12     u32 LE request id
16     u32 LE body length (rroller writes it as u64; the high half is 0)
20     4      zero
24     u32 LE body length again
28     4      zero
====== ====== ==========================================================

Bare JSON gets no answer. Replies use the same framing, but the header length
has varied across firmware, so the JSON is found rather than sliced.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Final

from cctv_sentinel.errors import MalformedError, OversizeError, TruncatedError
from cctv_sentinel.limits import MAX_DHIP_MESSAGE, MAX_JSON_DEPTH
from cctv_sentinel.protocols.text import (
    clean,
    clean_or_none,
    normalise_mac,
    parse_bool,
    parse_int,
    parse_ipv4,
)

__all__ = [
    "HEADER_LENGTH",
    "DhipDevice",
    "DhipRequest",
    "build_frame",
    "build_search",
    "parse_message",
]

HEADER_LENGTH: Final = 32
"""Bytes of the DHIP header we send."""

MAX_HEADER_LENGTH: Final = 64
"""Largest header length field believed in a reply; real ones say 32."""

MAX_VIDEO_INPUTS: Final = 4_096
"""Largest channel count believed: the biggest Dahua NVRs have 256 channels."""

_MAGIC: Final = b"DHIP"
_SEARCH_BODY: Final = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'
_TRAILER: Final = " \t\r\n\x00"


@dataclass(frozen=True, slots=True)
class DhipRequest:
    """A request seen on the wire, such as our own DHDiscover.search echoed back."""

    method: str


@dataclass(frozen=True, slots=True)
class DhipDevice:
    """What a device says about itself in ``client.notifyDevInfo``."""

    method: str | None
    mac: str | None
    device_class: str | None
    """DeviceClass: IPC, NVR, HCVR, VTO, VTH, BSC..."""
    model: str | None
    """DeviceType, e.g. IPC-HDW5421S."""
    serial: str | None
    firmware: str | None
    manufacturer: str | None
    vendor: str | None
    machine_name: str | None
    http_port: int | None
    port: int | None
    """The private SDK port (37777 by default)."""
    https_port: int | None
    ipv4: str | None
    ipv4_mask: str | None
    ipv4_gateway: str | None
    dhcp: bool | None
    video_inputs: int | None


def build_frame(body: bytes, request_id: int = 0) -> bytes:
    """Put the 32-byte DHIP header in front of ``body``.

    Raises ValueError when the frame would not fit limits.MAX_DHIP_MESSAGE or
    ``request_id`` does not fit 32 bits.
    """
    if len(body) > MAX_DHIP_MESSAGE - HEADER_LENGTH:
        raise ValueError("DHIP body too large for one datagram")
    size = len(body)
    header = struct.pack("<I4sIIIIII", HEADER_LENGTH, _MAGIC, 0, request_id, size, 0, size, 0)
    return header + body


def build_search(request_id: int = 0) -> bytes:
    """Build the ``DHDiscover.search`` request every Dahua device answers."""
    return build_frame(_SEARCH_BODY, request_id)


def parse_message(data: bytes) -> DhipDevice | DhipRequest:
    """Parse a DHIP datagram: a device's reply, or a DHDiscover request (an echo).

    Raises OversizeError above limits.MAX_DHIP_MESSAGE or for JSON nested
    deeper than limits.MAX_JSON_DEPTH, TruncatedError when the header promises
    more bytes than arrived, and MalformedError for anything that is not a
    JSON object with a method and a deviceInfo.
    """
    if len(data) > MAX_DHIP_MESSAGE:
        raise OversizeError(f"DHIP message of {len(data)} bytes")
    start, short = _json_search_start(data)
    try:
        message = _decode_json(data[start:])
    except MalformedError as err:
        if short:
            raise TruncatedError("DHIP body shorter than its header says") from err
        raise
    method = message.get("method")
    if not isinstance(method, str):
        raise MalformedError("DHIP message without a method")
    if method.startswith("DHDiscover."):
        return DhipRequest(method=clean(method))
    params = message.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        raise MalformedError("DHIP message without params.deviceInfo")
    ipv4 = info.get("IPv4Address")
    if not isinstance(ipv4, dict):
        ipv4 = {}
    mac = _str(message.get("mac")) or _str(info.get("Mac")) or _str(info.get("MAC"))
    return DhipDevice(
        method=clean_or_none(method),
        mac=normalise_mac(mac),
        device_class=clean_or_none(_str(info.get("DeviceClass"))),
        model=clean_or_none(_str(info.get("DeviceType"))),
        serial=clean_or_none(_str(info.get("SerialNo"))),
        firmware=clean_or_none(_str(info.get("Version"))),
        manufacturer=clean_or_none(_str(info.get("Manufacturer"))),
        vendor=clean_or_none(_str(info.get("Vendor"))),
        machine_name=clean_or_none(_str(info.get("MachineName"))),
        http_port=_int(info.get("HttpPort"), 1, 65_535),
        port=_int(info.get("Port"), 1, 65_535),
        https_port=_int(info.get("HttpsPort"), 1, 65_535),
        ipv4=parse_ipv4(_str(ipv4.get("IPAddress"))),
        ipv4_mask=parse_ipv4(_str(ipv4.get("SubnetMask"))),
        ipv4_gateway=parse_ipv4(_str(ipv4.get("DefaultGateway"))),
        dhcp=_bool(ipv4.get("DhcpEnable")),
        video_inputs=_int(info.get("VideoInputChannels"), 0, MAX_VIDEO_INPUTS),
    )


def _json_search_start(data: bytes) -> tuple[int, bool]:
    """Where to look for the JSON, and whether the header promises more bytes.

    The search starts after the header when there is one: searching from 0
    would be wrong whenever a length byte is 0x7B ('{'), as for a 123-byte
    body. The length fields are only a hint: some senders put the whole frame
    length there, so a short body is reported only if its JSON is also broken.
    """
    if len(data) < 8 or data[4:8] != _MAGIC:
        return 0, False
    (header_length,) = struct.unpack_from("<I", data, 0)
    if not 8 <= header_length <= MAX_HEADER_LENGTH:
        return 8, False
    if len(data) < header_length:
        raise TruncatedError("DHIP datagram shorter than its header")
    short = False
    if header_length >= 20:
        (body_length,) = struct.unpack_from("<I", data, 16)
        short = body_length > len(data) - header_length
    return header_length, short


def _decode_json(raw: bytes) -> dict[str, Any]:
    start = raw.find(b"{")
    if start < 0:
        raise MalformedError("no JSON object in the DHIP datagram")
    text = raw[start:].decode("utf-8", errors="replace").rstrip(_TRAILER)
    _check_depth(text)
    try:
        value, _end = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(text)
    except (ValueError, RecursionError) as err:
        # ValueError covers JSONDecodeError and int() refusing huge numbers.
        raise MalformedError(f"DHIP body is not JSON: {type(err).__name__}") from err
    if not isinstance(value, dict):
        raise MalformedError("DHIP body is not a JSON object")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before parsing it.

    The stdlib parser recurses once per level, so a ``[[[[...`` bomb would
    otherwise end in RecursionError after burning stack.
    """
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise OversizeError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
        elif char in "]}":
            depth -= 1


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object, minimum: int, maximum: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if minimum <= value <= maximum else None
    if isinstance(value, str):
        return parse_int(value, minimum=minimum, maximum=maximum)
    return None


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return parse_bool(value)
    return None
