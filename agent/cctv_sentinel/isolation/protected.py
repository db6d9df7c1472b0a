"""Addresses isolation must never touch, each with the reason a person will read."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cctv_sentinel.isolation import hostinfo
from cctv_sentinel.isolation.hostinfo import IPAddress, IPNetwork
from cctv_sentinel.protocols.text import normalise_mac

_LOG = logging.getLogger(__name__)

GATEWAY = "the default gateway"
AGENT = "this agent's own address"
AGENT_MAC = "this agent's own interface"
BROKER = "the MQTT broker"
DNS = "a DNS server"
DHCP = "a DHCP server"
ALLOWLIST = "on the never_isolate allowlist"


def parse_entry(text: str) -> IPNetwork | str:
    """Read an allowlist entry: a MAC address, an IP address or a CIDR network.

    Raises ValueError naming the entry when it is none of them.
    """
    value = text.strip()
    if ":" in value or "-" in value or "." in value:
        with contextlib.suppress(ValueError):
            return ipaddress.ip_network(value, strict=False)
    mac = normalise_mac(value)
    if mac is not None:
        return mac
    raise ValueError(f"{text!r} is not an IP address, a network or a MAC address")


def broker_host(broker: str | None) -> str | None:
    """The host part of a broker given as ``mqtt[s]://[user@]host:port`` or plain ``host``."""
    if not broker:
        return None
    text = broker if "://" in broker else f"mqtt://{broker}"
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host or None


def resolve(host: str) -> list[IPAddress]:
    """IP addresses of a host name or literal (blocking: call at start-up, not in the loop)."""
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as err:
        _LOG.warning("cannot resolve the broker %s to protect it: %s", host, err)
        return []
    found: list[IPAddress] = []
    for info in infos:
        with contextlib.suppress(ValueError):
            addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if addr not in found:
                found.append(addr)
    return found


@dataclass(frozen=True, slots=True)
class ProtectedAddresses:
    """Networks/addresses and MACs that no backend may isolate, each with its reason."""

    networks: tuple[tuple[IPNetwork, str], ...] = ()
    macs: tuple[tuple[str, str], ...] = ()
    agent_addresses: tuple[IPAddress, ...] = field(default=())
    """This agent's own addresses (quarantined cameras may still reach them)."""
    neighbours: tuple[tuple[str, str], ...] = ()
    """IPv4 neighbour table (ip, mac) when this was built: catches one device under two names."""

    def reason_for_ip(self, ip: str) -> str | None:
        """Why ip must not be isolated, or None."""
        addr = ipaddress.ip_address(ip)
        for network, reason in self.networks:
            if addr.version == network.version and addr in network:
                return reason
        return None

    def reason_for_mac(self, mac: str) -> str | None:
        """Why a MAC must not be isolated, or None."""
        for known, reason in self.macs:
            if known == mac:
                return reason
        return None

    def check(self, ips: Iterable[str], mac: str | None) -> str | None:
        """The first reason any of a device's addresses is protected, as a sentence part."""
        for ip in ips:
            reason = self.reason_for_ip(ip)
            if reason:
                return f"{ip} is {reason}"
            # The same box under another address: its MAC is protected.
            seen_mac = dict(self.neighbours).get(ip)
            if seen_mac and (reason := self.reason_for_mac(seen_mac)):
                return f"{ip} belongs to {seen_mac}, which is {reason}"
        if mac:
            reason = self.reason_for_mac(mac)
            if reason:
                return f"{mac} is {reason}"
            for ip, seen_mac in self.neighbours:
                if seen_mac == mac and (reason := self.reason_for_ip(ip)):
                    return f"{mac} is the interface of {ip}, which is {reason}"
        return None

    def merged(
        self,
        *,
        networks: Iterable[tuple[IPNetwork, str]] = (),
        macs: Iterable[tuple[str, str]] = (),
    ) -> ProtectedAddresses:
        """A copy with more entries (kept after the existing ones)."""
        return ProtectedAddresses(
            networks=(*self.networks, *networks),
            macs=(*self.macs, *macs),
            agent_addresses=self.agent_addresses,
            neighbours=self.neighbours,
        )

    def with_allowlist(self, entries: Iterable[str]) -> ProtectedAddresses:
        """A copy that also protects the configured ``never_isolate`` entries."""
        nets: list[tuple[IPNetwork, str]] = []
        macs: list[tuple[str, str]] = []
        for entry in entries:
            parsed = parse_entry(entry)
            if isinstance(parsed, str):
                macs.append((parsed, ALLOWLIST))
            else:
                nets.append((parsed, ALLOWLIST))
        return self.merged(networks=nets, macs=macs)

    def describe(self) -> list[str]:
        """Human lines for ``isolation list``: what is protected and why."""
        lines = [
            f"{net.with_prefixlen if net.num_addresses > 1 else net.network_address}: {why}"
            for net, why in self.networks
        ]
        lines += [f"{mac}: {why}" for mac, why in self.macs]
        return lines

    @classmethod
    def from_host(
        cls,
        *,
        broker: str | None = None,
        allowlist: Iterable[str] = (),
        root: Path = Path("/"),
        resolve_broker: bool = True,
    ) -> ProtectedAddresses:
        """Read the host (gateways, own addresses and MACs, DNS, DHCP); add broker and allowlist.

        Blocking (file reads, maybe one DNS lookup): call it at start-up or in a thread.
        """
        nets: list[tuple[IPNetwork, str]] = []
        macs: list[tuple[str, str]] = []

        def add(addr: IPAddress, reason: str) -> None:
            nets.append((ipaddress.ip_network(addr), reason))

        for gw in hostinfo.default_gateways(hostinfo.routes(root)):
            add(gw, GATEWAY)
        own = hostinfo.own_addresses(root)
        for addr in own:
            add(addr, AGENT)
        if root == Path("/"):
            macs.extend((mac, AGENT_MAC) for mac in hostinfo.own_macs())
        host = broker_host(broker)
        if host:
            broker_ips = resolve(host) if resolve_broker else []
            with contextlib.suppress(ValueError):
                broker_ips = broker_ips or [ipaddress.ip_address(host)]
            for addr in broker_ips:
                add(addr, BROKER)
        for addr in hostinfo.dns_servers(root):
            add(addr, DNS)
        for addr in hostinfo.dhcp_servers(root):
            add(addr, DHCP)
        neigh = hostinfo.neighbour_macs(root)
        protected = cls(
            networks=tuple(nets),
            macs=tuple(macs),
            agent_addresses=tuple(own),
            neighbours=tuple(sorted(neigh.items())),
        )
        return protected.with_allowlist(allowlist)
