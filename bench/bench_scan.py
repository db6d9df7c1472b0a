"""Discovery speed, recall and memory: `cctv-sentinel scan` against nmap, LAN by LAN.

For each size, a /24 of that many emulated devices (the corpus's on-link
profiles, then their clones: tests/lab/scale.py; WS-Discovery answers of
3.4-3.6 KiB, random 0-500 ms reply delays, SSDP 0..MX). From the scanner
namespace, alternating the two tools, N runs each, the neighbour table flushed
before every run:

  agent: cctv-sentinel scan --format json --raw --network 198.18.0.0/24   (every probe)
  nmap:  nmap -n -T4 -sT -p <same ports> --open 198.18.0.0/24 -oX -       (as root: ARP ping)

Each run is timed and its peak RSS taken by tests/lab/peakrss.py (wall time
from fork to exit). For the agent, the discovery answers the devices logged as
sent are compared with what the scan reports, protocol by protocol, and the
namespace's UdpRcvbufErrors is read before and after. Needs root.

Usage: .venv/bin/python -m bench.bench_scan [--sizes 18,36,71,142,213] [--runs 5]
       [--json bench/results/scan.json] [--plot docs/images/scan-vs-nmap.png]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from tests.lab import netlab, scale

ROOT = Path(__file__).resolve().parents[1]
AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
NETWORK = "198.18.0.0/24"
PORTS = "80,443,554,8000,8080,8443,8899,34567,37777"
SIZES = (18, 36, 71, 142, 213)
SSDP_FLOOR = 1.28
"""Seconds from the first M-SEARCH until the SSDP socket's window closes (docs/discovery.md)."""
LATE_SENDS = 1.0
"""Seconds waited after a scan before reading what the devices sent: an answer
sent after the scan stopped listening must count as sent and not heard."""


@dataclass
class Run:
    tool: str
    seconds: float
    peak_rss_mb: float
    found: set[str]
    heard: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    rcvbuf_errors: int = 0


def measured(ns: str, workdir: Path, argv: list[str]) -> tuple[float, float, str]:
    """Run argv in ns under the peak-RSS helper; return (wall s, peak RSS MB, stdout)."""
    report = workdir / "peakrss.json"
    done = subprocess.run(
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
            *argv,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        check=False,
    )
    result = json.loads(report.read_text(encoding="utf-8"))
    return float(result["wall_s"]), float(result["peak_rss_kb"]) / 1024, done.stdout


def udp_counter(ns: str, name: str = "RcvbufErrors") -> int:
    """One of the namespace's UDP counters (/proc/net/snmp, as nstat shows them)."""
    text = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names, values = re.findall(r"^Udp: (.*)$", text, re.MULTILINE)[:2]
    return dict(zip(names.split(), map(int, values.split()), strict=True))[name]


def run_agent(lan: netlab.LanHandle, workdir: Path) -> Run:
    ns = lan.scanner.ns
    offsets = scale.log_offsets(lan)
    before = udp_counter(ns)
    seconds, rss, out = measured(
        ns,
        workdir,
        [AGENT, "scan", "--format", "json", "--raw", "--no-progress", "--network", NETWORK],
    )
    after = udp_counter(ns)
    doc = json.loads(out)
    time.sleep(LATE_SENDS)
    sent = scale.sent_by_devices(lan, since=offsets)
    heard = scale.heard_by_scan(doc)
    return Run(
        tool="agent",
        seconds=seconds,
        peak_rss_mb=rss,
        found={c["ip"] for c in doc["cameras"]},
        heard={p: len(heard[p] & sent[p]) for p in scale.DISCOVERY},
        sent={p: len(sent[p]) for p in scale.DISCOVERY},
        missed={p: len(sent[p] - heard[p]) for p in scale.DISCOVERY},
        rcvbuf_errors=after - before,
    )


