"""Safety rails: which targets can be isolated at all, and how fast.

A wrong isolation can take a site off the network, so every request passes
these checks before any backend is asked: the target must be one real unicast
device, not an address the network depends on (see :mod:`.protected`), and
the number of isolations in a time window is capped.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final

from cctv_sentinel.isolation.hostinfo import IPNetwork
from cctv_sentinel.isolation.model import IsolationTarget
from cctv_sentinel.isolation.protected import ProtectedAddresses

_LINK_LOCAL_V6: Final = ipaddress.IPv6Network("fe80::/10")


def address_problem(ip: str, local: Sequence[IPNetwork] = ()) -> str | None:
    """Why ip cannot stand for one device, or None when it can."""
    addr = ipaddress.ip_address(ip)
    if addr.is_unspecified:
        return f"{ip} is the unspecified address"
    if addr.is_loopback:
        return f"{ip} is a loopback address"
    if addr.is_multicast:
        return f"{ip} is a multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr == ipaddress.IPv4Address("255.255.255.255"):
        return f"{ip} is the broadcast address"
    for net in local:
        if isinstance(net, ipaddress.IPv4Network) and addr.version == 4 and net.prefixlen <= 30:
            if addr == net.network_address:
                return f"{ip} is the network address of {net}"
            if addr == net.broadcast_address:
                return f"{ip} is the broadcast address of {net}"
    return None


def mac_problem(mac: str) -> str | None:
    """Why a MAC cannot stand for one device, or None when it can."""
    if int(mac[:2], 16) & 1:
        return f"{mac} is a multicast MAC address"
    return None


def forwardable(target: IsolationTarget) -> IsolationTarget:
    """The target without IPv6 link-local addresses, which no router forwards anyway."""
    kept = tuple(ip for ip in target.ips if ipaddress.ip_address(ip) not in _LINK_LOCAL_V6)
    if kept == target.ips:
        return target
    return IsolationTarget(
        camera_id=target.camera_id,
        ip=kept[0] if kept else None,
        ips=kept,
        mac=target.mac,
    )


def refusal(
    target: IsolationTarget,
    protected: ProtectedAddresses,
    local: Sequence[IPNetwork] = (),
) -> str | None:
    """The reason to refuse isolating ``target``, or None when the rails allow it."""
    if not target.ips and not target.mac:
        return "the target has no address a router can match (only link-local IPv6)"
    for ip in target.ips:
        problem = address_problem(ip, local)
        if problem:
            return problem
    if target.mac:
        problem = mac_problem(target.mac)
        if problem:
            return problem
    why = protected.check(target.ips, target.mac)
    if why:
        return f"{why}; isolating it could cut the network or this agent off"
    return None


class RateLimit:
    """At most ``limit`` isolations in any ``period`` seconds (a sliding window)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()

    def seed(self, times: Iterable[float]) -> None:
        """Remember isolations made earlier (read back from the audit log)."""
        self._times.extend(sorted(times))

    def room(self, now: float) -> int:
        """How many more isolations are allowed right now."""
        self._trim(now)
        return max(0, self.limit - len(self._times))

    def retry_after(self, now: float) -> float:
        """Seconds until one more isolation is allowed."""
        self._trim(now)
        if len(self._times) < self.limit:
            return 0.0
        return max(0.0, self._times[len(self._times) - self.limit] + self.period - now)

    def record(self, count: int, now: float) -> None:
        """Count ``count`` isolations made at ``now``."""
        self._times.extend([now] * count)
