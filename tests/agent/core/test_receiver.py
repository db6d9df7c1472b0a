"""The discovery receive path: a burst sent while the event loop is busy is heard whole.

Real UDP sockets on 127.0.0.1 (no namespace needed): a sender thread fires a
burst of answer-sized datagrams at a discovery socket while the event loop is
kept busy, as the sweep and the follow-ups keep it during a scan.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

from cctv_sentinel import limits
from cctv_sentinel.discovery.base import Addr, open_receiver, set_receive_buffer, udp_socket

ANSWER = 3_500
"""Bytes of one realistic WS-Discovery ProbeMatch (2-4 KiB)."""


def _burst(port: int, count: int, *, repeat: int = 1, size: int = ANSWER) -> threading.Thread:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for n in range(count):
                payload = n.to_bytes(4, "big") + b"x" * (size - 4)
                for _ in range(repeat):
                    out.sendto(payload, ("127.0.0.1", port))

    return threading.Thread(target=send)


def _busy(seconds: float) -> None:
    """Keep the event loop's thread busy without a blocking call (the sweep's work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_discovery_socket_asks_for_a_burst_sized_buffer() -> None:
    sock = udp_socket()
    try:
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text(encoding="ascii"))
        # Linux reports twice what it grants; as root SO_RCVBUFFORCE passes rmem_max.
        assert granted >= min(limits.DISCOVERY_RCVBUF, rmem_max)
        assert set_receive_buffer(sock, 64 * 1024) >= 64 * 1024
    finally:
        sock.close()


async def test_a_burst_while_the_loop_is_busy_is_heard_whole() -> None:
    sock = udp_socket()
    port = sock.getsockname()[1]
    heard: list[int] = []

    def handle(data: bytes, _addr: Addr) -> None:
        heard.append(int.from_bytes(data[:4], "big"))

    # A 3.5 KB datagram costs the kernel up to 8 KiB of buffer; without root a
    # host's rmem_max may grant less than DISCOVERY_RCVBUF (the CI runs as root).
    count = min(600, sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 8192)
    assert count >= 50
    receiver = open_receiver(sock, "test", limits.MAX_WSD_MESSAGE, handle)
    try:
        sender = _burst(port, count)
        sender.start()
        _busy(0.3)  # the burst arrives while nothing reads the socket
        sender.join()
        for _ in range(200):
            if len(heard) >= count:
                break
            await asyncio.sleep(0.005)
    finally:
        receiver.close()
    assert sorted(heard) == list(range(count))
    assert receiver.dropped == 0


async def test_repeats_are_handled_once_and_oversize_is_dropped() -> None:
    sock = udp_socket()
    port = sock.getsockname()[1]
    heard: list[bytes] = []
    receiver = open_receiver(sock, "test", 2_000, lambda data, _addr: heard.append(data))
    try:
        same = _burst(port, 20, repeat=3, size=1_000)
        same.start()
        same.join()
        big = _burst(port, 1, size=2_001)
        big.start()
        big.join()
        for _ in range(100):
            if receiver.received >= 61:
                break
            await asyncio.sleep(0.005)
        receiver.drain()
    finally:
        receiver.close()
    assert len(heard) == 20
    assert len(set(heard)) == 20
    assert receiver.repeats == 40
    assert receiver.dropped == 1


async def test_parsing_yields_to_the_loop_between_batches() -> None:
    sock = udp_socket()
    port = sock.getsockname()[1]
    turns: list[int] = []
    ticks = 0

    def handle(_data: bytes, _addr: Addr) -> None:
        turns.append(ticks)

    receiver = open_receiver(sock, "test", 2_000, handle)
    try:
        sender = _burst(port, 4 * limits.UDP_HANDLE_BATCH, size=100)
        sender.start()
        sender.join()
        for _ in range(200):
            ticks += 1
            await asyncio.sleep(0)
            if len(turns) >= 4 * limits.UDP_HANDLE_BATCH:
                break
    finally:
        receiver.close()
    assert len(turns) == 4 * limits.UDP_HANDLE_BATCH
    # No more than one batch is parsed per loop turn: other work runs in between.
    assert max(turns.count(t) for t in set(turns)) <= limits.UDP_HANDLE_BATCH
    assert receiver.is_closing()
