"""Hikvision SADP over UDP 37020: the inquiry we send and the ProbeMatch we read.

SADP is plain XML in one datagram (shared/PROTOCOLS.md section 2.2). The field
names come from UniversalScanner's selftest and hikvision-tooling's reply
struct; there is no public Hikvision specification, so every field is
optional and odd values become None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SADP_MESSAGE
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import (
    clean,
    clean_or_none,
    normalise_mac,
    parse_bool,
    parse_int,
    parse_ipv4,
    parse_ipv6,
)

__all__ = ["SadpProbe", "SadpReply", "build_inquiry", "parse_message"]

MAX_CHANNELS: Final = 4_096
"""Largest channel count believed: the biggest Hikvision NVRs have 256 channels."""

_UUID = re.compile(r"^[0-9A-Fa-f-]{1,64}$")
_TYPES = re.compile(r"^[A-Za-z0-9_]{1,32}$")

# Element names that have a field of their own; everything else goes to extra.
_KNOWN: Final = frozenset(
    {
        "uuid",
        "types",
        "devicetype",
        "devicedescription",
        "devicesn",
        "mac",
        "ipv4address",
        "ipv4subnetmask",
        "ipv4gateway",
        "ipv6address",
        "httpport",
        "commandport",
        "softwareversion",
        "dspversion",
        "boottime",
        "activated",
        "oeminfo",
        "dhcp",
        "analogchannelnum",
        "digitalchannelnum",
    }
)


@dataclass(frozen=True, slots=True)
class SadpProbe:
    """An inquiry seen on the wire: ours echoed back, or another SADP tool's."""

    uuid: str | None
    types: str | None


@dataclass(frozen=True, slots=True)
class SadpReply:
    """A device's ProbeMatch answer."""

    uuid: str | None
    types: str | None
    device_type: str | None
    """Hikvision's numeric product class code, as sent."""
    model: str | None
    """DeviceDescription, e.g. DS-2CD2143G0-I."""
    serial: str | None
    """DeviceSN: model, production date and serial run together."""
    mac: str | None
    ipv4: str | None
    ipv4_mask: str | None
    ipv4_gateway: str | None
    ipv6: str | None
    http_port: int | None
    command_port: int | None
    firmware: str | None
    """SoftwareVersion, e.g. ``V5.5.0build 170725``."""
    dsp_version: str | None
    boot_time: str | None
    activated: bool | None
    """False means a factory-fresh device with no password set."""
    oem_info: str | None
    dhcp: bool | None
    analog_channels: int | None
    digital_channels: int | None
    extra: tuple[tuple[str, str], ...]
    """Every other element, (name, cleaned text), in document order."""


def build_inquiry(uuid: str, types: str = "inquiry") -> bytes:
    """Build the SADP inquiry (``types`` is ``inquiry`` or ``inquiry_v32``).

    The UUID is sent upper-case as SADPTool does. Raises ValueError for a UUID
    that is not hex and dashes, or an odd ``types``.
    """
    if not _UUID.match(uuid):
        raise ValueError("uuid must be hex digits and dashes")
    if not _TYPES.match(types):
        raise ValueError("types must be a short word such as 'inquiry'")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{uuid.upper()}</Uuid><Types>{types}</Types></Probe>"
    ).encode("ascii")


def parse_message(data: bytes) -> SadpReply | SadpProbe:
    """Parse a SADP datagram: a ProbeMatch reply, or a Probe (an echo to drop).

    Raises OversizeError above limits.MAX_SADP_MESSAGE, MalformedXmlError for
    bad XML and MalformedError for any other root element.
    """
    if len(data) > MAX_SADP_MESSAGE:
        raise OversizeError(f"SADP message of {len(data)} bytes")
    root = _xml.parse(data, MAX_SADP_MESSAGE)
    name = _xml.local(root.tag).lower()
    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for elem in root:
        key = _xml.local(elem.tag)
        lowered = key.lower()
        value = elem.text or ""
        if lowered in _KNOWN:
            fields.setdefault(lowered, value)
        elif len(extra) < MAX_LIST_ITEMS:
            cleaned_key = clean(key, 64)
            if cleaned_key:
                extra.append((cleaned_key, clean(value)))
    if name == "probe":
        return SadpProbe(
            uuid=clean_or_none(fields.get("uuid")),
            types=clean_or_none(fields.get("types")),
        )
    if name != "probematch":
        raise MalformedError(f"not a SADP message: root element {clean(name, 32)!r}")
    return SadpReply(
        uuid=clean_or_none(fields.get("uuid")),
        types=clean_or_none(fields.get("types")),
        device_type=clean_or_none(fields.get("devicetype")),
        model=clean_or_none(fields.get("devicedescription")),
        serial=clean_or_none(fields.get("devicesn")),
        mac=normalise_mac(fields.get("mac")),
        ipv4=parse_ipv4(fields.get("ipv4address")),
        ipv4_mask=parse_ipv4(fields.get("ipv4subnetmask")),
        ipv4_gateway=parse_ipv4(fields.get("ipv4gateway")),
        ipv6=parse_ipv6(fields.get("ipv6address")),
        http_port=_port(fields.get("httpport")),
        command_port=_port(fields.get("commandport")),
        firmware=clean_or_none(fields.get("softwareversion")),
        dsp_version=clean_or_none(fields.get("dspversion")),
        boot_time=clean_or_none(fields.get("boottime")),
        activated=parse_bool(fields.get("activated")),
        oem_info=clean_or_none(fields.get("oeminfo")),
        dhcp=parse_bool(fields.get("dhcp")),
        analog_channels=parse_int(fields.get("analogchannelnum"), minimum=0, maximum=MAX_CHANNELS),
        digital_channels=parse_int(
            fields.get("digitalchannelnum"), minimum=0, maximum=MAX_CHANNELS
        ),
        extra=tuple(extra),
    )


def _port(raw: str | None) -> int | None:
    return parse_int(raw, minimum=1, maximum=65_535)
