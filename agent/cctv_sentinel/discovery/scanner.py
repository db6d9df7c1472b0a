"""Run every probe concurrently under one deadline, and follow up on what they find.

Discovery probes (WS-Discovery, SADP, DHIP, SSDP, mDNS, the sweep) start at
once. Whatever they report fans out into follow-ups as soon as it arrives: a
live host gets a port scan, an open web port an HTTP fingerprint, port 554 an
RTSP fingerprint, an ONVIF address a GetDeviceInformation, a host on a routed
network directed WS-Discovery/SADP/DHIP probes. The scan ends when nothing is
left to do, or at the deadline; what was learnt before the deadline is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import resource
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cctv_sentinel import limits
from cctv_sentinel.discovery import (
    dahua,
    mdns,
    netinfo,
    onvif,
    rtsp,
    sadp,
    ssdp,
    sweep,
    wsdiscovery,
)
from cctv_sentinel.discovery import http as httpprobe
from cctv_sentinel.discovery.base import ProbeContext, Timing
from cctv_sentinel.discovery.credentials import Credentials
from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.errors import UsageError
from cctv_sentinel.model import Host, Observation, ProbeName, ScanInfo

_LOG = logging.getLogger(__name__)

ALL_PROBES: frozenset[str] = frozenset(
    {
        ProbeName.WSD,
        ProbeName.SADP,
        ProbeName.DHIP,
        ProbeName.SSDP,
        ProbeName.MDNS,
        ProbeName.SWEEP,
        ProbeName.HTTP,
        ProbeName.RTSP,
        ProbeName.ONVIF,
    }
)
ONVIF_PORTS = frozenset({80, 8080, 8899})
"""Ports where an ONVIF device service is tried even without a WS-Discovery answer."""

MAX_OBSERVATIONS = 200_000
"""Observations kept from one scan (a /16 full of cameras makes ~20 per host)."""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and how."""

    networks: tuple[ipaddress.IPv4Network, ...] = ()
    ports: tuple[int, ...] = sweep.DEFAULT_PORTS
    timeout: float = limits.DEFAULT_SCAN_TIMEOUT
    credentials: Credentials = field(default_factory=Credentials)
    probes: frozenset[str] = ALL_PROBES
    timing: Timing = field(default_factory=Timing)


@dataclass(slots=True)
class Progress:
    """Counters shown while a scan runs."""

    started: float
    hosts: int = 0
    observations: int = 0
    pending: int = 0
    phase: str = "discovering"


@dataclass(slots=True)
class ScanRun:
    """What one scan collected."""

    started: float
    finished: float
    networks: tuple[ipaddress.IPv4Network, ...]
    probes: tuple[str, ...]
    observations: list[Observation]
    errors: list[str]

    def info(self) -> ScanInfo:
        """When and how the scan ran, as results carry it."""
        return ScanInfo(
            started=self.started,
            finished=self.finished,
            networks=tuple(str(n) for n in self.networks),
            probes=self.probes,
            errors=tuple(self.errors),
        )

    def hosts(self) -> list[Host]:
        """What was seen, one host per address."""
        return group_hosts(self.observations)


def parse_networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network, ...]:
    """Parse --network values; raise UsageError with one clear line on a bad one."""
    nets: list[ipaddress.IPv4Network] = []
    for value in values:
        try:
            net = ipaddress.IPv4Network(value.strip(), strict=False)
        except ValueError as err:
            raise UsageError(
                f"--network {value!r} is not an IPv4 network (e.g. 192.168.1.0/24)"
            ) from err
        if net.is_loopback or net.is_multicast or net.is_unspecified or net.is_link_local:
            raise UsageError(
                f"--network {net} is loopback, link-local or multicast; nothing to scan there"
            )
        if net not in nets:
            nets.append(net)
    return tuple(nets)


def default_networks(
    ifaces: list[netinfo.Interface],
) -> tuple[ipaddress.IPv4Network, ...]:
    """This host's IPv4 networks, refusing any wider than /16 (name those explicitly)."""
    nets = netinfo.default_networks(ifaces)
    if not nets:
        raise UsageError(
            "this host has no IPv4 network to scan (only loopback or link-local); "
            "use --network CIDR"
        )
    wide = [n for n in nets if n.prefixlen < limits.DEFAULT_MAX_PREFIX]
    if wide:
        raise UsageError(
            f"network {wide[0]} is larger than /{limits.DEFAULT_MAX_PREFIX}; "
            f"name it with --network {wide[0]} to scan it anyway, or give a smaller one"
        )
    return tuple(nets)


