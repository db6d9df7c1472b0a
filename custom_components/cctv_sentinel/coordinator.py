"""One agent, followed over MQTT: the parts put together and the order things happen in.

* :mod:`.ingest` subscribes and checks every payload,
* :mod:`.state` holds what the agent said,
* :mod:`.devices` keeps the device registry in step,
* :mod:`.memory` remembers across restarts which cameras alerted,
* :mod:`.events` fires the per-camera events automations use,
* :mod:`.alerts` raises repairs and the notification,
* :mod:`.commands` sends commands and waits for their results,
* entities hear of changes through the dispatcher signals in :mod:`.signals`.

Everything runs in slices (:mod:`.pacing`): the MQTT callbacks queue, and each
slice (the agents working at a time share 10 ms per loop turn) handles queued
messages, then adds the entities of new cameras (one camera at a time), then
writes the state of cameras that changed
(each camera once, however often it changed). Work that depends on all cameras
(alerts, the agent's counts) runs once the queue is empty, and at most once per
:data:`SUMMARY_INTERVAL` during a long burst, so a scan of a thousand cameras
costs a thousand small updates and a few big ones, and the loop is never held.
"""

from __future__ import annotations

import logging
from typing import Final

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send

from . import signals
from .alerts import Alerts, notification_id
from .commands import CommandChannel
from .const import (
    CONF_AGENT_ID,
    CONF_BASE_TOPIC,
    CONF_COMMAND_SECRET,
    DOMAIN,
    ISSUE_TOO_MANY_CAMERAS,
    RELAYED_AGENT_EVENTS,
)
from .devices import DeviceSync, RegistryDevice, camera_id_of
from .estate import estate_of
from .events import Events
from .ingest import Ingest
from .memory import Memory, memory_store
from .models import AgentEvent, AgentInfo, Camera, CommandResult, agent_topics
from .pacing import Pacer
from .policy import Policy
from .state import AgentState
from .text import markdown

_LOGGER = logging.getLogger(__package__)

type SentinelConfigEntry = ConfigEntry[SentinelCoordinator]

MAX_CAMERAS: Final = 4096
"""Most cameras one agent may report; past this a misbehaving publisher is ignored
instead of filling the device registry."""

SUMMARY_INTERVAL: Final = 1.0
"""Seconds between refreshes of alerts and agent counts while a burst is still queued."""


async def async_forget_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete an entry's memory and dismiss its notification (the entry is being removed)."""
    persistent_notification.async_dismiss(hass, notification_id(entry.data[CONF_AGENT_ID]))
    await memory_store(hass, entry).async_remove()


