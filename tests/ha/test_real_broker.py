"""Home Assistant's own MQTT client on a real Mosquitto, the real agent on the LAN fixture.

Home Assistant stays in the root namespace and connects to 127.0.0.1 (the test
plugin allows no other host). The broker listens there and on an address the
root namespace gets on the lab's LAN bridge; the real agent (`cctv-sentinel
run`) scans emulated cameras from the scanner namespace and publishes to that
address. Nothing is mocked between the agent and the integration: discovery,
devices, entities and repairs come from what the agent actually sent.

A second test needs only the broker: paho publishes agent-shaped payloads, so
the Home Assistant side is proven even where namespaces cannot be built.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cctv_sentinel.const import DOMAIN
from tests.lab import netlab
from tests.lab.broker import Broker, mosquitto_unavailable_reason, publish
from tests.lab.procs import child_env

from .conftest import payload

ROOT_IP = "198.18.0.250"
"""The root namespace's address on the lab LAN (inside the RFC 2544 test range)."""
AGENT_ID = "lab"
PROFILES = ("annke-c800-i91bm", "axis-p3245-lve")
REPO = Path(__file__).resolve().parents[2]
DEVICES = REPO / "tests" / "fixtures" / "devices"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def wait_for(
    hass: HomeAssistant, condition: Callable[[], Any], timeout: float, what: str
) -> Any:
    """Let Home Assistant run until ``condition()`` is truthy (real time: a real agent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await hass.async_block_till_done(wait_background_tasks=True)
        if result := condition():
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.2)


async def connect_home_assistant(hass: HomeAssistant, broker: Broker) -> MockConfigEntry:
    """Set up Home Assistant's MQTT integration on the real broker."""
    entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1", "port": broker.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: hass.data["mqtt"].client.connected, 15, "MQTT to connect")
    return entry


async def confirm_discovered_agent(hass: HomeAssistant, agent_id: str) -> Any:
    """Wait for the discovery flow the agent's announcement starts, and confirm it."""
    flows = await wait_for(
        hass,
        lambda: [
            f
            for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if f["context"].get("unique_id") == agent_id
        ],
        60,
        "the agent's discovery flow",
    )
    assert flows[0]["context"]["source"] == "mqtt"
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["type"] == "create_entry", result
    entry = result["result"]
    await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED, 15, "the entry to load")
    return entry


def camera_devices(hass: HomeAssistant, entry: Any) -> dict[str, dr.DeviceEntry]:
    """Camera devices of an entry by camera id."""
    registry = dr.async_get(hass)
    found: dict[str, dr.DeviceEntry] = {}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        camera_id = entry.runtime_data.camera_id_of(device)
        if camera_id is not None:
            found[camera_id] = device
    return found


def our_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """Open repair issues of this integration."""
    return [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN and i.active]


# --- the broker alone --------------------------------------------------------------------------


