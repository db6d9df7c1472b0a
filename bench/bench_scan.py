"""Discovery speed and recall: `cctv-sentinel scan` against nmap on the same LAN.

Builds the LAN of namespaces with every honest on-link profile of the corpus on
198.18.0.0/24 (emulated devices answering real protocol bytes), then, from the
scanner namespace and alternating the two tools, runs N times each after
flushing the neighbour table:

  agent: cctv-sentinel scan --format json --network 198.18.0.0/24   (every probe)
  nmap:  nmap -n -T4 -sT -p <same ports> --open 198.18.0.0/24 -oX -  (as root: ARP ping)

and reports median wall time (with IQR), camera recall of both, and the
agent's peak RSS. Needs root. Usage: .venv/bin/python -m bench.bench_scan [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from tests.lab import netlab
from tests.lab.profiles import Profile, load_corpus

ROOT = Path(__file__).resolve().parents[1]
AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
NETWORK = "198.18.0.0/24"
PORTS = "80,443,554,8000,8080,8443,8899,34567,37777"
CAMERA_KINDS = {"camera", "recorder"}


@dataclass
class Run:
    tool: str
    seconds: float
    found: set[str]
    reported: int
    peak_rss_mb: float | None


def timed(argv: list[str]) -> tuple[float, str]:
    """Run argv; return (wall seconds, stdout)."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False
    )
    return time.perf_counter() - start, done.stdout


def agent_peak_rss(ns: str, report: Path) -> float:
    """Peak RSS (MB) of one agent scan, measured by tests/lab/peakrss.py (see there why)."""
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "tests.lab.peakrss",
            str(report),
            "--",
            AGENT,
            "scan",
            "--format",
            "json",
            "--no-progress",
            "--network",
            NETWORK,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        check=False,
    )
    return float(json.loads(report.read_text(encoding="utf-8"))["peak_rss_kb"]) / 1024


def run_agent(ns: str) -> Run:
    seconds, out = timed(
        [
            "ip",
            "netns",
            "exec",
            ns,
            AGENT,
            "scan",
            "--format",
            "json",
            "--no-progress",
            "--network",
            NETWORK,
        ]
    )
    doc = json.loads(out)
    found = {c["ip"] for c in doc["cameras"]}
    return Run("agent", seconds, found, len(found), None)


def run_nmap(ns: str) -> Run:
    seconds, out = timed(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "nmap",
            "-n",
            "-T4",
            "-sT",
            "-p",
            PORTS,
            "--open",
            NETWORK,
            "-oX",
            "-",
        ]
    )
    root = ElementTree.fromstring(out)
    found: set[str] = set()
    for host in root.iter("host"):
        ports = host.find("ports")
        if ports is None or ports.find("port") is None:
            continue
        for addr in host.iter("address"):
            if addr.get("addrtype") == "ipv4":
                found.add(addr.get("addr", ""))
    # nmap lists every host with an open port: it cannot tell a camera from a printer.
    return Run("nmap", seconds, found, len(found), None)


def summarise(runs: list[Run], truth: set[str]) -> dict[str, Any]:
    times = sorted(r.seconds for r in runs)
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    recall = [len(r.found & truth) / len(truth) for r in runs]
    rss = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
    return {
        "runs": len(runs),
        "median_s": round(statistics.median(times), 3),
        "iqr_s": [round(q[0], 3), round(q[2], 3)],
        "min_recall": round(min(recall), 4),
        "median_reported": statistics.median(r.reported for r in runs),
        "non_cameras_reported": max(len(r.found - truth) for r in runs),
        "peak_rss_mb": round(max(rss), 1) if rss else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    reason = netlab.lab_unavailable_reason()
    if reason:
        print(f"bench_scan: {reason}", file=sys.stderr)
        return 2
    profiles: list[Profile] = [p for p in load_corpus() if not p.network.routed]
    truth = {p.network.ip for p in profiles if p.truth.kind in CAMERA_KINDS}
    runs: dict[str, list[Run]] = {"agent": [], "nmap": []}
    with netlab.Lab() as lab:
        lan = lab.build_lan(profiles, router=False)
        ns = lan.scanner.ns
        run_agent(ns)  # warm the page cache once; not counted
        for _ in range(args.runs):
            for tool, fn in (("agent", run_agent), ("nmap", run_nmap)):
                lan.flush_neigh()
                runs[tool].append(fn(ns))
        lan.flush_neigh()
        rss = agent_peak_rss(ns, lab.workdir / "rss.json")
    runs["agent"][0].peak_rss_mb = rss
    result = {
        "network": NETWORK,
        "devices": len(profiles),
        "cameras": len(truth),
        "ports": PORTS,
        "agent": summarise(runs["agent"], truth),
        "nmap": summarise(runs["nmap"], truth),
    }
    result["speed_ratio"] = round(result["agent"]["median_s"] / result["nmap"]["median_s"], 3)
    print(json.dumps(result, indent=2))
    a, n = result["agent"], result["nmap"]
    print(
        "\n| tool | median wall (s) | IQR (s) | camera recall | hosts reported | non-cameras reported | peak RSS (MB) |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| cctv-sentinel scan | {a['median_s']} | {a['iqr_s'][0]}–{a['iqr_s'][1]} | {a['min_recall']:.0%} | "
        f"{a['median_reported']} | {a['non_cameras_reported']} | {a['peak_rss_mb']} |\n"
        f"| nmap -n -T4 -sT --open | {n['median_s']} | {n['iqr_s'][0]}–{n['iqr_s'][1]} | {n['min_recall']:.0%} | "
        f"{n['median_reported']} | {n['non_cameras_reported']} | – |\n"
        f"\nagent / nmap time: {result['speed_ratio']}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
