"""What the scan hears from real third-party peers, counted on the wire.

Builds the LAN of namespaces with every peer of tests/lab/peers (avahi,
minidlna, two GUPnP devices, two gst-rtsp-servers, two lighttpd sites, ipycam,
wsdd) plus three emulated cameras, then runs ``cctv-sentinel scan`` N times
from the scanner namespace while tshark captures the scanner's eth0. Per run:

- avahi service instances the scan reports, out of the eight published;
- SSDP answers that reached the scanner, and how many of them met a closed
  port (an ICMP port unreachable sent back for them);
- mDNS answers that met a closed port;
- truncated (TC) mDNS answers;
- the wall time of the scan and the camera verdict of every peer.

Needs root and tshark. Usage: .venv/bin/python -m bench.bench_peers [--runs 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lab import netlab, peers
from tests.lab.profiles import load_corpus

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
NETWORK = "198.18.0.0/24"
CAMERAS = ("hikvision-ds-2cd2143g2-i", "dahua-ipc-hdw2431t-as-s2", "axis-p3245-lve")
_FIELDS = (
    "frame.time_relative",
    "ip.src",
    "ip.dst",
    "udp.srcport",
    "udp.dstport",
    "icmp.type",
    "icmp.code",
    "dns.flags.response",
    "dns.flags.truncated",
)


def capture(lab: netlab.Lab, host: netlab.Host, pcap: Path) -> netlab.LabProcess:
    """Start tshark on the host's eth0 and wait until it captures."""
    argv = ["tshark", "-i", "eth0", "-q", "-w", str(pcap), "-f", "udp or icmp"]
    # tshark says "Capturing on 'eth0'" on stderr once the capture is live.
    return lab.start_ready(host, ["sh", "-c", f"exec {shlex.join(argv)} 2>&1"], ready="Capturing")


def wire_counts(pcap: Path, scanner_ip: str) -> dict[str, int]:
    """Count answers and ICMP port-unreachables in a capture."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=|"]
        + [arg for f in _FIELDS for arg in ("-e", f)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = {"ssdp_answers": 0, "ssdp_unreachable": 0, "mdns_unreachable": 0, "mdns_tc": 0}
    for line in out.splitlines():
        _, src, dst, sport, dport, icmp_type, icmp_code, response, truncated = line.split("|")
        sports, dports = sport.split(","), dport.split(",")
        if icmp_type.startswith("3") and icmp_code.startswith("3") and src.startswith(scanner_ip):
            # The quoted datagram's source port says which protocol's answer met a closed port.
            if "1900" in sports:
                counts["ssdp_unreachable"] += 1
            if "5353" in sports:
                counts["mdns_unreachable"] += 1
            continue
        if dst == scanner_ip and sports[0] == "1900" and dports[0] != "1900":
            counts["ssdp_answers"] += 1
        if sports[0] == "5353" and response == "True" and truncated == "True":
            counts["mdns_tc"] += 1
    return counts


def run_once(lan: netlab.LanHandle, workdir: Path, index: int) -> dict[str, Any]:
    """One scan under capture."""
    pcap = workdir / f"scan{index}.pcapng"
    tshark = capture(lan.lab, lan.scanner, pcap)
    lan.flush_neigh()
    start = time.perf_counter()
    done = lan.exec_in_scanner(
        [AGENT, "scan", "--format", "json", "--raw", "--no-progress", "--network", NETWORK],
        timeout=120,
    )
    seconds = time.perf_counter() - start
    time.sleep(3.0)  # answers still in flight after the scan ended are what this counts
    tshark.stop()
    doc = json.loads(done.stdout)
    hosts = {h["ip"]: h for h in doc["hosts"]}
    cameras = {c["ip"] for c in doc["cameras"]}
    avahi = next(p for p in lan_peers(lan) if isinstance(p, peers.AvahiCamera))
    instances = {
        (o["fields"].get("service"), o["fields"].get("instance"))
        for o in hosts.get(avahi.ip, {}).get("observations", [])
        if o["probe"] == "mdns" and o["fields"].get("service_port")
    }
    return {
        "seconds": round(seconds, 3),
        "avahi_instances": len(instances),
        "avahi_published": len(avahi.services()),
        "verdicts": {p.kind: (p.ip in cameras) for p in lan_peers(lan)},
        "stderr_lines": len([line for line in done.stderr.splitlines() if line.strip()]),
        **wire_counts(pcap, lan.scanner.ip),
    }


_PEERS: dict[int, list[peers.Peer]] = {}


def lan_peers(lan: netlab.LanHandle) -> list[peers.Peer]:
    """The peers started on this LAN."""
    return _PEERS[id(lan)]


def main() -> int:
    """Build the LAN once, scan N times, print a summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        print("bench_peers needs tshark (apt-get install tshark)", file=sys.stderr)
        return 2
    corpus = [p for p in load_corpus() if p.id in CAMERAS]
    with netlab.Lab() as lab:
        lan = lab.build_lan(corpus, router=False)
        started = peers.standard_peers()
        peers.start_peers(lab, lan.switch, started)
        _PEERS[id(lan)] = started
        runs = [run_once(lan, lab.workdir, i) for i in range(args.runs)]
    keys = ("seconds", "avahi_instances", "ssdp_answers", "ssdp_unreachable", "mdns_unreachable")
    summary = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(json.dumps({"median": summary, "runs": runs}, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"median": summary, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
