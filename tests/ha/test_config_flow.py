"""Config flow: MQTT discovery with confirmation, a user step, reconfigure and options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components import mqtt
from homeassistant.config_entries import SOURCE_MQTT, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.cctv_sentinel.const import (
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
    DOMAIN,
)

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent, payload

DISCOVERY_TOPIC = f"cctv_sentinel/discovery/{AGENT_ID}"


def announcement(agent_id: str = AGENT_ID, base: str = "cctv_sentinel", **changes: Any) -> str:
    """An announcement payload for an agent under a base topic."""
    data = payload("announcement", agent_id=agent_id, base_topic=base, **changes)
    return json.dumps(data)


def service_info(data: str | bytes, topic: str = DISCOVERY_TOPIC) -> MqttServiceInfo:
    """What Home Assistant's MQTT discovery hands the flow."""
    return MqttServiceInfo(
        topic=topic,
        payload=data,
        qos=0,
        retain=True,
        subscribed_topic="cctv_sentinel/discovery/+",
        timestamp=0.0,
    )


@pytest.fixture(autouse=True)
def short_listening() -> Any:
    """Listen for announcements briefly (messages are fired right away in these tests)."""
    with (
        patch("custom_components.cctv_sentinel.const.DISCOVERY_TIMEOUT", 0.5),
        patch("custom_components.cctv_sentinel.const.DISCOVERY_SETTLE", 0.01),
    ):
        yield


async def run_while_listening(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    flow_call: Coroutine[Any, Any, Any],
    topic_filter: str,
    announce: Callable[[], None],
) -> Any:
    """Run a flow step that listens on `topic_filter`; announce once it subscribed."""
    task = hass.async_create_task(flow_call)
    for _ in range(200):
        if any(call.args[0] == topic_filter for call in mqtt_mock.async_subscribe.call_args_list):
            break
        await asyncio.sleep(0)
    else:
        pytest.fail(f"the flow never subscribed to {topic_filter}")
    announce()
    return await task


# --- discovery -----------------------------------------------------------------------------


async def test_discovery_through_manifest_topic(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An announcement on the manifest's topic starts a flow; confirming creates the entry."""
    async_fire_mqtt_message(hass, DISCOVERY_TOPIC, announcement(), retain=True)
    await hass.async_block_till_done(wait_background_tasks=True)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_MQTT
    assert flows[0]["context"]["title_placeholders"] == {"name": "Head office"}
    assert flows[0]["step_id"] == "confirm"

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Head office"
    assert result["data"] == {CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"}
    assert result["result"].unique_id == AGENT_ID


async def test_discovery_confirm_form(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The confirm form names the agent, its version and its base topic."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=service_info(announcement())
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "name": "Head office",
        "agent_id": AGENT_ID,
        "version": "0.1.0",
        "base_topic": "cctv\\_sentinel",  # markdown-escaped: agent strings are plain text
    }


@pytest.mark.parametrize(
    ("data", "topic", "reason"),
    [
        ("", DISCOVERY_TOPIC, "invalid_discovery_info"),
        ("not json", DISCOVERY_TOPIC, "invalid_discovery_info"),
        ("[1, 2]", DISCOVERY_TOPIC, "invalid_discovery_info"),
        (announcement(agent_id="other"), DISCOVERY_TOPIC, "invalid_discovery_info"),
        (announcement(), "cctv_sentinel/discovery/BAD ID", "invalid_discovery_info"),
        (announcement(schema_version=2), DISCOVERY_TOPIC, "unsupported_schema"),
        (announcement(name=None), DISCOVERY_TOPIC, "invalid_discovery_info"),
    ],
    ids=["empty", "not-json", "not-object", "other-agent", "bad-topic", "v2", "bad-field"],
)
async def test_discovery_aborts(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, data: str, topic: str, reason: str
) -> None:
    """Retracted, malformed, mismatched or newer announcements never reach a form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=service_info(data, topic)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_discovery_of_configured_agent_updates_base_topic(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The same agent again aborts, and its entry learns the announced base topic."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "old/base"},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=service_info(announcement())
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_BASE_TOPIC] == "cctv_sentinel"


# --- user step -----------------------------------------------------------------------------


async def test_user_without_mqtt_aborts(hass: HomeAssistant) -> None:
    """Without the MQTT integration there is nothing to listen on."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_user_finds_one_agent_after_errors(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Bad topic, then silence, then an agent that answers: errors, then an entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: "site/#"}
    )
    assert result["errors"] == {CONF_BASE_TOPIC: "invalid_topic"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: "site/cameras"}
    )
    assert result["errors"] == {"base": "no_agents"}

    flow_id = result["flow_id"]

    def announce() -> None:
        # Noise first: the listener must skip it and still find the agent.
        async_fire_mqtt_message(hass, "site/cameras/discovery/x", "")
        async_fire_mqtt_message(hass, "site/cameras/discovery/y", "{broken")
        async_fire_mqtt_message(
            hass, "site/cameras/discovery/vlan-20", announcement("vlan-20", "site/cameras")
        )

    result = await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(flow_id, {CONF_BASE_TOPIC: " site/cameras "}),
        "site/cameras/discovery/+",
        announce,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_AGENT_ID: "vlan-20", CONF_BASE_TOPIC: "site/cameras"}
    assert result["result"].unique_id == "vlan-20"


