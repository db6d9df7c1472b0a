"""One agent's state, kept current from MQTT: the integration's push coordinator.

The coordinator owns every subscription and every publish for one config entry
(one agent). It parses payloads through :mod:`.models`, keeps the cameras the
agent reports, keeps the device registry in step with them, derives the events
automations rely on, and tells entities when to write their state. Nothing in it
raises inside an MQTT callback: bad payloads are logged (once per kind) and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from homeassistant.components import mqtt, persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store

from .alerts import Alerts, notification_id
from .commands import CommandChannel
from .const import (
    CONF_AGENT_ID,
    CONF_BASE_TOPIC,
    DOMAIN,
    EVENT_CAMERA_FOUND,
    EVENT_CCTV_SENTINEL,
    EVENT_RESTRICTED_CLEARED,
    EVENT_RESTRICTED_DETECTED,
    ISSUE_UNSUPPORTED_SCHEMA,
    RELAYED_AGENT_EVENTS,
)
from .devices import DeviceFields, agent_device, camera_device, camera_id_of, camera_name
from .models import (
    AgentEvent,
    AgentInfo,
    Camera,
    CommandResult,
    PayloadError,
    Regime,
    UnsupportedSchemaError,
    agent_topics,
    parse_camera,
    parse_command_result,
    parse_event,
    parse_info,
    parse_status,
)
from .policy import Policy

_LOGGER = logging.getLogger(__package__)

type SentinelConfigEntry = ConfigEntry[SentinelCoordinator]
type EventListener = Callable[[str, dict[str, Any]], None]

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 5.0
"""Seconds to batch writes of the known-camera memory (a scan changes many at once)."""
MAX_CAMERAS: Final = 4096
"""Most cameras one agent may report; past this a misbehaving publisher is ignored
instead of filling the device registry."""
QOS: Final = 1
"""Subscriptions at QoS 1: the agent publishes state and events at QoS 1."""


def memory_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where an entry remembers which cameras it has seen and which alerted."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")


async def async_forget_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete an entry's memory and dismiss the notifications it may have raised."""
    store = memory_store(hass, entry)
    stored = await store.async_load()
    cameras = stored.get("cameras") if stored else None
    for camera_id in cameras if isinstance(cameras, dict) else ():
        persistent_notification.async_dismiss(
            hass, notification_id(entry.data[CONF_AGENT_ID], str(camera_id))
        )
    await store.async_remove()


