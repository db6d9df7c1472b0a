"""The isolation manager: rails, backends, persistence, audit and events in one place.

Every request runs the same way: validate, check the safety rails, take the
lock (an asyncio lock and a file lock, so the agent and a shell command never
interleave), re-read the persisted state, hand the backend the complete list
that should be in force, apply, read back what really is in force, persist,
audit, and publish events. Nothing is reported as isolated unless the backend
read it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal, cast

from cctv_sentinel.blocking import in_thread
from cctv_sentinel.errors import IsolationError, SentinelError
from cctv_sentinel.isolation import hostinfo
from cctv_sentinel.isolation.audit import Audited, event_payload
from cctv_sentinel.isolation.base import Backend, NetworkScope, Observed, Plan
from cctv_sentinel.isolation.batch import Batch
from cctv_sentinel.isolation.config import (
    DRY_RUN,
    MIKROTIK,
    NFTABLES,
    IsolationSettings,
    NftablesSettings,
    settings_from_mapping,
)
from cctv_sentinel.isolation.hostinfo import IPNetwork
from cctv_sentinel.isolation.mikrotik import MikrotikBackend
from cctv_sentinel.isolation.model import (
    MAX_REASON,
    MODES,
    NOT_ISOLATED,
    AuditRecord,
    Isolation,
    IsolationOutcome,
    IsolationState,
    IsolationTarget,
    Mode,
    OutcomeStatus,
    Requester,
)
from cctv_sentinel.isolation.nftables import NftablesBackend, NftRunner
from cctv_sentinel.isolation.protected import ProtectedAddresses
from cctv_sentinel.isolation.rails import RateLimit, forwardable
from cctv_sentinel.isolation.store import FILENAME, IsolationStore
from cctv_sentinel.protocols.text import clean

_LOG = logging.getLogger(__name__)

LOCK_TIMEOUT: Final = 30.0
"""Seconds to wait for another process (agent or CLI) to finish its isolation change."""
MAX_TARGETS: Final = 256
"""Most devices in one request."""
SYNC_TIMEOUT: Final = 120.0
"""Most seconds one change may take end to end (plan, apply, read back): each nft run
or HTTP call has its own, shorter timeout; this bounds a slow router answering many."""

EventCallback = Callable[[dict[str, Any]], None]
_AUTO: Final = Requester("auto")


class IsolationManager:
    """Isolate and release devices through the configured backends, safely and on the record."""

    def __init__(
        self,
        settings: IsolationSettings | None,
        *,
        state_dir: Path | None,
        protected: ProtectedAddresses,
        backends: Mapping[str, Backend] | None = None,
        clock: Callable[[], float] = time.time,
        host_root: Path = Path("/"),
        nft_runner: NftRunner | None = None,
        verify_every: float = 60.0,
    ) -> None:
        self.settings = settings
        self.verify_every = verify_every
        # The first check comes one period after start (reapply() just ran then).
        self._last_verify = time.monotonic()
        self.state_dir = state_dir
        self.clock = clock
        self.host_root = host_root
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.protected = protected
        self._callbacks: list[EventCallback] = []
        self._entries: list[Isolation] = []
        self._store: IsolationStore | None = None
        self._lock = asyncio.Lock()
        self._lock_fd: int | None = None
        self._last_audit_id = 0
        self._backends: dict[str, Backend] = {}
        self._preview: Backend | None = None
        self._rate = RateLimit(1, 1.0)
        if settings is None:
            return
        if state_dir is None:
            raise IsolationError("isolation needs a state directory")
        self.protected = protected.with_allowlist(settings.never_isolate)
        self._rate = RateLimit(settings.rate_max, settings.rate_period)
        if backends is not None:
            self._backends = dict(backends)
        else:
            if settings.nftables is not None:
                self._backends[NFTABLES] = NftablesBackend(settings.nftables, nft_runner)
            if settings.mikrotik is not None:
                self._backends[MIKROTIK] = MikrotikBackend(settings.mikrotik)
        preview = settings.dry_run_of or next(iter(self._backends), None)
        if preview is not None and preview in self._backends:
            self._preview = self._backends[preview]
        else:
            # Nothing real configured: preview what nftables on this host would do.
            self._preview = NftablesBackend(NftablesSettings(), nft_runner)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any] | None,
        *,
        state_dir: Path,
        protected: ProtectedAddresses,
        clock: Callable[[], float] = time.time,
        nft_runner: NftRunner | None = None,
        host_root: Path = Path("/"),
        verify_every: float = 60.0,
    ) -> IsolationManager:
        """Build from the config's ``isolation:`` mapping (None: isolation is not configured).

        Raises ConfigError naming the key when the mapping is invalid.
        """
        settings = None if config is None else settings_from_mapping(config)
        return cls(
            settings,
            state_dir=state_dir,
            protected=protected,
            clock=clock,
            nft_runner=nft_runner,
            host_root=host_root,
            verify_every=verify_every,
        )

    # what it offers ------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """False when the config has no ``isolation:`` section."""
        return self.settings is not None

    def backends(self) -> list[str]:
        """Names of the usable backends (empty when isolation is not configured)."""
        if self.settings is None:
            return []
        return [DRY_RUN, *self._backends]

    def default_backend(self) -> str | None:
        """The backend used when a request names none."""
        return self.settings.default_backend if self.settings is not None else None

    def modes(self) -> list[str]:
        """Isolation modes (empty when not configured)."""
        return list(MODES) if self.settings is not None else []

    def info(self) -> dict[str, Any]:
        """The ``isolation`` object of the agent's MQTT info payload."""
        return {
            "backends": self.backends(),
            "default_backend": self.default_backend(),
            "modes": self.modes(),
            "auto_isolate": bool(self.settings and self.settings.auto_enabled),
        }

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` for every audited action (see :func:`event_payload`)."""
        self._callbacks.append(callback)

    def state_for(
        self, camera_id: str | None, ip: str | None = None, mac: str | None = None
    ) -> IsolationState:
        """The isolation state of a device, from the last state read (no I/O)."""
        if camera_id:
            for entry in self._entries:
                if camera_id in (entry.camera_id, entry.key):
                    return entry.as_state
        for entry in self._entries:
            if (mac and entry.mac == mac) or (ip and ip in entry.ips):
                return entry.as_state
        return NOT_ISOLATED

    def isolations(self) -> list[Isolation]:
        """Every isolation from the last state read."""
        return list(self._entries)

    # locking, state and events -------------------------------------------------------------------

    def _open_store(self) -> IsolationStore:
        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = self._lock_file()
        # Creating the database and switching it to WAL can fail with "database is
        # locked" (no busy wait) when two processes do it at once: serialise it.
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            store = IsolationStore(self.state_dir / FILENAME, self.origin)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._last_audit_id = store.last_audit_id()
        return store

    def _lock_file(self) -> int:
        if self._lock_fd is None:
            assert self.state_dir is not None
            self._lock_fd = os.open(
                self.state_dir / "isolation.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        return self._lock_fd

    async def _ensure_store(self) -> IsolationStore:
        if self._store is None:
            self._store = await in_thread(self._open_store)
            since = self.clock() - self._rate.period
            self._rate.seed(await in_thread(self._store.isolations_since, since))
        return self._store

    def _try_flock(self) -> bool:
        try:
            fcntl.flock(self._lock_file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[IsolationStore]:
        async with self._lock:
            store = await self._ensure_store()
            deadline = time.monotonic() + LOCK_TIMEOUT
            while not await in_thread(self._try_flock):
                if time.monotonic() > deadline:
                    raise IsolationError("another cctv-sentinel process holds the isolation lock")
                await asyncio.sleep(0.05)
            try:
                self._entries = await in_thread(store.load)
                yield store
            finally:
                assert self._lock_fd is not None
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _scope_now(self) -> NetworkScope:
        assert self.settings is not None
        local: tuple[IPNetwork, ...]
        if self.settings.local_networks is not None:
            local = self.settings.local_networks
        else:
            local = tuple(hostinfo.local_networks(hostinfo.routes(self.host_root)))
        allow: list[IPNetwork] = list(self.settings.quarantine_allow)
        allow += [
            ipaddress.ip_network(a) for a in self.protected.agent_addresses if not a.is_link_local
        ]
        return NetworkScope(local=local, allow=tuple(allow))

    async def scope(self) -> NetworkScope:
        """The local and allowed networks the rules use right now."""
        return await in_thread(self._scope_now)

    async def _commit(
        self,
        store: IsolationStore,
        audited: Sequence[Audited],
        *,
        put: Sequence[Isolation] = (),
        delete: Sequence[str] = (),
    ) -> None:
        now = self.clock()
        rows = [a.entry(now) for a in audited]
        ids = await in_thread(store.commit, put=put, delete=delete, audit=rows)
        self._entries = await in_thread(store.load)
        for audit_id, item in zip(ids, audited, strict=True):
            self._last_audit_id = max(self._last_audit_id, audit_id)
            if item.event:
                self._emit(item.record(audit_id, now))

    def _emit(self, record: AuditRecord) -> None:
        payload = event_payload(record)
        if payload is None:
            return
        for callback in list(self._callbacks):
            try:
                callback(payload)
            except Exception:  # noqa: BLE001  (a subscriber's bug must not undo an isolation)
                _LOG.exception("isolation event callback failed")

    # helpers -------------------------------------------------------------------------------------

    def _resolve_backend(self, name: str | None) -> tuple[Backend, bool]:
        """(backend to plan with, dry run?) or IsolationError."""
        assert self.settings is not None
        chosen = name or self.settings.default_backend
        if chosen == DRY_RUN:
            assert self._preview is not None
            return self._preview, True
        backend = self._backends.get(chosen)
        if backend is None:
            configured = ", ".join(self.backends())
            raise IsolationError(f"backend {chosen!r} is not configured (configured: {configured})")
        return backend, False

    @staticmethod
    async def _sync(
        backend: Backend, desired: Sequence[Isolation], scope: NetworkScope
    ) -> Observed:
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                plan = await backend.plan(desired, scope)
                if plan.changes:
                    await backend.apply(plan)
                return await backend.observe()
        except TimeoutError:
            raise IsolationError(
                f"{backend.name} did not finish the change within {SYNC_TIMEOUT:g} s"
            ) from None

    async def _sync_or_observe(
        self, backend: Backend, desired: Sequence[Isolation], scope: NetworkScope
    ) -> tuple[Observed | None, str | None]:
        """Sync; on failure still try to read back what is in force."""
        try:
            return await self._sync(backend, desired, scope), None
        except IsolationError as err:
            with contextlib.suppress(IsolationError):
                return await backend.observe(), str(err)
            return None, str(err)

    def _desired(self, backend: str, *, without: Collection[str] = ()) -> list[Isolation]:
        return [
            e
            for e in self._entries
            if e.backend == backend and e.state == "isolated" and e.key not in without
        ]

    def _not_configured(self) -> IsolationOutcome:
        return IsolationOutcome("not_configured", "isolation is not configured on this agent")

    # isolate -------------------------------------------------------------------------------------

    async def isolate(
        self,
        target: IsolationTarget,
        *,
        mode: str | None = None,
        backend: str | None = None,
        requested_by: Requester,
        reason: str | None = None,
        confirm: bool = False,
        dry_run: bool = False,
    ) -> IsolationOutcome:
        """Isolate one device; refused by the rails, or applied and read back."""
        outcomes = await self.isolate_many(
            [target],
            mode=mode,
            backend=backend,
            requested_by=requested_by,
            reason=reason,
            confirm=confirm,
            dry_run=dry_run,
        )
        return outcomes[0]

    async def isolate_many(
        self,
        targets: Sequence[IsolationTarget],
        *,
        mode: str | None = None,
        backend: str | None = None,
        requested_by: Requester,
        reason: str | None = None,
        confirm: bool = False,
        dry_run: bool = False,
    ) -> list[IsolationOutcome]:
        """Isolate several devices in one change; more than one needs ``confirm``."""
        if self.settings is None:
            return [self._not_configured() for _ in targets]
        chosen = mode or self.settings.default_mode
        problem = None
        if chosen not in MODES:
            problem = f"unknown mode {chosen!r}; use internet or quarantine"
        elif len(targets) > MAX_TARGETS:
            problem = f"at most {MAX_TARGETS} devices per request"
        be: Backend | None = None
        preview = False
        try:
            be, preview = self._resolve_backend(backend)
        except IsolationError as err:
            problem = problem or str(err)
        if problem is not None or be is None:
            return [IsolationOutcome("error", problem or "no backend") for _ in targets]
        if not targets:
            return []
        batch = Batch(
            targets=[forwardable(t) for t in targets],
            mode=cast(Mode, chosen),
            backend=be,
            dry=dry_run or preview,
            requester=requested_by.sanitised(),
            reason=clean(reason, MAX_REASON) or None,
        )
        try:
            async with self._locked() as store:
                return await self._isolate_locked(store, batch, confirm)
        except SentinelError as err:
            return [IsolationOutcome("error", str(err)) for _ in targets]

    async def _isolate_locked(
        self, store: IsolationStore, batch: Batch, confirm: bool
    ) -> list[IsolationOutcome]:
        assert self.settings is not None
        scope = await self.scope()
        batch.now = self.clock()
        batch.check_targets(self.protected, scope.local, confirm=confirm)
        batch.check_conflicts(self._entries)
        batch.check_capacity(self._rate, len(self._entries), self.settings.max_isolations)
        records, replaced = batch.records()
        if not records:
            await self._commit(store, batch.audited)
            return batch.results()
        desired = self._desired(batch.backend.name, without=replaced) + list(records.values())
        if batch.dry:
            plan = await batch.backend.plan(desired, scope)
            for i, record in records.items():
                message = (
                    f"dry-run: would isolate {batch.targets[i].label} ({record.mode} mode)"
                    f" with {batch.backend.name}; nothing was changed"
                )
                batch.outcomes[i] = IsolationOutcome("ok", message, NOT_ISOLATED, plan.text)
                batch.audited.append(batch.audit(i, "ok", message, event=False))
            await self._commit(store, batch.audited)
            return batch.results()
        return await self._apply_isolate(store, batch, desired, scope, records, replaced)

    async def _apply_isolate(
        self,
        store: IsolationStore,
        batch: Batch,
        desired: Sequence[Isolation],
        scope: NetworkScope,
        records: Mapping[int, Isolation],
        replaced: set[str],
    ) -> list[IsolationOutcome]:
        be = batch.backend
        observed, error = await self._sync_or_observe(be, desired, scope)
        put: list[Isolation] = []
        fresh = 0
        for i, record in records.items():
            label = batch.targets[i].label
            status: OutcomeStatus
            if observed is not None and observed.in_force(record, with_mac=be.matches_mac):
                final, status = record, "ok"
                if record.since == batch.now:
                    fresh += 1
                    message = f"isolated {label} ({record.mode} mode) with {be.name}"
                else:
                    message = f"{label} stays isolated ({record.mode} mode) with {be.name}"
            else:
                detail = error or "the rules were applied but do not show the device when read back"
                message = f"could not isolate {label} with {be.name}: {detail}"
                final, status = replace(record, state="failed"), "error"
            final = replace(final, message=message)
            put.append(final)
            batch.outcomes[i] = IsolationOutcome(status, message, final.as_state)
            batch.audited.append(batch.audit(i, status, message))
        done = {r.key for r in records.values()}
        put += self._drift(be, observed, skip=done, audited=batch.audited)
        self._rate.record(fresh, batch.now)
        await self._commit(store, batch.audited, put=put, delete=sorted(replaced - done))
        return batch.results()

    def _drift(
        self,
        be: Backend,
        observed: Observed | None,
        *,
        skip: set[str],
        audited: list[Audited],
    ) -> list[Isolation]:
        """Other isolations of this backend found no longer in force: record the truth."""
        if observed is None:
            return []
        changed: list[Isolation] = []
        for entry in self._desired(be.name, without=skip):
            if observed.in_force(entry, with_mac=be.matches_mac):
                continue
            message = f"{entry.target.label} is no longer isolated on {be.name}: its rules are gone"
            changed.append(replace(entry, state="failed", updated=self.clock(), message=message))
            audited.append(
                Audited.of(
                    "reapply",
                    "error",
                    message,
                    entry,
                    mode=entry.mode,
                    backend=be.name,
                    requested_by=_AUTO,
                    reason=None,
                )
            )
        return changed

    # release -------------------------------------------------------------------------------------

    async def release(
        self,
        target: IsolationTarget,
        *,
        backend: str | None = None,
        requested_by: Requester,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> IsolationOutcome:
        """Undo a device's isolation exactly: its rules go, nothing else changes."""
        if self.settings is None:
            return self._not_configured()
        if backend == DRY_RUN:
            backend, dry_run = None, True
        if backend is not None and backend not in self._backends:
            configured = ", ".join(self.backends())
            return IsolationOutcome(
                "error", f"backend {backend!r} is not configured (configured: {configured})"
            )
        requester = requested_by.sanitised()
        why = clean(reason, MAX_REASON) or None
        target = forwardable(target)
        try:
            async with self._locked() as store:
                found = [
                    e
                    for e in self._entries
                    if (e.key == target.key or target.matches(e.camera_id, e.ips, e.mac))
                    and (backend is None or e.backend == backend)
                ]
                return await self._release_locked(store, target, found, requester, why, dry_run)
        except SentinelError as err:
            return IsolationOutcome("error", str(err))

    async def _release_locked(
        self,
        store: IsolationStore,
        target: IsolationTarget,
        found: list[Isolation],
        requester: Requester,
        reason: str | None,
        dry_run: bool,
    ) -> IsolationOutcome:
        def audited(status: str, message: str, about: IsolationTarget | Isolation) -> Audited:
            mode = about.mode if isinstance(about, Isolation) else None
            name = DRY_RUN if dry_run else about.backend if isinstance(about, Isolation) else None
            return Audited.of(
                "release",
                status,
                message,
                about,
                mode=mode,
                backend=name,
                requested_by=requester,
                reason=reason,
                event=not dry_run,
            )

        if not found:
            message = f"{target.label} is not isolated"
            await self._commit(store, [replace(audited("ok", message, target), event=False)])
            return IsolationOutcome("ok", message, NOT_ISOLATED)
        name = found[0].backend
        mine = [e for e in found if e.backend == name]
        be = self._backends.get(name)
        if be is None:
            return IsolationOutcome(
                "error",
                f"{target.label} was isolated with {name}, which is no longer configured;"
                " configure it again to release, or run `cctv-sentinel isolation reset`",
            )
        desired = self._desired(name, without={e.key for e in mine})
        scope = await self.scope()
        if dry_run:
            plan = await be.plan(desired, scope)
            message = f"dry-run: would release {target.label} from {name}; nothing was changed"
            await self._commit(store, [audited("ok", message, mine[0])])
            return IsolationOutcome("ok", message, mine[0].as_state, plan.text)
        observed, error = await self._sync_or_observe(be, desired, scope)
        still = [
            e
            for e in mine
            if observed is None
            or (e.state == "isolated" and observed.in_force(e, with_mac=be.matches_mac))
        ]
        if error is not None or still:
            detail = error or "its rules are still in force"
            message = f"could not release {target.label} from {name}: {detail}"
            await self._commit(store, [audited("error", message, mine[0])])
            return IsolationOutcome("error", message, mine[0].as_state)
        message = f"released {target.label} from {name}"
        entries = [audited("ok", message, e) for e in mine]
        put = self._drift(be, observed, skip={e.key for e in mine}, audited=entries)
        await self._commit(store, entries, put=put, delete=[e.key for e in mine])
        return IsolationOutcome("ok", message, NOT_ISOLATED)

    # start-up, reset, automation -----------------------------------------------------------------

    async def reapply(self) -> None:
        """At agent start: make every backend hold exactly the persisted isolations again.

        Failed isolations are retried. Never raises: problems are logged,
        audited and published as ``isolation_failed`` events.
        """
        if self.settings is None:
            return
        try:
            async with self._locked() as store:
                await self._reapply_locked(store)
        except SentinelError as err:
            _LOG.error("re-applying isolation failed: %s", err)

    def _restate(
        self, entry: Isolation, ok: bool, message: str, put: list[Isolation], audited: list[Audited]
    ) -> None:
        """Record a re-apply result when it changes the entry's state or message."""
        state: Literal["isolated", "failed"] = "isolated" if ok else "failed"
        if state == entry.state and (ok or entry.message == message):
            return
        put.append(replace(entry, state=state, message=message, updated=self.clock()))
        audited.append(
            Audited.of(
                "reapply",
                "ok" if ok else "error",
                message,
                entry,
                mode=entry.mode,
                backend=entry.backend,
                requested_by=_AUTO,
                reason=None,
            )
        )

    async def _reapply_locked(self, store: IsolationStore) -> None:
        scope = await self.scope()
        audited: list[Audited] = []
        put: list[Isolation] = []
        for entry in self._entries:
            if entry.backend not in self._backends:
                message = f"cannot re-apply: backend {entry.backend} is no longer configured"
                self._restate(entry, False, message, put, audited)
        for name, be in self._backends.items():
            desired = [e for e in self._entries if e.backend == name]
            try:
                if not desired and not (await be.observe()).present:
                    continue
            except IsolationError as err:
                _LOG.warning("cannot read what %s holds: %s", name, err)
            observed, error = await self._sync_or_observe(be, desired, scope)
            if error is not None:
                _LOG.error("re-applying %d isolation(s) with %s: %s", len(desired), name, error)
            for entry in desired:
                label = entry.target.label
                ok = observed is not None and observed.in_force(entry, with_mac=be.matches_mac)
                if ok:
                    message = f"re-applied the isolation of {label} with {name}"
                else:
                    detail = error or "not in force after applying"
                    message = f"could not re-apply the isolation of {label} with {name}: {detail}"
                self._restate(entry, ok, message, put, audited)
        if audited or put:
            await self._commit(store, audited, put=put)

    async def reset(
        self,
        *,
        backend: str | None = None,
        requested_by: Requester,
        reason: str | None = None,
    ) -> IsolationOutcome:
        """Remove everything the backends made (and only that) and forget every isolation."""
        if self.settings is None:
            return self._not_configured()
        if backend is not None and backend not in self._backends:
            return IsolationOutcome("error", f"backend {backend!r} is not configured")
        requester = requested_by.sanitised()
        why = clean(reason, MAX_REASON) or None
        try:
            async with self._locked() as store:
                return await self._reset_locked(store, backend, requester, why)
        except SentinelError as err:
            return IsolationOutcome("error", str(err))

    async def _reset_locked(
        self, store: IsolationStore, backend: str | None, requester: Requester, reason: str | None
    ) -> IsolationOutcome:
        names = [backend] if backend else list(self._backends)
        scope = await self.scope()
        errors: list[str] = []
        cleaned: list[str] = []
        for name in names:
            try:
                observed = await self._sync(self._backends[name], [], scope)
            except IsolationError as err:
                errors.append(f"{name}: {err}")
                continue
            if observed.present:
                errors.append(f"{name}: something of ours is still there after the reset")
            else:
                cleaned.append(name)
        orphans = sorted({e.backend for e in self._entries if e.backend not in self._backends})
        if backend is None and orphans:
            # Forgetting them would leave their rules in force with no record of them.
            errors.append(
                f"isolations with {', '.join(orphans)} are kept: that backend is not"
                " configured here, so its rules cannot be removed"
            )
        forget = [e for e in self._entries if e.backend in cleaned]
        audited = [
            Audited.of(
                "reset",
                "ok",
                f"released {e.target.label} from {e.backend} (reset)",
                e,
                mode=e.mode,
                backend=e.backend,
                requested_by=requester,
                reason=reason,
            )
            for e in forget
        ]
        status: OutcomeStatus = "error" if errors else "ok"
        summary = f"reset {', '.join(cleaned) or 'nothing'}: removed {len(forget)} isolation(s)"
        if errors:
            summary += f"; failed: {'; '.join(errors)}"
        audited.append(
            Audited(
                action="reset",
                status=status,
                message=summary,
                camera_id=None,
                ips=(),
                mac=None,
                mode=None,
                backend=",".join(names) or None,
                requested_by=requester,
                reason=reason,
                event=False,
            )
        )
        await self._commit(store, audited, delete=[e.key for e in forget])
        return IsolationOutcome(status, summary)

    async def auto_isolate(
        self, targets: Sequence[IsolationTarget], *, reason: str = "restricted camera detected"
    ) -> list[IsolationOutcome]:
        """Isolate newly found restricted cameras if ``auto_isolate.enabled``, behind the rails.

        Devices already isolated are skipped. More new devices than
        ``auto_isolate.max_per_scan`` at once are all refused: a person decides.
        """
        if self.settings is None or not self.settings.auto_enabled or not targets:
            return []
        await self._reload()
        new = [t for t in targets if self.state_for(t.camera_id, t.ip, t.mac).state != "isolated"]
        if not new:
            return []
        return await self.isolate_many(
            new,
            mode=self.settings.auto_mode,
            requested_by=_AUTO,
            reason=reason,
            confirm=len(new) <= self.settings.auto_max_per_scan,
        )

    # other processes' changes --------------------------------------------------------------------

    async def _reload(self) -> None:
        """Re-read the state; publish events for rows other processes (the CLI) wrote."""
        store = await self._ensure_store()
        self._entries = await in_thread(store.load)
        rows = await in_thread(store.foreign_audit, self._last_audit_id)
        for row in rows:
            self._last_audit_id = max(self._last_audit_id, row.id)
            self._emit(row)

    async def refresh(self) -> None:
        """Re-read the state (the service calls this every few seconds).

        Publishes events for changes other processes made, and every
        ``verify_every`` seconds also checks the backends (:meth:`verify`).
        """
        if self.settings is None:
            return
        await self._reload()
        if time.monotonic() - self._last_verify >= self.verify_every:
            await self.verify()

    async def verify(self) -> bool:
        """Read every backend back; re-apply when an isolation is no longer in force.

        Firewall reloads (``nft flush ruleset`` by firewalld or ufw, a router
        restored from a backup) silently remove rules; this puts them back.
        Returns True when everything persisted is in force (again).
        """
        if self.settings is None:
            return True
        self._last_verify = time.monotonic()
        await self._reload()
        healthy = True
        for name, be in self._backends.items():
            wanted = [e for e in self._entries if e.backend == name]
            if not wanted:
                continue
            try:
                observed = await be.observe()
            except IsolationError as err:
                _LOG.warning("cannot read back %s: %s", name, err)
                healthy = False
                continue
            if any(
                e.state != "isolated" or not observed.in_force(e, with_mac=be.matches_mac)
                for e in wanted
            ):
                healthy = False
        if not healthy:
            _LOG.warning("isolation rules are missing; re-applying them")
            await self.reapply()
            await self._reload()
            healthy = all(e.state == "isolated" for e in self._entries)
        return healthy

    async def watch(self, interval: float = 5.0) -> None:
        """Call :meth:`refresh` every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except SentinelError as err:
                _LOG.warning("cannot re-read the isolation state: %s", err)

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        """The newest audit rows, oldest first."""
        if self.settings is None:
            return []
        store = await self._ensure_store()
        return await in_thread(store.audit, limit=limit)

    async def plan_for(self, backend: str | None = None) -> Plan:
        """What a backend would do to hold exactly the persisted isolations (no changes)."""
        if self.settings is None:
            raise IsolationError("isolation is not configured")
        be, _ = self._resolve_backend(backend)
        await self._reload()
        return await be.plan(self._desired(be.name), await self.scope())

    async def close(self) -> None:
        """Close backends and the database."""
        for be in self._backends.values():
            with contextlib.suppress(IsolationError, OSError):
                await be.close()
        if self._store is not None:
            await in_thread(self._store.close)
            self._store = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
