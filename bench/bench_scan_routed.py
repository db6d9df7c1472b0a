"""A routed, sparse /16: `cctv-sentinel scan` against nmap across a router namespace.

The scanner sits on 198.18.0.0/24; a router namespace (198.18.0.1 and
198.19.0.1/16) forwards to 198.19.0.0/16, where N emulated devices (default 50,
the corpus's on-link profiles cloned) live at addresses spread over the whole
/16. Nothing answers at the other ~65,480 addresses. No multicast crosses the
router, so the agent finds hosts with one TCP connect each and asks the live
ones by unicast (WS-Discovery, SADP, DHIP), as it would a remote site.

  agent: cctv-sentinel scan --format json --network 198.19.0.0/16 --timeout T
  nmap:  nmap -n -T4 -sT -p <same ports> --open 198.19.0.0/16 -oX -   (as root)

Alternating, N runs each; wall time and peak RSS by tests/lab/peakrss.py,
camera recall of both. Needs root.

Usage: .venv/bin/python -m bench.bench_scan_routed [--devices 50] [--runs 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from bench.bench_scan import AGENT, PORTS, Run, measured, summarise
from tests.lab import netlab, scale
from tests.lab.profiles import clone

FAR = ipaddress.IPv4Network("198.19.0.0/16")
ROUTER_FAR = "198.19.0.1"
AGENT_TIMEOUT = 600.0
"""The agent's --timeout here: long enough that the sweep, not the deadline, ends the scan."""


def spread(count: int) -> list[str]:
    """``count`` addresses spread over the /16 (a different /24 and host part for each)."""
    step = (1 << 16) // (count + 1)
    out = []
    for n in range(1, count + 1):
        value = int(FAR.network_address) + n * step
        if value & 0xFF in (0, 1, 255):
            value += 7
        out.append(str(ipaddress.IPv4Address(value)))
    return out


def run_agent(ns: str, workdir: Path) -> Run:
    seconds, rss, out = measured(
        ns,
        workdir,
        [
            AGENT,
            "scan",
            "--format",
            "json",
            "--no-progress",
            "--network",
            str(FAR),
            "--timeout",
            f"{AGENT_TIMEOUT:g}",
        ],
    )
    doc = json.loads(out)
    return Run("agent", seconds, rss, {c["ip"] for c in doc["cameras"]})


def run_nmap(ns: str, workdir: Path) -> Run:
    seconds, rss, out = measured(
        ns, workdir, ["nmap", "-n", "-T4", "-sT", "-p", PORTS, "--open", str(FAR), "-oX", "-"]
    )
    found: set[str] = set()
    for host in ElementTree.fromstring(out).iter("host"):
        ports = host.find("ports")
        if ports is None or ports.find("port") is None:
            continue
        for addr in host.iter("address"):
            if addr.get("addrtype") == "ipv4":
                found.add(addr.get("addr", ""))
    return Run("nmap", seconds, rss, found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    reason = netlab.lab_unavailable_reason()
    if reason:
        print(f"bench_scan_routed: {reason}", file=sys.stderr)
        return 2
    base = scale.on_link_corpus()
    profiles = [
        clone(
            base[n % len(base)],
            ip,
            f"{base[n % len(base)].network.mac.rsplit(':', 3)[0]}:d0:{n >> 8:02x}:{n & 0xFF:02x}",
            None,
        )
        for n, ip in enumerate(spread(args.devices))
    ]
    truth = {p.network.ip for p in profiles if p.truth.kind in scale.CAMERA_KINDS}
    runs: dict[str, list[Run]] = {"agent": [], "nmap": []}
    with netlab.Lab() as lab:
        lan = lab.add_switch("lan")
        far = lab.add_switch("far16")
        scanner = lab.add_host("scan", "198.18.0.2/24", switch=lan)
        lab.add_router("rtr", (lan, "198.18.0.1/24"), (far, f"{ROUTER_FAR}/16"))
        lab.add_route(scanner, str(FAR), "198.18.0.1")
        hosts = lab.add_hosts(
            [
                netlab.HostSpec(
                    f"r{n}",
                    f"{p.network.ip}/16",
                    p.network.mac,
                    far,
                    gateway=ROUTER_FAR,
                    label=p.id,
                )
                for n, p in enumerate(profiles)
            ]
        )
        paths = [p.write(lab.workdir / "profiles") for p in profiles]
        lab.start_emulators(list(zip(hosts, paths, strict=True)), extra_args=["--gsoap-envelope"])
        for _ in range(args.runs):
            for tool in ("agent", "nmap"):
                run = (run_agent if tool == "agent" else run_nmap)(scanner.ns, lab.workdir)
                runs[tool].append(run)
                print(f"  routed /16, {tool}: {run.seconds:.1f} s", file=sys.stderr)
    result: dict[str, Any] = {
        "network": str(FAR),
        "live_hosts": len(profiles),
        "cameras": len(truth),
        "agent": summarise(runs["agent"], truth),
        "nmap": summarise(runs["nmap"], truth),
    }
    result["speed_ratio"] = round(result["agent"]["median_s"] / result["nmap"]["median_s"], 3)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
