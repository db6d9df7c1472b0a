"""The estate at scale: 20 agents x 500 cameras through Mosquitto bridges to one central broker.

Starts a central Mosquitto and one site Mosquitto per agent (each bridging
``cctv_sentinel/#`` out to the central one with the settings of docs/estate.md),
all on 127.0.0.1. Each agent is the agent's own MQTT client and Publisher
retaining its announcement, info, history and camera states (copies of a real
identified Hikvision camera at distinct MACs; every tenth camera is seen by two
agents, as a recorder reachable from two VLANs would be). Measured, per run:

  bridged:  from the first payload handed to the publishers until a subscriber
            on the central broker holds every camera state, retained;
  report:   ``cctv-sentinel report --from-broker`` (HTML) against the central
            broker: wall time and peak RSS (tests/lab/peakrss.py), and the same
            for CSV.

Usage: .venv/bin/python -m bench.bench_estate [--agents 20] [--cameras 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.bench_mqtt import records
from cctv_sentinel.inventory.progress import DayCounts
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.client import MqttClient, MqttSettings
from cctv_sentinel.mqtt.contract import Topics
from cctv_sentinel.mqtt.publisher import Publisher
from tests.lab.broker import ESTATE_QUEUE, Broker, Subscriber, bridge_config


def agent_payloads(agent: int, seeds: list, shared: list) -> list[tuple[str, bytes]]:
    """Every retained message of one agent: its own cameras plus the shared ones it sees."""
    topics = Topics("cctv_sentinel", f"site-{agent:02d}")
    own = [
        replace(r, camera_id=f"{agent:02x}{r.camera_id[2:]}", mac=f"{agent:02x}{r.mac[2:]}")
        for r in seeds
    ]
    cams = own + (shared if agent % 2 == 0 else [])
    name = f"Site {agent:02d}"
    days = [DayCounts(f"2026-11-{d:02d}", len(cams), len(cams) - d, d, 0) for d in range(1, 29)]
    out = [
        (topics.discovery, contract.encode(contract.announcement(topics, name=name, version="b"))),
        (topics.history, contract.encode(contract.history_payload(topics.agent_id, days))),
    ]
    out += [
        (topics.camera(r.camera_id), contract.encode(contract.camera_payload(r, regimes={})))
        for r in cams
    ]
    return out


def agent_client(site: Broker, n: int) -> tuple[MqttClient, Publisher]:
    """The agent's own client and publisher for one site broker (resend all on connect)."""
    publisher: Publisher

    async def on_connect() -> None:
        publisher.connected()

    client = MqttClient(
        MqttSettings(host=site.host, port=site.port, client_id=f"agent-{n}"),
        on_connect=on_connect,
    )
    publisher = Publisher(client)
    return client, publisher


async def publish_all(sites: list[Broker], payloads: list[list[tuple[str, bytes]]]) -> list:
    """Connect one publisher per site broker; return (client, publisher, tasks, messages)."""
    running = []
    for n, (site, messages) in enumerate(zip(sites, payloads, strict=True)):
        client, publisher = agent_client(site, n)
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(publisher.run())]
        running.append((client, publisher, tasks, messages))
    for client, _, _, _ in running:
        await client.wait_connected(20)
    return running


async def bridged_time(
    central: Broker, sites: list[Broker], payloads: list[list[tuple[str, bytes]]], expected: int
) -> float:
    """Seconds from the first retain() to every camera state retained on the central broker."""
    with Subscriber(central, topics=["cctv_sentinel/+/camera/+"], timeout=120) as sub:
        running = await publish_all(sites, payloads)
        start = time.perf_counter()
        for _, publisher, _, messages in running:
            for topic, payload in messages:
                publisher.retain(topic, payload)
        await asyncio.to_thread(sub.wait_for, lambda s: len(s.state()) >= expected, 120)
        seconds = time.perf_counter() - start
        for client, _, tasks, _ in running:
            await client.disconnect()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return seconds


def report(central: Broker, fmt: str, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of report --from-broker."""
    rss = out.with_suffix(".rss.json")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tests.lab.peakrss", str(rss), "--", sys.executable, "-m",
         "cctv_sentinel", "report", "--from-broker", f"mqtt://{central.host}:{central.port}",
         "--format", fmt, "--target-date", "2027-03-31", "-o", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"report failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, json.loads(rss.read_text())["peak_rss_kb"] // 1024


def main() -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with TemporaryDirectory(prefix="bench-estate-") as tmp:
        base = Path(tmp)
        seeds = records(args.cameras, base)
        shared = [
            replace(r, camera_id=f"ff{r.camera_id[2:]}", mac=f"ff{r.mac[2:]}")
            for r in seeds[: args.cameras // 10]
        ]
        payloads = [agent_payloads(n, seeds, shared) for n in range(args.agents)]
        expected = sum(1 for p in payloads for t, _ in p if "/camera/" in t)
        for run in range(args.runs):
            with ExitStack() as stack:
                central = stack.enter_context(
                    Broker(
                        persistence=True,
                        workdir=base / f"central-{run}",
                        extra_config=ESTATE_QUEUE,
                    )
                )
                sites = [
                    stack.enter_context(
                        Broker(
                            workdir=base / f"site-{run}-{n}",
                            extra_config=bridge_config(f"site-{n:02d}", central),
                        )
                    )
                    for n in range(args.agents)
                ]
                bridged = asyncio.run(bridged_time(central, sites, payloads, expected))
                html = report(central, "html", base / f"estate-{run}.html")
                csv = report(central, "csv", base / f"estate-{run}.csv")
                rows.append((bridged, *html, *csv))
                print(f"run {run + 1}: bridged {bridged:.2f} s, HTML {html[0]:.2f} s {html[1]} MiB,"
                      f" CSV {csv[0]:.2f} s {csv[1]} MiB", file=sys.stderr)  # fmt: skip
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    states = expected
    unique = args.agents * args.cameras + len(shared)
    print(f"{args.agents} agents x {args.cameras} cameras ({states} retained camera states,"
          f" {unique} distinct cameras), {args.runs} runs, medians")  # fmt: skip
    print()
    print("| step | goal | result |")
    print("|---|---|---|")
    print(f"| publish -> all states retained on the central broker | <= 10 s | {med[0]:.2f} s |")
    print(f"| estate report, HTML | <= 5 s, <= 200 MB | {med[1]:.2f} s, {med[2]:.0f} MiB |")
    print(f"| estate report, CSV | <= 5 s, <= 200 MB | {med[3]:.2f} s, {med[4]:.0f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
