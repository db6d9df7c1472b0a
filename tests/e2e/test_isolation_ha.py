"""Home Assistant switch -> MQTT command -> agent -> nftables -> state back in Home Assistant.

Everything is real: Home Assistant's MQTT integration and ours in the test
process (root namespace, connected to 127.0.0.1 as the test plugin requires), a
Mosquitto listening on 127.0.0.1 and on a root veth on the camera LAN, the agent
(``cctv-sentinel run``) inside the gateway namespace with the nftables backend,
an emulated restricted camera behind that gateway, and a "WAN" host. The agent is
also restarted after a simulated reboot (its table deleted): the rules come back.

    camera 198.18.0.107 ─ lan ─ gw 198.18.0.1 (agent, nft) ─ uplink ─ wan 198.18.9.9
                           └── root veth 198.18.0.250 (broker)

Needs the Home Assistant pytest plugin: it is skipped under ``-p no:homeassistant``
(the agent suites' setting) and runs with ``pytest tests/e2e/test_isolation_ha.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

if "pytest_homeassistant_custom_component.plugins" not in sys.modules:
    pytest.skip(
        "needs the Home Assistant pytest plugin (run without -p no:homeassistant)",
        allow_module_level=True,
    )

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.cctv_sentinel.const import DOMAIN
from tests.agent.service.support import agent_command
from tests.e2e.test_isolation_netns import CONNECT, PORT, SERVER
from tests.lab import netlab
from tests.lab.broker import Broker, mosquitto_unavailable_reason
from tests.lab.procs import child_env

pytestmark = [pytest.mark.lab, pytest.mark.broker, pytest.mark.timeout(300)]

AGENT_ID = "isolab"
ROOT_IP = "198.18.0.250"
PROFILE = netlab.REPO_ROOT / "tests" / "fixtures" / "devices" / "annke-c800-i91bm.json"
CAMERA_IP = "198.18.0.107"
CAMERA_ID = "c056e35e0107"  # its MAC, as docs/mqtt.md derives camera ids
WAN_IP = "198.18.9.9"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/cctv_sentinel."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    """Home Assistant's MQTT client keeps its misc timer until its socket closes."""
    return True


@dataclass
class Gateway:
    """The site: the gateway the agent runs on, the camera, the WAN host, the broker."""

    lab: netlab.Lab
    gw: netlab.Host
    camera: netlab.Host
    broker: Broker
    workdir: Path

    def camera_reaches_wan(self) -> bool:
        """Can the camera open a TCP connection to the WAN host? (blocking)."""
        argv = [sys.executable, "-c", CONNECT, WAN_IP, str(PORT), "1.0"]
        return self.lab.run(self.camera, argv, timeout=30).returncode == 0

    def table(self) -> str:
        """Our nftables table in the gateway ('' when there is none). Blocking."""
        result = self.gw.run(["nft", "list", "table", "inet", "cctv_sentinel"], timeout=30)
        return result.stdout if result.returncode == 0 else ""

    def start_agent(self) -> subprocess.Popen[bytes]:
        """``cctv-sentinel run`` in the gateway namespace, isolation through nftables."""
        listener = next(f"{a}:{p}" for a, p in self.broker.extra_listeners if a == ROOT_IP)
        config = {
            "agent": {
                "id": AGENT_ID,
                "name": "Isolation lab",
                "state_dir": str(self.workdir / "state"),
            },
            "mqtt": {"broker": f"mqtt://{listener}"},
            "scan": {
                "networks": ["198.18.0.0/24"],
                "interval": "10m",
                "jitter": 0,
                "timeout": "8s",
            },
            "isolation": {"default_backend": "nftables", "backends": {"nftables": {}}},
        }
        path = self.workdir / "agent.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")  # YAML is a superset of JSON
        with (self.workdir / "agent.log").open("ab") as log:
            return self.lab.popen(
                self.gw,
                [*agent_command(), "-v", "run", "--config", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.workdir),
                env=child_env(PYTHONDONTWRITEBYTECODE="1"),
            )

    def log(self) -> str:
        """The agent's output so far."""
        path = self.workdir / "agent.log"
        return path.read_text("utf-8", "replace")[-4000:] if path.exists() else ""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def site(socket_enabled: None, lab: netlab.Lab, tmp_path: Path) -> Iterator[Gateway]:
    """Build the site; the lab fixture removes namespaces, rules and processes afterwards."""
    if reason := mosquitto_unavailable_reason():
        pytest.skip(reason)
    lan, uplink = lab.add_switch("lan"), lab.add_switch("uplink")
    gw = lab.add_router("gw", (lan, "198.18.0.1/24"), (uplink, "198.18.9.1/24"))
    gw.run(["ip", "route", "add", "default", "via", WAN_IP], check=True)
    camera, wan = lab.add_hosts(
        [
            netlab.HostSpec("cam", f"{CAMERA_IP}/24", "c0:56:e3:5e:01:07", lan, "198.18.0.1"),
            netlab.HostSpec("wan", f"{WAN_IP}/24", None, uplink, None),
        ]
    )
    lab.add_route(wan, "198.18.0.0/24", "198.18.9.1")
    lab.start_ready(wan, [sys.executable, "-c", SERVER], label="tcp-wan")
    lab.start_emulator(camera, PROFILE, 0.05)
    lab.attach_root(f"{ROOT_IP}/24", lan)
    port = _free_port(ROOT_IP)
    with Broker(listeners=[f"{ROOT_IP}:{port}"], workdir=tmp_path / "broker") as broker:
        yield Gateway(lab, gw, camera, broker, tmp_path)