async def test_user_mqtt_disconnected(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """A disconnected broker is an error on the form, not a crash."""
    mqtt_mock.connected = False
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: "cctv_sentinel"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "mqtt_not_connected"}


async def test_user_picks_one_of_several(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Several new agents: the user chooses; a configured one is not offered."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="configured",
        data={CONF_AGENT_ID: "configured", CONF_BASE_TOPIC: "cctv_sentinel"},
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})

    def announce() -> None:
        for agent_id in ("configured", "site-b", "site-a"):
            async_fire_mqtt_message(
                hass, f"cctv_sentinel/discovery/{agent_id}", announcement(agent_id, name=agent_id)
            )

    result = await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BASE_TOPIC: "cctv_sentinel"}
        ),
        "cctv_sentinel/discovery/+",
        announce,
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pick"
    options = result["data_schema"].schema["agent"].config["options"]
    assert [option["value"] for option in options] == ["site-a", "site-b"]

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"agent": "site-b"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "site-b"
    assert result["data"][CONF_AGENT_ID] == "site-b"


async def test_user_only_configured_agents(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Every agent that answers is configured already: abort."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"},
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BASE_TOPIC: "cctv_sentinel"}
        ),
        "cctv_sentinel/discovery/+",
        lambda: async_fire_mqtt_message(hass, DISCOVERY_TOPIC, announcement()),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_user_flow_stops_listening(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The step holds its own subscription only while it listens."""
    # The mocked client wraps the real one, which keeps the subscription table.
    client = hass.data[mqtt.DATA_MQTT].client._mock_wraps

    def count() -> int:
        # Home Assistant's own MQTT discovery subscribes to the manifest topic too.
        return sum(sub.topic == "cctv_sentinel/discovery/+" for sub in client.subscriptions)

    before = count()
    during: list[int] = []
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BASE_TOPIC: "cctv_sentinel"}
        ),
        "cctv_sentinel/discovery/+",
        lambda: during.append(count()),
    )
    assert during == [before + 1]
    assert count() == before


# --- reconfigure ---------------------------------------------------------------------------


async def test_reconfigure(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Errors (bad topic, agent elsewhere), then the agent found under the new topic."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Head office",
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"name": "Head office"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_TOPIC: "/leading"}
    )
    assert result["errors"] == {CONF_BASE_TOPIC: "invalid_topic"}

    flow_id = result["flow_id"]
    result = await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(flow_id, {CONF_BASE_TOPIC: "moved"}),
        "moved/discovery/+",
        lambda: async_fire_mqtt_message(
            hass, "moved/discovery/someone-else", announcement("someone-else", "moved")
        ),
    )
    assert result["errors"] == {"base": "agent_not_found"}

    result = await run_while_listening(
        hass,
        mqtt_mock,
        hass.config_entries.flow.async_configure(flow_id, {CONF_BASE_TOPIC: "moved"}),
        "moved/discovery/+",
        lambda: async_fire_mqtt_message(
            hass, f"moved/discovery/{AGENT_ID}", announcement(AGENT_ID, "moved")
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "moved"}


# --- options -------------------------------------------------------------------------------


async def test_options_loaded_entry(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """The form offers the agent's regimes and cameras; saving stores the complement."""
    result = await hass.config_entries.options.async_init(loaded.entry_id)
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"].schema
    regimes = {o["value"]: o["label"] for o in schema[CONF_REGIMES].config["options"]}
    assert regimes == {
        "us-fcc-covered-list": "FCC Covered List (US)",
        "us-ndaa-889": "NDAA FY2019 Section 889 (US)",
    }
    cameras = [o["value"] for o in schema[CONF_ACKNOWLEDGED].config["options"]]
    assert sorted(cameras) == sorted([RESTRICTED_ID, LOW_ID, "ip-198-18-1-10"])
    defaults = {str(key): key.default() for key in schema if callable(key.default)}
    assert defaults[CONF_REGIMES] == ["us-fcc-covered-list", "us-ndaa-889"]
    assert defaults[CONF_ALERT_ELEVATED] is False

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_REGIMES: ["us-ndaa-889"],
            CONF_ALERT_ELEVATED: True,
            CONF_ACKNOWLEDGED: [LOW_ID],
            CONF_PERSISTENT_NOTIFICATION: True,
            CONF_MAX_REPAIRS: 25,
            CONF_SHOW_SERIAL: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded.options == {
        CONF_IGNORED_REGIMES: ["us-fcc-covered-list"],
        CONF_ALERT_ELEVATED: True,
        CONF_ACKNOWLEDGED: [LOW_ID],
        CONF_PERSISTENT_NOTIFICATION: True,
        CONF_MAX_REPAIRS: 25,
        CONF_SHOW_SERIAL: True,
    }


async def test_options_unloaded_entry_keeps_stored_choices(hass: HomeAssistant) -> None:
    """Without a running agent the form still shows (and keeps) what was chosen before."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"},
        options={CONF_IGNORED_REGIMES: ["au-2023"], CONF_ACKNOWLEDGED: [RESTRICTED_ID]},
    )
    entry.add_to_hass(hass)
    assert entry.state is ConfigEntryState.NOT_LOADED
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"].schema
    defaults = {str(key): key.default() for key in schema if callable(key.default)}
    assert defaults[CONF_REGIMES] == []
    assert defaults[CONF_ACKNOWLEDGED] == [RESTRICTED_ID]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_REGIMES: ["au-2023"],
            CONF_ALERT_ELEVATED: False,
            CONF_ACKNOWLEDGED: [],
            CONF_PERSISTENT_NOTIFICATION: False,
            CONF_MAX_REPAIRS: 10,
            CONF_SHOW_SERIAL: False,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_IGNORED_REGIMES] == []
    assert entry.options[CONF_ACKNOWLEDGED] == []


async def test_options_without_regimes_or_cameras(hass: HomeAssistant) -> None:
    """Nothing known yet: only the switches and the repair limit are asked."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert [str(key) for key in result["data_schema"].schema] == [
        CONF_ALERT_ELEVATED,
        CONF_PERSISTENT_NOTIFICATION,
        CONF_MAX_REPAIRS,
        CONF_SHOW_SERIAL,
        CONF_COMMAND_SECRET,
    ]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_ALERT_ELEVATED: True,
            CONF_PERSISTENT_NOTIFICATION: False,
            CONF_MAX_REPAIRS: 3.0,  # the number box sends a float
            CONF_SHOW_SERIAL: False,
        },
    )
    assert entry.options == {
        CONF_IGNORED_REGIMES: [],
        CONF_ALERT_ELEVATED: True,
        CONF_ACKNOWLEDGED: [],
        CONF_PERSISTENT_NOTIFICATION: False,
        CONF_MAX_REPAIRS: 3,
        CONF_SHOW_SERIAL: False,
    }


