"""Just enough DER to read a certificate's subject and issuer names.

Cameras present self-signed certificates whose names often carry the maker
(e.g. ``O=HIKVISION``); we read them as evidence. No signature is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from cctv_sentinel.errors import MalformedError, OversizeError, TruncatedError
from cctv_sentinel.protocols.text import clean

MAX_CERT = 16 * 1024
"""Largest certificate read; camera certificates are 0.8-2 KiB."""

MAX_RDNS = 32
"""Most relative distinguished names read from one Name."""

_OID_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_STRING_TAGS = {
    0x0C,
    0x13,
    0x14,
    0x16,
    0x1E,
    0x1C,
}  # UTF8, Printable, T61, IA5, BMP, Universal


@dataclass(frozen=True, slots=True)
class CertNames:
    """Subject and issuer as RFC 4514 strings (most specific name first)."""

    subject: str
    issuer: str


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of value, end of value) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise TruncatedError("DER element header cut short")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 3 or pos + count > len(data):
            raise MalformedError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise TruncatedError("DER element longer than its container")
    return tag, pos, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    pos = start
    while pos < end and len(out) < 4 * MAX_RDNS:
        tag, vstart, vend = _tlv(data, pos)
        if vend > end:
            raise MalformedError("DER child overruns its parent")
        out.append((tag, vstart, vend))
        pos = vend
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        raise MalformedError("empty OID")
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _string(tag: int, raw: bytes) -> str:
    if tag == 0x1E:
        return raw.decode("utf-16-be", errors="replace")
    if tag == 0x1C:
        return raw.decode("utf-32-be", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _name(data: bytes, start: int, end: int) -> str:
    parts: list[str] = []
    for set_tag, s_start, s_end in _children(data, start, end)[:MAX_RDNS]:
        if set_tag != 0x31:
            raise MalformedError("Name element is not a SET")
        for seq_tag, a_start, a_end in _children(data, s_start, s_end):
            if seq_tag != 0x30:
                raise MalformedError("AttributeTypeAndValue is not a SEQUENCE")
            items = _children(data, a_start, a_end)
            if len(items) < 2 or items[0][0] != 0x06:
                raise MalformedError("attribute without OID and value")
            oid = _oid(data[items[0][1] : items[0][2]])
            vtag, v_start, v_end = items[1]
            if vtag not in _STRING_TAGS:
                continue
            key = _OID_NAMES.get(oid, oid)
            value = clean(_string(vtag, data[v_start:v_end])).replace(",", "\\,")
            parts.append(f"{key}={value}")
    return ",".join(reversed(parts))


def parse_names(der: bytes) -> CertNames:
    """Read subject and issuer from a DER certificate; raise ProtocolError if unreadable."""
    if len(der) > MAX_CERT:
        raise OversizeError(f"certificate over {MAX_CERT} bytes")
    tag, start, _end = _tlv(der, 0)
    if tag != 0x30:
        raise MalformedError("certificate is not a SEQUENCE")
    tbs_tag, tbs_start, tbs_end = _tlv(der, start)
    if tbs_tag != 0x30:
        raise MalformedError("tbsCertificate is not a SEQUENCE")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5 or fields[2][0] != 0x30 or fields[4][0] != 0x30:
        raise MalformedError("tbsCertificate lacks issuer or subject")
    return CertNames(
        subject=_name(der, fields[4][1], fields[4][2]),
        issuer=_name(der, fields[2][1], fields[2][2]),
    )
