"""Stable camera ids (DESIGN.md), pure.

The MAC when known, else the ONVIF endpoint UUID, else a hash of maker and
serial, else the IP address (marked unstable).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal

IdSource = Literal["mac", "onvif_uuid", "serial", "ip"]

_UUID: Final = re.compile(r"^(?:urn:)?uuid:([0-9a-z-]{1,64})$")


def onvif_uuid(endpoint: str | None) -> str | None:
    """The UUID of an ONVIF endpoint address (``urn:uuid:…``), lower-cased, or None."""
    if not endpoint:
        return None
    match = _UUID.match(endpoint.strip().lower())
    return match.group(1) if match else None


def serial_key(manufacturer_id: str | None, serial: str | None) -> str | None:
    """The serial-based identity key: a hash of maker and serial (never the serial itself)."""
    if not serial:
        return None
    text = f"{manufacturer_id or ''}:{serial.strip().casefold()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def camera_id_from(
    *, mac: str | None, uuid: str | None, skey: str | None, ip: str
) -> tuple[str, IdSource]:
    """The stable id and its source from the strongest key available."""
    if mac:
        return mac.replace(":", ""), "mac"
    if uuid:
        return f"uuid-{uuid}", "onvif_uuid"
    if skey:
        return f"sn-{skey}", "serial"
    return "ip-" + ip.replace(".", "-").replace(":", "-"), "ip"
