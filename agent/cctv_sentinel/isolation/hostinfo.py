"""What this host's network looks like, read from /proc and a few well-known files.

Everything here reads only; every file read is bounded. The parsers are pure
functions over text so tests feed them captured files. They run in whatever
network namespace the process is in: /proc/net is per namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cctv_sentinel.discovery.netinfo import neighbours
from cctv_sentinel.protocols.text import normalise_mac

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_HOST_FILE: Final = 512 * 1024
"""Most bytes read from one /proc or lease file: a routing table of a few
thousand routes; anything larger is cut (the tail is what we lose)."""
MAX_LEASE_FILES: Final = 64
"""Most DHCP lease files read per directory: one per interface is normal."""

_RTF_GATEWAY: Final = 0x2
_RTF_LOCAL_V6: Final = 0x80000000
_SIOCGIFHWADDR: Final = 0x8927
_DHCP_MAGIC: Final = b"\x63\x82\x53\x63"
_DHCP_OPTIONS_AT: Final = 240  # BOOTP fixed header (236 bytes) + magic cookie, RFC 2131
_DHCP_SERVER_ID: Final = 54  # RFC 2132 section 9.7

LEASE_DIRS: Final = (
    "var/lib/dhcp",  # ISC dhclient (Debian, Ubuntu)
    "var/lib/dhclient",  # ISC dhclient (Red Hat family)
    "var/lib/NetworkManager",  # NetworkManager (internal client and dhclient)
    "run/systemd/netif/leases",  # systemd-networkd
    "var/lib/dhcpcd",  # dhcpcd (binary BOOTP leases)
    "var/lib/dhcpcd5",
)
RESOLV_FILES: Final = (
    "etc/resolv.conf",
    # systemd-resolved's stub points at 127.0.0.53; the real servers are here.
    "run/systemd/resolve/resolv.conf",
)


@dataclass(frozen=True, slots=True)
class Route:
    """One route of the main table: destination, gateway (None when on-link), interface."""

    destination: IPNetwork
    gateway: IPAddress | None
    interface: str

    @property
    def default(self) -> bool:
        """True for a default route."""
        return self.destination.prefixlen == 0


def read_text(path: Path, limit: int = MAX_HOST_FILE) -> str | None:
    """Read at most ``limit`` bytes of a text file; None when it cannot be read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit)
    except OSError:
        return None
    return data.decode("utf-8", "replace")


def _v4_hex(text: str) -> ipaddress.IPv4Address:
    # /proc/net/route prints the big-endian address as a host-order integer.
    return ipaddress.IPv4Address(int(text, 16).to_bytes(4, sys.byteorder))


def parse_route_v4(text: str) -> list[Route]:
    """Parse /proc/net/route (IPv4 main table)."""
    routes: list[Route] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8:
            continue
        iface, dest, gateway, flags, mask = parts[0], parts[1], parts[2], parts[3], parts[7]
        try:
            network = ipaddress.IPv4Network(f"{_v4_hex(dest)}/{_v4_hex(mask)}", strict=False)
            via = _v4_hex(gateway) if int(flags, 16) & _RTF_GATEWAY else None
        except ValueError:
            continue
        routes.append(Route(network, via, iface))
    return routes


