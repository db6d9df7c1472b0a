"""mDNS answers split over packets are joined per responder, and TC waits for the rest.

No sockets: datagrams are handed to the Joiner as the receive path would.
"""

from __future__ import annotations

import asyncio
import struct

from cctv_sentinel.discovery import mdns as mdns_probe
from cctv_sentinel.model import Observation
from cctv_sentinel.protocols import mdns

SERVICE = b"\x0a_rtsp-test\x04_tcp\x05local\x00"
INSTANCE_LABEL = b"\x05cam 1"
HOST = b"\x03cam\x05local\x00"


def _packet(*records: bytes, truncated: bool = False) -> bytes:
    flags = 0x8400 | (0x0200 if truncated else 0)
    return struct.pack("!HHHHHH", 0, flags, 0, len(records), 0, 0) + b"".join(records)


def _rr(name: bytes, rtype: int, rdata: bytes) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, 120, len(rdata)) + rdata


PTR = _rr(SERVICE, mdns.TYPE_PTR, INSTANCE_LABEL + SERVICE)
SRV = _rr(INSTANCE_LABEL + SERVICE, mdns.TYPE_SRV, struct.pack("!HHH", 0, 0, 554) + HOST)
TXT = _rr(INSTANCE_LABEL + SERVICE, mdns.TYPE_TXT, b"\x06path=/")


def _joiner(wait: float = 0.05) -> tuple[mdns_probe.Joiner, list[Observation]]:
    got: list[Observation] = []
    return mdns_probe.Joiner(got.append, wait, asyncio.get_running_loop()), got


async def test_a_complete_answer_is_reported_at_once() -> None:
    joiner, got = _joiner()
    joiner(_packet(PTR, SRV, TXT), ("198.18.0.9", 5353))
    assert [o.fields.get("service_port") for o in got] == ["554"]
    joiner(_packet(PTR, SRV, TXT), ("198.18.0.9", 5353))  # a repeat adds nothing
    assert len(got) == 1


async def test_records_split_over_packets_join_into_one_instance() -> None:
    joiner, got = _joiner()
    joiner(_packet(PTR), ("198.18.0.9", 5353))
    assert got == []  # SRV and TXT may still come
    joiner(_packet(SRV, TXT), ("198.18.0.9", 5353))
    (obs,) = got
    assert obs.fields["instance"] == "cam 1"
    assert obs.fields["service_port"] == "554"
    assert obs.fields["txt"] == "path=/"


async def test_an_incomplete_instance_is_reported_after_the_wait() -> None:
    joiner, got = _joiner(wait=0.05)
    joiner(_packet(PTR), ("198.18.0.9", 5353))
    await asyncio.sleep(0.1)
    (obs,) = got
    assert "service_port" not in obs.fields


async def test_responders_are_not_mixed() -> None:
    joiner, got = _joiner()
    joiner(_packet(PTR), ("198.18.0.9", 5353))
    joiner(_packet(SRV, TXT), ("198.18.0.10", 5353))
    joiner.flush_all()
    assert {(o.ip, "service_port" in o.fields) for o in got} == {
        ("198.18.0.9", False),
        ("198.18.0.10", True),
    }


async def test_tc_means_more_is_expected_from_that_responder() -> None:
    joiner, _ = _joiner(wait=0.5)
    assert joiner.expecting_more() == 0.0
    joiner(_packet(PTR, truncated=True), ("198.18.0.9", 5353))
    assert 0.4 < joiner.expecting_more() <= 0.5


async def test_queries_and_garbage_are_ignored() -> None:
    joiner, got = _joiner()
    joiner(mdns.build_query(["_rtsp._tcp.local"], unicast_response=False), ("198.18.0.9", 5353))
    joiner(b"\xff" * 7, ("198.18.0.9", 5353))
    joiner.flush_all()
    assert got == []
    assert joiner.responders == {}
