"""Where the time of a scan goes on a LAN of N emulated devices, and what its floor is.

Builds the LAN of bench_scan (default 142 devices), then from the scanner
namespace:

- the agent's start-up: ``python -c "import cctv_sentinel.cli.main"`` (median of 5);
- three scans under bench/scan_timeline.py (per-task timings, loop stalls, CPU),
  the last one also under cProfile;
- the protocols' own waits, from the agent's timing constants (the floor no
  scan can go under while it hears every answer).

Needs root. Usage: .venv/bin/python -m bench.bench_scan_profile [--devices 142]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cctv_sentinel import limits
from cctv_sentinel.discovery import ssdp
from cctv_sentinel.discovery.base import Timing
from tests.lab import netlab, scale

ROOT = Path(__file__).resolve().parents[1]


def floor() -> dict[str, float]:
    """The protocols' own waits (seconds from the first send), from the agent's constants."""
    timing = Timing()
    last_send = timing.retransmit_gap * (timing.retransmits - 1)

    class _Ctx:  # ssdp.listen_window only reads the timing
        def __init__(self) -> None:
            self.timing = timing

    return {
        "wsd_sadp_dhip_window_s": timing.window,
        "wsd_latest_answer_s": round(last_send + limits.WSD_APP_MAX_DELAY, 3),
        "ssdp_window_s": round(ssdp.listen_window(_Ctx()), 3),  # type: ignore[arg-type]
        "ssdp_latest_answer_s": round(last_send + timing.ssdp_mx, 3),
        "mdns_window_s": timing.window,
        "arp_watch_s": timing.arp_repoke,
    }


def in_ns(ns: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, cwd=ROOT, check=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=142)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    reason = netlab.lab_unavailable_reason()
    if reason:
        print(f"bench_scan_profile: {reason}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"devices": args.devices, "floor": floor()}
    with netlab.Lab() as lab:
        lan = lab.build_lan(
            scale.lan_profiles(args.devices), router=False, emulator_args=["--gsoap-envelope"]
        )
        ns = lan.scanner.ns
        starts = []
        for _ in range(5):
            began = time.perf_counter()
            in_ns(ns, [sys.executable, "-c", "import cctv_sentinel.cli.main"])
            starts.append(time.perf_counter() - began)
        result["startup_import_s"] = round(statistics.median(starts), 3)
        runs = []
        for attempt in range(3):
            lan.flush_neigh()
            extra = ["--cprofile"] if attempt == 2 else []
            done = in_ns(
                ns, [sys.executable, "-m", "bench.scan_timeline", scale.LAN.with_prefixlen, *extra]
            )
            runs.append(json.loads(done.stdout))
        result["runs"] = runs
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
