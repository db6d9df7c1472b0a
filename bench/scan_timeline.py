"""Where one scan's time goes: run the Scanner in this namespace and time every task.

Run inside the scanner namespace (bench/bench_scan_profile.py does). Prints one
JSON document: the scan's wall time, the process's CPU time during it, the
longest event-loop stalls, per kind of task (the discovery probes, port scans,
HTTP, RTSP, ONVIF, SSDP descriptions) how many ran and when the first started
and the last ended, and with ``--cprofile`` the functions that took the most
time of their own.

Usage: python -m bench.scan_timeline NETWORK [--cprofile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import ipaddress
import json
import pstats
import resource
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from cctv_sentinel.discovery import scanner as scanner_module

LAG_TICK = 0.005
"""Seconds between the loop-stall monitor's wake-ups."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def timeline(network: str, profile: bool) -> dict[str, Any]:
    scanner = scanner_module.Scanner(
        scanner_module.ScanOptions(networks=(ipaddress.IPv4Network(network),))
    )
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    spawn = scanner._spawn  # noqa: SLF001  (measurement: every task the scan runs is timed)

    def timed_spawn(coro: Coroutine[Any, Any, Any], what: str) -> None:
        began = loop.time() - t0

        async def run() -> Any:
            try:
                return await coro
            finally:
                spans[what.split(maxsplit=1)[0]].append((began, loop.time() - t0))

        spawn(run(), what)

    scanner._spawn = timed_spawn  # type: ignore[method-assign]  # noqa: SLF001
    stalls: list[tuple[float, float]] = []

    async def watch() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(LAG_TICK)
            now = loop.time()
            stalls.append((last - t0, now - last - LAG_TICK))
            last = now

    watcher = asyncio.create_task(watch())
    profiler = cProfile.Profile() if profile else None
    cpu = _cpu()
    if profiler:
        profiler.enable()
    t0 = loop.time()
    run = await scanner.run()
    wall = loop.time() - t0
    if profiler:
        profiler.disable()
    cpu = _cpu() - cpu
    watcher.cancel()
    doc: dict[str, Any] = {
        "scan_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "observations": len(run.observations),
        "errors": run.errors,
        "longest_stalls": [
            {"at_s": round(at, 3), "stall_s": round(stall, 3)}
            for at, stall in sorted(stalls, key=lambda s: -s[1])[:5]
        ],
        "tasks": {
            kind: {
                "count": len(v),
                "first_start_s": round(min(a for a, _ in v), 3),
                "last_start_s": round(max(a for a, _ in v), 3),
                "last_end_s": round(max(b for _, b in v), 3),
                "median_duration_s": round(sorted(b - a for a, b in v)[len(v) // 2], 3),
            }
            for kind, v in sorted(spans.items())
        },
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        doc["cprofile_tottime_top"] = out.getvalue().splitlines()
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("network")
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    doc = asyncio.run(timeline(args.network, args.cprofile))
    doc["process_s"] = round(time.perf_counter() - start, 3)
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
