"""What this host's network looks like: IPv4 interfaces and the neighbour table.

Reads only what an unprivileged process may read: interface addresses through
``ioctl`` on a UDP socket, and the kernel's ARP cache from ``/proc/net/arp``.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from cctv_sentinel.protocols.text import normalise_mac

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_MULTICAST = 0x1000
_ATF_COM = 0x2  # /proc/net/arp flag: the entry is complete (a real answer)

PROC_ARP = Path("/proc/net/arp")


@dataclass(frozen=True, slots=True)
class Interface:
    """An IPv4 interface of this host."""

    name: str
    index: int
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network
    up: bool
    loopback: bool
    multicast: bool

    @property
    def usable(self) -> bool:
        """True for interfaces a LAN scan should use (up, not loopback, not link-local)."""
        return self.up and not self.loopback and not self.address.is_link_local


def _ioctl(sock: socket.socket, request: int, name: str) -> bytes:
    packed = struct.pack("256s", name.encode()[:15])
    return fcntl.ioctl(sock.fileno(), request, packed)


def interfaces() -> list[Interface]:
    """Return this host's IPv4 interfaces (primary address of each)."""
    found: list[Interface] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, name in socket.if_nameindex():
            try:
                flags = struct.unpack("H", _ioctl(sock, _SIOCGIFFLAGS, name)[16:18])[0]
                addr = socket.inet_ntoa(_ioctl(sock, _SIOCGIFADDR, name)[20:24])
                mask = socket.inet_ntoa(_ioctl(sock, _SIOCGIFNETMASK, name)[20:24])
            except OSError:
                continue  # no IPv4 address on this interface
            address = ipaddress.IPv4Address(addr)
            found.append(
                Interface(
                    name=name,
                    index=index,
                    address=address,
                    network=ipaddress.IPv4Network(f"{addr}/{mask}", strict=False),
                    up=bool(flags & _IFF_UP),
                    loopback=bool(flags & _IFF_LOOPBACK),
                    multicast=bool(flags & _IFF_MULTICAST),
                )
            )
    return found


def default_networks(ifaces: list[Interface]) -> list[ipaddress.IPv4Network]:
    """The networks a scan covers by default: every usable interface's network."""
    nets: list[ipaddress.IPv4Network] = []
    for iface in ifaces:
        if iface.usable and iface.network not in nets:
            nets.append(iface.network)
    return nets


def neighbours(path: Path = PROC_ARP) -> dict[str, str]:
    """Return the kernel's complete ARP entries as {ip: mac}."""
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return {}
    table: dict[str, str] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        ip, _hwtype, flags, hwaddr = parts[:4]
        try:
            complete = int(flags, 16) & _ATF_COM
        except ValueError:
            continue
        mac = normalise_mac(hwaddr)
        if complete and mac:
            table[ip] = mac
    return table