def run_nmap(lan: netlab.LanHandle, workdir: Path, network: str = NETWORK) -> Run:
    seconds, rss, out = measured(
        lan.scanner.ns,
        workdir,
        ["nmap", "-n", "-T4", "-sT", "-p", PORTS, "--open", network, "-oX", "-"],
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
    return Run(tool="nmap", seconds=seconds, peak_rss_mb=rss, found=found)


def summarise(runs: list[Run], truth: set[str]) -> dict[str, Any]:
    times = sorted(r.seconds for r in runs)
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    summary: dict[str, Any] = {
        "runs": len(runs),
        "median_s": round(statistics.median(times), 3),
        "iqr_s": [round(q[0], 3), round(q[2], 3)],
        "all_s": [round(r.seconds, 3) for r in runs],
        "min_recall": round(min(len(r.found & truth) / len(truth) for r in runs), 4),
        "non_cameras_reported": max(len(r.found - truth) for r in runs),
        "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
    }
    if runs[0].sent:  # the agent on a LAN whose answers were compared
        summary["heard"] = {p: sum(r.heard[p] for r in runs) for p in scale.DISCOVERY}
        summary["sent"] = {p: sum(r.sent[p] for r in runs) for p in scale.DISCOVERY}
        summary["missed"] = {p: sum(r.missed[p] for r in runs) for p in scale.DISCOVERY}
        summary["rcvbuf_errors"] = sum(r.rcvbuf_errors for r in runs)
    return summary


def bench_size(count: int, runs: int) -> dict[str, Any]:
    profiles = scale.lan_profiles(count)
    truth = {p.network.ip for p in profiles if p.truth.kind in scale.CAMERA_KINDS}
    results: dict[str, list[Run]] = {"agent": [], "nmap": []}
    with netlab.Lab() as lab:
        lan = lab.build_lan(profiles, router=False, emulator_args=["--gsoap-envelope"])
        lan.flush_neigh()
        run_agent(lan, lab.workdir)  # warm the page cache once; not counted
        lan.flush_neigh()
        run_nmap(lan, lab.workdir)
        for _ in range(runs):
            for tool in ("agent", "nmap"):
                lan.flush_neigh()
                run = run_agent(lan, lab.workdir) if tool == "agent" else run_nmap(lan, lab.workdir)
                results[tool].append(run)
                print(f"  {count} devices, {tool}: {run.seconds:.3f} s", file=sys.stderr)
    agent, nmap = summarise(results["agent"], truth), summarise(results["nmap"], truth)
    return {
        "devices": count,
        "cameras": len(truth),
        "agent": agent,
        "nmap": nmap,
        "speed_ratio": round(agent["median_s"] / nmap["median_s"], 3),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        (
            "| devices (cameras) | agent median (IQR) s | nmap median (IQR) s | agent / nmap "
            "| answers heard / sent (WSD, SADP, DHIP, SSDP, mDNS; all runs) | UdpRcvbufErrors "
            "| camera recall agent / nmap | nmap non-cameras | peak RSS agent / nmap (MB) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        a, n = row["agent"], row["nmap"]
        heard = ", ".join(f"{a['heard'][p]}/{a['sent'][p]}" for p in scale.DISCOVERY)
        lines.append(
            f"| {row['devices']} ({row['cameras']}) "
            f"| {a['median_s']:.3f} ({a['iqr_s'][0]:.3f}-{a['iqr_s'][1]:.3f}) "
            f"| {n['median_s']:.3f} ({n['iqr_s'][0]:.3f}-{n['iqr_s'][1]:.3f}) "
            f"| {row['speed_ratio']:.2f} | {heard} | {a['rcvbuf_errors']} "
            f"| {a['min_recall']:.0%} / {n['min_recall']:.0%} | {n['non_cameras_reported']} "
            f"| {a['peak_rss_mb']} / {n['peak_rss_mb']} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Median wall time against devices for both tools (matplotlib: the bench group)."""
    import matplotlib as mpl  # only for --plot: the dependency group bench

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    devices = [r["devices"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for tool, label, style in (
        ("agent", "cctv-sentinel scan (every probe, verdicts)", "o-"),
        ("nmap", "nmap -n -T4 -sT --open (ports only)", "s-"),
    ):
        medians = [r[tool]["median_s"] for r in rows]
        low = [r[tool]["median_s"] - r[tool]["iqr_s"][0] for r in rows]
        high = [r[tool]["iqr_s"][1] - r[tool]["median_s"] for r in rows]
        ax.errorbar(devices, medians, yerr=[low, high], fmt=style, capsize=3, label=label)
    ax.plot(
        devices,
        [0.5 * r["nmap"]["median_s"] for r in rows],
        "k--",
        linewidth=1,
        label="goal: 0.5 x nmap",
    )
    ax.axhline(
        SSDP_FLOOR,
        color="grey",
        linestyle=":",
        linewidth=1,
        label=f"SSDP window (MX 1 s + resend + margin): {SSDP_FLOOR:g} s, start-up not included",
    )
    ax.set_xlabel("emulated devices on the /24")
    ax.set_ylabel("median wall time (s), IQR bars")
    top = max(r[t]["iqr_s"][1] for r in rows for t in ("agent", "nmap"))
    ax.set_ylim(0, top * 1.45)  # room for the legend above the data
    ax.set_title("Scan time against LAN size (2 shared vCPUs, network namespaces)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(v) for v in text.split(",")),
        default=SIZES,
        help="comma-separated device counts (at most 250)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--plot", type=Path, help="write a PNG plot here (needs matplotlib)")
    parser.add_argument(
        "--plot-from", type=Path, help="only draw --plot from an earlier --json result"
    )
    args = parser.parse_args(argv)
    if args.plot_from:
        saved = json.loads(args.plot_from.read_text(encoding="utf-8"))
        print(table(saved["sizes"]))
        if args.plot:
            plot(saved["sizes"], args.plot)
        return 0
    reason = netlab.lab_unavailable_reason()
    if reason:
        print(f"bench_scan: {reason}", file=sys.stderr)
        return 2
    if any(not 0 < n <= scale.MAX_DEVICES for n in args.sizes) or args.runs < 1:
        print(f"bench_scan: sizes must be 1-{scale.MAX_DEVICES}, runs at least 1", file=sys.stderr)
        return 2
    rows = [bench_size(count, args.runs) for count in args.sizes]
    result = {"network": NETWORK, "ports": PORTS, "runs": args.runs, "sizes": rows}
    print(json.dumps(result, indent=2))
    print("\n" + table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
