"""Subscriptions and payloads: what arrives on one agent's topics, checked, then handed on.

The MQTT callbacks only queue (see :mod:`.pacing`): info, camera states and events
are parsed and handed on by :meth:`Ingest.drain`, in arrival order, a slice at a
time. Every message is handled (a camera that flips and flips back within one
burst still fires both events). Status and command results are handled at once
(they are few and cheap).

Nothing here raises inside an MQTT callback: a payload that breaks the contract
is logged (a warning the first time per kind, then debug) and dropped; one from a
newer contract version raises a (non-fixable) repair until a good one arrives.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, ISSUE_UNSUPPORTED_SCHEMA
from .models import (
    AgentEvent,
    AgentInfo,
    Camera,
    CommandResult,
    PayloadError,
    Topics,
    UnsupportedSchemaError,
    parse_camera,
    parse_command_result,
    parse_event,
    parse_info,
    parse_status,
)
from .text import markdown, plain

_LOGGER = logging.getLogger(__package__)

QOS: Final = 1
"""Subscriptions at QoS 1: the agent publishes state and events at QoS 1."""
MAX_QUEUED: Final = 8192
"""Most messages waiting for their slice; past this a flood is dropped, not stored
(twice the cameras one agent may report: a full rescan fits with room to spare)."""

type Job = tuple[Callable[[mqtt.ReceiveMessage], None], mqtt.ReceiveMessage]


class Handler(Protocol):
    """What the entry does with checked payloads."""

    def on_connection(self, connected: bool) -> None:
        """Home Assistant's own broker connection went up or down."""

    def on_status(self, online: bool) -> None:
        """The agent's status (an empty retained status counts as offline)."""

    def on_info(self, info: AgentInfo, *, retained: bool) -> None:
        """The agent's info."""

    def on_camera(self, camera: Camera) -> bool:
        """A camera's state; False when it is refused (the entry is full)."""

    def on_camera_removed(self, camera_id: str) -> None:
        """The agent cleared a camera's retained state."""

    def on_event(self, event: AgentEvent) -> None:
        """An agent event."""

    def on_command_result(self, result: CommandResult) -> None:
        """The answer to a command."""

    def wake(self) -> None:
        """Messages are queued: call :meth:`Ingest.drain` soon."""


