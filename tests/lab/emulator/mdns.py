"""Multicast DNS responder (RFC 6762) with DNS-SD records (RFC 6763) on UDP 5353."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator import hostile
from tests.lab.emulator.udp import UdpService

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

PORT: Final = 5353
GROUP: Final = "224.0.0.251"
MAX_QUERY: Final = 9_000
"""RFC 6762 section 17: an mDNS message is at most 9000 bytes."""
MAX_POINTER_JUMPS: Final = 16
"""Compression pointers followed before a name is declared looping."""

TYPE_A: Final = 1
TYPE_PTR: Final = 12
TYPE_TXT: Final = 16
TYPE_AAAA: Final = 28
TYPE_SRV: Final = 33
TYPE_ANY: Final = 255
CLASS_IN: Final = 1
CACHE_FLUSH: Final = 0x8000
UNICAST_RESPONSE: Final = 0x8000
# RFC 6762 section 10: 120 s for records naming a host, 75 min for the others.
TTL_HOST: Final = 120
TTL_OTHER: Final = 4500
TTL_LEGACY: Final = 10
"""RFC 6762 section 6.7: legacy unicast answers carry TTLs of at most 10 s."""
SERVICES_ENUM: Final = "_services._dns-sd._udp.local"


class DnsError(ValueError):
    """A datagram that is not a parsable DNS message."""


@dataclass(frozen=True)
class Question:
    """One question of a query."""

    name: str
    qtype: int
    unicast: bool


@dataclass(frozen=True)
class Record:
    """One resource record ready to encode."""

    name: str
    rtype: int
    ttl: int
    rdata: bytes
    unique: bool


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """Decode a possibly compressed name; return it and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise DnsError("name runs past the end")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DnsError("truncated pointer")
            jumps += 1
            if jumps > MAX_POINTER_JUMPS:
                raise DnsError("compression pointer loop")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise DnsError("reserved label type")
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise DnsError("label runs past the end")
        labels.append(data[offset : offset + length].decode("utf-8", "replace"))
        offset += length
    return ".".join(labels), end if end is not None else offset


def parse_query(data: bytes) -> tuple[int, list[Question]]:
    """The id and questions of a query; responses raise DnsError."""
    if len(data) < 12:
        raise DnsError("shorter than a DNS header")
    query_id, flags, qdcount = struct.unpack_from("!HHH", data)
    if flags & 0x8000:
        raise DnsError("a response, not a query")
    offset = 12
    questions: list[Question] = []
    for _ in range(min(qdcount, 64)):
        name, offset = read_name(data, offset)
        if offset + 4 > len(data):
            raise DnsError("truncated question")
        qtype, qclass = struct.unpack_from("!HH", data, offset)
        offset += 4
        questions.append(Question(name.lower(), qtype, bool(qclass & UNICAST_RESPONSE)))
    return query_id, questions


