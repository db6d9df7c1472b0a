"""The daemon behind ``cctv-sentinel run``: watch, remember, publish, obey.

It runs full scans on a schedule (interval with jitter, or at once on a
``rescan`` command), listens between scans for devices announcing themselves
and looks at each new one at once, keeps the inventory in SQLite, and keeps the
MQTT broker's retained state equal to the inventory (docs/mqtt.md). On start
it republishes the inventory before any scan finishes; on a clean stop it
says ``offline`` itself, otherwise the broker's last will does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import random
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cctv_sentinel import __version__
from cctv_sentinel.discovery import netinfo
from cctv_sentinel.discovery.credentials import Credentials, load_credentials
from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.discovery.passive import PassiveListener, Sighting
from cctv_sentinel.discovery.scanner import Scanner, ScanOptions, default_networks
from cctv_sentinel.errors import (
    HostEnvironmentError,
    MqttError,
    SentinelError,
    StateCorruptError,
    StateUnwritableError,
    UsageError,
)
from cctv_sentinel.identify import Catalogue, Policy, check_policy, load_catalogue
from cctv_sentinel.identify import policy_from_mapping as make_policy
from cctv_sentinel.identify.verdicts import cameras_among
from cctv_sentinel.inventory.records import CameraRecord, Change, ScanRecord, facts_from_camera
from cctv_sentinel.inventory.store import AsyncInventory, Inventory
from cctv_sentinel.model import Camera, Observation
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.client import MqttClient, MqttPermanentError, Will
from cctv_sentinel.mqtt.contract import RegimeRef, ScanStatus, Topics
from cctv_sentinel.mqtt.homeassistant import Discovery
from cctv_sentinel.mqtt.publisher import Publisher
from cctv_sentinel.service.commands import (
    CommandAuthority,
    CommandRouter,
    IsolationPort,
    Rescan,
)
from cctv_sentinel.service.config import Config

_LOG = logging.getLogger(__name__)

TARGET_COOLDOWN: Final = 30.0
"""Seconds before an address that announced itself is looked at again."""
NOT_A_CAMERA_MEMORY: Final = 600.0
"""Seconds an announcing device found not to be a camera is left alone (printers chatter)."""
MAX_PENDING_HOSTS: Final = 256
"""Announced addresses waiting for a look; more at once is a flood, and a full scan follows."""
MAX_REMEMBERED: Final = 4096
"""Addresses remembered for the cool-downs above (bounded: announcements can be spoofed)."""
MAX_QUEUED_COMMANDS: Final = 64
"""Commands waiting to run; beyond this each is answered "busy" at once."""
STOP_TIMEOUT: Final = 5.0
STATE_RETRY: Final = 10.0
"""Seconds between attempts to write the inventory while its disk is full."""
"""Seconds a clean stop waits for ``offline`` and the last messages to be acknowledged."""
TOUCH_EVERY: Final = 60.0
"""Seconds between last-seen updates from announcements of the same camera."""


@dataclass(frozen=True, slots=True)
class ScanJob:
    """One scan to run: the configured networks, or a few announced hosts."""

    networks: tuple[ipaddress.IPv4Network, ...]
    timeout: float
    hosts: tuple[str, ...] = ()
    """Non-empty: only these addresses (a look at announced devices)."""
    extra: tuple[Observation, ...] = ()
    """Observations already heard (the announcement itself)."""


@dataclass(slots=True)
class ScanOutcome:
    """What a scan found, identified."""

    started: float
    finished: float
    cameras: list[Camera]
    errors: list[str] = field(default_factory=list)


ScanFunction = Callable[[ScanJob], Awaitable[ScanOutcome]]


class NetworkScan:
    """The real scan: probes (scanner.py), then identification (identify/), off the loop."""

    def __init__(
        self,
        config: Config,
        catalogue: Catalogue,
        policy: Policy,
        credentials: Credentials,
        interfaces: Callable[[], list[netinfo.Interface]] = netinfo.interfaces,
    ) -> None:
        self.config = config
        self.catalogue = catalogue
        self.policy = policy
        self.credentials = credentials
        self.interfaces = interfaces

    async def __call__(self, job: ScanJob) -> ScanOutcome:
        """Run one scan and identify every host it saw."""
        scan = self.config.scan
        options = ScanOptions(
            networks=job.networks,
            ports=scan.ports,
            timeout=job.timeout,
            credentials=self.credentials,
            probes=scan.probes,
        )
        scanner = Scanner(options, interfaces=self.interfaces())
        run = await scanner.run()
        observations = [*run.observations, *job.extra]
        if job.hosts:
            wanted = set(job.hosts)
            observations = [o for o in observations if o.ip in wanted]
        # Identification is pure CPU work: a thread keeps the loop (MQTT pings,
        # commands) responsive while a large network is classified.
        cameras = await asyncio.to_thread(self._identify, observations)
        return ScanOutcome(run.started, run.finished, cameras, list(run.errors))

    def _identify(self, observations: list[Observation]) -> list[Camera]:
        return cameras_among(group_hosts(observations), self.catalogue, self.policy)


def sd_notify(state: str) -> None:
    """Tell systemd (Type=notify) how we are, when it asked; otherwise do nothing."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or address[0] not in "/@":
        return
    target = "\0" + address[1:] if address[0] == "@" else address
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.sendto(state.encode("utf-8"), target)