class Ingest:
    """Owns one agent's subscriptions."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, agent_id: str, topics: Topics
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.agent_id = agent_id
        self.topics = topics
        self._handler: Handler | None = None
        self._warned: set[str] = set()
        self._schema_issue = False
        self._queue: deque[Job] = deque()
        """Messages waiting for their slice, in arrival order."""

    @property
    def schema_issue_id(self) -> str:
        """The id of the "agent is newer" repair."""
        return f"{ISSUE_UNSUPPORTED_SCHEMA}_{self.agent_id}"

    async def async_subscribe(self, handler: Handler) -> None:
        """Follow the broker connection and the agent's topics; unsubscribed on unload."""
        self._handler = handler
        handler.on_connection(mqtt.is_connected(self.hass))
        self.entry.async_on_unload(
            mqtt.async_subscribe_connection_status(self.hass, handler.on_connection)
        )
        subscriptions: tuple[tuple[str, Callable[[mqtt.ReceiveMessage], None]], ...] = (
            (self.topics.status, self._on_status),
            (self.topics.info, self._queued(self._on_info)),
            (self.topics.camera, self._queued(self._on_camera)),
            (self.topics.event, self._queued(self._on_event)),
            (self.topics.command_result, self._on_command_result),
        )
        for topic, callback_ in subscriptions:
            self.entry.async_on_unload(await mqtt.async_subscribe(self.hass, topic, callback_, QOS))

    @property
    def pending(self) -> bool:
        """True while messages wait for :meth:`drain`."""
        return bool(self._queue)

    @callback
    def drain(self, deadline: float) -> bool:
        """Handle queued messages in order until the loop's clock passes ``deadline``.

        At least one is handled per call; True when some are left.
        """
        queue = self._queue
        clock = self.hass.loop.time
        while queue:
            handle, msg = queue.popleft()
            handle(msg)
            if clock() >= deadline:
                break
        return bool(queue)

    def _queued(
        self, handle: Callable[[mqtt.ReceiveMessage], None]
    ) -> Callable[[mqtt.ReceiveMessage], None]:
        """An MQTT callback that queues the message for ``handle``."""

        @callback
        def queue(msg: mqtt.ReceiveMessage) -> None:
            assert self._handler is not None
            if len(self._queue) >= MAX_QUEUED:
                self.refuse("queued", f"more than {MAX_QUEUED} messages waiting")
                return
            self._queue.append((handle, msg))
            self._handler.wake()

        return queue

    @callback
    def async_stop(self) -> None:
        """Drop what is queued; withdraw the schema repair (it cannot be fixed while unloaded)."""
        self._queue.clear()
        if self._schema_issue:
            self._schema_issue = False
            ir.async_delete_issue(self.hass, DOMAIN, self.schema_issue_id)

    @callback
    def refuse(self, kind: str, problem: str) -> None:
        """Log a payload that breaks the contract (also for the handler's own checks)."""
        self._bad_payload(kind, PayloadError(problem))

    # --- callbacks ---------------------------------------------------------------------

    @callback
    def _on_status(self, msg: mqtt.ReceiveMessage) -> None:
        assert self._handler is not None
        if not msg.payload:
            self._handler.on_status(False)  # someone cleared it: offline
            return
        try:
            online = parse_status(msg.payload)
        except PayloadError as err:
            self._bad_payload("status", err)
            return
        self._handler.on_status(online)

    @callback
    def _on_info(self, msg: mqtt.ReceiveMessage) -> None:
        assert self._handler is not None
        if not msg.payload:
            return  # a retired agent clears its info; its cameras are cleared one by one
        try:
            info = parse_info(msg.payload)
        except PayloadError as err:
            self._bad_payload("info", err)
            return
        if info.agent_id != self.agent_id:
            self.refuse("info", f"info of agent {info.agent_id!r}")
            return
        self._payload_ok()
        self._handler.on_info(info, retained=msg.retain)

    @callback
    def _on_camera(self, msg: mqtt.ReceiveMessage) -> None:
        assert self._handler is not None
        camera_id = self.topics.camera_id(msg.topic)
        if camera_id is None:
            self.refuse("camera", f"unexpected camera topic {msg.topic!r}")
            return
        if not msg.payload:
            self._handler.on_camera_removed(camera_id)
            return
        try:
            camera = parse_camera(msg.payload)
        except PayloadError as err:
            self._bad_payload("camera", err)
            return
        if camera.camera_id != camera_id:
            self.refuse("camera", f"camera {camera.camera_id!r} published on {msg.topic!r}")
            return
        if self._handler.on_camera(camera):
            self._payload_ok()

    @callback
    def _on_event(self, msg: mqtt.ReceiveMessage) -> None:
        assert self._handler is not None
        try:
            event = parse_event(msg.payload)
        except PayloadError as err:
            self._bad_payload("event", err)
            return
        self._handler.on_event(event)

    @callback
    def _on_command_result(self, msg: mqtt.ReceiveMessage) -> None:
        assert self._handler is not None
        try:
            result = parse_command_result(msg.payload)
        except PayloadError as err:
            self._bad_payload("command result", err)
            return
        self._handler.on_command_result(result)

    # --- contract violations --------------------------------------------------------------

    @callback
    def _bad_payload(self, kind: str, err: PayloadError) -> None:
        if isinstance(err, UnsupportedSchemaError) and not self._schema_issue:
            self._schema_issue = True
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.schema_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_UNSUPPORTED_SCHEMA,
                translation_placeholders={
                    "agent": markdown(self.entry.title),
                    "version": plain(str(err.version), 16),
                },
            )
        if kind in self._warned:
            _LOGGER.debug("Ignoring %s payload from agent %s: %s", kind, self.agent_id, err)
            return
        self._warned.add(kind)
        _LOGGER.warning(
            "Ignoring %s payload from CCTV Sentinel agent %s: %s "
            "(further problems of this kind are logged at debug level)",
            kind,
            self.agent_id,
            err,
        )

    @callback
    def _payload_ok(self) -> None:
        if self._schema_issue:
            self._schema_issue = False
            ir.async_delete_issue(self.hass, DOMAIN, self.schema_issue_id)
