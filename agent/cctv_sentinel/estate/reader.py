"""Read every agent's retained state from one broker (the central one of an estate).

One subscription to ``<base>/#``: the broker hands over every retained message
right after the SUBACK, and the read ends once no retained message has come for
``quiet`` seconds (or at ``timeout``). Live, non-retained messages (events,
command results) are not state and are ignored. Progress is reported to a
callback (the command line draws it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cctv_sentinel.errors import MqttError
from cctv_sentinel.estate.model import MAX_PAYLOAD
from cctv_sentinel.mqtt.client import MqttClient, MqttSettings

MAX_RETAINED: int = 200_000
"""Messages read at most (20 agents x 500 cameras is 10,000); beyond, the read stops and says so."""


class EstateReadError(MqttError):
    """The broker could not be reached or read (exit 2: the command cannot do its job)."""


@dataclass
class Retained:
    """What a read brought: topic -> payload, and how many payloads were too large to keep."""

    messages: dict[str, bytes]
    oversize: int = 0


@dataclass
class _Collector:
    """Keeps retained messages as they arrive (bounded), and when the last one came."""

    progress: Callable[[int, int, bool], None] | None
    retained: dict[str, bytes] = field(default_factory=dict)
    oversize: int = 0
    cameras: int = 0
    last: float = field(default_factory=time.monotonic)

    def on_message(self, topic: str, payload: bytes, is_retained: bool) -> None:
        if not is_retained or len(self.retained) >= MAX_RETAINED:
            return
        self.last = time.monotonic()
        if len(payload) > MAX_PAYLOAD:
            self.oversize += 1
            self.retained.pop(topic, None)
        elif payload:
            if topic not in self.retained and "/camera/" in topic:
                self.cameras += 1
            self.retained[topic] = payload
        if self.progress is not None:
            self.progress(len(self.retained), self.cameras, False)


async def _connect_once(client: MqttClient, settings: MqttSettings, timeout: float) -> None:
    """Wait for the first connection attempt; raise EstateReadError if it fails.

    A report that cannot reach its broker says so at once instead of retrying
    with backoff as the service does.
    """
    connect_by = time.monotonic() + min(timeout, settings.connect_timeout)
    while not client.connected and client.last_error is None:
        if time.monotonic() >= connect_by:
            break
        await asyncio.sleep(0.05)
    if not client.connected:
        why = client.last_error or "no answer"
        raise EstateReadError(f"cannot read the estate from {settings.url}: {why}")


async def read_retained(
    settings: MqttSettings,
    base: str,
    *,
    quiet: float = 1.0,
    timeout: float = 60.0,
    progress: Callable[[int, int, bool], None] | None = None,
) -> Retained:
    """Every retained message under ``base`` (empty ones dropped, oversize ones counted).

    Memory stays bounded whatever is on the broker: at most :data:`MAX_RETAINED`
    messages of at most :data:`~cctv_sentinel.estate.model.MAX_PAYLOAD` bytes.
    """
    collector = _Collector(progress)
    client = MqttClient(settings, on_message=collector.on_message)
    # The read reports its own connection failure (one line, exit 2); the
    # client's "retrying with backoff" warnings are for the service.
    client_log = logging.getLogger("cctv_sentinel.mqtt.client")
    level = client_log.level
    client_log.setLevel(max(level, logging.ERROR))
    runner = asyncio.create_task(client.run())
    deadline = time.monotonic() + timeout
    try:
        await _connect_once(client, settings, timeout)
        await client.subscribe(f"{base}/#")
        collector.last = time.monotonic()
        while time.monotonic() < deadline and len(collector.retained) < MAX_RETAINED:
            idle = time.monotonic() - collector.last
            if idle >= quiet:
                break
            await asyncio.sleep(min(quiet - idle, 0.1))
    finally:
        await client.disconnect()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        client_log.setLevel(level)
    if progress is not None:
        progress(len(collector.retained), collector.cameras, True)
    return Retained(collector.retained, collector.oversize)