def encode_name(name: str) -> bytes:
    """Encode a name without compression (labels of at most 63 bytes)."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()[:63]
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


class Mdns:
    """Answers PTR/SRV/TXT/A/AAAA questions about its host and services."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["mdns"]
        self.udp = UdpService(device, "mdns", PORT)
        self.hostname = self.block["hostname"].rstrip(".")
        if not self.hostname.endswith(".local"):
            self.hostname += ".local"

    async def start(self) -> None:
        """Bind 5353 and join 224.0.0.251."""
        await self.udp.start(self.on_datagram, [GROUP])

    def close(self) -> None:
        """Close the socket."""
        self.udp.close()

    # --- records ---------------------------------------------------------------
    def _services(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(service type fqdn, instance fqdn, block) for each service."""
        found = []
        for service in self.block["services"]:
            stype = service["type"] + ".local"
            found.append((stype, f"{service['instance']}.{stype}", service))
        return found

    def _address_records(self) -> list[Record]:
        records = [
            Record(
                self.hostname,
                TYPE_A,
                TTL_HOST,
                ipaddress.IPv4Address(self.device.profile.network.ip).packed,
                unique=True,
            )
        ]
        ipv6 = self.device.profile.network.ipv6
        if ipv6:
            records.append(
                Record(
                    self.hostname,
                    TYPE_AAAA,
                    TTL_HOST,
                    ipaddress.IPv6Address(ipv6).packed,
                    unique=True,
                )
            )
        return records

    def _instance_records(self, instance: str, service: dict[str, Any]) -> list[Record]:
        srv = struct.pack("!HHH", 0, 0, int(service["port"])) + encode_name(self.hostname)
        txt = (
            b"".join(
                bytes([len(item.encode()[:255])]) + item.encode()[:255]
                for item in service.get("txt") or []
            )
            or b"\x00"
        )
        return [
            Record(instance, TYPE_SRV, TTL_HOST, srv, unique=True),
            Record(instance, TYPE_TXT, TTL_OTHER, txt, unique=True),
        ]

    def answer(self, question: Question) -> tuple[list[Record], list[Record]]:
        """(answers, additionals) for one question."""
        qname, qtype = question.name, question.qtype
        answers: list[Record] = []
        extra: list[Record] = []
        services = self._services()
        if qname == SERVICES_ENUM and qtype in (TYPE_PTR, TYPE_ANY):
            answers += [
                Record(SERVICES_ENUM, TYPE_PTR, TTL_OTHER, encode_name(stype), False)
                for stype, _, _ in services
            ]
        for stype, instance, service in services:
            if qname == stype.lower() and qtype in (TYPE_PTR, TYPE_ANY):
                answers.append(Record(stype, TYPE_PTR, TTL_OTHER, encode_name(instance), False))
                extra += self._instance_records(instance, service)
                extra += self._address_records()
            elif qname == instance.lower():
                records = self._instance_records(instance, service)
                answers += [r for r in records if qtype in (r.rtype, TYPE_ANY)]
                if answers:
                    extra += self._address_records()
        if qname == self.hostname.lower():
            answers += [r for r in self._address_records() if qtype in (r.rtype, TYPE_ANY)]
        return answers, extra

    # --- wire ----------------------------------------------------------------------
    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer a query multicast, or unicast for QU questions and legacy clients."""
        if len(data) > MAX_QUERY:
            return
        try:
            query_id, questions = parse_query(data)
        except DnsError:
            return  # responses (ours looping back included) and garbage
        legacy = addr[1] != PORT
        unicast = legacy or any(q.unicast for q in questions)
        names = ",".join(sorted({q.name for q in questions}))
        if self.device.hostile.get("mdns_loop") and questions:
            # Hostile: whatever was asked, answer with names that never end.
            self.device.log("mdns", addr, f"{names}: answered with pointer loops")
            self.udp.send_many(hostile.dns_pointer_loops(query_id if legacy else 0), addr)
            return
        answers: list[Record] = []
        extra: list[Record] = []
        for question in questions:
            found, more = self.answer(question)
            answers += found
            extra += more
        if not answers:
            return
        how = "unicast" if unicast else "multicast"
        self.device.log("mdns", addr, f"answered {names} ({how})")
        extra = [r for r in dict.fromkeys(extra) if r not in answers]
        if legacy:
            reply = self.encode(query_id, answers, extra, questions=data, legacy=True)
        else:
            reply = self.encode(0, answers, extra, questions=None, legacy=False)
        if unicast or not self.udp.send_multicast(reply, GROUP, PORT):
            self.udp.send(reply, addr)

    def encode(
        self,
        query_id: int,
        answers: list[Record],
        extra: list[Record],
        *,
        questions: bytes | None,
        legacy: bool,
    ) -> bytes:
        """Encode a response; legacy unicast repeats the question (RFC 6762 6.7)."""
        question_bytes = b""
        qdcount = 0
        if questions is not None:
            _, parsed = parse_query(questions)
            for q in parsed:
                question_bytes += encode_name(q.name) + struct.pack("!HH", q.qtype, 1)
            qdcount = len(parsed)
        header = struct.pack("!HHHHHH", query_id, 0x8400, qdcount, len(answers), 0, len(extra))
        body = b""
        for record in [*answers, *extra]:
            rclass = CLASS_IN
            if record.unique and not legacy:
                rclass |= CACHE_FLUSH
            ttl = min(record.ttl, TTL_LEGACY) if legacy else record.ttl
            body += encode_name(record.name) + struct.pack(
                "!HHIH", record.rtype, rclass, ttl, len(record.rdata)
            )
            body += record.rdata
        return header + question_bytes + body
