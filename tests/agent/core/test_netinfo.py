"""Reading this host's interfaces and the kernel neighbour table."""

from __future__ import annotations

from pathlib import Path

from cctv_sentinel.discovery import netinfo

ARP = """IP address       HW type     Flags       HW address            Mask     Device
198.18.0.21      0x1         0x2         bc:ad:28:00:00:21     *        eth0
198.18.0.22      0x1         0x0         00:00:00:00:00:00     *        eth0
198.18.0.23      0x1         0x6         BC:AD:28:00:00:23     *        eth0
garbage line
198.18.0.24      0x1         zz          bc:ad:28:00:00:24     *        eth0
"""


def test_only_complete_neighbour_entries_count(tmp_path: Path) -> None:
    path = tmp_path / "arp"
    path.write_text(ARP, encoding="ascii")
    assert netinfo.neighbours(path) == {
        "198.18.0.21": "bc:ad:28:00:00:21",
        "198.18.0.23": "bc:ad:28:00:00:23",
    }


def test_missing_table_is_empty(tmp_path: Path) -> None:
    assert netinfo.neighbours(tmp_path / "absent") == {}


def test_loopback_is_never_a_default_network() -> None:
    ifaces = netinfo.interfaces()
    lo = [i for i in ifaces if i.loopback]
    assert lo, "every Linux host has a loopback interface"
    assert not lo[0].usable
    assert all(not n.is_loopback for n in netinfo.default_networks(ifaces))
