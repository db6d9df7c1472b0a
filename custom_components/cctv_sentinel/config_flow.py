"""Set-up: agents announce themselves over MQTT; a person confirms, or names a base topic."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from . import const
from .compat import vol
from .const import (
    CONF_ACKNOWLEDGED,
    CONF_AGENT_ID,
    CONF_ALERT_ELEVATED,
    CONF_BASE_TOPIC,
    CONF_COMMAND_SECRET,
    CONF_IGNORED_REGIMES,
    CONF_MAX_REPAIRS,
    CONF_PERSISTENT_NOTIFICATION,
    CONF_REGIMES,
    CONF_SHOW_SERIAL,
    DEFAULT_BASE_TOPIC,
    DOMAIN,
)
from .devices import camera_name
from .models import (
    Announcement,
    PayloadError,
    UnsupportedSchemaError,
    discovery_filter,
    normalise_base_topic,
    parse_announcement,
    split_discovery_topic,
)
from .policy import Policy
from .signing import MIN_SECRET_LENGTH
from .text import markdown, plain

MAX_AGENTS = 100
"""Most announcements one listening step collects (a hostile broker could send more)."""

MAX_REPAIRS_LIMIT = 1000
"""Most per-camera repairs a person may ask for before they are grouped."""

BASE_TOPIC_SCHEMA = vol.Schema({vol.Required(CONF_BASE_TOPIC): TextSelector()})
CONF_AGENT = "agent"


def _announcement(topic: str, payload: str | bytes | bytearray) -> Announcement:
    """Parse an announcement and check it names the topic it came on."""
    parts = split_discovery_topic(topic)
    if parts is None:
        raise PayloadError(f"{topic!r} is not an announcement topic")
    announcement = parse_announcement(payload)
    if (announcement.base_topic, announcement.agent_id) != parts:
        raise PayloadError("the announcement does not match its topic")
    return announcement


class SentinelConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per agent, unique by agent id."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._announcement: Announcement | None = None
        self._found: dict[str, Announcement] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> SentinelOptionsFlow:
        """The policy options."""
        return SentinelOptionsFlow()

    # --- discovery -------------------------------------------------------------------

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """An agent's retained announcement on ``cctv_sentinel/discovery/+``."""
        if not discovery_info.payload:
            # An empty retained payload retracts an announcement: nothing to set up.
            return self.async_abort(reason="invalid_discovery_info")
        try:
            announcement = _announcement(discovery_info.topic, discovery_info.payload)
        except UnsupportedSchemaError:
            return self.async_abort(reason="unsupported_schema")
        except PayloadError:
            return self.async_abort(reason="invalid_discovery_info")
        await self.async_set_unique_id(announcement.agent_id)
        # Same agent, possibly a new base topic: update it (the entry's update
        # listener reloads), but never touch another agent's entry.
        self._abort_if_unique_id_configured(
            updates={CONF_BASE_TOPIC: announcement.base_topic}, reload_on_update=False
        )
        self._announcement = announcement
        self.context["title_placeholders"] = {"name": plain(announcement.name)}
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding a discovered agent."""
        assert self._announcement is not None
        if user_input is not None:
            return self._create(self._announcement)
        return self.async_show_form(
            step_id="confirm",
            description_placeholders={
                "name": markdown(self._announcement.name),
                "agent_id": markdown(self._announcement.agent_id),
                "version": markdown(self._announcement.version),
                "base_topic": markdown(self._announcement.base_topic, 250),
            },
        )

    # --- by hand ---------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Find agents under a base topic the user names (e.g. a non-default one)."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            found, error = await self._async_find_agents(user_input[CONF_BASE_TOPIC])
            if error is not None:
                errors[error[0]] = error[1]
            else:
                configured = self._async_current_ids(include_ignore=False)
                new = {key: value for key, value in found.items() if key not in configured}
                if not new:
                    return self.async_abort(reason="already_configured")
                if len(new) == 1:
                    return await self._async_create_unique(next(iter(new.values())))
                self._found = new
                return await self.async_step_pick()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                BASE_TOPIC_SCHEMA, user_input or {CONF_BASE_TOPIC: DEFAULT_BASE_TOPIC}
            ),
            errors=errors,
        )

    async def async_step_pick(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Several agents answered: choose one (add the others the same way)."""
        if user_input is not None:
            return await self._async_create_unique(self._found[user_input[CONF_AGENT]])
        options = [
            SelectOptionDict(value=agent_id, label=f"{plain(found.name)} ({agent_id})")
            for agent_id, found in sorted(self._found.items())
        ]
        return self.async_show_form(
            step_id="pick",
            data_schema=vol.Schema(
                {vol.Required(CONF_AGENT): SelectSelector(SelectSelectorConfig(options=options))}
            ),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move an agent to another base topic (after it was restarted with one)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            found, error = await self._async_find_agents(user_input[CONF_BASE_TOPIC])
            if error is not None:
                errors[error[0]] = error[1]
            elif entry.unique_id not in found:
                errors["base"] = "agent_not_found"
            else:
                base_topic = found[entry.data[CONF_AGENT_ID]].base_topic
                # The entry's update listener reloads it for the new topic; this is
                # not async_update_reload_and_abort, which must not be combined with
                # an update listener from HA 2026.6 on.
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_BASE_TOPIC: base_topic}
                )
                return self.async_abort(reason="reconfigure_successful")
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                BASE_TOPIC_SCHEMA, user_input or {CONF_BASE_TOPIC: entry.data[CONF_BASE_TOPIC]}
            ),
            description_placeholders={"name": entry.title},
            errors=errors,
        )

    # --- helpers ---------------------------------------------------------------------

    async def _async_create_unique(self, announcement: Announcement) -> ConfigFlowResult:
        await self.async_set_unique_id(announcement.agent_id, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        return self._create(announcement)

    def _create(self, announcement: Announcement) -> ConfigFlowResult:
        return self.async_create_entry(
            title=announcement.name,
            data={
                CONF_AGENT_ID: announcement.agent_id,
                CONF_BASE_TOPIC: announcement.base_topic,
            },
        )

    async def _async_find_agents(
        self, raw_topic: str
    ) -> tuple[dict[str, Announcement], tuple[str, str] | None]:
        """Listen for retained announcements; return them, or (field, error key)."""
        try:
            base_topic = normalise_base_topic(raw_topic)
        except PayloadError:
            return {}, (CONF_BASE_TOPIC, "invalid_topic")
        if not mqtt.is_connected(self.hass):
            return {}, ("base", "mqtt_not_connected")
        found = await _async_listen(self.hass, base_topic)
        if not found:
            return {}, ("base", "no_agents")
        return found, None


async def _async_listen(hass: HomeAssistant, base_topic: str) -> dict[str, Announcement]:
    """Collect the announcements under a base topic (the agent retains them)."""
    found: dict[str, Announcement] = {}
    first = asyncio.Event()

    @callback
    def on_message(msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload or len(found) >= MAX_AGENTS:
            return
        try:
            announcement = _announcement(msg.topic, msg.payload)
        except PayloadError:
            return
        found[announcement.agent_id] = announcement
        first.set()

    unsubscribe = await mqtt.async_subscribe(hass, discovery_filter(base_topic), on_message, 1)
    try:
        try:
            async with asyncio.timeout(const.DISCOVERY_TIMEOUT):
                await first.wait()
        except TimeoutError:
            return found
        await asyncio.sleep(const.DISCOVERY_SETTLE)
    finally:
        unsubscribe()
    return found


class SentinelOptionsFlow(OptionsFlow):
    """The policy: regimes that count, elevated alerts, acknowledged cameras, notifications."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form for the whole policy."""
        entry = self.config_entry
        policy = Policy.from_options(entry.options)
        regimes: dict[str, str] = {regime: regime for regime in policy.ignored_regimes}
        cameras: dict[str, str] = {camera: camera for camera in policy.acknowledged}
        if entry.state is ConfigEntryState.LOADED:
            coordinator = entry.runtime_data
            regimes.update(
                (key, plain(regime.label)) for key, regime in coordinator.state.regimes.items()
            )
            cameras.update(
                (key, f"{camera_name(camera)} ({camera.ip})")
                for key, camera in coordinator.cameras.items()
            )
        errors: dict[str, str] = {}
        if user_input is not None:
            secret = str(user_input.get(CONF_COMMAND_SECRET) or "").strip()
            if secret and len(secret) < MIN_SECRET_LENGTH:
                errors[CONF_COMMAND_SECRET] = "secret_too_short"
            else:
                counted = set(user_input.get(CONF_REGIMES, ()))
                data: dict[str, Any] = {
                    CONF_IGNORED_REGIMES: sorted(set(regimes) - counted),
                    CONF_ALERT_ELEVATED: user_input[CONF_ALERT_ELEVATED],
                    CONF_ACKNOWLEDGED: sorted(user_input.get(CONF_ACKNOWLEDGED, ())),
                    CONF_PERSISTENT_NOTIFICATION: user_input[CONF_PERSISTENT_NOTIFICATION],
                    CONF_MAX_REPAIRS: int(user_input[CONF_MAX_REPAIRS]),
                    CONF_SHOW_SERIAL: user_input[CONF_SHOW_SERIAL],
                }
                if secret:
                    data[CONF_COMMAND_SECRET] = secret
                return self.async_create_entry(data=data)
        schema: dict[vol.Marker, Any] = {}
        if regimes:
            schema[
                vol.Optional(CONF_REGIMES, default=sorted(set(regimes) - policy.ignored_regimes))
            ] = _multi_select(regimes, SelectSelectorMode.LIST)
        schema[vol.Required(CONF_ALERT_ELEVATED, default=policy.alert_elevated)] = BooleanSelector()
        if cameras:
            schema[vol.Optional(CONF_ACKNOWLEDGED, default=sorted(policy.acknowledged))] = (
                _multi_select(cameras, SelectSelectorMode.DROPDOWN)
            )
        schema[
            vol.Required(CONF_PERSISTENT_NOTIFICATION, default=policy.persistent_notification)
        ] = BooleanSelector()
        schema[vol.Required(CONF_MAX_REPAIRS, default=policy.max_repairs)] = NumberSelector(
            NumberSelectorConfig(min=0, max=MAX_REPAIRS_LIMIT, step=1, mode=NumberSelectorMode.BOX)
        )
        schema[vol.Required(CONF_SHOW_SERIAL, default=policy.show_serial)] = BooleanSelector()
        # A password field: shown masked; emptied, commands go unsigned again.
        current = entry.options.get(CONF_COMMAND_SECRET)
        secret_key = (
            vol.Optional(CONF_COMMAND_SECRET, description={"suggested_value": current})
            if current
            else vol.Optional(CONF_COMMAND_SECRET)
        )
        schema[secret_key] = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
        return self.async_show_form(step_id="init", data_schema=vol.Schema(schema), errors=errors)


def _multi_select(choices: dict[str, str], mode: SelectSelectorMode) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=key, label=label)
                for key, label in sorted(choices.items(), key=lambda item: item[1])
            ],
            multiple=True,
            mode=mode,
        )
    )
