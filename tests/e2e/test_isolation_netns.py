"""Isolation with the real nft in network namespaces: a gateway running the agent routes
cameras on a LAN to a recorder network and to a "WAN" host.

    cam 198.18.0.10 (+2001:2:0:1::10) ─┐                 ┌─ recorder 198.18.2.20
    other 198.18.0.11 (+::11) ─────────┼─ lan ─ gw ─ rec ─┘
    spare 198.18.0.12 (allowlisted) ───┘       │
                                               wan ─ wan host 198.18.9.9 (+2001:2:0:9::9),
                                                     the gateway's default route

The agent is the real command line (``isolate``, ``release``, ``isolation ...``)
run inside the gateway namespace; reachability is checked with real TCP
connections from the devices' own namespaces.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.lab import netlab

pytestmark = pytest.mark.lab

PORT = 7000
SERVER = f"""
import socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", {PORT}))
s.listen(64)
print("READY", flush=True)
while True:
    c, _ = s.accept()
    c.close()
"""
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except OSError:
    sys.exit(1)
"""
# A blocked connection is dropped silently, so "unreachable" costs this long.
BLOCKED_AFTER = 1.0
CAM_MAC = "02:5e:00:00:00:10"


@dataclass
class Site:
    """The topology, and the agent's command line in the gateway."""

    lab: netlab.Lab
    gw: netlab.Host
    cam: netlab.Host
    other: netlab.Host
    recorder: netlab.Host
    wan: netlab.Host
    config: Path
    state_dir: Path

    def cli(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cctv-sentinel ARGS`` in the gateway namespace."""
        argv = [
            sys.executable,
            "-m",
            "tests.agent.isolation.cli_entry",
            *args,
            "--config",
            str(config or self.config),
        ]
        return self.gw.run(argv, timeout=60, cwd=netlab.REPO_ROOT)

    def nft(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run nft inside the gateway namespace (never in the root namespace)."""
        return self.gw.run(["nft", *args], timeout=30, input=stdin)

    def reach(self, checks: Sequence[tuple[netlab.Host, str]]) -> list[bool]:
        """Can each host open a TCP connection to each address? (checked in parallel)."""
        procs = [
            self.lab.popen(
                src,
                [sys.executable, "-c", CONNECT, dst, str(PORT), str(BLOCKED_AFTER)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for src, dst in checks
        ]
        return [proc.wait(timeout=30) == 0 for proc in procs]

    def write_config(self, isolation: dict[str, object], name: str = "agent.yaml") -> Path:
        """An agent config file with this isolation section."""
        path = self.config.parent / name
        data = {
            "agent": {"state_dir": str(self.state_dir)},
            "mqtt": {"broker": "mqtt://198.18.2.30:1883"},
            "isolation": isolation,
        }
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path


def netlab_ok(lab: netlab.Lab, src: netlab.Host, dst: str) -> bool:
    """One quick TCP check, before the Site exists."""
    argv = [sys.executable, "-c", CONNECT, dst, str(PORT), "0.5"]
    return lab.run(src, argv, timeout=30).returncode == 0


def _build(lab: netlab.Lab, tmp_path: Path) -> Site:
    lan, rec, wan_sw = lab.add_switch("lan"), lab.add_switch("rec"), lab.add_switch("uplink")
    gw = lab.add_router(
        "gw", (lan, "198.18.0.1/24"), (rec, "198.18.2.1/24"), (wan_sw, "198.18.9.1/24")
    )
    cam, other, spare, recorder, wan = lab.add_hosts(
        [
            netlab.HostSpec("cam", "198.18.0.10/24", CAM_MAC, lan, "198.18.0.1", "2001:2:0:1::10"),
            netlab.HostSpec("other", "198.18.0.11/24", None, lan, "198.18.0.1", "2001:2:0:1::11"),
            netlab.HostSpec("spare", "198.18.0.12/24", None, lan, "198.18.0.1"),
            netlab.HostSpec("recorder", "198.18.2.20/24", None, rec, "198.18.2.1"),
            netlab.HostSpec("wan", "198.18.9.9/24", None, wan_sw, None, "2001:2:0:9::9"),
        ]
    )
    del spare  # only its address matters (it is on the allowlist)
    lab.add_route(wan, "198.18.0.0/16", "198.18.9.1")
    for line in (
        ["ip", "-6", "addr", "add", "2001:2:0:1::1/64", "dev", "eth0", "nodad"],
        ["ip", "-6", "addr", "add", "2001:2:0:9::1/64", "dev", "eth2", "nodad"],
        ["ip", "route", "add", "default", "via", "198.18.9.9"],
        ["ip", "-6", "route", "add", "default", "via", "2001:2:0:9::9"],
        ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
    ):
        gw.run(line, check=True)
    for host in (cam, other):
        host.run(["ip", "-6", "route", "add", "default", "via", "2001:2:0:1::1"], check=True)
    wan.run(["ip", "-6", "route", "add", "2001:2::/48", "via", "2001:2:0:9::1"], check=True)
    for host in (cam, other, recorder, wan):
        lab.start_ready(host, [sys.executable, "-c", SERVER], label=f"tcp-{host.name}")
    # Link-local addresses finish duplicate address detection a moment after the
    # links come up; until then IPv6 neighbour discovery cannot run.
    deadline = time.monotonic() + 10
    while not netlab_ok(lab, cam, "2001:2:0:9::9") and time.monotonic() < deadline:
        time.sleep(0.2)
    state_dir = tmp_path / "state"
    site = Site(lab, gw, cam, other, recorder, wan, tmp_path / "agent.yaml", state_dir)
    site.config = site.write_config(
        {
            "default_backend": "nftables",
            "never_isolate": ["198.18.0.12"],
            "backends": {"nftables": {}},
        }
    )
    return site


@pytest.fixture
def site(lab: netlab.Lab, tmp_path: Path) -> Site:
    """A fresh site; the lab fixture removes it (and with it every rule) afterwards."""
    return _build(lab, tmp_path)


def test_internet_mode_isolates_releases_survives_restarts_and_resets(site: Site) -> None:
    # A table of the site's own that isolation must never touch.
    own = (
        "table ip site {\n chain screen {\n  type filter hook forward priority 0; policy accept;\n"
        "  ip saddr 198.18.0.99 drop\n }\n}\n"
    )
    site.nft("-f", "-", stdin=own).check_returncode()
    ruleset_before = site.nft("list", "ruleset").stdout

    c, o, r, w = site.cam, site.other, site.recorder, site.wan
    assert site.reach(
        [(c, "198.18.9.9"), (c, "198.18.2.20"), (o, "198.18.9.9"), (c, "2001:2:0:9::9")]
    ) == [True, True, True, True]

    done = site.cli(
        "isolate", "198.18.0.10", "--backend", "nftables", "--reason", "restricted vendor"
    )
    assert done.returncode == 0, done.stderr
    assert "isolated 198.18.0.10 (internet mode) with nftables" in done.stdout

    # The camera loses the WAN but keeps its recorder and the LAN; others are unaffected;
    # nothing from the WAN reaches the camera either.
    got = site.reach(
        [
            (c, "198.18.9.9"),
            (c, "198.18.2.20"),
            (c, "198.18.0.11"),
            (o, "198.18.9.9"),
            (o, "198.18.2.20"),
            (r, "198.18.0.10"),
            (w, "198.18.0.10"),
            (w, "198.18.0.11"),
        ]
    )
    assert got == [False, True, True, True, True, True, False, True]

    # Isolating by MAC and IPv6 address too (the camera has both).
    done = site.cli("isolate", "ip-198-18-0-10", "--backend", "nftables")
    assert done.returncode == 0, done.stderr
    assert site.cli("isolate", CAM_MAC, "--backend", "nftables").returncode == 0
    listing = site.cli("isolation", "list", "--json")
    entries = yaml.safe_load(listing.stdout)["isolations"]
    assert {e["camera_id"] for e in entries} == {"ip-198-18-0-10", "025e00000010"}
    done = site.cli("release", "ip-198-18-0-10")
    assert done.returncode == 0, done.stderr

    # The MAC isolation alone still cuts IPv4 and IPv6 from the camera to the WAN.
    assert site.reach([(c, "198.18.9.9"), (c, "2001:2:0:9::9"), (o, "2001:2:0:9::9")]) == [
        False,
        False,
        True,
    ]

    # Agent restart: a new process re-applies from the state; the rules stay in force.
    table_before = site.nft("list", "table", "inet", "cctv_sentinel").stdout
    again = site.cli("isolation", "reapply")
    assert again.returncode == 0, again.stderr
    assert "1 isolation(s) in force" in again.stdout
    assert site.nft("list", "table", "inet", "cctv_sentinel").stdout == table_before
    assert site.reach([(c, "198.18.9.9")]) == [False]

    # Host restart: the kernel forgot every rule; the agent's start puts them back.
    site.nft("delete", "table", "inet", "cctv_sentinel").check_returncode()
    assert site.reach([(c, "198.18.9.9")]) == [True]
    again = site.cli("isolation", "reapply")
    assert again.returncode == 0, again.stderr
    assert site.reach([(c, "198.18.9.9"), (o, "198.18.9.9")]) == [False, True]

    # Release restores exactly what was there: the same ruleset, text for text.
    done = site.cli("release", CAM_MAC, "--reason", "replaced by a compliant camera")
    assert done.returncode == 0, done.stderr
    assert site.nft("list", "ruleset").stdout == ruleset_before
    assert site.reach([(c, "198.18.9.9"), (c, "2001:2:0:9::9"), (w, "198.18.0.10")]) == [
        True,
        True,
        True,
    ]

    # Reset removes everything isolation made, and only that.
    assert site.cli("isolate", "198.18.0.10", "--mode", "quarantine").returncode == 0
    assert "cctv_sentinel" in site.nft("list", "tables").stdout
    refused = site.cli("isolation", "reset")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    done = site.cli("isolation", "reset", "--yes")
    assert done.returncode == 0, done.stderr
    assert site.nft("list", "tables").stdout.split() == ["table", "ip", "site"]
    assert site.nft("list", "ruleset").stdout == ruleset_before
    assert site.reach([(c, "198.18.2.20")]) == [True]

    audit = yaml.safe_load(site.cli("isolation", "audit", "--json", "--limit", "100").stdout)
    actions = [(a["action"], a["status"]) for a in audit]
    assert ("isolate", "ok") in actions
    assert ("release", "ok") in actions
    first = audit[0]
    assert first["reason"] == "restricted vendor"
    assert first["requested_by"]["source"] == "cli"


def test_quarantine_blocks_the_recorder_unless_allowlisted(site: Site) -> None:
    c, o, r = site.cam, site.other, site.recorder
    done = site.cli("isolate", "198.18.0.10", "--mode", "quarantine")
    assert done.returncode == 0, done.stderr
    got = site.reach(
        [(c, "198.18.9.9"), (c, "198.18.2.20"), (r, "198.18.0.10"), (o, "198.18.2.20")]
    )
    assert got == [False, False, False, True]

    # Allowlist the recorder: the camera and the recorder talk again, nothing else changes.
    site.config = site.write_config(
        {
            "default_backend": "nftables",
            "quarantine_allow": ["198.18.2.20"],
            "backends": {"nftables": {}},
        }
    )
    assert site.cli("isolation", "reapply").returncode == 0
    got = site.reach([(c, "198.18.9.9"), (c, "198.18.2.20"), (r, "198.18.0.10"), (o, "198.18.9.9")])
    assert got == [False, True, True, True]

    # Switching the same camera to internet mode keeps the LAN and the recorder.
    assert site.cli("isolate", "198.18.0.10", "--mode", "internet").returncode == 0
    got = site.reach([(c, "198.18.9.9"), (c, "198.18.2.20"), (c, "198.18.0.11")])
    assert got == [False, True, True]
    listing = yaml.safe_load(site.cli("isolation", "list", "--json").stdout)["isolations"]
    assert [(e["mode"], e["state"]) for e in listing] == [("internet", "isolated")]


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("198.18.9.9", "is the default gateway"),
        ("198.18.0.1", "is this agent's own address"),
        ("198.18.2.30", "is the MQTT broker"),
        ("198.18.0.12", "is on the never_isolate allowlist"),
    ],
)
def test_rails_refuse_infrastructure_with_a_clear_error(site: Site, target: str, why: str) -> None:
    done = site.cli("isolate", target, "--backend", "nftables")
    assert done.returncode == 3
    assert f"refused: {target} {why}" in done.stderr
    # Nothing was made, and the refusal is on the record.
    assert "cctv_sentinel" not in site.nft("list", "tables").stdout
    audit = yaml.safe_load(site.cli("isolation", "audit", "--json").stdout)
    assert [(a["action"], a["status"], a["ips"]) for a in audit] == [
        ("isolate", "refused", [target])
    ]


def test_several_cameras_at_once_need_confirmation(site: Site) -> None:
    both = ("198.18.0.10", "198.18.0.11")
    done = site.cli("isolate", *both)
    assert done.returncode == 3
    assert "isolating 2 devices at once needs confirmation" in done.stderr
    assert site.reach([(site.cam, "198.18.9.9")]) == [True]
    done = site.cli("isolate", *both, "--yes")
    assert done.returncode == 0, done.stderr
    assert site.reach([(site.cam, "198.18.9.9"), (site.other, "198.18.9.9")]) == [False, False]
