"""What every service of one emulated device shares: profile, options, logging."""

from __future__ import annotations

import ipaddress
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tests.lab.profiles import Profile

MAX_LOG_FIELD = 120
"""Peer-supplied text in a log line is cut here so a hostile client cannot flood stderr."""


@dataclass(frozen=True)
class Options:
    """Command-line options of one emulator process."""

    max_delay: float = 0.5
    port_map: Mapping[int, int] = field(default_factory=dict)
    bind: str = "0.0.0.0"
    hello: bool = False
    gsoap_envelope: bool = False
    stall_signed: float = 0.0
    """Seconds to hold every signed (WS-Security) ONVIF request before answering: a
    device that stalls the follow-ups made with credentials (deadline tests)."""
    """Declare every namespace of a gSOAP-built ONVIF server in WS-Discovery answers.

    Firmware built with gSOAP (Hikvision, Dahua and most OEM modules) declares its
    whole namespace table on every envelope, which makes a ProbeMatch 2.5-4 KiB
    where our minimal envelope is 1.2-1.5 KiB: the realistic size for receive-path
    tests.
    """

    def port(self, port: int) -> int:
        """The port actually listened on for a profile port (after --port-map)."""
        return self.port_map.get(port, port)

    @property
    def multicast_ok(self) -> bool:
        """Whether multicast may be sent and groups joined.

        Never on a loopback bind: tests run there in the root namespace, where a
        multicast datagram could leave the machine on a real interface.
        """
        if ipaddress.ip_address(self.bind).is_loopback:
            return False
        return not in_initial_netns()


def in_initial_netns() -> bool:
    """Whether this process may share the host's network namespace.

    The emulator belongs in a test namespace; if it is started in the host's
    namespace anyway, it must not send multicast onto real networks. A process
    counts as safely inside a test namespace only when its namespace is one of
    the named namespaces under /run/netns (made by ``ip netns add``); PID 1's
    namespace link is often unreadable in sandboxes, so it cannot be the test.
    When this cannot be decided, assume the worst.
    """
    try:
        own = Path("/proc/self/ns/net").stat().st_ino
    except OSError:
        return True
    try:
        named = [entry.stat().st_ino for entry in os.scandir("/run/netns")]
    except OSError:
        return True
    return own not in named


def clean(text: object) -> str:
    """Make peer-supplied text safe for one log line (addresses as host:port)."""
    if isinstance(text, tuple) and len(text) >= 2:
        text = f"{text[0]}:{text[1]}"
    value = str(text)
    value = "".join(c if c.isprintable() else "?" for c in value)
    if len(value) > MAX_LOG_FIELD:
        value = value[:MAX_LOG_FIELD] + "..."
    return value


@dataclass
class Device:
    """One emulated device: its profile, options, randomness and logger."""

    profile: Profile
    options: Options
    rng: random.Random = field(default_factory=random.SystemRandom)

    @property
    def raw(self) -> dict[str, Any]:
        """The substituted profile dict."""
        return self.profile.raw

    @property
    def hostile(self) -> Mapping[str, Any]:
        """The hostile block (empty for honest devices)."""
        return self.profile.hostile

    def log(self, proto: str, peer: object, message: str) -> None:
        """Write one request line to stderr (callers never pass secrets)."""
        line = f"emu {self.profile.id} {proto} {clean(peer)} {message}\n"
        sys.stderr.write(line)
        sys.stderr.flush()

    def delay(self) -> float:
        """A random reply delay in [0, max_delay] (WS-Discovery APP_MAX_DELAY)."""
        if self.options.max_delay <= 0:
            return 0.0
        return self.rng.uniform(0.0, self.options.max_delay)

    @property
    def flood(self) -> int:
        """How many copies of each UDP reply to send (hostile udp_flood), at least 1."""
        value = self.hostile.get("udp_flood")
        return max(1, int(value)) if isinstance(value, int) else 1