@pytest.fixture
def plain_broker(socket_enabled: None, tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on 127.0.0.1 (sockets re-enabled for this test only)."""
    if reason := mosquitto_unavailable_reason():
        pytest.skip(reason)
    with Broker(workdir=tmp_path / "broker") as running:
        yield running


@pytest.mark.broker
async def test_real_broker_with_agent_shaped_payloads(
    hass: HomeAssistant, mock_hass_config: None, plain_broker: Broker
) -> None:
    """Retained agent payloads on a real broker: discovered, devices and a repair appear."""
    base = f"cctv_sentinel/{AGENT_ID}"
    retained = [
        (f"cctv_sentinel/discovery/{AGENT_ID}", payload("announcement", agent_id=AGENT_ID)),
        (f"{base}/status", "online"),
        (f"{base}/info", payload("info", agent_id=AGENT_ID)),
        (f"{base}/camera/bcad28001021", payload("camera_restricted")),
        (f"{base}/camera/accc8e0a0b0c", payload("camera_low")),
    ]
    for topic, body in retained:
        data = body if isinstance(body, str) else json.dumps(body)
        await asyncio.to_thread(
            publish,
            host=plain_broker.host,
            port=plain_broker.port,
            topic=topic,
            payload=data.encode(),
            retain=True,
        )
    mqtt_entry = await connect_home_assistant(hass, plain_broker)
    try:
        entry = await confirm_discovered_agent(hass, AGENT_ID)
        devices = await wait_for(
            hass, lambda: len(d := camera_devices(hass, entry)) == 2 and d, 15, "both cameras"
        )
        assert devices["bcad28001021"].manufacturer == "Hikvision"
        issues = await wait_for(hass, lambda: our_issues(hass), 15, "a repair issue")
        assert [i.issue_id for i in issues] == [f"camera_{AGENT_ID}_bcad28001021"]

        # A live removal from the agent reaches Home Assistant through the broker.
        await asyncio.to_thread(
            publish,
            host=plain_broker.host,
            port=plain_broker.port,
            topic=f"{base}/camera/bcad28001021",
            payload=b"",
            retain=True,
        )
        await wait_for(
            hass, lambda: list(camera_devices(hass, entry)) == ["accc8e0a0b0c"], 15, "removal"
        )
        assert our_issues(hass) == []
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()


# --- the real agent on the LAN fixture ------------------------------------------------------------


@pytest.fixture
def lan_broker(
    socket_enabled: None, lab: netlab.Lab, tmp_path: Path
) -> Iterator[tuple[Any, Broker]]:
    """The LAN with emulated cameras, a root veth on it, and a broker on both addresses."""
    if reason := mosquitto_unavailable_reason():
        pytest.skip(reason)
    lan = lab.build_lan([DEVICES / f"{name}.json" for name in PROFILES], max_delay=0.05)
    lab.attach_root(f"{ROOT_IP}/24", lan.switch)
    port = _free_port(ROOT_IP)
    with Broker(listeners=[f"{ROOT_IP}:{port}"], workdir=tmp_path / "broker") as broker:
        yield lan, broker


def _agent_command() -> tuple[str, ...]:
    # The agent-side helper knows whether `cctv-sentinel run` is wired into the CLI yet.
    from tests.agent.service.support import agent_command  # noqa: PLC0415

    return agent_command()


def start_agent(lan: Any, broker: Broker, workdir: Path) -> subprocess.Popen[bytes]:
    """`cctv-sentinel run` in the scanner namespace, publishing to the broker's LAN address."""
    listener = next(f"{a}:{p}" for a, p in broker.extra_listeners if a == ROOT_IP)
    config = {
        "agent": {"id": AGENT_ID, "name": "Lab agent", "state_dir": str(workdir / "state")},
        "mqtt": {"broker": f"mqtt://{listener}"},
        "scan": {"networks": ["198.18.0.0/24"], "interval": "10m", "jitter": 0, "timeout": "8s"},
    }
    path = workdir / "agent.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # YAML is a superset of JSON
    # Not measured by pytest-cov: its subprocess hook would mix the agent's line
    # coverage into the integration's branch coverage data.
    env = child_env()
    with (workdir / "agent.log").open("wb") as log:
        return lan.popen_in_scanner(
            [*_agent_command(), "-v", "run", "--config", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(workdir),
            env=env,
        )


@pytest.mark.lab
@pytest.mark.broker
@pytest.mark.timeout(300)
async def test_real_agent_on_lan_through_real_broker(
    hass: HomeAssistant,
    mock_hass_config: None,
    lan_broker: tuple[Any, Broker],
    tmp_path: Path,
) -> None:
    """The real agent scans the LAN; HA discovers it, makes devices and a restricted repair."""
    lan, broker = lan_broker
    mqtt_entry = await connect_home_assistant(hass, broker)
    agent = start_agent(lan, broker, tmp_path)
    try:
        entry = await confirm_discovered_agent(hass, AGENT_ID)
        devices = await wait_for(
            hass,
            lambda: len(d := camera_devices(hass, entry)) >= 2 and d,
            120,
            "the agent's cameras as devices",
        )
        makers = {device.manufacturer for device in devices.values()}
        assert "Hikvision" in makers, makers  # the Annke label hides a Hikvision
        issues = await wait_for(hass, lambda: our_issues(hass), 30, "a restricted-camera repair")
        annke = next(d for d in devices.values() if d.manufacturer == "Hikvision")
        camera_id = entry.runtime_data.camera_id_of(annke)
        assert [i.issue_id for i in issues] == [f"camera_{AGENT_ID}_{camera_id}"]
        assert issues[0].translation_placeholders["manufacturer"] == "Hikvision"
        online = hass.states.get("binary_sensor.lab_agent_online")
        assert online is not None
        assert online.state == "on"

        # Stopping the agent: its last word (or the broker's last will) makes it offline.
        agent.terminate()
        await asyncio.to_thread(agent.wait, 30)
        await wait_for(
            hass,
            lambda: hass.states.get("binary_sensor.lab_agent_online").state == "off",
            30,
            "the agent to go offline",
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        if agent.poll() is None:
            agent.kill()
            await asyncio.to_thread(agent.wait, 10)
        assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()
