"""Grouping observations into hosts, and which MAC a host gets."""

from __future__ import annotations

from cctv_sentinel.discovery.hosts import best_mac, group_hosts
from cctv_sentinel.model import Observation


def obs(
    probe: str, ip: str, *, mac: str | None = None, port: int | None = None, **fields: str
) -> Observation:
    return Observation(probe=probe, ip=ip, fields=fields, mac=mac, port=port)


def test_hosts_are_grouped_and_sorted_numerically() -> None:
    hosts = group_hosts(
        [
            obs("sweep", "198.18.0.100", port=80),
            obs("sweep", "198.18.0.9", port=554),
            obs("sweep", "198.18.0.100", port=554),
            obs("wsd", "198.18.0.9", port=3702),
        ]
    )
    assert [h.ip for h in hosts] == ["198.18.0.9", "198.18.0.100"]
    assert hosts[0].open_ports == (554,)  # 3702 is a discovery port, not a swept one
    assert hosts[1].open_ports == (80, 554)
    assert hosts[0].probes == ("sweep", "wsd")


def test_arp_mac_beats_what_the_device_claims() -> None:
    seen = [
        obs("wsd", "198.18.0.5", scope_mac="11:22:33:44:55:66"),
        obs("sadp", "198.18.0.5", mac="bc:ad:28:00:00:05"),
        obs("arp", "198.18.0.5", mac="bc:ad:28:00:00:06"),
    ]
    assert best_mac(seen) == "bc:ad:28:00:00:06"
    assert best_mac(seen[:2]) == "bc:ad:28:00:00:05"
    assert best_mac(seen[:1]) == "11:22:33:44:55:66"


def test_no_mac_when_nothing_says_one() -> None:
    assert best_mac([obs("sweep", "198.18.1.10", port=80)]) is None
    assert best_mac([obs("wsd", "198.18.1.10", scope_mac="00:00:00:00:00:00")]) is None
