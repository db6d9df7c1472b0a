"""Keeps the broker's retained state equal to the agent's, publishing only what changed.

The agent says what each retained topic *should* hold (:meth:`Publisher.retain`;
an empty payload removes the topic) and queues events (:meth:`Publisher.send`).
One sender task publishes with QoS 1 over a window of unacknowledged messages
and marks a topic clean only when the broker acknowledged exactly the payload
that is still wanted. After every (re)connection everything retained is sent
again, because a restarted broker may have lost it; events not yet
acknowledged are sent again too, in order, so nothing is lost or duplicated
in the retained state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Final, Protocol

from cctv_sentinel.errors import MqttError

_LOG = logging.getLogger(__name__)

WINDOW: Final = 64
"""Messages in flight at once: enough to fill a LAN round trip many times over,
small enough that a lost connection leaves little to resend."""

MAX_EVENTS: Final = 1000
"""Events kept while the broker is away; beyond this the oldest are dropped (and counted)."""


class Transport(Protocol):
    """What the publisher needs from the MQTT client."""

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        ...

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and wait for the broker's acknowledgement."""
        ...


@dataclass(slots=True)
class _Event:
    seq: int
    topic: str
    payload: bytes


class Publisher:
    """Desired retained state, what the broker has acknowledged, and the sender task."""

    def __init__(
        self,
        transport: Transport,
        *,
        window: int = WINDOW,
        max_events: int = MAX_EVENTS,
        order: Callable[[str], int] | None = None,
    ) -> None:
        self._transport = transport
        self._window = asyncio.Semaphore(window)
        self._max_events = max_events
        self._order = order or (lambda _topic: 0)
        self._desired: dict[str, bytes] = {}
        self._acked: dict[str, bytes] = {}
        self._dirty: dict[str, None] = {}
        self._inflight: set[str] = set()
        self._events: dict[int, _Event] = {}
        self._events_sending: set[int] = set()
        self._seq = 0
        self._ready = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0
        """Messages acknowledged by the broker (tests and benchmarks read it)."""
        self.dropped_events = 0

    # --- what the agent wants --------------------------------------------------------

    def retain(self, topic: str, payload: bytes) -> bool:
        """Want ``payload`` retained on ``topic`` (b"" removes it); True when that is news."""
        if self._desired.get(topic) == payload:
            return False
        self._desired[topic] = payload
        # Pending topics go out in the order of the agent's latest word on each
        # (so "clear the Home Assistant configs, then the camera" holds).
        self._dirty.pop(topic, None)
        if self._acked.get(topic) != payload:
            self._dirty[topic] = None
            self._kick()
        return True

    def desired(self, topic: str) -> bytes | None:
        """What the agent wants on a retained topic (None: nothing known)."""
        return self._desired.get(topic)

    def send(self, topic: str, payload: bytes) -> None:
        """Queue a non-retained message (event, command result), QoS 1, in order."""
        if len(self._events) >= self._max_events:
            oldest = next((s for s in self._events if s not in self._events_sending), None)
            if oldest is not None:
                del self._events[oldest]
                self.dropped_events += 1
                if self.dropped_events == 1 or self.dropped_events % 100 == 0:
                    _LOG.warning(
                        "the broker is away; %d event(s) dropped so far", self.dropped_events
                    )
        self._seq += 1
        self._events[self._seq] = _Event(self._seq, topic, payload)
        self._kick()

    @property
    def pending(self) -> int:
        """Retained topics and events not yet acknowledged."""
        return len(self._dirty) + len(self._inflight) + len(self._events)

    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    # --- connection state ------------------------------------------------------------

    def connected(self) -> None:
        """A new session: the broker may have forgotten everything, so resend it all."""
        self._ready = True
        self._acked.clear()
        topics = sorted(self._desired, key=self._order)
        self._dirty = dict.fromkeys(topics)
        if self._dirty or self._events:
            self._kick()

    def disconnected(self) -> None:
        """The session ended: hold everything until :meth:`connected`."""
        self._ready = False

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything wanted is acknowledged; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    # --- the sender --------------------------------------------------------------------

    async def run(self) -> None:
        """Publish what is pending whenever connected; runs until cancelled."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._ready and self._transport.connected:
                    job = self._next()
                    if job is None:
                        break
                    await self._window.acquire()
                    task = asyncio.create_task(job)
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)
                self._check_idle()
        finally:
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _next(self) -> Coroutine[None, None, None] | None:
        """The next publish to start: retained state first, then events in order."""
        for topic in self._dirty:
            if topic not in self._inflight:
                del self._dirty[topic]
                self._inflight.add(topic)
                return self._send_retained(topic)
        for seq, item in self._events.items():
            if seq not in self._events_sending:
                self._events_sending.add(seq)
                return self._send_event(item)
        return None

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._window.release()
        self._wake.set()  # a slot is free, or something failed and is pending again

    def _check_idle(self) -> None:
        if not self._dirty and not self._inflight and not self._events:
            self._idle.set()

    async def _send_retained(self, topic: str) -> None:
        payload = self._desired.get(topic)
        try:
            if payload is None:
                return
            try:
                await self._transport.publish(topic, payload, qos=1, retain=True)
            except MqttError as err:
                if self._ready and self._transport.connected:
                    # The broker said no (MQTT 5 reason code, or no ack in time):
                    # retrying at once would spin; the next session resends it.
                    _LOG.warning("the broker did not take %s: %s", topic, err)
                elif self._acked.get(topic) != self._desired.get(topic, payload):
                    self._dirty[topic] = None
                return
            self.published += 1
            self._acked[topic] = payload
            if payload == b"" and self._desired.get(topic) == b"":
                # The broker has dropped the topic: nothing to remember or resend.
                del self._desired[topic]
                del self._acked[topic]
            elif self._desired.get(topic) != payload:
                self._dirty[topic] = None  # it changed while in flight
        finally:
            self._inflight.discard(topic)

    async def _send_event(self, item: _Event) -> None:
        try:
            await self._transport.publish(item.topic, item.payload, qos=1, retain=False)
        except MqttError as err:
            if self._ready and self._transport.connected:
                _LOG.warning("the broker did not take a message on %s: %s", item.topic, err)
                self._events.pop(item.seq, None)  # refused for good: resending cannot help
            return
        finally:
            self._events_sending.discard(item.seq)
        self.published += 1
        self._events.pop(item.seq, None)