def _bounded_put(memory: OrderedDict[str, float], key: str, value: float) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > MAX_REMEMBERED:
        memory.popitem(last=False)


class Service:
    """The agent as a service; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        config: Config,
        *,
        scan: ScanFunction | None = None,
        catalogue: Catalogue | None = None,
        policy: Policy | None = None,
        interfaces: Callable[[], list[netinfo.Interface]] = netinfo.interfaces,
        clock: Callable[[], float] = time.time,
        passive: bool | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.catalogue = catalogue or load_catalogue()
        self.policy = policy or make_policy(config.policy)
        check_policy(self.policy, self.catalogue)
        self.interfaces = interfaces
        self.networks = self._networks()
        credentials = (
            load_credentials(config.scan.credentials) if config.scan.credentials else Credentials()
        )
        self._scan = scan or NetworkScan(
            config, self.catalogue, self.policy, credentials, interfaces
        )
        self._passive_on = config.scan.passive if passive is None else passive
        self.topics = Topics(config.mqtt.base_topic, config.agent.id)
        self._ha = Discovery(self.topics, config.mqtt.discovery_prefix)
        self.discovery = self._ha if config.mqtt.homeassistant_discovery else None
        self.inventory = AsyncInventory(
            Inventory(
                config.agent.state_dir / "inventory.sqlite3",
                missing_after_scans=config.inventory.missing_after_scans,
                retention=config.inventory.retention,
            )
        )
        self.client = MqttClient(
            config.mqtt.settings(
                f"cctv-sentinel-{config.agent.id}", Will(self.topics.status, contract.OFFLINE)
            ),
            on_message=self._on_message,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
        )
        self.publisher = Publisher(self.client, order=self._order)
        self.port: IsolationPort | None = None
        self.router: CommandRouter | None = None
        self.passive: PassiveListener | None = None
        self.status = ScanStatus(interval=config.scan.interval)
        self.regimes: dict[str, RegimeRef] = {
            rid: {"id": rid, "name": r.name, "jurisdiction": r.jurisdiction}
            for rid, r in self.catalogue.regimes.items()
        }
        self._rng = random.Random()  # noqa: S311  (schedule jitter, not cryptography)
        self._stop = asyncio.Event()
        self._rescan = asyncio.Event()
        self._scan_lock = asyncio.Lock()
        self._hosts: asyncio.Queue[Sighting] = asyncio.Queue(MAX_PENDING_HOSTS)
        self._queued: set[str] = set()
        self._looked_at: OrderedDict[str, float] = OrderedDict()
        self._not_cameras: OrderedDict[str, float] = OrderedDict()
        self._commands: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED_COMMANDS)
        self._shown_last_seen: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failure: SentinelError | None = None
        """Why a core loop stopped the service (a damaged inventory): :meth:`run` raises it."""
        self._own_ips: set[str] = set()
        self.fatal: MqttPermanentError | None = None
        """A permanent MQTT error (TLS, credentials) that stopped the service."""

    # --- configuration-derived --------------------------------------------------------

    def _networks(self) -> tuple[ipaddress.IPv4Network, ...]:
        if self.config.scan.networks:
            return self.config.scan.networks
        try:
            return default_networks(self.interfaces())
        except UsageError as err:
            raise UsageError(f"{err} (or set scan.networks)") from None

    def in_scope(self, ip: str) -> bool:
        """True for an address inside the watched networks."""
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def _order(self, topic: str) -> int:
        """Resend order after a reconnect: announcement, info, cameras, HA configs."""
        if topic == self.topics.discovery:
            return 0
        if topic == self.topics.info:
            return 1
        if topic.startswith(self.topics.root + "/camera/"):
            return 2
        return 3

    # --- publishing -------------------------------------------------------------------

    def _announce(self) -> None:
        payload = contract.announcement(
            self.topics, name=self.config.agent.name, version=__version__
        )
        self.publisher.retain(self.topics.discovery, contract.encode(payload))

    def _publish_info(self) -> None:
        records = self.inventory.records()
        port = self.port
        isolated = port.isolated(records) if port else 0
        enabled = [ref for rid, ref in self.regimes.items() if self.policy.regime_enabled(rid)]
        payload = contract.info(
            self.topics,
            name=self.config.agent.name,
            version=__version__,
            catalogue_version=self.catalogue.version,
            networks=[str(n) for n in self.networks],
            scan=self.status,
            counts=contract.count_cameras((r.risk for r in records), isolated),
            regimes=enabled,
            isolation=port.info()
            if port
            else {"backends": [], "default_backend": None, "modes": [], "auto_isolate": False},
        )
        self.publisher.retain(self.topics.info, contract.encode(payload))

    def _camera_payload(self, record: CameraRecord, last_seen: float) -> contract.CameraPayload:
        return contract.camera_payload(
            record,
            regimes=self.regimes,
            isolation=self.port.state(record) if self.port else contract.NOT_ISOLATED,
            publish_serials=self.config.mqtt.publish_serials,
            last_seen=last_seen,
        )

    def _publish_camera(self, record: CameraRecord) -> None:
        """Retain a camera's state; ``last_seen`` alone refreshes only every interval."""
        topic = self.topics.camera(record.camera_id)
        shown = self._shown_last_seen.get(record.camera_id)
        due = (
            shown is None
            or record.last_seen - shown >= self.config.mqtt.last_seen_interval
            or record.last_seen < shown
        )
        if not due:
            assert shown is not None
            payload = contract.encode(self._camera_payload(record, shown))
            if payload == self.publisher.desired(topic):
                return  # nothing but the last-seen time changed
        self._shown_last_seen[record.camera_id] = record.last_seen
        camera = self._camera_payload(record, record.last_seen)
        self.publisher.retain(topic, contract.encode(camera))
        if self.discovery is not None:
            for config_topic, config in self.discovery.configs(camera, __version__).items():
                self.publisher.retain(config_topic, contract.encode(config))

    def _remove_camera(self, camera_id: str) -> None:
        """Clear a camera's retained topics (Home Assistant configs first)."""
        if self.discovery is not None:
            for config_topic in self.discovery.config_topics(camera_id):
                self.publisher.retain(config_topic, b"")
        self.publisher.retain(self.topics.camera(camera_id), b"")
        self._shown_last_seen.pop(camera_id, None)

    def _event(
        self,
        kind: contract.EventType,
        record: CameraRecord | None = None,
        *,
        changes: dict[str, tuple[Any, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        payload = contract.event(
            kind,
            time=self.clock(),
            camera_id=record.camera_id if record else None,
            camera=contract.event_camera(record) if record else None,
            changes=changes,
            details=details,
        )
        self.publisher.send(self.topics.event, contract.encode(payload))

    def _apply(self, changes: Sequence[Change]) -> list[CameraRecord]:
        """Publish what the inventory changed; return cameras that just became restricted."""
        restricted: list[CameraRecord] = []
        for change in changes:
            record = change.record
            if change.kind == "gone":
                self._remove_camera(record.camera_id)
                self._event("camera_gone", record)
                _LOG.info("camera %s (%s) removed: missing too long", record.camera_id, record.ip)
                continue
            if change.previous_id is not None:
                self._remove_camera(change.previous_id)
            self._publish_camera(record)
            if change.kind == "missing":
                self._event("camera_missing", record)
                _LOG.info("camera %s (%s) is missing", record.camera_id, record.ip)
                continue
            self._found_events(change)
            if change.changes:
                self._event("camera_changed", record, changes=dict(change.changes))
            if self._risk_events(change):
                restricted.append(record)
        if changes:
            self._publish_info()
        return restricted

    def _found_events(self, change: Change) -> None:
        """``camera_found`` for new, returning and re-keyed cameras."""
        record = change.record
        if change.kind not in {"found", "returned"} and change.previous_id is None:
            return
        details: dict[str, Any] = {}
        if change.kind == "returned":
            details["returned"] = True
        if change.previous_id is not None:
            details["previous_camera_id"] = change.previous_id
        self._event("camera_found", record, details=details)
        if change.kind == "found":
            _LOG.info(
                "camera found: %s %s %s (%s)",
                record.ip,
                record.manufacturer or "unknown maker",
                record.model or "",
                record.risk,
            )

    def _risk_events(self, change: Change) -> bool:
        """``restricted_detected``/``_cleared`` on risk transitions; True when newly restricted."""
        record, old = change.record, change.previous
        was = old.risk if old is not None and change.kind != "found" else None
        if record.risk == "restricted" and was != "restricted":
            self._event("restricted_detected", record)
            return True
        if was == "restricted" and record.risk != "restricted":
            self._event("restricted_cleared", record)
        return False

    # --- MQTT session -------------------------------------------------------------------

    async def _on_connect(self) -> None:
        """Online first, then everything retained, then listen for commands (docs/mqtt.md)."""
        await self.client.publish(self.topics.status, contract.ONLINE, qos=1, retain=True)
        self.publisher.connected()
        await self.publisher.flush(timeout=30.0)
        # MQTT 5 keeps the retain flag of live messages (Retain As Published), so a
        # command retained while we are connected is seen as retained and refused.
        await self.client.subscribe(self.topics.command, qos=1, retain_as_published=True)

    def _on_disconnect(self, _reason: str) -> None:
        self.publisher.disconnected()

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic != self.topics.command or self.router is None:
            return
        if retained:
            # A retained command would run again at every reconnect.
            result = self.router.refuse(
                payload, "retained commands are ignored; send without retain"
            )
            self.publisher.send(self.topics.command_result, contract.encode(result))
            return
        try:
            self._commands.put_nowait(payload)
        except asyncio.QueueFull:
            result = self.router.refuse(payload, "the agent is busy; try again shortly")
            self.publisher.send(self.topics.command_result, contract.encode(result))

    async def _command_worker(self) -> None:
        assert self.router is not None
        while True:
            payload = await self._commands.get()
            result = await self.router.handle(payload)
            self.publisher.send(self.topics.command_result, contract.encode(result))
            if result["status"] in {"ok", "refused", "error"} and result["camera_id"]:
                record = self.inventory.get(result["camera_id"])
                if record is not None:
                    self._publish_camera(record)
                    self._publish_info()

    def _rescan_now(self, wait: float) -> Rescan:
        """Start a full scan now, or join the one running or due (coalesced)."""
        if self._scan_lock.locked() and self.status.scanning:
            return Rescan(
                "accepted", "a scan is already running; its results will follow", started=False
            )
        if self._rescan.is_set():
            return Rescan("accepted", "a rescan is already due; its results will follow", False)
        if wait > 0:
            interval = self.config.commands.rescan_min_interval
            return Rescan(
                "refused",
                f"rate limit: at most one rescan every {interval:g} s (try again in {wait:.0f} s)",
                started=False,
            )
        self._rescan.set()
        return Rescan("accepted", "rescan started")

    def _on_isolation_event(self, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if kind not in {"isolation_applied", "isolation_released", "isolation_failed"}:
            return
        camera_id = raw.get("camera_id")
        record = self.inventory.get(camera_id) if isinstance(camera_id, str) else None
        payload = contract.event(
            kind,
            time=self.clock(),
            camera_id=camera_id
            if isinstance(camera_id, str) and contract.CAMERA_ID_RE.match(camera_id)
            else None,
            camera=contract.event_camera(record) if record else None,
            details=raw.get("details") if isinstance(raw.get("details"), dict) else {},
        )
        if isinstance(raw.get("time"), str):
            payload["time"] = raw["time"]
        self.publisher.send(self.topics.event, contract.encode(payload))
        if record is not None:
            self._publish_camera(record)
        self._publish_info()

    # --- scanning -------------------------------------------------------------------------

    async def full_scan(self) -> None:
        """Scan every watched network and publish what changed."""
        async with self._scan_lock:
            started = self.clock()
            self.status = ScanStatus(
                scanning=True,
                last_started=started,
                last_finished=self.status.last_finished,
                last_duration=self.status.last_duration,
                next_scan=None,
                interval=self.config.scan.interval,
            )
            self._publish_info()
            self._event("scan_started", details={"networks": [str(n) for n in self.networks]})
            try:
                outcome = await self._scan(
                    ScanJob(networks=self.networks, timeout=self.config.scan.timeout)
                )
            except (SentinelError, OSError) as err:
                # Out of sockets, an interface gone...: report it, keep the schedule.
                _LOG.error("scan failed: %s", err)
                outcome = ScanOutcome(started, self.clock(), [], [str(err)])
            facts = [facts_from_camera(c) for c in outcome.cameras]
            changes = await self.inventory.observe(facts, at=outcome.finished, full_scan=True)
            restricted = self._apply(changes)
            finished = self.clock()
            records = self.inventory.records()
            present = [r for r in records if r.state == "present"]
            count = sum(1 for r in present if r.risk == "restricted")
            await self.inventory.record_scan(
                ScanRecord(started, finished, len(present), count, tuple(outcome.errors))
            )
            self.status = ScanStatus(
                scanning=False,
                last_started=started,
                last_finished=finished,
                last_duration=finished - started,
                next_scan=None,
                interval=self.config.scan.interval,
            )
            self._event(
                "scan_finished",
                details={
                    "cameras": len(present),
                    "restricted": count,
                    "duration_s": round(finished - started, 3),
                    "errors": list(outcome.errors)[:20],
                },
            )
            _LOG.info(
                "scan finished in %.1f s: %d camera(s), %d restricted",
                finished - started,
                len(present),
                count,
            )
        if restricted and self.port is not None:
            await self.port.auto_isolate(restricted)
        await self._publish_history()

    async def _publish_history(self) -> None:
        """Count today into the daily progress and retain the history (after each full scan)."""
        records = self.inventory.records()
        port = self.port
        isolated = {
            r.camera_id
            for r in records
            if port is not None and port.state(r)["state"] == "isolated"
        }
        today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date().isoformat()
        await self.inventory.record_day(today, isolated)
        days = await self.inventory.days(contract.MAX_HISTORY_DAYS)
        payload = contract.history_payload(self.topics.agent_id, days)
        self.publisher.retain(self.topics.history, contract.encode(payload))

    async def _schedule(self) -> None:
        """Full scans forever: at start, then every interval (with jitter) or on request."""
        loop = asyncio.get_running_loop()
        while True:
            self._rescan.clear()
            await self.full_scan()
            interval = self.config.scan.interval
            jitter = self.config.scan.jitter
            delay = interval * (1.0 + self._rng.uniform(-jitter, jitter))
            self.status = ScanStatus(
                scanning=False,
                last_started=self.status.last_started,
                last_finished=self.status.last_finished,
                last_duration=self.status.last_duration,
                next_scan=self.clock() + delay,
                interval=interval,
            )
            self._publish_info()
            deadline = loop.time() + delay
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._rescan.wait()
            for change in await self.inventory.expire(self.clock()):
                self._apply([change])

    # --- passive listening and one-host looks ------------------------------------------------

    def _on_sighting(self, sighting: Sighting) -> None:
        """An announcement: refresh a known camera, or look at a new device at once."""
        ip = sighting.ip
        if not self.in_scope(ip) or ip in self._own_ips:
            return
        record = self.inventory.at_ip(ip)
        if sighting.kind == "bye":
            if record is not None and record.state == "present" and self._same(record, sighting):
                self._spawn(self._goodbye(record), f"bye {ip}")
            return
        if record is not None and record.state == "present" and self._same(record, sighting):
            if sighting.at - record.last_seen >= TOUCH_EVERY:
                self._spawn(self._touch(record.camera_id, sighting.at), f"touch {ip}")
            return
        now = sighting.at
        for memory, wait in (
            (self._not_cameras, NOT_A_CAMERA_MEMORY),
            (self._looked_at, TARGET_COOLDOWN),
        ):
            when = memory.get(ip)
            if when is not None and now - when < wait:
                return
        if ip in self._queued:
            return
        try:
            self._hosts.put_nowait(sighting)
        except asyncio.QueueFull:
            return  # a flood: the next full scan covers whatever this was
        self._queued.add(ip)

    @staticmethod
    def _same(record: CameraRecord, sighting: Sighting) -> bool:
        """False when the announcement names another device than the one we know there."""
        obs = sighting.observation
        if obs is None:
            return True
        mac = obs.mac or obs.get("mac")
        if mac and record.mac and mac.replace("-", ":").lower() != record.mac:
            return False
        endpoint = obs.get("endpoint")
        if endpoint and record.onvif_uuid:
            return record.onvif_uuid in endpoint.lower()
        return True

    async def _touch(self, camera_id: str, at: float) -> None:
        change = await self.inventory.touch(camera_id, at)
        if change is not None:
            self._apply([change])

    async def _goodbye(self, record: CameraRecord) -> None:
        change = await self.inventory.mark_missing(record.camera_id, self.clock())
        if change is not None:
            self._apply([change])

    async def look(self, sighting: Sighting) -> None:
        """Scan one announced host now and publish it if it is a camera."""
        ip = sighting.ip
        async with self._scan_lock:
            record = self.inventory.at_ip(ip)
            if record is not None and record.state == "present" and record.last_seen >= sighting.at:
                return  # a full scan looked at it meanwhile
            _bounded_put(self._looked_at, ip, self.clock())
            extra = (sighting.observation,) if sighting.observation is not None else ()
            try:
                outcome = await self._scan(
                    ScanJob(
                        networks=(ipaddress.IPv4Network(f"{ip}/32"),),
                        timeout=self.config.scan.host_timeout,
                        hosts=(ip,),
                        extra=extra,
                    )
                )
            except (SentinelError, OSError) as err:
                _LOG.warning("looking at %s failed: %s", ip, err)
                return
            if not outcome.cameras:
                _bounded_put(self._not_cameras, ip, self.clock())
                return
            facts = [facts_from_camera(c) for c in outcome.cameras]
            changes = await self.inventory.observe(facts, at=outcome.finished, full_scan=False)
            restricted = self._apply(changes)
        if restricted and self.port is not None:
            await self.port.auto_isolate(restricted)

    async def _look_worker(self) -> None:
        while True:
            sighting = await self._hosts.get()
            self._queued.discard(sighting.ip)
            await self.look(sighting)

    # --- life cycle ---------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, StateCorruptError | StateUnwritableError):
            # One line, no traceback: run() raises it and the CLI exits non-zero.
            self.failure = self.failure or exc
            self.stop()
        elif isinstance(exc, MqttPermanentError):
            self.fatal = exc  # said once by the client; run() raises it (exit 2)
            self.stop()
        elif exc is not None:
            _LOG.error("%s failed: %r", task.get_name(), exc, exc_info=exc)
            if task.get_name() in {
                "schedule",
                "look worker",
                "command worker",
                "mqtt",
                "publisher",
            }:
                self.stop()  # a core loop died: stop, so the supervisor restarts us

    def stop(self) -> None:
        """Ask :meth:`run` to stop cleanly."""
        self._stop.set()

    async def _start(self) -> None:
        await self.inventory.open()
        last = await self.inventory.last_scan()
        if last is not None:
            self.status = ScanStatus(
                last_started=last.started,
                last_finished=last.finished,
                last_duration=last.finished - last.started,
                interval=self.config.scan.interval,
            )
        broker = self.config.mqtt.host
        self.port = await asyncio.to_thread(
            IsolationPort.create,
            self.config.isolation,
            state_dir=self.config.agent.state_dir,
            broker_host=broker,
        )
        self.port.on_event(self._on_isolation_event)
        commands = self.config.commands
        self.router = CommandRouter(
            port=self.port,
            camera=self.inventory.get,
            rescan=self._rescan_now,
            clock=self.clock,
            authority=CommandAuthority(
                topic=self.topics.command,
                secret=commands.secret,
                max_age=commands.max_age,
                clock=self.clock,
            ),
            rescan_min_interval=commands.rescan_min_interval,
        )
        self._own_ips = {str(i.address) for i in self.interfaces()}
        # The state as remembered, before any scan: published as soon as we connect.
        self._announce()
        for record in self.inventory.records():
            self._publish_camera(record)
        self._publish_info()

    async def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT when run from the CLI)."""
        try:
            await self._start()
            assert self.port is not None
            self._spawn(self.client.run(), "mqtt")
            self._spawn(self.publisher.run(), "publisher")
            self._spawn(self._command_worker(), "command worker")
            await self.port.start()
            self._publish_info()
            if self._passive_on:
                self.passive = PassiveListener(
                    [
                        i
                        for i in self.interfaces()
                        if any(i.network.overlaps(n) for n in self.networks)
                    ],
                    self._on_sighting,
                    clock=self.clock,
                )
                listening = await self.passive.start()
                if listening:
                    _LOG.info("listening for announcements: %s", ", ".join(listening))
            self._spawn(self._look_worker(), "look worker")
            self._spawn(self._schedule(), "schedule")
            if self.port.configured:
                self._spawn(self._watch_isolation(), "isolation watch")
            sd_notify("READY=1")
            _LOG.info(
                "agent %s watching %s, publishing to %s under %s",
                self.config.agent.id,
                ", ".join(str(n) for n in self.networks),
                self.client.settings.url,
                self.config.mqtt.base_topic,
            )
            self._spawn(self._retry_state(), "state retry")
            await self._stop.wait()
        finally:
            sd_notify("STOPPING=1")
            await self._shutdown()
        if self.failure is not None:
            raise self.failure
        if self.fatal is not None:
            raise self.fatal

    async def _retry_state(self) -> None:
        """While the inventory's disk is full, try to write what memory holds."""
        while True:
            await asyncio.sleep(STATE_RETRY)
            if self.inventory.degraded:
                await self.inventory.retry()

    async def _watch_isolation(self) -> None:
        assert self.port is not None
        while True:
            await asyncio.sleep(5.0)
            await self.port.refresh()

    async def _shutdown(self) -> None:
        core = {"mqtt", "publisher"}
        for task in [t for t in self._tasks if t.get_name() not in core]:
            task.cancel()
        await asyncio.gather(
            *[t for t in self._tasks if t.get_name() not in core], return_exceptions=True
        )
        if self.passive is not None:
            self.passive.close()
        if self.client.connected:
            with contextlib.suppress(MqttError, TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    await self.publisher.flush()
                    await self.client.publish(self.topics.status, contract.OFFLINE, retain=True)
        await self.client.disconnect(timeout=STOP_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.port is not None:
            await self.port.close()
        lost = await self.inventory.close()
        if lost:
            # Loud, not silent: a clean exit would hide that history was dropped.
            self.failure = self.failure or HostEnvironmentError(
                f"stopped with {lost} camera(s) and change(s) not written to the inventory"
                f" {self.inventory.inventory.path} (its disk is still full); free space under"
                " the state directory"
            )

    async def retire(self, timeout: float = 30.0) -> int:
        """Clear this agent's retained topics for good; return how many were cleared."""
        await self.inventory.open()
        run = self._spawn(self.client.run(), "mqtt")
        sender = self._spawn(self.publisher.run(), "publisher")
        try:
            connected = asyncio.ensure_future(self.client.wait_connected(timeout))
            await asyncio.wait({connected, run}, return_when=asyncio.FIRST_COMPLETED)
            if not connected.done():  # the client gave up: a permanent error
                connected.cancel()
                await asyncio.gather(connected, return_exceptions=True)
                raise self.fatal or MqttError("the MQTT client stopped")
            await connected
            topics = [self.topics.discovery, self.topics.info, self.topics.history]
            for record in self.inventory.records():
                topics.append(self.topics.camera(record.camera_id))
                topics.extend(self._ha.config_topics(record.camera_id))
            self.publisher.connected()
            for topic in topics:
                self.publisher.retain(topic, b"")
            await self.publisher.flush(timeout)
            await self.client.publish(self.topics.status, b"", retain=True)
            return len(topics)
        finally:
            await self.client.disconnect()
            for task in (run, sender):
                task.cancel()
            await asyncio.gather(run, sender, return_exceptions=True)
            await self.inventory.close()


def install_signal_handlers(service: Service) -> None:
    """SIGTERM and SIGINT stop the service cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, service.stop)
