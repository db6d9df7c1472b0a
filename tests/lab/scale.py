"""LANs of any size from the corpus: every on-link profile, then clones at free addresses.

The e2e scale test and the scan benchmarks fill one /24 this way. The first
devices are the corpus profiles themselves (at their own addresses); after
that the same profiles are cloned, in the same order, to free addresses, each
clone with its own MAC (the profile's OUI, so attribution by OUI still
follows) and its own serial.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from tests.lab import netlab
from tests.lab.profiles import Profile, clone, load_corpus

LAN = ipaddress.IPv4Network("198.18.0.0/24")
RESERVED = frozenset({"198.18.0.1", "198.18.0.2", "198.18.0.3"})
"""The router, the scanner and the peers' checker host."""
MAX_DEVICES = 250
CAMERA_KINDS = frozenset({"camera", "recorder"})
DISCOVERY = ("wsd", "sadp", "dhip", "ssdp", "mdns")
"""Profile blocks (and emulator log names) of the discovery protocols."""

_SENT = re.compile(r"^emu (\S+) (wsd|sadp|dhip|ssdp|mdns) (\S+) sent \d+ bytes", re.MULTILINE)


def on_link_corpus() -> list[Profile]:
    """The honest corpus profiles that sit on the LAN (not behind the router)."""
    return [p for p in load_corpus() if not p.network.routed]


def _serial(profile: Profile, copy: int) -> str | None:
    serial = profile.template.get("serial")
    return f"{serial}C{copy:03d}" if isinstance(serial, str) and serial else None


def lan_profiles(count: int, base: Sequence[Profile] | None = None) -> list[Profile]:
    """``count`` device profiles for one /24: the corpus first, then its clones."""
    if not 0 < count <= MAX_DEVICES:
        raise ValueError(f"count must be within 1-{MAX_DEVICES}")
    corpus = list(base if base is not None else on_link_corpus())
    chosen = corpus[:count]
    taken = set(RESERVED) | {p.network.ip for p in chosen}
    free = (str(ip) for ip in LAN.hosts() if str(ip) not in taken)
    copy = 0
    while len(chosen) < count:
        profile = corpus[copy % len(corpus)]
        copy += 1
        ip = next(free)
        host = int(ipaddress.IPv4Address(ip)) & 0xFF
        oui = profile.network.mac.rsplit(":", 3)[0]
        mac = f"{oui}:c1:{copy >> 8:02x}:{host:02x}"
        chosen.append(clone(profile, ip, mac, _serial(profile, copy)))
    return chosen


def log_offsets(lan: netlab.LanHandle) -> dict[str, int]:
    """How far each emulator's log has grown (pass to :func:`sent_by_devices` as ``since``)."""
    return {pid: emu.stderr_path.stat().st_size for pid, emu in lan.emulators.items()}


def sent_by_devices(
    lan: netlab.LanHandle, since: dict[str, int] | None = None
) -> dict[str, set[str]]:
    """Per discovery protocol, the devices whose emulator logged an answer sent to the scanner.

    With ``since`` (from :func:`log_offsets`), only what was logged after it counts.
    """
    scanner = lan.scanner.ip
    sent: dict[str, set[str]] = {proto: set() for proto in DISCOVERY}
    for profile_id, emulator in lan.emulators.items():
        ip = lan.profiles[profile_id].ip
        with emulator.stderr_path.open("rb") as log:
            log.seek((since or {}).get(profile_id, 0))
            text = log.read().decode("utf-8", "replace")
        for _id, proto, peer in _SENT.findall(text):
            # Answers to the scanner, unicast or to a group it listens on.
            if peer.split(":", 1)[0] == scanner or not peer.startswith("198.18."):
                sent[proto].add(ip)
    return sent


def heard_by_scan(doc: dict[str, Any]) -> dict[str, set[str]]:
    """For each discovery protocol, the hosts a ``scan --raw`` document has an observation from."""
    heard: dict[str, set[str]] = {proto: set() for proto in DISCOVERY}
    for host in doc["hosts"]:
        for obs in host["observations"]:
            if obs["probe"] in heard:
                heard[obs["probe"]].add(host["ip"])
    return heard
