"""Publishing speed: 1,000 camera states from the agent until all are retained on the broker.

Starts a real Mosquitto on 127.0.0.1, builds 1,000 camera records (copies of a
real identified Hikvision camera at distinct MACs and addresses), and times,
for each run and protocol:

  publish:  contract payloads built and encoded, handed to the Publisher, until
            the broker has acknowledged (PUBACK, QoS 1) every retained message;
  verify:   a fresh subscriber connecting afterwards receives all 1,000 as
            retained messages (so they really are stored on the broker).

Reports median and IQR over the runs. No namespaces needed (loopback only).
Usage: .venv/bin/python -m bench.bench_mqtt [--runs 5] [--cameras 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.client import MqttClient, MqttSettings
from cctv_sentinel.mqtt.contract import Topics
from cctv_sentinel.mqtt.publisher import Publisher
from tests.agent.service.support import facts, hikvision
from tests.lab.broker import Broker, Subscriber


def records(count: int, workdir: Path) -> list:
    """``count`` camera records that differ in MAC and address."""
    inv = Inventory(workdir / "seed.sqlite3")
    inv.open()
    inv.observe(facts(hikvision()), at=time.time(), full_scan=True)
    seed = inv.records()[0]
    inv.close()
    out = []
    for n in range(count):
        mac = f"bc:ad:28:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"
        out.append(
            replace(
                seed,
                camera_id=mac.replace(":", ""),
                mac=mac,
                ip=f"198.18.{(n >> 8) & 255}.{n & 255}",
            )
        )
    return out


async def publish_all(broker: Broker, topics: Topics, cams: list, protocol: str) -> float:
    """Seconds from the first payload built to the last PUBACK."""
    publisher: Publisher

    async def on_connect() -> None:
        publisher.connected()

    client = MqttClient(
        MqttSettings(host=broker.host, port=broker.port, client_id="bench", protocol=protocol),
        on_connect=on_connect,
    )
    publisher = Publisher(client)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(publisher.run())]
    await client.wait_connected(10)
    await publisher.flush(10)
    start = time.perf_counter()
    for record in cams:
        payload = contract.camera_payload(record, regimes={})
        publisher.retain(topics.camera(record.camera_id), contract.encode(payload))
    ok = await publisher.flush(120)
    seconds = time.perf_counter() - start
    assert ok, "not every camera was acknowledged"
    assert publisher.published >= len(cams)
    await client.disconnect()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return seconds


def verify(broker: Broker, topics: Topics, count: int) -> float:
    """Seconds for a newcomer to receive every camera as a retained message."""
    start = time.perf_counter()
    with Subscriber(broker, topics=[topics.camera_filter], timeout=60) as sub:
        sub.wait_for(lambda s: len(s.retained()) >= count, 60)
    return time.perf_counter() - start


def summary(values: list[float]) -> str:
    """Median and interquartile range, in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    if len(ms) >= 4:
        q = statistics.quantiles(ms, n=4)
        return f"{statistics.median(ms):.0f} ms (IQR {q[0]:.0f}-{q[2]:.0f})"
    return f"{statistics.median(ms):.0f} ms"


def main() -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    with TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        cams = records(args.cameras, Path(tmp))
        size = len(contract.encode(contract.camera_payload(cams[0], regimes={})))
        for protocol in ("3.1.1", "5"):
            published: list[float] = []
            verified: list[float] = []
            for run in range(args.runs):
                with Broker(workdir=Path(tmp) / f"broker-{protocol}-{run}") as broker:
                    topics = Topics("cctv_sentinel", "bench")
                    published.append(asyncio.run(publish_all(broker, topics, cams, protocol)))
                    verified.append(verify(broker, topics, args.cameras))
            rate = args.cameras / statistics.median(published)
            rows.append((protocol, summary(published), f"{rate:,.0f}/s", summary(verified)))
    print(f"{args.cameras} camera states of {size} bytes each, QoS 1, retained, {args.runs} runs")
    print()
    print("| MQTT | publish until all acknowledged | rate | newcomer receives all retained |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