async def test_options_command_secret_set_kept_and_cleared(hass: HomeAssistant) -> None:
    """The signing secret: too short is refused, a good one is stored (trimmed), empty clears it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: "cctv_sentinel"},
    )
    entry.add_to_hass(hass)
    switches = {
        CONF_ALERT_ELEVATED: False,
        CONF_PERSISTENT_NOTIFICATION: False,
        CONF_MAX_REPAIRS: 10,
        CONF_SHOW_SERIAL: False,
    }
    result = await hass.config_entries.options.async_init(entry.entry_id)
    secret_key = next(k for k in result["data_schema"].schema if str(k) == CONF_COMMAND_SECRET)
    assert secret_key.description is None  # nothing to suggest yet
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**switches, CONF_COMMAND_SECRET: "too-short"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_COMMAND_SECRET: "secret_too_short"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**switches, CONF_COMMAND_SECRET: "  " + "s" * 32 + "\n"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_COMMAND_SECRET] == "s" * 32

    # Opened again: the field is masked (a password) and keeps the secret unless emptied.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    secret_key = next(k for k in result["data_schema"].schema if str(k) == CONF_COMMAND_SECRET)
    assert secret_key.description == {"suggested_value": "s" * 32}
    selector = result["data_schema"].schema[secret_key]
    assert selector.config["type"] == "password"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**switches, CONF_COMMAND_SECRET: ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_COMMAND_SECRET not in entry.options
