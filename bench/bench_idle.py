"""What watching costs: the agent's idle RSS, CPU and wake-ups between scans.

Builds the LAN of namespaces with emulated cameras and a Mosquitto on its own
LAN host, starts the real ``cctv-sentinel run`` in the scanner namespace
(passive listening on, full scans hourly), waits for its first scan, lets it
settle, then samples /proc of the agent process over a quiet window:

  CPU      (utime + stime) / window, in percent of one core;
  RSS      VmRSS at the end, and VmHWM (peak, i.e. during the first scan);
  wake-ups scheduler timeslices per second over all threads (/proc/PID/task/*/schedstat).

Needs root (namespaces). Usage: .venv/bin/python -m bench.bench_idle [--window 60] [--devices 12]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from tests.agent.service.lan import ServiceLan, events_in
from tests.lab import netlab
from tests.lab.profiles import load_corpus

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = int(value.split()[0])
    return out


def timeslices(pid: int) -> int:
    """Times any thread of the process was scheduled onto a CPU."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[2])
        except (OSError, IndexError, ValueError):
            continue
    return total


def main() -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds of idle sampling")
    parser.add_argument("--devices", type=int, default=12, help="emulated on-link devices")
    args = parser.parse_args()
    if reason := netlab.lab_unavailable_reason():
        raise SystemExit(f"bench_idle needs the lab: {reason}")
    corpus = [p for p in load_corpus() if not p.network.routed][: args.devices]
    with (
        TemporaryDirectory(prefix="bench-idle-") as tmp,
        netlab.Lab(workdir=Path(tmp) / "lab") as lab,
    ):
        bench = ServiceLan.build(lab, corpus, Path(tmp))
        try:
            sub = bench.subscriber()
            agent = bench.start_agent(scan={"interval": "1h"})
            sub.wait_for(lambda s: events_in(s, "scan_finished"), 120)
            time.sleep(5.0)  # let the first scan's follow-ups and publishes finish
            cpu0, slices0, t0 = cpu_seconds(agent.pid), timeslices(agent.pid), time.monotonic()
            time.sleep(args.window)
            cpu1, slices1, t1 = cpu_seconds(agent.pid), timeslices(agent.pid), time.monotonic()
            mem = memory_kb(agent.pid)
            cameras = events_in(sub, "scan_finished")[0]["details"]["cameras"]
        finally:
            bench.close()
    span = t1 - t0
    print(f"agent watching {len(corpus)} devices ({cameras} cameras), idle window {span:.0f} s")
    print()
    print("| CPU (idle) | wake-ups | RSS (idle) | RSS peak (first scan) |")
    print("|---|---|---|---|")
    print(
        f"| {100 * (cpu1 - cpu0) / span:.2f} % of one core | {(slices1 - slices0) / span:.1f}/s "
        f"| {mem['VmRSS'] / 1024:.1f} MiB | {mem['VmHWM'] / 1024:.1f} MiB |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
