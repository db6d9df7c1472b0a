"""Group observations into hosts (pure): one Host per IP, with its best-known MAC."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable

from cctv_sentinel.model import Host, Observation, ProbeName
from cctv_sentinel.protocols.text import normalise_mac

# Where a host's MAC comes from, most trustworthy first: the kernel's own ARP
# answer, then what the device reports about its interfaces, then claims in
# discovery payloads.
_MAC_SOURCES: tuple[tuple[str, str | None], ...] = (
    (ProbeName.ARP, None),
    (ProbeName.NMAP, None),
    (ProbeName.ONVIF, None),
    (ProbeName.SADP, None),
    (ProbeName.DHIP, None),
    (ProbeName.HTTP, "mac"),
    (ProbeName.WSD, "scope_mac"),
    (ProbeName.MDNS, "eui64_mac"),
)


def _ip_key(ip: str) -> tuple[int, int]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (addr.version, int(addr))


def best_mac(observations: Iterable[Observation]) -> str | None:
    """The most trustworthy MAC among a host's observations."""
    obs = list(observations)
    for probe, field in _MAC_SOURCES:
        found = {
            mac
            for o in obs
            if o.probe == probe and (mac := normalise_mac(o.mac if field is None else o.get(field)))
        }
        if found:
            # Several from one source (a device on two ports, a spoofer): the
            # smallest, so the choice never depends on which answer came first.
            return min(found)
    return None


def group_hosts(observations: Iterable[Observation]) -> list[Host]:
    """One Host per IP address, sorted by address, observations in arrival order."""
    by_ip: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        by_ip[obs.ip].append(obs)
    hosts = []
    for ip in sorted(by_ip, key=_ip_key):
        seen = by_ip[ip]
        ports = sorted(
            {
                o.port
                for o in seen
                if o.port is not None
                and o.probe
                in {
                    ProbeName.SWEEP,
                    ProbeName.HTTP,
                    ProbeName.RTSP,
                    ProbeName.ONVIF,
                    ProbeName.NMAP,
                }
            }
        )
        hosts.append(
            Host(
                ip=ip,
                mac=best_mac(seen),
                open_ports=tuple(ports),
                observations=tuple(seen),
            )
        )
    return hosts