def _raise_fd_limit() -> None:
    """Allow enough sockets for the sweep's concurrency (the soft limit is often 1024)."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Scanner:
    """One scan: probes, follow-ups, deadline."""

    def __init__(
        self,
        options: ScanOptions,
        interfaces: list[netinfo.Interface] | None = None,
        on_observation: Callable[[Observation], None] | None = None,
    ) -> None:
        self.options = options
        self.interfaces = interfaces if interfaces is not None else netinfo.interfaces()
        self.networks = options.networks or default_networks(self.interfaces)
        self.observations: list[Observation] = []
        self.errors: list[str] = []
        self.progress = Progress(started=time.time())
        self._on_observation = on_observation
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hosts_seen: set[str] = set()
        self._seen: set[tuple[object, ...]] = set()
        self._port_scanned: set[str] = set()
        self._followed: set[tuple[str, str, int]] = set()
        self._onvif_hosts: set[str] = set()
        self._unicast_sent: set[str] = set()
        self._sweep_state = sweep.SweepState()
        self._deadline = float("inf")
        self._skipped_signed = 0
        self._onvif_slots = asyncio.Semaphore(
            limits.ONVIF_PLAIN_CONCURRENCY
            if options.credentials.empty
            else limits.ONVIF_CONCURRENCY
        )
        self.ctx = ProbeContext(
            networks=self.networks,
            interfaces=tuple(i for i in self.interfaces if i.usable),
            ports=options.ports,
            timing=options.timing,
            credentials=options.credentials,
            emit=self._emit,
            spawn=self._spawn,
            keep_listening=True,
        )

    def enabled(self, probe: str) -> bool:
        """True when ``probe`` was asked for."""
        return probe in self.options.probes

    # --- the observation sink and follow-up dispatch -------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        task = asyncio.create_task(coro, name=what)
        self._tasks.add(task)
        self.progress.pending = len(self._tasks)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.progress.pending = len(self._tasks)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A task boundary: log once, keep scanning.
            _LOG.debug("%s failed: %r", task.get_name(), exc)
            self.errors.append(f"{task.get_name()}: {type(exc).__name__}")

    def _emit(self, obs: Observation) -> None:
        if len(self.observations) >= MAX_OBSERVATIONS:
            return
        # The same answer can arrive twice (a multicast and a unicast copy, a
        # resent probe answered twice): keep one.
        key = (obs.probe, obs.ip, obs.port, obs.mac, tuple(sorted(obs.fields.items())))
        if key in self._seen:
            return
        self._seen.add(key)
        self.observations.append(obs)
        self.progress.observations += 1
        if self._on_observation is not None:
            self._on_observation(obs)
        if obs.ip not in self._hosts_seen:
            self._hosts_seen.add(obs.ip)
            self.progress.hosts = len(self._hosts_seen)
        self._follow_up(obs)

    def _ensure_port_scan(self, ip: str) -> None:
        """Port-scan ``ip`` once, whichever probe noticed it first."""
        if ip not in self._port_scanned and self.enabled(ProbeName.SWEEP):
            self._port_scanned.add(ip)
            self._spawn(sweep.scan_ports(self.ctx, ip, self.options.ports), f"ports {ip}")

    def _follow_up(self, obs: Observation) -> None:
        ip = obs.ip
        if not self.ctx.in_scope(ip):
            return  # heard by multicast from outside the networks asked for: report, never contact
        self._ensure_port_scan(ip)
        if obs.probe == ProbeName.SWEEP and obs.port is not None:
            self._follow_port(ip, obs.port)
        if obs.probe == ProbeName.WSD and self.enabled(ProbeName.ONVIF):
            for xaddr in (obs.get("xaddrs") or "").split():
                self._spawn_onvif(ip, xaddr, None)
                break

    def _follow_port(self, ip: str, port: int) -> None:
        mac = self._sweep_state.macs.get(ip)
        if port in httpprobe.HTTP_PORTS and self.enabled(ProbeName.HTTP):
            self._once(ip, "http", port, httpprobe.fingerprint(self.ctx, ip, port, mac))
        if port in rtsp.RTSP_PORTS and self.enabled(ProbeName.RTSP):
            self._once(ip, "rtsp", port, rtsp.fingerprint(self.ctx, ip, port))
        if port in ONVIF_PORTS and self.enabled(ProbeName.ONVIF):
            self._spawn_onvif(ip, None, port)

    def _once(self, ip: str, kind: str, port: int, coro: Coroutine[Any, Any, Any]) -> None:
        key = (ip, kind, port)
        if key in self._followed:
            coro.close()
            return
        self._followed.add(key)
        self._spawn(coro, f"{kind} {ip}:{port}")

    def _spawn_onvif(self, ip: str, xaddr: str | None, port: int | None) -> None:
        if xaddr is not None:
            try:
                parts = urlsplit(xaddr)
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                return
        key = (ip, "onvif", port if port is not None else 0)
        if ip in self._onvif_hosts or key in self._followed:
            return
        self._followed.add(key)

        async def run() -> None:
            if ip in self._onvif_hosts:
                return  # another port of this host already answered
            mac = self._sweep_state.macs.get(ip)
            if self.options.credentials.for_host(ip, mac) is not None and not (
                await self._signed_onvif_may_start(ip)
            ):
                return
            if await onvif.probe(self.ctx, ip, xaddr, port, mac, self._onvif_slots):
                self._onvif_hosts.add(ip)

        self._spawn(run(), f"onvif {ip}")

    async def _signed_onvif_may_start(self, ip: str) -> bool:
        """False when too little time is left for a signed ONVIF exchange.

        A signed call takes three round trips (the device's clock, then two
        signed requests); one started with less than
        ``limits.SIGNED_ONVIF_MIN_TIME`` left would only be cancelled at the
        deadline, so it is not started, and the scan says how many were not.
        """
        if self._remaining() >= limits.SIGNED_ONVIF_MIN_TIME:
            return True
        self._skipped_signed += 1
        _LOG.debug("onvif %s: too close to the deadline for a signed call", ip)
        return False

    def _remaining(self) -> float:
        return self._deadline - asyncio.get_running_loop().time()

    async def _cancel_unfinished(self) -> None:
        """Cancel what is still running; wait a bounded time for it to stop.

        A task may await clean-up in its ``finally`` (closing a connection); a
        second cancel interrupts that. What still runs after
        ``limits.CANCEL_ROUNDS`` rounds of ``limits.CANCEL_GRACE`` is left to
        the event loop's shutdown and reported.
        """
        for _ in range(limits.CANCEL_ROUNDS):
            pending = list(self._tasks)
            if not pending:
                return
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=limits.CANCEL_GRACE)
        if self._tasks:
            names = sorted(t.get_name() for t in self._tasks)
            _LOG.debug("still stopping after the deadline: %s", ", ".join(names[:8]))

    def _on_alive(self, ip: str, _mac: str | None) -> None:
        """React to a host the sweep proved alive (MAC known on-link, None when routed)."""
        self._ensure_port_scan(ip)
        if not self.ctx.on_link(ip) and ip not in self._unicast_sent:
            # Multicast never crosses the router: ask this host directly.
            self._unicast_sent.add(ip)
            if self.enabled(ProbeName.WSD):
                self._spawn(wsdiscovery.run_unicast(self.ctx, [ip]), f"wsd-unicast {ip}")
            if self.enabled(ProbeName.SADP):
                self._spawn(sadp.run(self.ctx, [ip]), f"sadp-unicast {ip}")
            if self.enabled(ProbeName.DHIP):
                self._spawn(dahua.run(self.ctx, [ip]), f"dhip-unicast {ip}")

    # --- the run -----------------------------------------------------------

    def _start(self) -> None:
        ctx = self.ctx
        on_link = tuple(
            n for n in self.networks if any(n.overlaps(i.network) for i in ctx.interfaces)
        )
        routed = tuple(n for n in self.networks if n not in on_link)
        broadcast: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            ProbeName.WSD: lambda: wsdiscovery.run_multicast(ctx),
            ProbeName.SADP: lambda: sadp.run(ctx),
            ProbeName.DHIP: lambda: dahua.run(ctx),
            ProbeName.SSDP: lambda: ssdp.run(ctx),
            ProbeName.MDNS: lambda: mdns.run(ctx),
        }
        for name, factory in broadcast.items():
            if self.enabled(name) and on_link:
                self._spawn(factory(), name)
        if self.enabled(ProbeName.SWEEP):
            if on_link:
                self._spawn(
                    sweep.sweep_on_link(ctx, on_link, self._sweep_state, self._on_alive),
                    "sweep",
                )
            if routed:
                self._spawn(
                    sweep.sweep_routed(ctx, routed, self._sweep_state, self._on_alive),
                    "sweep-routed",
                )

    async def run(self) -> ScanRun:
        """Scan until nothing is left to do or the deadline passes."""
        started = time.time()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.options.timeout
        _raise_fd_limit()
        try:
            async with asyncio.timeout_at(self._deadline):
                self._start()
                while self._tasks:
                    while self._tasks:
                        await asyncio.wait(set(self._tasks))
                    # An answer read but not parsed yet may still start follow-ups.
                    self.ctx.drain_late_listeners()
        except TimeoutError:
            unfinished = len(self._tasks)
            self.errors.append(
                f"deadline of {self.options.timeout:g} s reached with {unfinished} probe(s) "
                "unfinished; results so far are kept"
            )
        finally:
            self.ctx.close_late_listeners()
            await self._cancel_unfinished()
        if self._skipped_signed:
            self.errors.append(
                f"{self._skipped_signed} signed ONVIF request(s) not started: too close to "
                f"the deadline (a longer --timeout lets credentials be used)"
            )
        return ScanRun(
            started=started,
            finished=time.time(),
            networks=self.networks,
            probes=tuple(sorted(self.options.probes)),
            observations=self.observations,
            errors=self.errors,
        )
