"""Multicast DNS (RFC 6762) and DNS-SD (RFC 6763): queries, answers, services.

The parser is written for hostile input: every read is bounds-checked, name
compression may only point backwards and at most limits.MAX_DNS_NAME_JUMPS
times per name, and a message may claim at most limits.MAX_DNS_RECORDS
records. Hikvision cameras announce ``_CGI._tcp.local`` with the model in the
instance name and EUI-64 IPv6 addresses that give away the MAC (PROTOCOLS.md
2.5, 128keaton/hikvision-mdns test/cameras.json).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.errors import MalformedError, OversizeError, TruncatedError
from cctv_sentinel.limits import (
    MAX_DNS_NAME_JUMPS,
    MAX_DNS_RECORDS,
    MAX_LIST_ITEMS,
    MAX_MDNS_MESSAGE,
)
from cctv_sentinel.protocols.text import clean, normalise_mac

__all__ = [
    "TYPE_A",
    "TYPE_AAAA",
    "TYPE_ANY",
    "TYPE_PTR",
    "TYPE_SRV",
    "TYPE_TXT",
    "DnsMessage",
    "DnsRecord",
    "ServiceInstance",
    "SrvData",
    "build_query",
    "mac_from_eui64",
    "parse_message",
    "services",
]

TYPE_A: Final = 1
TYPE_PTR: Final = 12
TYPE_TXT: Final = 16
TYPE_AAAA: Final = 28
TYPE_SRV: Final = 33
TYPE_ANY: Final = 255

MAX_NAME: Final = 255
"""RFC 1035 3.1: a domain name is at most 255 octets on the wire."""

MAX_LABEL_OCTETS: Final = 63
"""RFC 1035 2.3.4: a label is at most 63 octets."""

_HEADER: Final = struct.Struct("!HHHHHH")
_RR_FIXED: Final = struct.Struct("!HHIH")
_QU_BIT: Final = 0x8000
_TC_BIT: Final = 0x0200
_CLASS_IN: Final = 1
_META_QUERY: Final = "_services._dns-sd._udp.local"


@dataclass(frozen=True, slots=True)
class SrvData:
    """The data of an SRV record."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One resource record.

    ``data`` is the address text for A/AAAA, the target name for PTR (and
    CNAME/NS), an SrvData for SRV, a tuple of cleaned strings for TXT, and ""
    for types we do not read (NSEC, HINFO...).
    """

    name: str
    rtype: int
    ttl: int
    data: str | tuple[str, ...] | SrvData


@dataclass(frozen=True, slots=True)
class DnsMessage:
    """A parsed DNS message; answer, authority and additional records together."""

    id: int
    is_response: bool
    questions: tuple[tuple[str, int], ...]
    records: tuple[DnsRecord, ...]
    truncated: bool = False
    """The TC bit: more of this answer (or of a query's known answers) follows
    in further packets (RFC 6762 s7.2 and s18.5)."""


@dataclass(frozen=True, slots=True)
class ServiceInstance:
    """A DNS-SD service instance with its SRV, TXT and addresses joined up."""

    service: str
    """The service type, e.g. ``_CGI._tcp.local``."""
    instance: str
    """The instance label, e.g. ``HIKVISION DS-2CD2722FWD-IZS - 733050075``."""
    target: str | None
    port: int | None
    txt: tuple[str, ...]
    addresses: tuple[str, ...]


def _encode_name(name: str) -> bytes:
    labels = [label for label in name.rstrip(".").split(".") if label]
    if not labels:
        raise ValueError("empty DNS name")
    out = bytearray()
    for label in labels:
        raw = label.encode("utf-8")
        if len(raw) > MAX_LABEL_OCTETS:
            raise ValueError(f"DNS label longer than {MAX_LABEL_OCTETS} octets")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError(f"DNS name longer than {MAX_NAME} octets")
    return bytes(out)


def build_query(
    names: Sequence[str], qtype: int = TYPE_PTR, unicast_response: bool = True
) -> bytes:
    """Build an mDNS query with one question per name.

    ``unicast_response`` sets the QU bit (RFC 6762 5.4) so that answers come
    straight back to our port. Raises ValueError for no names, more than
    limits.MAX_LIST_ITEMS, a name that cannot be encoded, or a bad qtype.
    """
    if not names or len(names) > MAX_LIST_ITEMS:
        raise ValueError(f"between 1 and {MAX_LIST_ITEMS} names are needed")
    if not 0 < qtype <= 0xFFFF:
        raise ValueError("qtype must fit 16 bits")
    qclass = _CLASS_IN | (_QU_BIT if unicast_response else 0)
    body = b"".join(_encode_name(n) + struct.pack("!HH", qtype, qclass) for n in names)
    return _HEADER.pack(0, 0, len(names), 0, 0, 0) + body


def parse_message(data: bytes) -> DnsMessage:
    """Parse a DNS message as received on UDP 5353.

    Raises OversizeError above limits.MAX_MDNS_MESSAGE or when the header
    claims more than limits.MAX_DNS_RECORDS entries, TruncatedError when a
    section runs past the end, and MalformedError for compression loops,
    forward pointers, reserved label types and records of impossible length.
    """
    if len(data) > MAX_MDNS_MESSAGE:
        raise OversizeError(f"mDNS message of {len(data)} bytes")
    if len(data) < _HEADER.size:
        raise TruncatedError("DNS message shorter than its header")
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data, 0)
    if qdcount + ancount + nscount + arcount > MAX_DNS_RECORDS:
        raise OversizeError(f"DNS message claims more than {MAX_DNS_RECORDS} entries")
    reader = _Reader(data)
    questions: list[tuple[str, int]] = []
    for _ in range(qdcount):
        qname = reader.name()
        qtype, _qclass = reader.unpack("!HH")
        questions.append((qname, qtype))
    records = [reader.record() for _ in range(ancount + nscount + arcount)]
    return DnsMessage(
        id=ident,
        is_response=bool(flags & 0x8000),
        questions=tuple(questions),
        records=tuple(records),
        truncated=bool(flags & _TC_BIT),
    )


class _Reader:
    """A cursor over one DNS message that never reads past its end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = _HEADER.size

    def unpack(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise TruncatedError("DNS message ends inside a fixed field")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def name(self) -> str:
        text, self.pos = _read_name(self.data, self.pos)
        return text

    def record(self) -> DnsRecord:
        name = self.name()
        if self.pos + _RR_FIXED.size > len(self.data):
            raise TruncatedError("DNS message ends inside a record header")
        rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(self.data, self.pos)
        start = self.pos + _RR_FIXED.size
        end = start + rdlength
        if end > len(self.data):
            raise TruncatedError("DNS record data runs past the end")
        self.pos = end
        return DnsRecord(name=name, rtype=rtype, ttl=ttl, data=_rdata(self.data, rtype, start, end))


def _read_name(data: bytes, pos: int, limit: int | None = None) -> tuple[str, int]:
    """Read a possibly compressed name at ``pos``; return it and where it ends.

    Inline labels may not extend past ``limit`` (the end of the record that
    holds the name); pointers always land before ``pos``, so inside it too.

    A pointer must point before the label that holds it (RFC 1035 4.1.4 says
    "a prior occurrence"), which alone rules out loops; the jump cap bounds
    the work of long backward chains.
    """
    stop = len(data) if limit is None else limit
    labels: list[str] = []
    octets = 0
    jumps = 0
    end: int | None = None
    while True:
        if pos >= stop:
            raise TruncatedError("DNS name runs past the end")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= stop:
                raise TruncatedError("DNS compression pointer cut short")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end is None:
                end = pos + 2
            jumps += 1
            if jumps > MAX_DNS_NAME_JUMPS:
                raise MalformedError("DNS compression pointers loop")
            if target >= pos:
                raise MalformedError("DNS compression pointer does not point backwards")
            pos = target
            continue
        if kind:
            raise MalformedError("reserved DNS label type")
        if length == 0:
            pos += 1
            break
        if pos + 1 + length > stop:
            raise TruncatedError("DNS label runs past the end")
        label = data[pos + 1 : pos + 1 + length]
        octets += length + 1
        if octets > MAX_NAME:
            raise MalformedError(f"DNS name longer than {MAX_NAME} octets")
        # Cleaned label by label, so a label's own edges are trimmed too.
        labels.append(clean(label.decode("utf-8", errors="replace"), MAX_LABEL_OCTETS))
        pos += 1 + length
    return ".".join(labels), (end if end is not None else pos)


def _rdata(data: bytes, rtype: int, start: int, end: int) -> str | tuple[str, ...] | SrvData:
    length = end - start
    if rtype == TYPE_A:
        if length != 4:
            raise MalformedError("A record data is not 4 octets")
        return str(ipaddress.IPv4Address(data[start:end]))
    if rtype == TYPE_AAAA:
        if length != 16:
            raise MalformedError("AAAA record data is not 16 octets")
        return str(ipaddress.IPv6Address(data[start:end]))
    if rtype in {TYPE_PTR, 2, 5}:  # PTR, NS, CNAME: one name
        target, _name_end = _read_name(data, start, end)
        return target
    if rtype == TYPE_SRV:
        if length < 7:
            raise MalformedError("SRV record too short")
        priority, weight, port = struct.unpack_from("!HHH", data, start)
        target, _name_end = _read_name(data, start + 6, end)
        return SrvData(priority=priority, weight=weight, port=port, target=target)
    if rtype == TYPE_TXT:
        return _txt(data, start, end)
    return ""


def _txt(data: bytes, start: int, end: int) -> tuple[str, ...]:
    strings: list[str] = []
    pos = start
    while pos < end:
        size = data[pos]
        chunk = data[pos + 1 : pos + 1 + size]
        if pos + 1 + size > end:
            raise MalformedError("TXT string runs past its record")
        pos += 1 + size
        text = clean(chunk, 255)
        if text and len(strings) < MAX_LIST_ITEMS:
            strings.append(text)
    return tuple(strings)


def _split_instance(fullname: str, service: str | None) -> tuple[str, str] | None:
    """Split ``<instance>.<service>`` into (service, instance)."""
    if service and fullname.lower().endswith("." + service.lower()):
        return service, fullname[: -len(service) - 1]
    # Service types start with '_' (RFC 6763 7); instance labels may hold dots.
    index = fullname.find("._")
    if index <= 0:
        return None
    return fullname[index + 1 :], fullname[:index]


def services(msg: DnsMessage) -> tuple[ServiceInstance, ...]:
    """Join PTR -> SRV/TXT -> A/AAAA records into service instances.

    Instances announced by SRV alone (no PTR) are included too. At most
    limits.MAX_LIST_ITEMS instances are returned; names compare
    case-insensitively, as DNS names do.
    """
    srv: dict[str, SrvData] = {}
    txt: dict[str, tuple[str, ...]] = {}
    addresses: dict[str, list[str]] = {}
    pointers: list[tuple[str, str]] = []
    for record in msg.records:
        key = record.name.lower()
        if record.rtype == TYPE_PTR and isinstance(record.data, str):
            if key != _META_QUERY and record.data:
                pointers.append((record.name, record.data))
        elif record.rtype == TYPE_SRV and isinstance(record.data, SrvData):
            srv.setdefault(key, record.data)
        elif record.rtype == TYPE_TXT and isinstance(record.data, tuple):
            txt.setdefault(key, record.data)
        elif record.rtype in {TYPE_A, TYPE_AAAA} and isinstance(record.data, str):
            known = addresses.setdefault(key, [])
            if record.data not in known and len(known) < MAX_LIST_ITEMS:
                known.append(record.data)
    candidates: list[tuple[str | None, str]] = [*pointers]
    candidates.extend((None, name) for name in _srv_names(msg))
    out: list[ServiceInstance] = []
    seen: set[str] = set()
    for service, fullname in candidates:
        if fullname.lower() in seen or len(out) >= MAX_LIST_ITEMS:
            continue
        parts = _split_instance(fullname, service)
        if parts is None:
            continue
        seen.add(fullname.lower())
        data = srv.get(fullname.lower())
        target = data.target if data is not None else None
        out.append(
            ServiceInstance(
                service=parts[0],
                instance=parts[1],
                target=target,
                port=data.port if data is not None else None,
                txt=txt.get(fullname.lower(), ()),
                addresses=tuple(addresses.get(target.lower(), ())) if target else (),
            )
        )
    return tuple(out)


def _srv_names(msg: DnsMessage) -> list[str]:
    return [r.name for r in msg.records if r.rtype == TYPE_SRV]


def mac_from_eui64(ipv6: str) -> str | None:
    """Recover the MAC from an EUI-64 IPv6 interface id (``xxxx:xxff:fexx:xxxx``).

    The universal/local bit is flipped back (RFC 4291 appendix A). A
    ``%zone`` or ``/prefix`` suffix is ignored. Returns None when the
    address is not IPv6 or its interface id is not EUI-64 shaped.
    """
    if len(ipv6) > 128:
        return None
    try:
        address = ipaddress.IPv6Address(ipv6.strip().split("/", 1)[0].split("%", 1)[0])
    except ValueError:
        return None
    iid = address.packed[8:]
    if iid[3:5] != b"\xff\xfe":
        return None
    mac = bytes([iid[0] ^ 0x02, iid[1], iid[2], iid[5], iid[6], iid[7]])
    return normalise_mac(mac.hex())