class SentinelCoordinator:
    """Keeps one agent's state from MQTT and tells entities, alerts and automations."""

    def __init__(self, hass: HomeAssistant, entry: SentinelConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.agent_id: str = entry.data[CONF_AGENT_ID]
        self.base_topic: str = entry.data[CONF_BASE_TOPIC]
        self.topics = agent_topics(self.base_topic, self.agent_id)
        self.policy = Policy.from_options(entry.options)
        self.alerts = Alerts(hass, self)
        self.mqtt_connected = False
        self.agent_online: bool | None = None
        """None until the agent's status topic has been heard."""
        self.info: AgentInfo | None = None
        self.cameras: dict[str, Camera] = {}
        self.device_ids: dict[str, str] = {}
        """camera id → device-registry id."""
        self.agent_device_id = ""
        """The agent's device-registry id (set by :meth:`async_load`)."""
        self._listeners: dict[str | None, list[CALLBACK_TYPE]] = {}
        self._structure_listeners: list[CALLBACK_TYPE] = []
        self._event_listeners: list[EventListener] = []
        self.commands = CommandChannel(hass, self.topics.command, self.name)
        self._store = memory_store(hass, entry)
        self._known: dict[str, bool] = {}
        """camera id → alerting, remembered across restarts so events fire only on change."""
        self._warned: set[str] = set()
        self._ever_available = False
        self._logged_unavailable = False
        self._schema_issue = False

    # --- life cycle ------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The agent's display name."""
        return self.entry.title

    @property
    def available(self) -> bool:
        """True when Home Assistant's MQTT is connected and the agent says it is online."""
        return self.mqtt_connected and self.agent_online is True

    @property
    def has_isolation(self) -> bool:
        """True when the agent reports at least one isolation backend."""
        return self.info is not None and bool(self.info.isolation.backends)

    @property
    def regimes(self) -> dict[str, Regime]:
        """Every regime the agent has mentioned, by id."""
        found: dict[str, Regime] = {}
        if self.info is not None:
            found.update((regime.id, regime) for regime in self.info.regimes)
        for camera in self.cameras.values():
            found.update((regime.id, regime) for regime in camera.regimes)
        return found

    async def async_load(self) -> None:
        """Restore the known-camera memory and register the agent's device."""
        stored = await self._store.async_load()
        if stored and isinstance(stored.get("cameras"), dict):
            self._known = {
                str(key): bool(value.get("alerting"))
                for key, value in stored["cameras"].items()
                if isinstance(value, dict)
            }
        self._update_agent_device()

    async def async_subscribe(self) -> None:
        """Follow Home Assistant's MQTT connection and subscribe to the agent's topics.

        Called after the platforms are set up, so that entities exist before the
        retained state arrives and no event is lost.
        """
        self.mqtt_connected = mqtt.is_connected(self.hass)
        self.entry.async_on_unload(
            mqtt.async_subscribe_connection_status(self.hass, self._on_connection)
        )
        handlers: tuple[tuple[str, Callable[[mqtt.ReceiveMessage], None]], ...] = (
            (self.topics.status, self._on_status),
            (self.topics.info, self._on_info),
            (self.topics.camera, self._on_camera),
            (self.topics.event, self._on_event),
            (self.topics.command_result, self._on_command_result),
        )
        for topic, handler in handlers:
            self.entry.async_on_unload(await mqtt.async_subscribe(self.hass, topic, handler, QOS))

    async def async_stop(self) -> None:
        """Fail pending commands, withdraw repairs and write the memory to disk."""
        self.commands.async_fail_all()
        self.alerts.clear_all()
        if self._schema_issue:
            ir.async_delete_issue(self.hass, DOMAIN, self._schema_issue_id)
        await self._store.async_save(self._store_data())

    # --- listeners --------------------------------------------------------------------

    @callback
    def async_add_listener(
        self, update_callback: CALLBACK_TYPE, camera_id: str | None = None
    ) -> CALLBACK_TYPE:
        """Call back when the agent (camera_id None) or one camera changes."""
        listeners = self._listeners.setdefault(camera_id, [])
        listeners.append(update_callback)

        @callback
        def remove() -> None:
            listeners.remove(update_callback)
            if not listeners:
                self._listeners.pop(camera_id, None)

        return remove

    @callback
    def async_add_structure_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call back when cameras appear or the agent's isolation capability changes."""
        self._structure_listeners.append(update_callback)
        return lambda: self._structure_listeners.remove(update_callback)

    @callback
    def async_add_event_listener(self, listener: EventListener) -> CALLBACK_TYPE:
        """Call back with (event type, data) for every event this integration fires."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def _notify(self, camera_id: str | None = None, *, everyone: bool = False) -> None:
        keys: list[str | None] = list(self._listeners) if everyone else [None, camera_id]
        for key in dict.fromkeys(keys):
            for update_callback in list(self._listeners.get(key, ())):
                update_callback()

    @callback
    def _structure_changed(self) -> None:
        for update_callback in list(self._structure_listeners):
            update_callback()

    # --- availability ----------------------------------------------------------------

    @callback
    def _on_connection(self, connected: bool) -> None:
        changed = connected != self.mqtt_connected
        self.mqtt_connected = connected
        self._update_availability(changed=changed)

    @callback
    def _on_status(self, msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload:
            # An empty retained status means someone cleared it: treat as offline.
            online = False
        else:
            try:
                online = parse_status(msg.payload)
            except PayloadError as err:
                self._bad_payload("status", err)
                return
        changed = online != self.agent_online
        self.agent_online = online
        self._update_availability(changed=changed)

    @callback
    def _update_availability(self, *, changed: bool) -> None:
        """Log availability changes once each way; tell every entity about any change."""
        if self.available:
            if self._logged_unavailable:
                _LOGGER.info("CCTV Sentinel agent %s is available again", self.name)
                self._logged_unavailable = False
            self._ever_available = True
        elif not self._logged_unavailable and (self._ever_available or self.agent_online is False):
            why = "MQTT is disconnected" if not self.mqtt_connected else "the agent is offline"
            _LOGGER.info("CCTV Sentinel agent %s is unavailable: %s", self.name, why)
            self._logged_unavailable = True
        if changed:
            self._notify(everyone=True)

    # --- payloads --------------------------------------------------------------------

    @property
    def _schema_issue_id(self) -> str:
        return f"{ISSUE_UNSUPPORTED_SCHEMA}_{self.agent_id}"

    @callback
    def _bad_payload(self, kind: str, err: PayloadError) -> None:
        """Log a contract violation: a warning the first time per kind, then debug."""
        if isinstance(err, UnsupportedSchemaError) and not self._schema_issue:
            self._schema_issue = True
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._schema_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_UNSUPPORTED_SCHEMA,
                translation_placeholders={"agent": self.name, "version": str(err.version)},
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
            ir.async_delete_issue(self.hass, DOMAIN, self._schema_issue_id)

    @callback
    def _on_info(self, msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload:
            return  # a retired agent clears its info; its cameras are cleared one by one
        try:
            info = parse_info(msg.payload)
        except PayloadError as err:
            self._bad_payload("info", err)
            return
        if info.agent_id != self.agent_id:
            self._bad_payload("info", PayloadError(f"info of agent {info.agent_id!r}"))
            return
        self._payload_ok()
        previous, self.info = self.info, info
        self._update_agent_device()
        if previous is None or bool(previous.isolation.backends) != self.has_isolation:
            self._structure_changed()
            self._notify(everyone=True)
        else:
            self._notify(None)
        # A live (not retained) info with a new finished scan means the agent has
        # published every camera it knows: devices it no longer reports are stale.
        if (
            not msg.retain
            and previous is not None
            and info.scan.last_finished is not None
            and info.scan.last_finished != previous.scan.last_finished
        ):
            self._remove_stale_devices()

    @callback
    def _on_camera(self, msg: mqtt.ReceiveMessage) -> None:
        camera_id = self.topics.camera_id(msg.topic)
        if camera_id is None:
            self._bad_payload("camera", PayloadError(f"unexpected camera topic {msg.topic!r}"))
            return
        if not msg.payload:
            self._remove_camera(camera_id)
            return
        try:
            camera = parse_camera(msg.payload)
        except PayloadError as err:
            self._bad_payload("camera", err)
            return
        problem = None
        if camera.camera_id != camera_id:
            problem = f"camera {camera.camera_id!r} published on {msg.topic!r}"
        elif camera_id not in self.cameras and len(self.cameras) >= MAX_CAMERAS:
            problem = f"more than {MAX_CAMERAS} cameras"
        if problem is not None:
            self._bad_payload("camera", PayloadError(problem))
            return
        self._payload_ok()
        self._upsert_camera(camera)

    @callback
    def _on_event(self, msg: mqtt.ReceiveMessage) -> None:
        try:
            event = parse_event(msg.payload)
        except PayloadError as err:
            self._bad_payload("event", err)
            return
        if event.type in RELAYED_AGENT_EVENTS:
            self._relay_agent_event(event)

    @callback
    def _on_command_result(self, msg: mqtt.ReceiveMessage) -> None:
        try:
            result = parse_command_result(msg.payload)
        except PayloadError as err:
            self._bad_payload("command result", err)
            return
        self.commands.async_handle_result(result)

    # --- cameras and devices --------------------------------------------------------

    @callback
    def _upsert_camera(self, camera: Camera) -> None:
        camera_id = camera.camera_id
        new = camera_id not in self.cameras
        self.cameras[camera_id] = camera
        device = camera_device(self.agent_id, camera).register(
            dr.async_get(self.hass), self.entry.entry_id
        )
        self.device_ids[camera_id] = device.id
        self._track(camera)
        self.alerts.sync(camera)
        if new:
            self._structure_changed()
        self._notify(camera_id)

    @callback
    def _remove_camera(self, camera_id: str) -> None:
        """The agent removed a camera: drop its state, alerts and device."""
        self.cameras.pop(camera_id, None)
        self.device_ids.pop(camera_id, None)
        self.alerts.clear(camera_id)
        if self._known.pop(camera_id, None) is not None:
            self._schedule_save()
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            if self.camera_id_of(device) == camera_id:
                # Only our entry leaves the device: on HA versions that merge devices
                # by MAC, the same device may belong to UniFi or ONVIF as well.
                registry.async_update_device(device.id, remove_config_entry_id=self.entry.entry_id)
        self._structure_changed()
        self._notify(None)

    @callback
    def _remove_stale_devices(self) -> None:
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            camera_id = self.camera_id_of(device)
            if camera_id is not None and camera_id not in self.cameras:
                _LOGGER.debug("Removing camera %s: the agent no longer reports it", camera_id)
                self._remove_camera(camera_id)
        for camera_id in [key for key in self._known if key not in self.cameras]:
            self._known.pop(camera_id)
            self._schedule_save()

    @callback
    def async_forget_camera(self, camera_id: str) -> bool:
        """Let a person delete a camera device; refuse while the agent still reports it."""
        camera = self.cameras.get(camera_id)
        if camera is not None and camera.state == "present":
            return False
        self.cameras.pop(camera_id, None)
        self.device_ids.pop(camera_id, None)
        self.alerts.clear(camera_id)
        if self._known.pop(camera_id, None) is not None:
            self._schedule_save()
        self._structure_changed()
        self._notify(None)
        return True

    def camera_id_of(self, device: dr.DeviceEntry) -> str | None:
        """The camera id of one of our camera devices, or None (other devices, the agent)."""
        return camera_id_of(self.agent_id, device)

    def is_agent_device(self, device: dr.DeviceEntry) -> bool:
        """True for this agent's own device."""
        return (DOMAIN, self.agent_id) in device.identifiers

    def agent_device(self) -> DeviceFields:
        """The agent's own device."""
        return agent_device(self.agent_id, self.name, self.info.version if self.info else None)

    @callback
    def _update_agent_device(self) -> None:
        device = self.agent_device().register(dr.async_get(self.hass), self.entry.entry_id)
        self.agent_device_id = device.id

    # --- policy, events -----------------------------------------------------------------

    @callback
    def async_apply_options(self) -> None:
        """Re-evaluate every camera after the user changed the policy."""
        self.policy = Policy.from_options(self.entry.options)
        for camera in list(self.cameras.values()):
            self._track(camera)
            self.alerts.sync(camera)
        self._notify(everyone=True)

    @callback
    def _track(self, camera: Camera) -> None:
        """Fire found/detected/cleared when a camera is new or its alert state flips."""
        alerting = self.policy.alerting(camera)
        previous = self._known.get(camera.camera_id)
        if previous is None:
            self._fire(EVENT_CAMERA_FOUND, camera)
            if alerting:
                self._fire(EVENT_RESTRICTED_DETECTED, camera)
        elif previous != alerting:
            self._fire(EVENT_RESTRICTED_DETECTED if alerting else EVENT_RESTRICTED_CLEARED, camera)
        if previous != alerting:
            self._known[camera.camera_id] = alerting
            self._schedule_save()

    def event_data(self, event_type: str, camera: Camera) -> dict[str, Any]:
        """The data of a bus event (and of the event entity) about one camera."""
        return {
            "type": event_type,
            "device_id": self.device_ids.get(camera.camera_id),
            "config_entry_id": self.entry.entry_id,
            "agent_id": self.agent_id,
            "camera_id": camera.camera_id,
            "name": camera_name(camera),
            "manufacturer": camera.manufacturer,
            "brand": camera.brand,
            "model": camera.model,
            "ip": camera.ip,
            "risk": self.policy.risk(camera),
            "regimes": [regime.name for regime in camera.regimes],
        }

    @callback
    def _fire(self, event_type: str, camera: Camera) -> None:
        data = self.event_data(event_type, camera)
        self.hass.bus.async_fire(EVENT_CCTV_SENTINEL, data)
        for listener in list(self._event_listeners):
            listener(event_type, data)
        if event_type == EVENT_RESTRICTED_DETECTED:
            self.alerts.notify(camera)

    @callback
    def _relay_agent_event(self, event: AgentEvent) -> None:
        camera = self.cameras.get(event.camera_id or "")
        if camera is not None:
            data = self.event_data(event.type, camera)
        else:
            data = {
                "type": event.type,
                "device_id": self.device_ids.get(event.camera_id or ""),
                "config_entry_id": self.entry.entry_id,
                "agent_id": self.agent_id,
                "camera_id": event.camera_id,
            }
        message = event.details.get("message")
        if isinstance(message, str):
            data["message"] = message[:256]
        self.hass.bus.async_fire(EVENT_CCTV_SENTINEL, data)

    def _store_data(self) -> dict[str, Any]:
        return {"cameras": {key: {"alerting": value} for key, value in self._known.items()}}

    @callback
    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._store_data, SAVE_DELAY)

    # --- commands ---------------------------------------------------------------------

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
            available=self.available,
            camera_id=camera_id,
            mode=mode,
            reason=reason,
            user_id=user_id,
            user_name=user_name,
        )
