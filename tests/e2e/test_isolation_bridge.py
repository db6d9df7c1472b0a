"""The bridge-host pattern: the agent on the Linux bridge the cameras hang off.

    cam 198.18.0.10 ──┐
    other 198.18.0.11 ┼─ br0 (agent, nftables "bridge" family) ─ rtr ─ uplink ─ wan 198.18.9.9
    recorder .0.20 ───┘

Unlike a gateway, a bridge sees traffic between devices of the same segment,
so quarantine also cuts the camera off its neighbours.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from tests.e2e.test_isolation_netns import CONNECT, PORT, SERVER
from tests.lab import netlab

CAM_MAC = "02:5e:00:00:01:10"


def _reach(lab: netlab.Lab, checks: Sequence[tuple[netlab.Host, str]]) -> list[bool]:
    procs = [
        lab.popen(
            src,
            [sys.executable, "-c", CONNECT, dst, str(PORT), "1.0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for src, dst in checks
    ]
    return [proc.wait(timeout=30) == 0 for proc in procs]


def test_bridge_family_isolates_within_the_segment(lab: netlab.Lab, tmp_path: Path) -> None:
    lan, uplink = lab.add_switch("lan"), lab.add_switch("uplink")
    lab.add_router("rtr", (lan, "198.18.0.1/24"), (uplink, "198.18.9.1/24"))
    cam, other, recorder, wan = lab.add_hosts(
        [
            netlab.HostSpec("cam", "198.18.0.10/24", CAM_MAC, lan, "198.18.0.1"),
            netlab.HostSpec("other", "198.18.0.11/24", None, lan, "198.18.0.1"),
            netlab.HostSpec("recorder", "198.18.0.20/24", None, lan, "198.18.0.1"),
            netlab.HostSpec("wan", "198.18.9.9/24", None, uplink, None),
        ]
    )
    lab.add_route(wan, "198.18.0.0/24", "198.18.9.1")
    for host in (cam, other, recorder, wan):
        lab.start_ready(host, [sys.executable, "-c", SERVER], label=f"tcp-{host.name}")
    # The bridge namespace is the "bridge host": the agent runs there.
    bridge = netlab.Host(lab=lab, name="lan", ns=lan.ns, interfaces={}, switches={})
    config = tmp_path / "agent.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "agent": {"state_dir": str(tmp_path / "state")},
                "isolation": {
                    "default_backend": "nftables",
                    "local_networks": ["198.18.0.0/24"],
                    "backends": {"nftables": {"family": "bridge"}},
                },
            }
        ),
        encoding="utf-8",
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "tests.agent.isolation.cli_entry", *args]
        return lab.run(bridge, [*argv, "--config", str(config)], timeout=60, cwd=netlab.REPO_ROOT)

    assert _reach(lab, [(cam, "198.18.9.9"), (cam, "198.18.0.20")]) == [True, True]

    done = cli("isolate", CAM_MAC, "--mode", "internet")
    assert done.returncode == 0, done.stderr
    assert "bridge cctv_sentinel" in lab.run(bridge, ["nft", "list", "tables"]).stdout
    got = _reach(lab, [(cam, "198.18.9.9"), (cam, "198.18.0.20"), (other, "198.18.9.9")])
    assert got == [False, True, True]

    done = cli("isolate", CAM_MAC, "198.18.0.10", "--mode", "quarantine", "--yes")
    assert done.returncode == 0, done.stderr
    got = _reach(
        lab,
        [
            (cam, "198.18.0.20"),
            (cam, "198.18.0.11"),
            (recorder, "198.18.0.10"),
            (other, "198.18.0.20"),
        ],
    )
    assert got == [False, False, False, True]

    done = cli("isolation", "reset", "--yes")
    assert done.returncode == 0, done.stderr
    assert lab.run(bridge, ["nft", "list", "tables"]).stdout == ""
    assert _reach(lab, [(cam, "198.18.0.20"), (cam, "198.18.9.9")]) == [True, True]
