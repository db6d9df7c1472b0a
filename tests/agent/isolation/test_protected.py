"""The safety rails: what may never be isolated, why, and how fast isolation may go."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from cctv_sentinel.isolation import IsolationTarget, ProtectedAddresses
from cctv_sentinel.isolation.protected import broker_host, parse_entry
from cctv_sentinel.isolation.rails import RateLimit, address_problem, forwardable, refusal
from tests.agent.isolation.test_hostinfo import FIB_TRIE, IF_INET6, ROUTE_V4, ROUTE_V6, _proc

ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:00:00:00:00:01     *        eth0
198.18.10.50     0x1         0x2         02:00:00:00:00:50     *        eth1
"""


def _host(tmp_path: Path) -> Path:
    return _proc(
        tmp_path,
        {
            "proc/net/route": ROUTE_V4,
            "proc/net/ipv6_route": ROUTE_V6,
            "proc/net/fib_trie": FIB_TRIE,
            "proc/net/if_inet6": IF_INET6,
            "proc/net/arp": ARP,
            "etc/resolv.conf": "nameserver 198.18.10.53\n",
            "var/lib/dhcp/dhclient.leases": "option dhcp-server-identifier 198.18.10.67;\n",
        },
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"ip": "192.0.2.1"}, "192.0.2.1 is the default gateway"),
        ({"ip": "2001:2:0:9::9"}, "2001:2:0:9::9 is the default gateway"),
        ({"ip": "198.18.10.1"}, "198.18.10.1 is this agent's own address"),
        ({"ip": "198.18.10.53"}, "198.18.10.53 is a DNS server"),
        ({"ip": "198.18.10.67"}, "198.18.10.67 is a DHCP server"),
        ({"ip": "198.18.10.70"}, "198.18.10.70 is the MQTT broker"),
        ({"ip": "198.18.10.99"}, "198.18.10.99 is on the never_isolate allowlist"),
        ({"ip": "198.18.11.7"}, "198.18.11.7 is on the never_isolate allowlist"),
        ({"mac": "02:00:00:00:00:99"}, "02:00:00:00:00:99 is on the never_isolate allowlist"),
        # The gateway under its MAC: known from the neighbour table.
        ({"mac": "02:00:00:00:00:01"}, "02:00:00:00:00:01 is the interface of 192.0.2.1"),
    ],
)
def test_infrastructure_is_refused_with_its_reason(
    tmp_path: Path, target: dict[str, str], reason: str
) -> None:
    protected = ProtectedAddresses.from_host(
        root=_host(tmp_path),
        broker="mqtts://sentinel@198.18.10.70:8883",
        allowlist=["198.18.10.99", "198.18.11.0/24", "02-00-00-00-00-99"],
    )
    why = refusal(IsolationTarget.of(**target), protected)
    assert why is not None
    assert why.startswith(reason)
    assert why.endswith("could cut the network or this agent off")


def test_a_camera_is_allowed(tmp_path: Path) -> None:
    protected = ProtectedAddresses.from_host(root=_host(tmp_path), allowlist=["198.18.11.0/24"])
    assert (
        refusal(IsolationTarget.of(ip="198.18.10.50", mac="02:00:00:00:00:50"), protected) is None
    )
    assert "198.18.10.1/32" not in "".join(protected.describe())
    assert any(line.endswith("the default gateway") for line in protected.describe())


def test_an_address_whose_mac_is_protected_is_refused() -> None:
    protected = ProtectedAddresses(
        macs=(("02:00:00:00:00:01", "this agent's own interface"),),
        neighbours=(("198.18.0.77", "02:00:00:00:00:01"),),
    )
    why = refusal(IsolationTarget.of(ip="198.18.0.77"), protected)
    assert why is not None
    assert why.startswith("198.18.0.77 belongs to 02:00:00:00:00:01")


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "the broadcast address"),
        ("198.18.0.0", "the network address of 198.18.0.0/24"),
        ("198.18.0.255", "the broadcast address of 198.18.0.0/24"),
    ],
)
def test_addresses_that_are_not_one_device(ip: str, problem: str) -> None:
    why = address_problem(ip, [ipaddress.ip_network("198.18.0.0/24")])
    assert why is not None
    assert problem in why


def test_multicast_macs_and_link_local_only_targets_are_refused() -> None:
    empty = ProtectedAddresses()
    why = refusal(IsolationTarget.of(mac="01:00:5e:00:00:fb"), empty)
    assert why is not None
    assert "multicast MAC" in why
    only_link_local = forwardable(IsolationTarget.of(ip="fe80::1"))
    assert only_link_local.ips == ()
    why = refusal(only_link_local, empty)
    assert why is not None
    assert "link-local" in why
    kept = forwardable(IsolationTarget.of(ip="fe80::1", ips=["198.18.0.10"]))
    assert kept.ips == ("198.18.0.10",)
    assert kept.ip == "198.18.0.10"


def test_allowlist_entries_and_broker_urls() -> None:
    assert parse_entry("198.18.0.0/24") == ipaddress.ip_network("198.18.0.0/24")
    assert parse_entry("aabb.ccdd.eeff") == "aa:bb:cc:dd:ee:ff"
    with pytest.raises(ValueError, match="not an IP address, a network or a MAC"):
        parse_entry("recorder.local")
    assert broker_host("mqtts://user@broker.example:8883") == "broker.example"
    assert broker_host("198.18.0.5") == "198.18.0.5"
    assert broker_host("mqtt://[2001:2::5]:1883") == "2001:2::5"
    assert broker_host(None) is None


def test_rate_limit_is_a_sliding_window() -> None:
    rate = RateLimit(3, 60.0)
    rate.seed([100.0, 110.0])
    assert rate.room(115.0) == 1
    rate.record(1, 115.0)
    assert rate.room(116.0) == 0
    assert rate.retry_after(116.0) == pytest.approx(44.0)
    assert rate.room(160.0) == 1  # the first one left the window
    assert rate.room(200.0) == 3