class SentinelCoordinator:
    """Keeps one agent's state from MQTT and tells entities, alerts and automations."""

    def __init__(self, hass: HomeAssistant, entry: SentinelConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        agent_id: str = entry.data[CONF_AGENT_ID]
        self.agent_id = agent_id
        self.base_topic: str = entry.data[CONF_BASE_TOPIC]
        self.topics = agent_topics(self.base_topic, agent_id)
        self.state = AgentState(
            agent_id=agent_id, name=entry.title, policy=Policy.from_options(entry.options)
        )
        self.devices = DeviceSync(hass, entry.entry_id, agent_id)
        self.memory = Memory(hass, entry)
        self.events = Events(hass, entry.entry_id, self.state, self.devices, self.memory)
        self.alerts = Alerts(hass, entry.entry_id, self.state)
        self.commands = CommandChannel(
            hass, self.topics.command, entry.title, lambda: entry.options.get(CONF_COMMAND_SECRET)
        )
        self.ingest = Ingest(hass, entry, agent_id, self.topics)
        self.estate = estate_of(hass)
        self.pacer = Pacer(hass, entry, self._work, self.estate.pacers)
        self._cap_issue = False
        self._added: dict[str, None] = {}
        """Cameras whose entities are still to be added, in order."""
        self._changed: dict[str, None] = {}
        """Cameras whose entities are still to write their state, in order."""
        self._summary_due = False
        self._summary_at = 0.0
        self._ever_available = False
        self._logged_unavailable = False

    # --- life cycle ------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The agent's display name."""
        return self.entry.title

    @property
    def entry_id(self) -> str:
        """The agent's config entry."""
        return self.entry.entry_id

    @property
    def cameras(self) -> dict[str, Camera]:
        """The cameras the agent reports, by id."""
        return self.state.cameras

    @property
    def cap_issue_id(self) -> str:
        """The id of the "too many cameras" repair."""
        return f"{ISSUE_TOO_MANY_CAMERAS}_{self.agent_id}"

    async def async_load(self) -> None:
        """Restore the memory, register the agent's device, join the estate (before platforms)."""
        await self.memory.async_load()
        self.devices.agent(self.name, None)
        self.estate.join(self)

    async def async_subscribe(self) -> None:
        """Subscribe, after the platforms are set up: entities exist before retained state."""
        await self.ingest.async_subscribe(self)
        self.entry.async_on_unload(
            self.hass.bus.async_listen(
                ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED, self._on_issue_registry_updated
            )
        )

    @callback
    def _on_issue_registry_updated(self, event: Event[ir.EventIssueRegistryUpdatedData]) -> None:
        data = event.data
        if (
            data["action"] == "remove"
            and data["domain"] == DOMAIN
            and data["issue_id"] in self.alerts.issue_ids
        ):
            self.alerts.forget(data["issue_id"])

    async def async_stop(self) -> None:
        """Fail pending commands, withdraw repairs and write the memory to disk."""
        await self.pacer.async_stop()
        self.estate.leave(self)
        async_dispatcher_send(self.hass, signals.estate_updated())
        if self._cap_issue:
            ir.async_delete_issue(self.hass, DOMAIN, self.cap_issue_id)
        self.commands.async_fail_all()
        self.alerts.clear_all()
        self.ingest.async_stop()
        await self.memory.async_save()

    # --- slices (see pacing) ------------------------------------------------------------

    @callback
    def wake(self) -> None:
        """Messages are queued (ingest.Handler)."""
        self.pacer.wake()

    @callback
    def _work(self, deadline: float) -> bool:
        """One slice: messages, then new entities, then state writes, then the summary.

        A slice lasts until ``deadline`` plus at most one message, one camera's new
        entities and one camera's state writes.
        """
        clock = self.hass.loop.time
        busy = self.ingest.drain(deadline) if self.ingest.pending else False
        added, changed = self._added, self._changed
        signal_added = signals.cameras_added(self.entry.entry_id)
        # Each kind of work moves by at least one camera per slice, whatever the clock says.
        while added:
            camera_id = next(iter(added))
            del added[camera_id]
            async_dispatcher_send(self.hass, signal_added, [camera_id])
            if clock() >= deadline:
                break
        while changed:
            camera_id = next(iter(changed))
            del changed[camera_id]
            async_dispatcher_send(self.hass, signals.camera_updated(self.entry.entry_id, camera_id))
            if clock() >= deadline:
                break
        busy = busy or bool(self.ingest.pending or added or changed)
        if self._summary_due and (not busy or clock() - self._summary_at >= SUMMARY_INTERVAL):
            self._summary_due = False
            self._summary_at = clock()
            async_dispatcher_send(self.hass, signals.agent_updated(self.entry.entry_id))
            self.estate.changed()
            async_dispatcher_send(self.hass, signals.estate_updated())
            self.alerts.sync()
        return busy or self._summary_due

    @callback
    def _due(self) -> None:
        """The counts and alerts are to be brought up to date."""
        self._summary_due = True
        self.pacer.wake()

    @callback
    def _refresh_all(self) -> None:
        """Availability or the policy changed: every entity writes its state, in slices."""
        self._changed.update(dict.fromkeys(self.state.cameras))
        self._due()

    # --- availability (ingest.Handler) ---------------------------------------------------

    @callback
    def on_connection(self, connected: bool) -> None:
        """Home Assistant's broker connection changed."""
        changed = connected != self.state.mqtt_connected
        self.state.mqtt_connected = connected
        self._availability_changed(changed=changed)

    @callback
    def on_status(self, online: bool) -> None:
        """The agent said online or offline."""
        changed = online != self.state.agent_online
        self.state.agent_online = online
        self._availability_changed(changed=changed)

    @callback
    def _availability_changed(self, *, changed: bool) -> None:
        """Log availability changes once each way; tell every entity about any change."""
        state = self.state
        if state.available:
            if self._logged_unavailable:
                _LOGGER.info("CCTV Sentinel agent %s is available again", self.name)
                self._logged_unavailable = False
            self._ever_available = True
        elif not self._logged_unavailable and (self._ever_available or state.agent_online is False):
            why = "MQTT is disconnected" if not state.mqtt_connected else "the agent is offline"
            _LOGGER.info("CCTV Sentinel agent %s is unavailable: %s", self.name, why)
            self._logged_unavailable = True
        if changed:
            self._refresh_all()

    # --- state (ingest.Handler) ------------------------------------------------------------

    @callback
    def on_info(self, info: AgentInfo, *, retained: bool) -> None:
        """The agent's info: its device, isolation capability, and stale cameras."""
        previous, self.state.info = self.state.info, info
        if previous is None or previous.version != info.version:
            self.devices.agent(self.name, info.version)
        if previous is None or bool(previous.isolation.backends) != self.state.has_isolation:
            # Platforms that depend on isolation look at every camera again.
            self._added.update(dict.fromkeys(self.state.cameras))
            self._refresh_all()
        self._due()
        # A live (not retained) info with a new finished scan means the agent has
        # published every camera it knows: devices it no longer reports are stale.
        if (
            not retained
            and previous is not None
            and info.scan.last_finished is not None
            and info.scan.last_finished != previous.scan.last_finished
        ):
            self._remove_stale()

    @callback
    def on_camera(self, camera: Camera) -> bool:
        """One camera's state: device, events, entities."""
        camera_id = camera.camera_id
        new = camera_id not in self.state.cameras
        if new and len(self.state.cameras) >= MAX_CAMERAS:
            self._refuse_camera(f"more than {MAX_CAMERAS} cameras from this agent", MAX_CAMERAS)
            return False
        if new and not self.estate.admit(camera_id):
            limit = self.estate.limit
            self._refuse_camera(f"more than {limit} cameras across all agents", limit)
            return False
        self.state.cameras[camera_id] = camera
        self.devices.camera(camera, self.state.policy)
        if self.events.track(camera):
            self.alerts.detected()
        if new:
            self._added[camera_id] = None
        elif camera_id not in self._added:
            self._changed[camera_id] = None
        self._due()
        return True

    @callback
    def _refuse_camera(self, problem: str, limit: int) -> None:
        """A new camera past a cap: logged, and a repair says the picture is incomplete."""
        self.ingest.refuse("camera", problem)
        if not self._cap_issue:
            self._cap_issue = True
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.cap_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_TOO_MANY_CAMERAS,
                translation_placeholders={"agent": markdown(self.name), "limit": str(limit)},
            )

    @callback
    def _drop(self, camera_id: str) -> None:
        if self.state.cameras.pop(camera_id, None) is not None:
            self.estate.release(camera_id)

    @callback
    def on_camera_removed(self, camera_id: str) -> None:
        """The agent removed a camera: its state, memory and device go."""
        self._drop(camera_id)
        self.memory.forget(camera_id)
        self.devices.remove(camera_id)
        self._gone(camera_id)

    @callback
    def on_event(self, event: AgentEvent) -> None:
        """Relay the agent's isolation events (the others are derived from state)."""
        if event.type in RELAYED_AGENT_EVENTS:
            self.events.relay(event)

    @callback
    def on_command_result(self, result: CommandResult) -> None:
        """Hand a command result to the command waiting for it."""
        self.commands.async_handle_result(result)

    @callback
    def _remove_stale(self) -> None:
        for camera_id in self.devices.registered_cameras() - set(self.state.cameras):
            _LOGGER.debug("Removing camera %s: the agent no longer reports it", camera_id)
            self.on_camera_removed(camera_id)
        for camera_id in [key for key in self.memory.known if key not in self.state.cameras]:
            self.memory.forget(camera_id)

    # --- what people do -------------------------------------------------------------------

    @callback
    def async_forget_camera(self, camera_id: str) -> bool:
        """Let a person delete a camera device; refuse while the agent still reports it."""
        camera = self.state.cameras.get(camera_id)
        if camera is not None and camera.state == "present":
            return False
        self._drop(camera_id)
        self.devices.forget(camera_id)
        self.memory.forget(camera_id)
        self._gone(camera_id)
        return True

    @callback
    def _gone(self, camera_id: str) -> None:
        """A camera left (its entities went with its device): platforms may add it anew."""
        self._added.pop(camera_id, None)
        self._changed.pop(camera_id, None)
        async_dispatcher_send(self.hass, signals.cameras_removed(self.entry.entry_id), [camera_id])
        self._due()

    @callback
    def async_apply_options(self) -> None:
        """Re-evaluate every camera after the user changed the policy."""
        previous, self.state.policy = self.state.policy, Policy.from_options(self.entry.options)
        if previous.show_serial != self.state.policy.show_serial:
            if not self.state.policy.show_serial:
                self.devices.hide_serials()
            for camera in self.state.cameras.values():
                self.devices.camera(camera, self.state.policy)
        for camera in list(self.state.cameras.values()):
            if self.events.track(camera):
                self.alerts.detected()
        self._refresh_all()

    def camera_id_of(self, device: RegistryDevice) -> str | None:
        """The camera id of one of our camera devices, or None (other devices, the agent)."""
        return camera_id_of(self.agent_id, device.identifiers)

    def is_agent_device(self, device: RegistryDevice) -> bool:
        """True for this agent's own device."""
        return (DOMAIN, self.agent_id) in device.identifiers

    async def async_command(
        self,
        command: str,
        *,
        camera_id: str | None = None,
        mode: str | None = None,
        reason: str | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
    ) -> CommandResult:
        """Send a command to the agent; raise HomeAssistantError unless it succeeds."""
        return await self.commands.async_send(
            command,
            available=self.state.available,
            camera_id=camera_id,
            mode=mode,
            reason=reason,
            user_id=user_id,
            user_name=user_name,
        )
