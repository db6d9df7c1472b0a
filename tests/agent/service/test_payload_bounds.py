"""MQTT payloads are bounded before the agent reads them, measured on the real process.

The agent (``cctv-sentinel run``, forked from tests/lab/peakrss.py so its peak RSS is
its own) connects to a real Mosquitto; a client publishes a 128 MiB "command". Over
MQTT 5 the agent's CONNECT says Maximum Packet Size 64 KiB, so the broker never sends
it; over MQTT 3.1.1 the broker's ``max_packet_size`` (docs/mosquitto/cctv-sentinel.conf)
refuses the publisher. Either way the agent never holds the payload. Without either
bound (3.1.1 and an unbounded broker) the same publish reaches the agent and its peak
memory grows by more than the payload: the measurement can tell the difference.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.agent.service.support import REPO, agent_command
from tests.lab.broker import Broker, BrokerError, Subscriber, publish

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]

BIG = 128 * 1024 * 1024
"""Bytes of the flood; twice the noise seen in the agent's peak RSS between runs (about 30 MB)."""
TOPIC = "cctv_sentinel/site-a/command"
RESULT = "cctv_sentinel/site-a/command/result"
RECIPE = REPO / "docs" / "mosquitto" / "cctv-sentinel.conf"


def recipe_limit() -> str:
    [line] = [x for x in RECIPE.read_text().splitlines() if x.startswith("max_packet_size")]
    return line


EVENT = "cctv_sentinel/site-a/event"


def small(command_id: str) -> bytes:
    """A command the agent answers at once without work (no isolation is configured)."""
    body = {"schema_version": 1, "command_id": command_id, "command": "release"}
    return json.dumps({**body, "camera_id": "bcad28000021"}).encode()


def peak_rss_mb(broker: Broker, tmp_path: Path, protocol: str, *, flood: bool) -> float:
    """Run the agent; once its first scan is done, publish the big payload between two
    small commands, to its command topic (``flood``) or to a topic nobody reads (the
    baseline, so both runs do the same work and take the same time)."""
    config = tmp_path / f"agent-{protocol}-{flood}.yaml"
    data: dict[str, Any] = {
        "agent": {"id": "site-a", "state_dir": str(tmp_path / f"state-{protocol}-{flood}")},
        "mqtt": {"broker": f"mqtt://127.0.0.1:{broker.port}", "protocol": protocol},
        # A small scan: its own memory is the noise under the measurement.
        "scan": {
            "networks": ["198.18.0.0/30"],
            "probes": ["sweep"],
            "passive": False,
            "interval": "1h",
        },
    }
    config.write_text(yaml.safe_dump(data))
    report = tmp_path / f"rss-{protocol}-{flood}.json"
    argv = [sys.executable, "-m", "tests.lab.peakrss", str(report), "--"]
    argv += [*agent_command(), "run", "--config", str(config), "--no-passive"]
    with Subscriber(broker, topics=[RESULT, EVENT]) as sub:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        try:

            def answered(command_id: str) -> Any:
                return sub.wait_for(
                    lambda s: [
                        m for m in s.messages(RESULT) if m.json()["command_id"] == command_id
                    ],
                    30,
                )

            sub.wait_for(
                lambda s: [m for m in s.messages(EVENT) if m.json()["type"] == "scan_finished"],
                60,
            )
            # Resent until answered: the agent subscribes only after its start-up.
            for attempt in range(60):
                publish(broker, TOPIC, small(f"before-{attempt}"))
                try:
                    sub.wait_for(lambda s: s.messages(RESULT), 0.5)
                    break
                except TimeoutError:
                    continue
            # The broker may hang up on an oversize publish: that is the point.
            with contextlib.suppress(BrokerError):
                target = TOPIC if flood else "elsewhere/nobody/reads"
                publish(broker, target, b"{" + b" " * BIG + b"}", timeout=60)
            publish(broker, TOPIC, small("after"))
            answered("after")
        finally:
            # SIGTERM to the agent itself (peakrss must live on to report).
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for child in children:
                os.kill(int(child), signal.SIGTERM)
            proc.wait(30)
    return json.loads(report.read_text())["peak_rss_kb"] / 1024


@pytest.mark.parametrize(
    ("protocol", "broker_limit"),
    [("5", False), ("3.1.1", True)],
    ids=["mqtt5-maximum-packet-size", "mqtt311-broker-max_packet_size"],
)
def test_a_huge_publish_does_not_grow_the_agents_memory(
    tmp_path: Path, protocol: str, broker_limit: bool
) -> None:
    extra = [recipe_limit()] if broker_limit else []
    with Broker(workdir=tmp_path / "broker", extra_config=extra) as broker:
        quiet = peak_rss_mb(broker, tmp_path, protocol, flood=False)
        flooded = peak_rss_mb(broker, tmp_path, protocol, flood=True)
    assert flooded < quiet + BIG / 2**20 / 2, (quiet, flooded)


def test_without_any_bound_the_payload_reaches_the_agent(tmp_path: Path) -> None:
    """The control: MQTT 3.1.1 and a broker without max_packet_size."""
    with Broker(workdir=tmp_path / "broker") as broker:
        quiet = peak_rss_mb(broker, tmp_path, "3.1.1", flood=False)
        flooded = peak_rss_mb(broker, tmp_path, "3.1.1", flood=True)
    assert flooded > quiet + BIG / 1024 / 1024, (quiet, flooded)
