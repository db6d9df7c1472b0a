"""Actions, the rescan button and the isolation switch publish the documented commands."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import jsonschema
import pytest
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient

from custom_components.cctv_sentinel import signing
from custom_components.cctv_sentinel.const import CONF_COMMAND_SECRET, DOMAIN

from .conftest import AGENT_ID, LOW_ID, RESTRICTED_ID, FakeAgent

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "mqtt.schema.json").read_text("utf-8")
)
COMMAND_TOPIC = f"cctv_sentinel/{AGENT_ID}/command"


def check_command(command: dict[str, Any]) -> None:
    """The command passes docs/mqtt.schema.json's `command` definition."""
    jsonschema.validate(command, {**SCHEMA, "$ref": "#/$defs/command"})


def device_id(entry: MockConfigEntry, camera_id: str | None = None) -> str:
    """The device id of the agent (None) or one of its cameras."""
    coordinator = entry.runtime_data
    return (
        coordinator.devices.agent_device_id
        if camera_id is None
        else coordinator.devices.device_ids[camera_id]
    )


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any], context: Context | None = None
) -> Any:
    """Call one of our actions and return its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True, context=context
    )


async def test_rescan_every_agent(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    mqtt_mock: MqttMockHAClient,
    hass_admin_user: MockUser,
) -> None:
    """No target: every loaded agent rescans; the command names the user who asked."""
    agent.answer = "accepted"
    agent.message = "rescan started"
    response = await call(hass, "rescan", {}, Context(user_id=hass_admin_user.id))
    assert response == {
        "results": [
            {"device_id": device_id(loaded), "status": "accepted", "message": "rescan started"}
        ]
    }
    assert len(agent.commands) == 1
    command = agent.commands[0]
    check_command(command)
    assert command["command"] == "rescan"
    assert command["requested_by"] == {
        "source": "home_assistant",
        "user_id": hass_admin_user.id,
        "user_name": hass_admin_user.name,
    }
    assert "camera_id" not in command
    mqtt_mock.async_publish.assert_called_once()
    topic, data, qos, retain = mqtt_mock.async_publish.call_args.args
    assert (topic, qos, retain) == (COMMAND_TOPIC, 1, False)
    assert json.loads(data) == command


async def test_rescan_by_device(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """An agent or camera device means its agent, once."""
    await call(hass, "rescan", {"device_id": [device_id(loaded), device_id(loaded, RESTRICTED_ID)]})
    assert [c["command"] for c in agent.commands] == ["rescan"]
    assert agent.commands[0]["requested_by"]["user_id"] is None


async def test_rescan_without_agents(hass: HomeAssistant, setup_entry: Any) -> None:
    """No loaded agent: a translated validation error."""
    entry = await setup_entry()
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "rescan", {})
    assert err.value.translation_key == "no_agents"
    assert str(err.value).startswith("No CCTV Sentinel agent is loaded")


async def test_isolate_and_release(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """isolate (with mode and reason) and release go out as documented."""
    response = await call(
        hass,
        "isolate",
        {
            "device_id": device_id(loaded, RESTRICTED_ID),
            "mode": "quarantine",
            "reason": "server room",
        },
    )
    assert response["results"][0]["status"] == "ok"
    await call(hass, "release", {"device_id": [device_id(loaded, RESTRICTED_ID)]})
    isolate, release = agent.commands
    for command in agent.commands:
        check_command(command)
    assert (isolate["command"], isolate["camera_id"], isolate["mode"], isolate["reason"]) == (
        "isolate",
        RESTRICTED_ID,
        "quarantine",
        "server room",
    )
    assert (release["command"], release["camera_id"]) == ("release", RESTRICTED_ID)
    assert "mode" not in release
    # Without a secret: unsigned, but stamped, so the agent refuses it once stale.
    for command in agent.commands:
        assert {"sent_at"} <= command.keys()
        assert "signature" not in command
        assert "nonce" not in command


async def test_commands_are_signed_with_the_options_secret(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """With a secret in the options every command carries sent_at, a fresh nonce and its HMAC."""
    secret = "a-shared-secret-of-32-characters"
    hass.config_entries.async_update_entry(
        loaded, options={**loaded.options, CONF_COMMAND_SECRET: secret}
    )
    await hass.async_block_till_done()
    before = time.time()
    await call(hass, "isolate", {"device_id": device_id(loaded, RESTRICTED_ID)})
    await call(hass, "release", {"device_id": device_id(loaded, RESTRICTED_ID)})
    await call(hass, "rescan", {})
    assert len(agent.commands) == 3
    nonces = set()
    for command in agent.commands:
        check_command(command)
        assert command["signature"] == signing.signature(
            command, topic=COMMAND_TOPIC, secret=secret
        )
        assert command["signature"] != signing.signature(
            command, topic=COMMAND_TOPIC, secret=secret + "x"
        )
        sent = datetime.fromisoformat(command["sent_at"]).timestamp()
        assert before - 1 <= sent <= time.time() + 1
        nonces.add(command["nonce"])
    assert len(nonces) == 3
    # Cleared again: back to unsigned commands at once (no reload needed).
    hass.config_entries.async_update_entry(loaded, options={})
    await hass.async_block_till_done()
    await call(hass, "rescan", {})
    assert "signature" not in agent.commands[-1]


async def test_isolate_several_cameras(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Each camera gets its own command and its own result (a repeated device counts once)."""
    cameras = [device_id(loaded, RESTRICTED_ID), device_id(loaded, LOW_ID)]
    response = await call(hass, "isolate", {"device_id": [*cameras, cameras[0]]})
    assert sorted(c["camera_id"] for c in agent.commands) == sorted([RESTRICTED_ID, LOW_ID])
    assert len(response["results"]) == 2


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("unknown", "unknown_device"),
        ("agent", "not_a_camera"),
        ("foreign", "not_our_device"),
        ("forgotten", "camera_not_reported"),
    ],
)
async def test_isolate_validation(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
    target: str,
    key: str,
) -> None:
    """Bad targets are refused before anything is published."""
    other = MockConfigEntry(domain="unifi")
    other.add_to_hass(hass)
    devices = {
        "unknown": "0123456789abcdef",
        "agent": device_id(loaded),
        "foreign": device_registry.async_get_or_create(
            config_entry_id=other.entry_id, identifiers={("unifi", "x")}, name="Switch"
        ).id,
        "forgotten": device_registry.async_get_or_create(
            config_entry_id=loaded.entry_id, identifiers={(DOMAIN, f"{AGENT_ID}:0000000000ff")}
        ).id,
    }
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "isolate", {"device_id": devices[target]})
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert agent.commands == []