async def wait_for(
    hass: HomeAssistant, condition: Callable[[], Any], timeout: float, what: str, site: Gateway
) -> Any:
    """Let Home Assistant run until ``condition()`` is truthy (real time: a real agent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await hass.async_block_till_done(wait_background_tasks=True)
        if result := condition():
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{site.log()}")
        await asyncio.sleep(0.2)


async def test_home_assistant_switch_isolates_a_camera_through_nftables(
    hass: HomeAssistant, mock_hass_config: None, site: Gateway
) -> None:
    mqtt_entry = MockConfigEntry(
        domain="mqtt", data={"broker": "127.0.0.1", "port": site.broker.port}
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    await wait_for(hass, lambda: hass.data["mqtt"].client.connected, 15, "MQTT", site)
    events = async_capture_events(hass, "cctv_sentinel_event")
    agent = site.start_agent()
    try:
        flows = await wait_for(
            hass,
            lambda: [
                f
                for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
                if f["context"].get("unique_id") == AGENT_ID
            ],
            60,
            "the agent's discovery flow",
            site,
        )
        result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
        entry = result["result"]
        await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED, 15, "the entry", site)

        registry = er.async_get(hass)
        unique_id = f"{AGENT_ID}_{CAMERA_ID}_isolation"
        entity_id = await wait_for(
            hass,
            lambda: registry.async_get_entity_id("switch", DOMAIN, unique_id),
            120,
            "the camera's isolation switch",
            site,
        )
        await wait_for(
            hass,
            lambda: (state := hass.states.get(entity_id)) is not None and state.state == "off",
            30,
            "the switch to show the camera not isolated",
            site,
        )
        assert await asyncio.to_thread(site.camera_reaches_wan)
        assert await asyncio.to_thread(site.table) == ""

        # Turn the switch on: the command goes out, the agent isolates, the state comes back.
        await hass.services.async_call("switch", "turn_on", {"entity_id": entity_id}, blocking=True)
        await wait_for(
            hass,
            lambda: hass.states.get(entity_id).state == "on",
            30,
            "the switch to turn on",
            site,
        )
        table = await asyncio.to_thread(site.table)
        assert CAMERA_IP in table
        assert "c0:56:e3:5e:01:07" in table
        assert not await asyncio.to_thread(site.camera_reaches_wan)
        await wait_for(
            hass,
            lambda: [e for e in events if e.data.get("type") == "isolation_applied"],
            15,
            "the isolation_applied event on the bus",
            site,
        )
        applied = next(e for e in events if e.data.get("type") == "isolation_applied")
        assert applied.data["camera_id"] == CAMERA_ID

        # The agent stops: the rules stay. The host "reboots" (the kernel forgets the
        # table) and the agent starts again: the rules are back, the switch still on.
        agent.terminate()
        await asyncio.to_thread(agent.wait, 30)
        assert CAMERA_IP in await asyncio.to_thread(site.table)
        delete = ["nft", "delete", "table", "inet", "cctv_sentinel"]
        await asyncio.to_thread(site.gw.run, delete, check=True)
        assert await asyncio.to_thread(site.camera_reaches_wan)
        agent = site.start_agent()
        for _ in range(300):  # the agent re-applies as it starts, within seconds
            if CAMERA_IP in await asyncio.to_thread(site.table):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"the restarted agent did not re-apply the rules\n{site.log()}")
        assert not await asyncio.to_thread(site.camera_reaches_wan)
        await wait_for(
            hass,
            lambda: hass.states.get(entity_id).state == "on",
            60,
            "the switch to be on again after the restart",
            site,
        )

        # And off again: the rules go, the camera reaches the WAN, the switch shows it.
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": entity_id}, blocking=True
        )
        await wait_for(
            hass,
            lambda: hass.states.get(entity_id).state == "off",
            30,
            "the switch to turn off",
            site,
        )
        assert await asyncio.to_thread(site.table) == ""
        assert await asyncio.to_thread(site.camera_reaches_wan)
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        if agent.poll() is None:
            agent.terminate()
            try:
                await asyncio.to_thread(agent.wait, 20)
            except subprocess.TimeoutExpired:
                agent.kill()
                await asyncio.to_thread(agent.wait, 10)
        assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()
