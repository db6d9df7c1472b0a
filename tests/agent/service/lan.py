"""An end-to-end bench for ``cctv-sentinel run``: LAN fixture, broker host, agent process.

The standard LAN (tests/lab/netlab.py) with emulated cameras; a Mosquitto on its
own LAN host (198.18.0.9, so the agent reaches it over the bridge like a real
broker); the real agent process in the scanner namespace; and test-side MQTT
clients living in the broker's namespace (one thread each, see support.netns).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cctv_sentinel.mqtt.contract import Topics
from tests.agent.service.support import agent_command, in_netns
from tests.lab import netlab
from tests.lab.broker import Broker, Subscriber, publish
from tests.lab.procs import child_env
from tests.lab.profiles import Profile

BROKER_IP = "198.18.0.9"
BROKER_PORT = 1883
AGENT_ID = "lab"
TOPICS = Topics("cctv_sentinel", AGENT_ID)
NETWORKS = ("198.18.0.0/24", "198.18.1.0/24")


def camera_id_of(profile: Profile) -> str:
    """The id the contract gives a profile's device: its MAC when the agent can learn it.

    On the LAN the neighbour table gives it; behind a router only a device that
    states it (SADP, DHIP) does, otherwise the id is its address.
    """
    if profile.network.routed and not (profile.raw.get("sadp") or profile.raw.get("dhip")):
        return "ip-" + profile.network.ip.replace(".", "-")
    return profile.network.mac.replace(":", "")


@dataclass
class ServiceLan:
    """The LAN, the broker and the agent of one end-to-end test module."""

    lab: netlab.Lab
    lan: netlab.LanHandle
    broker: Broker
    broker_host: netlab.Host
    workdir: Path
    agent: subprocess.Popen[bytes] | None = None
    agent_log: Path | None = None
    starts: int = 0
    subscribers: list[Subscriber] = field(default_factory=list)

    @classmethod
    def build(
        cls, lab: netlab.Lab, profiles: Iterable[Profile | Path], workdir: Path
    ) -> ServiceLan:
        """Bring up the LAN with every profile's emulator, and the broker on its host."""
        lan = lab.build_lan(list(profiles), max_delay=0.05)
        host = lab.add_host("mqtt", f"{BROKER_IP}/24", switch=lan.switch, label="broker")
        broker = Broker(
            netns=host.ns,
            host="127.0.0.1",
            listeners=[f"{BROKER_IP}:{BROKER_PORT}"],
            workdir=workdir / "broker",
        )
        broker.start()
        return cls(lab=lab, lan=lan, broker=broker, broker_host=host, workdir=workdir)

    # --- the agent --------------------------------------------------------------------

    def write_config(self, **extra: Any) -> Path:
        """The agent's config file (YAML is JSON's superset, so JSON it is)."""
        config: dict[str, Any] = {
            "agent": {
                "id": AGENT_ID,
                "name": "Lab agent",
                "state_dir": str(self.workdir / "state"),
            },
            "mqtt": {
                "broker": f"mqtt://{BROKER_IP}:{BROKER_PORT}",
                "reconnect_min": "0.2s",
                "reconnect_max": "1s",
            },
            "scan": {"networks": list(NETWORKS), "interval": "10m", "jitter": 0, "timeout": "8s"},
        }
        for key, value in extra.items():
            config[key] = {**config.get(key, {}), **value}
        path = self.workdir / "config.yaml"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return path

    def start_agent(self, *args: str, **config: Any) -> subprocess.Popen[bytes]:
        """Start ``cctv-sentinel run`` in the scanner's namespace, logging to a file."""
        assert self.agent is None or self.agent.poll() is not None, "agent already running"
        self.starts += 1
        path = self.write_config(**config)
        self.agent_log = self.workdir / f"agent.{self.starts}.log"
        with self.agent_log.open("wb") as log:
            self.agent = self.lan.popen_in_scanner(
                [*agent_command(), "-v", "run", "--config", str(path), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.workdir),
                env=child_env(PYTHONDONTWRITEBYTECODE="1"),
            )
        return self.agent

    def stop_agent(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Signal the agent and reap it."""
        if self.agent is None or self.agent.poll() is not None:
            return None if self.agent is None else self.agent.returncode
        self.agent.send_signal(sig)
        try:
            return self.agent.wait(timeout)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            return self.agent.wait(5)

    def log(self) -> str:
        """The current agent's output so far."""
        return self.agent_log.read_text("utf-8", "replace") if self.agent_log else ""

    # --- MQTT from the test's side ------------------------------------------------------

    def subscriber(self, topics: Sequence[str] = ("#",)) -> Subscriber:
        """A started subscriber on the broker's own host (stopped at teardown)."""

        def start() -> Subscriber:
            sub = Subscriber(host="127.0.0.1", port=self.broker.port, topics=topics, timeout=15)
            sub.start()
            return sub

        sub = in_netns(self.broker_host.ns, start, timeout=30)
        self.subscribers.append(sub)
        return sub

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish one message (QoS 1) from the broker's host."""
        in_netns(
            self.broker_host.ns,
            lambda: publish(
                host="127.0.0.1", port=self.broker.port, topic=topic, payload=payload, retain=retain
            ),
            timeout=30,
        )

    def close(self) -> None:
        """Stop the agent, the subscribers and the broker (the lab removes the rest)."""
        self.stop_agent(signal.SIGKILL, timeout=5)
        for sub in self.subscribers:
            sub.stop()
        self.broker.close()


def cameras_in(state: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Camera id -> payload from a subscriber's state()."""
    prefix = TOPICS.root + "/camera/"
    return {t[len(prefix) :]: json.loads(p) for t, p in state.items() if t.startswith(prefix)}


def events_in(
    sub: Subscriber, kind: str | None = None, after: float | None = None
) -> list[dict[str, Any]]:
    """Events received (of one type, after a monotonic time)."""
    out = []
    for message in sub.messages(TOPICS.event):
        if after is not None and message.received < after:
            continue
        body = message.json()
        if kind is None or body["type"] == kind:
            out.append(body)
    return out


def wait(sub: Subscriber, predicate: Any, timeout: float, lan: ServiceLan) -> Any:
    """Subscriber.wait_for, with the agent's log in the failure message."""
    try:
        return sub.wait_for(predicate, timeout)
    except TimeoutError as err:
        raise AssertionError(f"{err}\n--- agent log (tail):\n{lan.log()[-4000:]}") from None


def now() -> float:
    """The clock Subscriber stamps messages with."""
    return time.monotonic()