def _v6_hex(text: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(bytes.fromhex(text))


def parse_route_v6(text: str) -> list[Route]:
    """Parse /proc/net/ipv6_route, leaving out local, multicast and link-local entries."""
    routes: list[Route] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10:
            continue
        try:
            dest = _v6_hex(parts[0])
            plen = int(parts[1], 16)
            hop = _v6_hex(parts[4])
            flags = int(parts[8], 16)
            network = ipaddress.IPv6Network(f"{dest}/{plen}", strict=False)
        except ValueError:
            continue
        iface = parts[9]
        if flags & _RTF_LOCAL_V6 or iface == "lo":
            continue
        if network.is_multicast or network.subnet_of(ipaddress.IPv6Network("fe80::/10")):
            continue
        gateway = hop if flags & _RTF_GATEWAY and not hop.is_unspecified else None
        routes.append(Route(network, gateway, iface))
    return routes


def parse_fib_trie_local(text: str) -> list[ipaddress.IPv4Address]:
    """Every local IPv4 address in /proc/net/fib_trie (lines ``/32 host LOCAL``)."""
    found: list[ipaddress.IPv4Address] = []
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif last is not None and stripped.startswith("/32 host LOCAL"):
            with contextlib.suppress(ValueError):
                addr = ipaddress.IPv4Address(last)
                if addr not in found:
                    found.append(addr)
    return found


def parse_if_inet6(text: str) -> list[tuple[ipaddress.IPv6Address, int, str]]:
    """Parse /proc/net/if_inet6 into (address, prefix length, interface)."""
    found: list[tuple[ipaddress.IPv6Address, int, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        with contextlib.suppress(ValueError):
            found.append((_v6_hex(parts[0]), int(parts[2], 16), parts[5]))
    return found


def parse_resolv_conf(text: str) -> list[IPAddress]:
    """Name servers of a resolv.conf."""
    servers: list[IPAddress] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            with contextlib.suppress(ValueError):
                addr = ipaddress.ip_address(parts[1].split("%", 1)[0])
                if addr not in servers:
                    servers.append(addr)
    return servers


def parse_lease_text(text: str) -> list[IPAddress]:
    """DHCP servers named in a dhclient or systemd-networkd/NetworkManager lease file."""
    servers: list[IPAddress] = []
    for raw in text.splitlines():
        line = raw.strip().rstrip(";")
        value: str | None = None
        if line.startswith("option dhcp-server-identifier "):
            value = line.split()[-1]
        elif line.startswith("SERVER_ADDRESS="):
            value = line.partition("=")[2]
        if value is None:
            continue
        with contextlib.suppress(ValueError):
            addr = ipaddress.ip_address(value.strip())
            if addr not in servers:
                servers.append(addr)
    return servers


def parse_lease_bootp(data: bytes) -> list[IPAddress]:
    """The server identifier (option 54) of a binary BOOTP/DHCP message (dhcpcd leases)."""
    if len(data) < _DHCP_OPTIONS_AT or data[236:240] != _DHCP_MAGIC:
        return []
    at = _DHCP_OPTIONS_AT
    while at < len(data):
        code = data[at]
        if code == 255:  # end
            break
        if code == 0:  # pad
            at += 1
            continue
        if at + 1 >= len(data):
            break
        length = data[at + 1]
        value = data[at + 2 : at + 2 + length]
        if code == _DHCP_SERVER_ID and len(value) == 4:
            return [ipaddress.IPv4Address(value)]
        at += 2 + length
    return []


def _lease_files(root: Path) -> Iterator[Path]:
    for rel in LEASE_DIRS:
        directory = root / rel
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries[:MAX_LEASE_FILES]:
            if entry.is_file():
                yield entry


def dhcp_servers(root: Path = Path("/")) -> list[IPAddress]:
    """DHCP servers found in the lease files this process may read."""
    servers: list[IPAddress] = []
    for path in _lease_files(root):
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_HOST_FILE)
        except OSError:
            continue
        found = parse_lease_bootp(data) if data[236:240] == _DHCP_MAGIC else []
        if not found:
            found = parse_lease_text(data.decode("utf-8", "replace"))
        servers.extend(s for s in found if s not in servers)
    return servers


def dns_servers(root: Path = Path("/")) -> list[IPAddress]:
    """Name servers from resolv.conf (and systemd-resolved's upstream list)."""
    servers: list[IPAddress] = []
    for rel in RESOLV_FILES:
        text = read_text(root / rel)
        if text:
            servers.extend(s for s in parse_resolv_conf(text) if s not in servers)
    return servers


def routes(root: Path = Path("/")) -> list[Route]:
    """IPv4 and IPv6 routes of the main table."""
    found: list[Route] = []
    text = read_text(root / "proc/net/route")
    if text:
        found.extend(parse_route_v4(text))
    text = read_text(root / "proc/net/ipv6_route")
    if text:
        found.extend(parse_route_v6(text))
    return found


def default_gateways(found: Iterable[Route]) -> list[IPAddress]:
    """Next hops of the default routes."""
    gateways: list[IPAddress] = []
    for route in found:
        if route.default and route.gateway is not None and route.gateway not in gateways:
            gateways.append(route.gateway)
    return gateways


def local_networks(found: Iterable[Route]) -> list[IPNetwork]:
    """The networks behind this host's non-uplink interfaces.

    Every non-default route counts, except those on an interface that carries
    a default route: on a router that interface is the uplink, and the ISP's
    network on it is not "local". When that leaves nothing (a host with one
    interface), every non-default route counts.
    """
    all_routes = list(found)
    uplinks = {r.interface for r in all_routes if r.default}
    candidates = [r for r in all_routes if not r.default and not r.destination.is_loopback]
    inside = [r.destination for r in candidates if r.interface not in uplinks]
    chosen = inside or [r.destination for r in candidates]
    v4 = [n for n in chosen if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in chosen if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def own_addresses(root: Path = Path("/")) -> list[IPAddress]:
    """Every IPv4 and IPv6 address of this host (namespace), loopback excluded."""
    found: list[IPAddress] = []
    text = read_text(root / "proc/net/fib_trie")
    if text:
        found.extend(a for a in parse_fib_trie_local(text) if not a.is_loopback)
    text = read_text(root / "proc/net/if_inet6")
    if text:
        found.extend(a for a, _, _ in parse_if_inet6(text) if not a.is_loopback)
    unique: list[IPAddress] = []
    for addr in found:
        if addr not in unique:
            unique.append(addr)
    return unique


def own_macs() -> list[str]:
    """Hardware addresses of this host's (namespace's) interfaces."""
    macs: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = struct.pack("256s", name.encode()[:15])
                raw = fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, packed)[18:24]
            except OSError:
                continue
            mac = normalise_mac(raw.hex())
            if mac and mac not in macs:
                macs.append(mac)
    return macs


def neighbour_macs(root: Path = Path("/")) -> dict[str, str]:
    """The kernel's complete IPv4 neighbour (ARP) entries as {ip: mac}."""
    return neighbours(root / "proc/net/arp")
