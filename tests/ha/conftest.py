"""Fixtures for the integration's tests: a mocked broker, an agent that answers, entries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from blockbuster import BlockBuster, blockbuster_ctx
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.cctv_sentinel.const import CONF_AGENT_ID, CONF_BASE_TOPIC, DOMAIN
from custom_components.cctv_sentinel.models import agent_topics

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
AGENT_ID = "head-office"
BASE_TOPIC = "cctv_sentinel"
RESTRICTED_ID = "bcad28001021"
LOW_ID = "accc8e0a0b0c"
UNKNOWN_ID = "ip-198-18-1-10"


# Read once, at import: the fake agent answers from inside the event loop, where a
# file read is a blocking call (and blockbuster says so).
_PAYLOAD_TEXT = {path.stem: path.read_text("utf-8") for path in PAYLOADS.glob("*.json")}


def payload(fixture: str, /, **changes: Any) -> dict[str, Any]:
    """A contract example payload from tests/fixtures/payloads, with top-level changes."""
    data: dict[str, Any] = json.loads(_PAYLOAD_TEXT[fixture])
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/cctv_sentinel."""


@pytest.fixture(autouse=True)
def no_deprecation_reports(caplog: pytest.LogCaptureFixture) -> Any:
    """Fail any test in which Home Assistant reports our integration using a deprecated API.

    Home Assistant logs such reports ("Detected that custom integration 'cctv_sentinel'
    ... This will stop working in ...") instead of raising; warnings from our own code
    are errors through pytest's filterwarnings (pyproject.toml).
    """
    yield
    reports = [
        record.getMessage()
        for record in caplog.get_records("call") + caplog.get_records("setup")
        if "custom integration 'cctv_sentinel'" in record.getMessage()
        or (
            "custom_components/cctv_sentinel" in record.getMessage()
            and "deprecat" in record.getMessage().lower()
        )
    ]
    assert not reports, reports


@pytest.fixture(autouse=True)
def blocking_calls_fail() -> Iterator[BlockBuster]:
    """A blocking call (file, socket, sleep...) by the integration in the event loop raises."""
    with blockbuster_ctx("custom_components.cctv_sentinel") as blockbuster:
        yield blockbuster


def _ours(obj: object) -> bool:
    code = getattr(obj, "cr_code", None) or getattr(obj, "__code__", None)
    func = getattr(obj, "func", None) or getattr(obj, "__func__", None)
    if code is None and func is not None:
        code = getattr(func, "__code__", None)
    return code is not None and "custom_components/cctv_sentinel" in code.co_filename