async def test_isolate_needs_a_backend(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """No backend, or a mode the agent lacks: refused here, with a reason."""
    agent.info(
        "info",
        isolation={
            "backends": ["nftables"],
            "default_backend": "nftables",
            "modes": ["internet"],
            "auto_isolate": False,
        },
    )
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "isolate", {"device_id": device_id(loaded, LOW_ID), "mode": "quarantine"})
    assert err.value.translation_key == "mode_not_supported"

    agent.info("info_no_isolation")
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "isolate", {"device_id": device_id(loaded, LOW_ID)})
    assert err.value.translation_key == "isolation_not_configured"
    assert "Head office reports no isolation backend" in str(err.value)
    assert agent.commands == []
    # Releasing needs no backend check: the agent answers for itself.
    await call(hass, "release", {"device_id": device_id(loaded, LOW_ID)})
    assert [c["command"] for c in agent.commands] == ["release"]


@pytest.mark.parametrize(
    ("status", "key"),
    [
        ("refused", "command_failed"),
        ("error", "command_failed"),
        ("not_configured", "not_configured"),
    ],
)
async def test_agent_failures_raise(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent, status: str, key: str
) -> None:
    """The agent's refusal reaches the user as a translated error with its message."""
    agent.answer = status
    agent.message = "no backend for 192.168.10.21"
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "isolate", {"device_id": device_id(loaded, RESTRICTED_ID)})
    assert err.value.translation_key == key
    assert "no backend for 192.168.10.21" in str(err.value)


async def test_agent_silent_times_out(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """No answer: a timeout error (and no leftover pending command)."""
    agent.answer = None
    with (
        patch("custom_components.cctv_sentinel.const.COMMAND_TIMEOUT", 0.05),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call(hass, "rescan", {})
    assert err.value.translation_key == "command_timeout"
    assert loaded.runtime_data.commands.pending == {}


async def test_unload_fails_waiting_actions(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Unloading while an action waits for the agent ends it with an error, not a hang."""
    agent.answer = None
    task = hass.async_create_task(call(hass, "rescan", {}))
    await agent.received.wait()
    assert await hass.config_entries.async_unload(loaded.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "agent_unavailable"


async def test_agent_offline_fails_fast(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """An offline agent: nothing is published, the error says why."""
    agent.status("offline")
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "rescan", {})
    assert err.value.translation_key == "agent_unavailable"
    assert agent.commands == []


async def test_foreign_results_are_ignored(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """Results for commands someone else sent do not disturb ours."""
    agent.fire(
        agent.topics.command_result,
        {
            "schema_version": 1,
            "command_id": "someone-else",
            "command": "rescan",
            "status": "ok",
            "message": "",
            "camera_id": None,
            "time": "2026-11-28T09:15:02+00:00",
        },
    )
    await hass.async_block_till_done()
    await call(hass, "rescan", {})
    assert len(agent.commands) == 1


async def test_button_rescans(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """The Scan now button sends rescan."""
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: "button.head_office_scan_now"}, blocking=True
    )
    assert [c["command"] for c in agent.commands] == ["rescan"]
    check_command(agent.commands[0])


async def test_switch_isolates_and_releases(
    hass: HomeAssistant, loaded: MockConfigEntry, agent: FakeAgent
) -> None:
    """The switch sends commands; its state follows the agent's report, not the click."""
    entity_id = "switch.annke_c800_isolated"
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    assert hass.states.get(entity_id).state == "off"  # until the agent says so
    agent.camera("camera_isolated")
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "on"
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    assert [(c["command"], c["camera_id"]) for c in agent.commands] == [
        ("isolate", RESTRICTED_ID),
        ("release", RESTRICTED_ID),
    ]
    for command in agent.commands:
        check_command(command)

    agent.answer = "refused"
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "switch", "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True
        )


async def test_the_signing_secret_never_reaches_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded: MockConfigEntry,
    agent: FakeAgent,
) -> None:
    """The options hold the secret; the entry's diagnostics show it redacted."""
    secret = "never-in-diagnostics-0123456789"
    hass.config_entries.async_update_entry(loaded, options={CONF_COMMAND_SECRET: secret})
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "diagnostics", {})
    data = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    assert data["entry"]["options"][CONF_COMMAND_SECRET] == "**REDACTED**"
    assert secret not in json.dumps(data)
