"""Benchmark: how many observations per second ``identify`` classifies on one core.

Run:  .venv/bin/python bench/bench_classify.py [--hosts N] [--repeat R]

Hosts are generated from the device corpus (tests/fixtures/devices), each
profile cloned to many addresses with fresh MACs, so the mix of probes and
fields is what a real scan of such a LAN produces. The figure printed is
observations classified per second (the target is >= 10,000 on one core).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "agent"))

from cctv_sentinel.identify import Policy, identify, load_catalogue  # noqa: E402
from cctv_sentinel.model import Host  # noqa: E402
from tests.agent.identify.profile_hosts import host as profile_host  # noqa: E402
from tests.lab.profiles import load_corpus  # noqa: E402


def _clone(template: Host, index: int) -> Host:
    ip = f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
    mac = None
    if template.mac:
        mac = template.mac[:9] + f"{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}"
    obs = tuple(
        dataclasses.replace(o, ip=ip, mac=mac if o.mac else None) for o in template.observations
    )
    return Host(ip=ip, mac=mac, open_ports=template.open_ports, observations=obs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000, help="hosts per run (default 5000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    args = parser.parse_args()

    catalogue = load_catalogue()
    policy = Policy()
    templates = [profile_host(p) for p in load_corpus()]
    hosts = [_clone(templates[i % len(templates)], i) for i in range(args.hosts)]
    n_obs = sum(len(h.observations) for h in hosts)

    for h in hosts[:200]:  # warm the OUI cache and regex engines
        identify(h, catalogue, policy)
    rates = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for h in hosts:
            identify(h, catalogue, policy)
        elapsed = time.perf_counter() - start
        rates.append(n_obs / elapsed)
    print(f"profiles: {len(templates)}  hosts: {len(hosts)}  observations: {n_obs}")
    print(f"observations/s (median of {args.repeat}): {statistics.median(rates):,.0f}")
    print(f"hosts/s: {statistics.median(rates) * len(hosts) / n_obs:,.0f}")
    print(f"min/max obs/s: {min(rates):,.0f} / {max(rates):,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