@pytest.fixture(autouse=True)
async def no_leaked_tasks(hass: HomeAssistant) -> Any:
    """Nothing the integration started is still pending when a test ends.

    Home Assistant's harness fails on any task left after Home Assistant stops; this
    also catches our own tasks and timers left while it runs (its timer check is off
    for the MQTT mock's own timer, see expected_lingering_timers).
    """
    yield
    await hass.async_block_till_done()
    tasks = [
        task
        for task in asyncio.all_tasks()
        if not task.done() and _ours(task.get_coro()) and task is not asyncio.current_task()
    ]
    handles = [
        handle
        for handle in getattr(hass.loop, "_scheduled", ())
        if not handle.cancelled() and _ours(getattr(handle, "_callback", None))
    ]
    assert not tasks, f"tasks left running: {tasks}"
    assert not handles, f"timers left scheduled: {handles}"


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The mocked MQTT client leaves its misc timer running (HA-GUIDE §4)."""
    return True


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's serializer, so ids and times become <ANY>."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Any:
    """Enable entities that are disabled by default (not provided by this plugin version)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def our_entities(hass: HomeAssistant, entry_id: str) -> dict[str, dict[str, Any]]:
    """What we decide about each entity of an entry: registry fields we set, state, attributes.

    Only fields the integration controls, so one snapshot holds on every Home
    Assistant line (the registries' own fields change between lines).
    """
    registry = er.async_get(hass)
    found: dict[str, dict[str, Any]] = {}
    for entity in sorted(
        er.async_entries_for_config_entry(registry, entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(entity.entity_id)
        found[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "translation_key": entity.translation_key,
            "device_class": entity.original_device_class,
            "entity_category": str(entity.entity_category) if entity.entity_category else None,
            "disabled_by_default": entity.disabled_by is not None,
            "unit": entity.unit_of_measurement,
            "state": state.state if state else None,
            "attributes": {str(k): v for k, v in state.attributes.items()} if state else None,
        }
    return found


def our_devices(hass: HomeAssistant, entry_id: str) -> list[dict[str, Any]]:
    """What we tell the device registry about each device (parents by identifier)."""
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, entry_id)
    by_id = {device.id: device for device in devices}
    rows = []
    for device in devices:
        parent = by_id.get(device.via_device_id) if device.via_device_id else None
        rows.append(
            {
                "identifiers": sorted(device.identifiers),
                "connections": sorted(device.connections),
                "name": device.name,
                "manufacturer": device.manufacturer,
                "model": device.model,
                "sw_version": device.sw_version,
                "hw_version": device.hw_version,
                "serial_number": device.serial_number,
                "configuration_url": device.configuration_url,
                "entry_type": str(device.entry_type) if device.entry_type else None,
                "via_device": sorted(parent.identifiers) if parent else None,
            }
        )
    return sorted(rows, key=lambda row: row["identifiers"])


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """An entry for the agent of the example payloads."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Head office",
        unique_id=AGENT_ID,
        data={CONF_AGENT_ID: AGENT_ID, CONF_BASE_TOPIC: BASE_TOPIC},
        version=1,
    )


class FakeAgent:
    """Plays the agent's side of docs/mqtt.md over the mocked broker.

    Every command the integration publishes is recorded and, unless `answer`
    is None, answered on the result topic with `answer` (a status).
    """

    def __init__(self, hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
        self.hass = hass
        self.mqtt_mock = mqtt_mock
        self.topics = agent_topics(BASE_TOPIC, AGENT_ID)
        self.commands: list[dict[str, Any]] = []
        self.received = asyncio.Event()
        """Set once a command has been published."""
        self.answer: str | None = "ok"
        self.message = "done"
        mqtt_mock.async_publish.side_effect = self._on_publish

    async def _on_publish(
        self, topic: str, data: str, qos: int, retain: bool, **options: Any
    ) -> None:
        # Newer Home Assistant passes MQTT 5 options (message_expiry_interval...).
        if topic != self.topics.command:
            return
        command = json.loads(data)
        self.commands.append(command)
        self.received.set()
        if self.answer is None:
            return
        self.fire(
            self.topics.command_result,
            payload(
                "command_result_accepted",
                command_id=command["command_id"],
                command=command["command"],
                status=self.answer,
                message=self.message,
                camera_id=command.get("camera_id"),
            ),
            retain=False,
        )

    def fire(self, topic: str, data: dict[str, Any] | str, *, retain: bool = False) -> None:
        """Deliver a message as the broker would.

        The broker flags a message retained only when it replays stored state to
        a new subscription; live messages reach existing subscribers unflagged
        (and Home Assistant's client drops a second retained copy of a topic).
        """
        text = data if isinstance(data, str) else json.dumps(data)
        async_fire_mqtt_message(self.hass, topic, text, qos=1, retain=retain)

    def status(self, value: str = "online", *, retain: bool = False) -> None:
        """Publish the agent's status."""
        self.fire(self.topics.status, value, retain=retain)

    def info(
        self, fixture: str = "info", /, *, retain: bool = False, **changes: Any
    ) -> dict[str, Any]:
        """Publish an info payload."""
        data = payload(fixture, **changes)
        self.fire(self.topics.info, data, retain=retain)
        return data

    def camera(
        self, fixture: str = "camera_restricted", /, *, retain: bool = False, **changes: Any
    ) -> dict[str, Any]:
        """Publish one camera's (retained) state."""
        data = payload(fixture, **changes)
        self.fire(f"{self.topics.camera[:-1]}{data['camera_id']}", data, retain=retain)
        return data

    def remove(self, camera_id: str) -> None:
        """Clear a camera's retained state (the agent removed it)."""
        self.fire(f"{self.topics.camera[:-1]}{camera_id}", "")

    def event(self, fixture: str, /, **changes: Any) -> dict[str, Any]:
        """Publish an event."""
        data = payload(fixture, **changes)
        self.fire(self.topics.event, data, retain=False)
        return data

    def start(self, *cameras: str, info: str = "info") -> None:
        """The retained state a new subscription receives: status, info, every camera."""
        self.status("online", retain=True)
        self.info(info, retain=True)
        for name in cameras:
            self.camera(name, retain=True)


@pytest.fixture
async def agent(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> FakeAgent:
    """The fake agent on the mocked broker."""
    return FakeAgent(hass, mqtt_mock)


@pytest.fixture
def setup_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry, agent: FakeAgent
) -> Callable[[], Any]:
    """Add and set up the entry (call it; MQTT and the fake agent exist already)."""

    async def setup() -> MockConfigEntry:
        config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        return config_entry

    return setup


@pytest.fixture
async def loaded(
    hass: HomeAssistant, setup_entry: Callable[[], Any], agent: FakeAgent
) -> MockConfigEntry:
    """A loaded entry whose agent is online with the three example cameras."""
    entry: MockConfigEntry = await setup_entry()
    agent.start("camera_restricted", "camera_low", "camera_unknown_routed")
    await hass.async_block_till_done()
    return entry
