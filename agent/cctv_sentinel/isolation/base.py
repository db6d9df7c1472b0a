"""The small interface every isolation backend implements, and what flows through it.

Backends are declarative: the manager hands over the complete list of
isolations that should be in force, the backend plans how to make the device
match it exactly (adding and removing only what it owns), applies that plan,
and reports what it observes afterwards. Re-applying the same list changes
nothing, which makes restarts, drift repair and ``reset`` (an empty list) the
same operation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cctv_sentinel.isolation.hostinfo import IPNetwork
from cctv_sentinel.isolation.model import Isolation


@dataclass(frozen=True, slots=True)
class NetworkScope:
    """The networks the rules refer to.

    ``local``: destinations that are not "the internet" (``internet`` mode).
    ``allow``: destinations an isolated camera may always reach (the recorder,
    this agent), in both modes.
    """

    local: tuple[IPNetwork, ...] = ()
    allow: tuple[IPNetwork, ...] = ()

    def of_version(self, which: str, version: int) -> list[IPNetwork]:
        """The collapsed networks of one kind (``local``/``allow``) and IP version."""
        nets = [n for n in getattr(self, which) if n.version == version]
        if version == 4:
            return list(
                ipaddress.collapse_addresses(
                    n for n in nets if isinstance(n, ipaddress.IPv4Network)
                )
            )
        return list(
            ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv6Network))
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What a backend would do to reach a desired state.

    ``text`` says it exactly, for people and for dry runs (an nft transaction,
    or HTTP calls); ``steps`` is the backend's own form of the same thing.
    """

    backend: str
    text: str
    steps: tuple[Any, ...] = ()
    changes: bool = True


@dataclass(frozen=True, slots=True)
class Observed:
    """What a backend found in force on the device it manages."""

    present: bool
    """Anything of ours exists (a table, a rule, a list entry)."""
    rules_ok: bool
    """The rules that give the sets their meaning are all in place."""
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Mode -> addresses and MACs currently matched by that mode's rules."""

    def in_force(self, isolation: Isolation, *, with_mac: bool) -> bool:
        """True when every address (and the MAC, if the backend matches MACs) is isolated."""
        if not (self.present and self.rules_ok):
            return False
        members = self.members.get(isolation.mode, frozenset())
        wanted = set(isolation.ips)
        if with_mac and isolation.mac:
            wanted.add(isolation.mac)
        return bool(wanted) and wanted <= members


class Backend(Protocol):
    """An isolation backend: plans, applies and observes the complete desired state."""

    name: str
    matches_mac: bool
    """True when the backend can match a device by MAC address."""

    async def plan(self, entries: Sequence[Isolation], scope: NetworkScope) -> Plan:
        """Work out what to change so exactly ``entries`` are in force (reads only)."""
        ...

    async def apply(self, plan: Plan) -> None:
        """Carry out a plan; raise IsolationError when the device refuses."""
        ...

    async def observe(self) -> Observed:
        """Read back what is in force; raise IsolationError when it cannot."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
