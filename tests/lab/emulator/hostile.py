"""Payloads of hostile devices: XML bombs, malformed SADP/DHIP, DNS pointer loops.

Each builder returns bytes a broken or malicious device could send; the agent
must survive every one of them without crashing, stalling or growing memory.
"""

from __future__ import annotations

import json
import struct
from typing import Final

from tests.lab.emulator.xmlparse import escape

LAUGHS_LEVELS: Final = 10
"""Ten levels of ten references: 10**10 expansions if a parser ever expanded them."""


def _laughs_dtd(root: str) -> str:
    lines = [f"<!DOCTYPE {root} [", '<!ENTITY lol0 "lol">']
    for level in range(1, LAUGHS_LEVELS):
        refs = f"&lol{level - 1};" * 10
        lines.append(f'<!ENTITY lol{level} "{refs}">')
    lines.append("]>")
    return "\n".join(lines)


def xml_bomb_probe_matches(relates_to: str) -> bytes:
    """A ProbeMatches whose Types and Scopes expand into a billion laughs."""
    top = f"&lol{LAUGHS_LEVELS - 1};"
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + _laughs_dtd("SOAP-ENV:Envelope")
        + '\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<SOAP-ENV:Header>"
        "<wsa:MessageID>urn:uuid:00000000-0000-4000-8000-0000000b0b0b</wsa:MessageID>"
        f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
        "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"
        "</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
        "<wsa:EndpointReference><wsa:Address>urn:uuid:00000000-0000-4000-8000-0000000b0b0b"
        "</wsa:Address></wsa:EndpointReference>"
        f"<d:Types>{top}</d:Types><d:Scopes>{top}</d:Scopes>"
        "<d:XAddrs>http://127.0.0.1/onvif/device_service</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    return text.encode()


def xml_bomb_soap() -> bytes:
    """A SOAP 1.2 reply whose content expands into a billion laughs."""
    top = f"&lol{LAUGHS_LEVELS - 1};"
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + _laughs_dtd("env:Envelope")
        + '\n<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        "<env:Body><tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{top}</tds:Manufacturer><tds:Model>{top}</tds:Model>"
        f"<tds:FirmwareVersion>{top}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{top}</tds:SerialNumber><tds:HardwareId>{top}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse></env:Body></env:Envelope>"
    )
    return text.encode()


def malformed_sadp(uuid: str) -> list[bytes]:
    """Broken SADP replies: truncated, not UTF-8, oversize, deeply nested, a DTD."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ProbeMatch><Uuid>{escape(uuid)}</Uuid><Types>inquiry</Types>"
    )
    truncated = (head + "<DeviceType>1381").encode()
    not_utf8 = (
        head.encode() + b"<DeviceDescription>DS-\xff\xfe\xc3(</DeviceDescription></ProbeMatch>"
    )
    oversize = (head + "<OEMInfo>" + "A" * 60_000 + "</OEMInfo></ProbeMatch>").encode()
    nested = (head + "<a>" * 5_000 + "</a>" * 5_000 + "</ProbeMatch>").encode()
    with_dtd = (
        '<?xml version="1.0"?>\n'
        + _laughs_dtd("ProbeMatch")
        + f"\n<ProbeMatch><Uuid>{escape(uuid)}</Uuid><Types>inquiry</Types>"
        f"<DeviceDescription>&lol{LAUGHS_LEVELS - 1};</DeviceDescription></ProbeMatch>"
    ).encode()
    control_chars = (
        head + "<DeviceDescription>DS-\x1b[31mRED\x1b[0m\x07</DeviceDescription></ProbeMatch>"
    ).encode()
    return [truncated, not_utf8, oversize, nested, with_dtd, control_chars, b""]


def _dhip_frame(body: bytes, *, magic: bytes = b"DHIP", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return struct.pack("<I4s8xQQ", 32, magic, size, size) + body


def malformed_dhip(mac: str) -> list[bytes]:
    """Broken DHIP replies: bad magic, lying lengths, bad JSON, a nesting bomb."""
    good = json.dumps(
        {
            "mac": mac,
            "method": "client.notifyDevInfo",
            "params": {"deviceInfo": {"DeviceType": "X", "SerialNo": "HOSTILE"}},
        }
    ).encode()
    nested = b'{"mac":"' + mac.encode() + b'","params":' + b"[" * 30_000 + b"]" * 30_000
    nested += b"}"
    wrong_types = json.dumps(
        {
            "mac": 12,
            "method": "client.notifyDevInfo",
            "params": {"deviceInfo": ["not", "an", "object"]},
        }
    ).encode()
    huge_number = (
        b'{"mac":"' + mac.encode() + b'","method":"client.notifyDevInfo",'
        b'"params":{"deviceInfo":{"HttpPort":1' + b"0" * 5_000 + b"}}}"
    )
    return [
        _dhip_frame(good, magic=b"PIHD"),
        _dhip_frame(good, length=1 << 40),
        _dhip_frame(good[:40]),
        struct.pack("<I4s8xQQ", 4096, b"DHIP", 1, 1) + good,
        _dhip_frame(b"\xff\xfe{not json at all"),
        _dhip_frame(nested),
        _dhip_frame(wrong_types),
        _dhip_frame(huge_number),
        b"DHIP",
    ]


def dns_pointer_loops(query_id: int) -> list[bytes]:
    """DNS responses whose names loop through compression pointers."""
    header = struct.pack("!HHHHHH", query_id, 0x8400, 0, 1, 0, 0)
    # Offset 12 is where the answer name starts; a pointer to itself loops forever.
    self_loop = header + b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 120, 2) + b"\xc0\x0c"
    # Two labels pointing at each other: 12 -> 14 -> 12.
    two_loop = header + b"\xc0\x0e\xc0\x0c" + struct.pack("!HHIH", 1, 1, 120, 4)
    two_loop += b"\x7f\x00\x00\x01"
    # A label that claims to run past the end of the datagram.
    overrun = header + b"\x3f" + b"a" * 10
    # A pointer forward beyond the end.
    forward = header + b"\xc7\xff" + struct.pack("!HHIH", 1, 1, 120, 4) + b"\x00" * 4
    return [self_loop, two_loop, overrun, forward]
