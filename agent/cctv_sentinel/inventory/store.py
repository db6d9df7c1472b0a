"""The camera inventory in SQLite: first and last seen, history, missing and gone.

Every camera keeps one id across scans and restarts (:mod:`.ids`). A camera
first known by a weaker key is re-keyed once a stronger one shows up. A camera
not seen in ``missing_after_scans`` full scans in a row is marked ``missing``;
one missing for longer than the retention period is removed. Changes to the
address, firmware, brand, model, maker verdict and risk are kept as history.

:class:`Inventory` is synchronous (SQLite); the event loop uses it through
:class:`AsyncInventory`, which runs each call in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

from cctv_sentinel._util.permissions import make_private_database
from cctv_sentinel.blocking import in_thread, serialised
from cctv_sentinel.errors import (
    HostEnvironmentError,
    SentinelError,
    StateCorruptError,
    StateUnwritableError,
)
from cctv_sentinel.inventory.ids import camera_id_from, serial_key
from cctv_sentinel.inventory.progress import (
    DELETE_SEEN,
    INSERT_SEEN,
    MAX_DAYS_KEPT,
    PROGRESS_DDL,
    PROGRESS_TABLES,
    PRUNE_DAYS,
    UPSERT_DAY,
    DayCounts,
    day_counts,
    day_row,
    load_progress,
    restricted_seen_after,
)
from cctv_sentinel.inventory.records import (
    FACT_FIELDS,
    STICKY_FIELDS,
    TRACKED_FIELDS,
    VERDICT_FIELDS,
    CameraFacts,
    CameraRecord,
    Change,
    HistoryEntry,
    ScanRecord,
)

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1
"""Version of the SQLite layout (``PRAGMA user_version``)."""

DB_NAME: Final = "inventory.sqlite3"

HISTORY_KEEP: Final = 365 * 86400.0
"""History older than a year (or the retention, if longer) is pruned."""
SCANS_KEEP: Final = 1000
"""Scan records kept (the newest)."""

_INDEXED: Final = ("mac", "onvif_uuid", "serial_key", "ip")
"""Record attributes the inventory looks cameras up by."""

_COLUMNS: Final = frozenset({"ip", "mac", "onvif_uuid"})
"""Facts stored in their own columns (indexed); the rest go into the ``facts`` JSON."""

RECOVER_HINT: Final = "cctv-sentinel recover-state"
"""The command that saves what can be read from a damaged inventory (docs/cli.md)."""

_CORRUPT: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_UNWRITABLE: Final = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR})
"""Primary result codes: a damaged file, and a file that cannot be written right now."""


def state_problem(err: sqlite3.Error, path: Path) -> SentinelError:
    """One line that names the file, says what is wrong and what to do (never "delete it")."""
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _CORRUPT:
        return StateCorruptError(
            f"the inventory {path} is damaged ({err}); stop the agent and run"
            f" `{RECOVER_HINT} --state-dir {path.parent}` to save what can be read"
            " (the damaged file is kept beside it)"
        )
    if primary in _UNWRITABLE:
        return StateUnwritableError(
            f"cannot write the inventory {path} ({err}): free space on its file system;"
            " the database is intact and nothing was removed"
        )
    if primary in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}:
        return HostEnvironmentError(
            f"the inventory {path} is in use by another agent (one agent per state directory)"
        )
    return HostEnvironmentError(f"cannot use the inventory {path}: {err}")


_UPSERT: Final = (
    "INSERT OR REPLACE INTO cameras (camera_id, id_source, ip, mac, onvif_uuid,"
    " serial_key, first_seen, last_seen, state, missed_scans, missing_since, facts)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def quick_check(db: sqlite3.Connection) -> str | None:
    """None when SQLite finds the file sound, else its first complaint."""
    rows = db.execute("PRAGMA quick_check(1)").fetchall()
    first = " ".join(str(rows[0][0]).split()) if rows else "no answer"  # one line
    return None if first == "ok" else first.replace("*** in database main *** ", "")


@dataclass(slots=True)
class _Backlog:
    """Changes made in memory while the database could not be written, in order."""

    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    """History and scan rows, history re-keys, pruning: replayed as they came."""
    cameras: set[str] = field(default_factory=set)
    """Cameras written or deleted: their rows are rewritten from memory."""


_DDL: Final = """
CREATE TABLE IF NOT EXISTS cameras (
    camera_id TEXT PRIMARY KEY,
    id_source TEXT NOT NULL,
    ip TEXT NOT NULL,
    mac TEXT,
    onvif_uuid TEXT,
    serial_key TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    state TEXT NOT NULL,
    missed_scans INTEGER NOT NULL,
    missing_since REAL,
    facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id TEXT NOT NULL,
    at REAL NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT
);
CREATE INDEX IF NOT EXISTS history_camera ON history (camera_id, at);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    cameras INTEGER NOT NULL,
    restricted INTEGER NOT NULL,
    errors TEXT NOT NULL
);
"""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


class Inventory:
    """The SQLite-backed inventory (synchronous; one writer at a time)."""

    def __init__(
        self,
        path: Path,
        *,
        missing_after_scans: int = 2,
        retention: float = 7 * 86400.0,
    ) -> None:
        self.path = path
        self.missing_after_scans = max(1, missing_after_scans)
        self.retention = max(0.0, retention)
        self._db: sqlite3.Connection | None = None
        self._by_id: dict[str, CameraRecord] = {}
        self._index: dict[str, dict[str, set[str]]] = {k: {} for k in _INDEXED}
        self._backlog: _Backlog | None = None
        """Not None while writes fail (disk full): memory is ahead of the file."""
        self._restricted_seen: set[str] = set()
        self._days: dict[str, DayCounts] = {}
        """The daily progress (inventory/progress.py), kept in memory like the cameras."""
        self.guard = threading.RLock()
        """Held by every public method: one thread uses the connection at a time."""

    # --- lifecycle -------------------------------------------------------------

    @serialised
    def open(self) -> None:
        """Open (creating if needed, mode 0600) and load every camera.

        Raises StateCorruptError when SQLite finds the file damaged,
        StateUnwritableError when it cannot be written (disk full), each one
        line that names the file and what to do. Nothing is ever removed.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created private before SQLite opens it: it holds full serial numbers.
            make_private_database(self.path)
        except OSError as err:
            raise HostEnvironmentError(
                f"cannot create the inventory {self.path}: {err.strerror}"
            ) from err
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            rows = self._prepare(db)
        except sqlite3.Error as err:
            db.close()
            raise state_problem(err, self.path) from err
        except BaseException:
            db.close()
            raise
        self._db = db
        columns = [d[0] for d in db.execute("SELECT * FROM cameras LIMIT 0").description]
        loaded = (self._from_row(dict(zip(columns, row, strict=True))) for row in rows)
        self._reset({r.camera_id: r for r in loaded if r is not None})

    def _prepare(self, db: sqlite3.Connection) -> list[Any]:
        """Check, migrate (writing only when something changes) and read the cameras."""
        # One agent owns its inventory. Exclusive locking also keeps SQLite's
        # WAL index in memory instead of a -shm file, so a healthy inventory
        # opens and is read even when its disk is full.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HostEnvironmentError(
                f"the inventory {self.path} was written by a newer agent "
                f"(layout {version}, this agent knows {SCHEMA_VERSION})"
            )
        problem = quick_check(db)
        if problem is not None:
            raise StateCorruptError(
                f"the inventory {self.path} is damaged ({problem}); stop the agent and run"
                f" `{RECOVER_HINT} --state-dir {self.path.parent}` to save what can be read"
                " (the damaged file is kept beside it)"
            )
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"cameras", "history", "scans"} <= tables:
            db.executescript(_DDL)
        if not tables >= PROGRESS_TABLES:
            db.executescript(PROGRESS_DDL)
        if version != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._restricted_seen, self._days = load_progress(db)
        return db.execute("SELECT * FROM cameras").fetchall()

    def _reset(self, records: Mapping[str, CameraRecord]) -> None:
        """Replace the in-memory copy (and its indexes) with ``records``."""
        self._by_id = dict(records)
        self._index = {k: {} for k in _INDEXED}
        for record in self._by_id.values():
            self._index_add(record)

    def _index_add(self, record: CameraRecord) -> None:
        for key in _INDEXED:
            value = getattr(record, key)
            if value:
                self._index[key].setdefault(value, set()).add(record.camera_id)

    def _index_remove(self, record: CameraRecord) -> None:
        for key in _INDEXED:
            value = getattr(record, key)
            ids = self._index[key].get(value) if value else None
            if ids is not None:
                ids.discard(record.camera_id)
                if not ids:
                    del self._index[key][value]

    @serialised
    def close(self) -> int:
        """Write what memory holds beyond the file, if it can; close (idempotent).

        Returns how many cameras and changes could not be written (0 when
        everything is on disk): the caller decides how loudly to stop.
        """
        if self._db is None:
            return 0
        lost = 0
        backlog = self._backlog
        if backlog is not None:
            try:
                written = self.retry()
            except SentinelError as err:
                _LOG.error("%s", err)
                written = False
            if not written:
                lost = len(backlog.cameras) + len(backlog.statements)
                _LOG.error(
                    "the inventory %s could not take %d camera(s) and %d change(s) kept in"
                    " memory (still no space); the next scans will find the cameras again",
                    self.path,
                    len(backlog.cameras),
                    len(backlog.statements),
                )
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._db = None
        self._backlog = None
        return lost

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (raises when closed)."""
        if self._db is None:
            raise HostEnvironmentError(f"the inventory {self.path} is not open")
        return self._db

    # --- daily progress (inventory/progress.py) -------------------------------

    @serialised
    def record_day(self, date: str, isolated: Collection[str]) -> DayCounts:
        """Count today's cameras into the daily progress; return the row.

        Written like every other change (through the backlog while the disk is
        full); the statements do not depend on what memory held before, so a
        write that is taken again after a failed commit writes the same rows.
        """

        def write() -> DayCounts:
            records = list(self._by_id.values())
            seen = restricted_seen_after(self._restricted_seen, records)
            for camera_id in sorted(seen):
                self._exec(INSERT_SEEN, (camera_id,))
            for camera_id in sorted(self._restricted_seen - seen):
                self._exec(DELETE_SEEN, (camera_id,))
            counts = day_counts(date, records, isolated, seen)
            self._exec(UPSERT_DAY, day_row(counts))
            self._exec(PRUNE_DAYS, (MAX_DAYS_KEPT,))
            self._restricted_seen = seen
            self._days[date] = counts
            for old in sorted(self._days)[:-MAX_DAYS_KEPT]:
                del self._days[old]
            return counts

        return self._write(write)

    @serialised
    def days(self, limit: int) -> list[DayCounts]:
        """The newest ``limit`` days of progress, oldest first."""
        return [self._days[d] for d in sorted(self._days)[-limit:]] if limit > 0 else []

    # --- reading ---------------------------------------------------------------

    @serialised
    def records(self) -> list[CameraRecord]:
        """Every camera, ordered by id."""
        return [self._by_id[k] for k in sorted(self._by_id)]

    def get(self, camera_id: str) -> CameraRecord | None:
        """One camera by id."""
        return self._by_id.get(camera_id)

    @serialised
    def history(self, camera_id: str | None = None, limit: int = 1000) -> list[HistoryEntry]:
        """Remembered changes, newest last (of one camera, or all)."""
        if camera_id is None:
            rows = self.db.execute(
                "SELECT camera_id, at, field, old, new FROM history ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT camera_id, at, field, old, new FROM history WHERE camera_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (camera_id, limit),
            ).fetchall()
        return [HistoryEntry(*row) for row in reversed(rows)]

    @serialised
    def last_scan(self) -> ScanRecord | None:
        """The newest finished full scan."""
        row = self.db.execute(
            "SELECT started, finished, cameras, restricted, errors FROM scans"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return ScanRecord(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])))

    # --- matching ----------------------------------------------------------------

    def _with(self, key: str, value: str | None, taken: set[str]) -> list[CameraRecord]:
        """Known cameras whose ``key`` equals ``value`` (not already matched this round)."""
        if not value:
            return []
        ids = self._index[key].get(value, set())
        return [self._by_id[i] for i in sorted(ids) if i not in taken]

    def _match(self, facts: CameraFacts, skey: str | None, taken: set[str]) -> CameraRecord | None:
        """The known camera these facts describe, or None for a new one.

        With a MAC, only a camera with that MAC matches, or one without any
        MAC that shares its ONVIF UUID, serial or (as last resort) its
        address: that one is being upgraded to a MAC id. Without a MAC, the
        UUID or serial decides, then the address, as long as nothing known
        about the camera at that address contradicts the facts.
        """
        if facts.mac:
            for r in self._with("mac", facts.mac, taken):
                return r
            for key, value in (("onvif_uuid", facts.onvif_uuid), ("serial_key", skey)):
                for r in self._with(key, value, taken):
                    if r.mac is None:
                        return r
            return self._latest(r for r in self._with("ip", facts.ip, taken) if r.mac is None)
        for key, value in (("onvif_uuid", facts.onvif_uuid), ("serial_key", skey)):
            for r in self._with(key, value, taken):
                return r

        def compatible(r: CameraRecord) -> bool:
            return (r.onvif_uuid is None or facts.onvif_uuid in {None, r.onvif_uuid}) and (
                r.serial_key is None or skey in {None, r.serial_key}
            )

        return self._latest(r for r in self._with("ip", facts.ip, taken) if compatible(r))

    @staticmethod
    def _latest(records: Iterable[CameraRecord]) -> CameraRecord | None:
        found = list(records)
        return max(found, key=lambda r: r.last_seen) if found else None

    # --- updating ------------------------------------------------------------------

    def _merge(self, old: CameraRecord, facts: CameraFacts, at: float) -> CameraRecord:
        """The record after these facts: labels are sticky; a vaguer scan keeps the verdict."""
        mac = facts.mac or old.mac
        uuid = facts.onvif_uuid or old.onvif_uuid
        serial = facts.serial or old.serial
        new_verdict = facts.manufacturer_id is not None or old.manufacturer_id is None
        verdict_from: CameraFacts = facts if new_verdict else old
        skey = serial_key(verdict_from.manufacturer_id, serial)
        if skey != old.serial_key and old.serial_key and not facts.serial:
            skey = old.serial_key
        camera_id, source = camera_id_from(mac=mac, uuid=uuid, skey=skey, ip=facts.ip)
        if camera_id != old.camera_id and camera_id in self._by_id:
            camera_id, source = old.camera_id, old.id_source  # never take another camera's id
        return replace(
            old,
            **{name: getattr(verdict_from, name) for name in VERDICT_FIELDS},
            **{name: getattr(facts, name) or getattr(old, name) for name in STICKY_FIELDS},
            camera_id=camera_id,
            id_source=source,
            ip=facts.ip,
            mac=mac,
            onvif_uuid=uuid,
            serial=serial,
            serial_key=skey,
            last_seen=max(at, old.last_seen),
            state="present",
            missed_scans=0,
            missing_since=None,
        )

    def _new(self, facts: CameraFacts, at: float) -> CameraRecord:
        skey = serial_key(facts.manufacturer_id, facts.serial)
        camera_id, source = camera_id_from(
            mac=facts.mac, uuid=facts.onvif_uuid, skey=skey, ip=facts.ip
        )
        return CameraRecord(
            **{f.name: getattr(facts, f.name) for f in FACT_FIELDS},
            camera_id=camera_id,
            id_source=source,
            serial_key=skey,
            first_seen=at,
            last_seen=at,
        )

    @serialised
    def observe(self, facts: Sequence[CameraFacts], *, at: float, full_scan: bool) -> list[Change]:
        """Merge what a scan found; a full scan also counts the cameras it did not see.

        A partial look (one host after an announcement) never marks others missing.
        """
        return self._write(lambda: self._observe(facts, at=at, full_scan=full_scan))

    def _observe(self, facts: Sequence[CameraFacts], *, at: float, full_scan: bool) -> list[Change]:
        changes: list[Change] = []
        touched: set[str] = set()
        for item in facts:
            skey = serial_key(item.manufacturer_id, item.serial)
            old = self._match(item, skey, touched)
            if old is None:
                record = self._new(item, at)
                if record.camera_id in self._by_id:
                    continue  # an ip- id held by a camera known otherwise: skip this sighting
                self._store(record)
                self._log(record.camera_id, at, "state", None, "found")
                changes.append(Change("found", record))
                touched.add(record.camera_id)
                continue
            record = self._merge(old, item, at)
            touched.add(record.camera_id)
            changes.append(self._update(old, record, at))
        if full_scan:
            for record in list(self._by_id.values()):
                if record.camera_id in touched:
                    continue
                missed = record.missed_scans + 1
                if record.state == "present" and missed >= self.missing_after_scans:
                    marked = replace(record, state="missing", missed_scans=missed, missing_since=at)
                    self._store(marked)
                    self._log(record.camera_id, at, "state", "present", "missing")
                    changes.append(Change("missing", marked, record))
                else:
                    self._store(replace(record, missed_scans=missed))
        changes.extend(self._expire(at))
        return changes

    def _update(self, old: CameraRecord, record: CameraRecord, at: float) -> Change:
        previous_id = None
        if record.camera_id != old.camera_id:
            previous_id = old.camera_id
            self._delete(old.camera_id)
            self._exec(
                "UPDATE history SET camera_id = ? WHERE camera_id = ?",
                (record.camera_id, old.camera_id),
            )
            self._log(record.camera_id, at, "camera_id", old.camera_id, record.camera_id)
        self._store(record)
        diffs = {
            name: (getattr(old, name), getattr(record, name))
            for name in TRACKED_FIELDS
            if getattr(old, name) != getattr(record, name)
        }
        for name, (before, after) in diffs.items():
            self._log(record.camera_id, at, name, before, after)
        if old.state == "missing":
            self._log(record.camera_id, at, "state", "missing", "present")
            return Change("returned", record, old, diffs, previous_id)
        if diffs:
            return Change("changed", record, old, diffs, previous_id)
        if previous_id is not None or old.published() != record.published():
            return Change("updated", record, old, {}, previous_id)
        return Change("seen", record, old)

    @serialised
    def touch(self, camera_id: str, at: float) -> Change | None:
        """A passive sighting of a known camera: refresh its last-seen time only.

        A camera marked missing stays missing: only a scan that identifies it
        again brings it back (an announcement alone can be spoofed).
        """
        record = self._by_id.get(camera_id)
        if record is None or at <= record.last_seen:
            return None
        updated = replace(record, last_seen=at)
        self._write(lambda: self._store(updated))
        return Change("seen", updated, record)

    @serialised
    def mark_missing(self, camera_id: str, at: float) -> Change | None:
        """The camera said goodbye (WS-Discovery Bye, SSDP byebye): mark it missing now."""
        record = self._by_id.get(camera_id)
        if record is None or record.state == "missing":
            return None
        marked = replace(record, state="missing", missing_since=at)

        def write() -> None:
            self._store(marked)
            self._log(camera_id, at, "state", "present", "missing")

        self._write(write)
        return Change("missing", marked, record)

    @serialised
    def expire(self, at: float) -> list[Change]:
        """Remove cameras missing for longer than the retention period."""
        return self._write(lambda: self._expire(at))

    def _expire(self, at: float) -> list[Change]:
        gone: list[Change] = []
        for record in list(self._by_id.values()):
            since = record.missing_since
            if record.state == "missing" and since is not None and at - since >= self.retention:
                self._delete(record.camera_id)
                self._log(record.camera_id, at, "state", "missing", "gone")
                gone.append(Change("gone", record, record))
        keep = max(HISTORY_KEEP, self.retention)
        self._exec("DELETE FROM history WHERE at < ?", (at - keep,))
        return gone

    @serialised
    def forget(self, camera_id: str, at: float) -> Change | None:
        """Remove one camera now (an operator's decision), keeping its history."""
        record = self._by_id.get(camera_id)
        if record is None:
            return None

        def write() -> None:
            self._delete(camera_id)
            self._log(camera_id, at, "state", record.state, "gone")

        self._write(write)
        return Change("gone", record, record)

    @serialised
    def record_scan(self, scan: ScanRecord) -> None:
        """Remember one finished full scan (the newest SCANS_KEEP are kept)."""

        def write() -> None:
            self._exec(
                "INSERT INTO scans (started, finished, cameras, restricted, errors)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    scan.started,
                    scan.finished,
                    scan.cameras,
                    scan.restricted,
                    json.dumps(scan.errors),
                ),
            )
            self._exec(
                "DELETE FROM scans WHERE id <= (SELECT MAX(id) FROM scans) - ?", (SCANS_KEEP,)
            )

        self._write(write)

    # --- storage -------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """True while writes fail: memory holds changes the file does not have yet."""
        return self._backlog is not None

    def _write(self, op: Callable[[], _T]) -> _T:
        """Run ``op`` as one transaction; memory and the file change together.

        When the file cannot be written (disk full), the transaction is rolled
        back, memory is put back, and ``op`` runs again in memory only, its
        writes kept in a backlog that :meth:`retry` (and every later write)
        replays once there is space: the agent goes on with nothing lost. A
        damaged file raises StateCorruptError.
        """
        if self._backlog is not None:
            result = op()
            self.retry()
            return result
        db = self.db
        snapshot = dict(self._by_id)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = op()
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            self._reset(snapshot)  # memory follows the file back ...
            problem = state_problem(err, self.path)
            if not isinstance(problem, StateUnwritableError):
                raise problem from err
            self._backlog = _Backlog()
            _LOG.warning("%s; keeping every change in memory and retrying", problem)
            return op()  # ... and takes the change again, in memory only
        except BaseException:
            self._reset(snapshot)
            raise
        return result

    @serialised
    def retry(self) -> bool:
        """Write the backlog, if any, in one transaction; True when memory and file agree."""
        backlog = self._backlog
        if backlog is None:
            return True
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in backlog.statements:
                    db.execute(sql, params)
                for camera_id in sorted(backlog.cameras):
                    record = self._by_id.get(camera_id)
                    if record is None:
                        db.execute("DELETE FROM cameras WHERE camera_id = ?", (camera_id,))
                    else:
                        db.execute(_UPSERT, self._row(record))
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            problem = state_problem(err, self.path)
            if not isinstance(problem, StateUnwritableError):
                raise problem from err
            return False
        self._backlog = None
        _LOG.warning(
            "the inventory %s is written again: %d camera(s) and %d change(s) kept in memory"
            " are saved",
            self.path,
            len(backlog.cameras),
            len(backlog.statements),
        )
        return True

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        """One write: to the file, or to the backlog while the file cannot be written."""
        if self._backlog is not None:
            self._backlog.statements.append((sql, params))
        else:
            self.db.execute(sql, params)

    @staticmethod
    def _row(record: CameraRecord) -> tuple[Any, ...]:
        facts = {k: v for k, v in record.to_json().items() if k not in _COLUMNS}
        return (
            record.camera_id,
            record.id_source,
            record.ip,
            record.mac,
            record.onvif_uuid,
            record.serial_key,
            record.first_seen,
            record.last_seen,
            record.state,
            record.missed_scans,
            record.missing_since,
            json.dumps(facts, ensure_ascii=False, separators=(",", ":")),
        )

    def _store(self, record: CameraRecord) -> None:
        if self._backlog is not None:
            self._backlog.cameras.add(record.camera_id)
        else:
            self.db.execute(_UPSERT, self._row(record))
        old = self._by_id.get(record.camera_id)
        if old is not None:
            self._index_remove(old)
        self._by_id[record.camera_id] = record
        self._index_add(record)

    def _delete(self, camera_id: str) -> None:
        if self._backlog is not None:
            self._backlog.cameras.add(camera_id)
        else:
            self.db.execute("DELETE FROM cameras WHERE camera_id = ?", (camera_id,))
        old = self._by_id.pop(camera_id, None)
        if old is not None:
            self._index_remove(old)

    def _log(self, camera_id: str, at: float, name: str, old: Any, new: Any) -> None:
        self._exec(
            "INSERT INTO history (camera_id, at, field, old, new) VALUES (?, ?, ?, ?, ?)",
            (camera_id, at, name, _text(old), _text(new)),
        )

    @staticmethod
    def _from_row(row: Mapping[str, Any]) -> CameraRecord | None:
        try:
            stored = json.loads(row["facts"])
            columns = {key: row[key] for key in _COLUMNS}
            return CameraRecord(
                **CameraFacts.fields_from_json({**stored, **columns}),
                camera_id=row["camera_id"],
                id_source=row["id_source"],
                serial_key=row["serial_key"],
                first_seen=float(row["first_seen"]),
                last_seen=float(row["last_seen"]),
                state="missing" if row["state"] == "missing" else "present",
                missed_scans=int(row["missed_scans"]),
                missing_since=row["missing_since"],
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # a row we cannot read is skipped, not fatal


class AsyncInventory:
    """The inventory for the event loop: SQLite work in a thread, one call at a time.

    Keeps a copy of every record in the loop's own thread, so lookups
    (``get``, ``at_ip``) are instant and never race the worker thread.
    """

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._lock = asyncio.Lock()
        self._records: dict[str, CameraRecord] = {}

    async def open(self) -> None:
        """Open the database and load every camera."""
        await self._call(self.inventory.open)
        self._records = {r.camera_id: r for r in self.inventory.records()}

    async def close(self) -> int:
        """Close the database (once the call in progress, even a cancelled one, has ended).

        Returns how many cameras and changes could not be written (see Inventory.close).
        """
        lost: int = await self._call(self.inventory.close)
        return lost

    def records(self) -> list[CameraRecord]:
        """Every camera, ordered by id."""
        return [self._records[k] for k in sorted(self._records)]

    def get(self, camera_id: str) -> CameraRecord | None:
        """One camera by id."""
        return self._records.get(camera_id)

    def at_ip(self, ip: str) -> CameraRecord | None:
        """The most recently seen camera at an address."""
        found = [r for r in self._records.values() if r.ip == ip]
        return max(found, key=lambda r: r.last_seen) if found else None

    def _apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if change.previous_id is not None:
                self._records.pop(change.previous_id, None)
            if change.kind == "gone":
                self._records.pop(change.record.camera_id, None)
            else:
                self._records[change.record.camera_id] = change.record

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await in_thread(func, *args, **kwargs)

    async def observe(
        self, facts: Sequence[CameraFacts], *, at: float, full_scan: bool
    ) -> list[Change]:
        """See :meth:`Inventory.observe`."""
        changes: list[Change] = await self._call(
            self.inventory.observe, facts, at=at, full_scan=full_scan
        )
        self._apply(changes)
        if full_scan:
            # Missed-scan counters changed without a Change: reload the copies.
            self._records = {r.camera_id: r for r in await self._call(self.inventory.records)}
        return changes

    async def touch(self, camera_id: str, at: float) -> Change | None:
        """See :meth:`Inventory.touch`."""
        change: Change | None = await self._call(self.inventory.touch, camera_id, at)
        if change is not None:
            self._apply([change])
        return change

    async def mark_missing(self, camera_id: str, at: float) -> Change | None:
        """See :meth:`Inventory.mark_missing`."""
        change: Change | None = await self._call(self.inventory.mark_missing, camera_id, at)
        if change is not None:
            self._apply([change])
        return change

    async def expire(self, at: float) -> list[Change]:
        """See :meth:`Inventory.expire`."""
        changes: list[Change] = await self._call(self.inventory.expire, at)
        self._apply(changes)
        return changes

    @property
    def degraded(self) -> bool:
        """See :attr:`Inventory.degraded`."""
        return self.inventory.degraded

    async def retry(self) -> bool:
        """See :meth:`Inventory.retry`."""
        written: bool = await self._call(self.inventory.retry)
        return written

    async def record_scan(self, scan: ScanRecord) -> None:
        """See :meth:`Inventory.record_scan`."""
        await self._call(self.inventory.record_scan, scan)

    async def record_day(self, date: str, isolated: Collection[str]) -> DayCounts:
        """See :meth:`Inventory.record_day`."""
        result: DayCounts = await self._call(self.inventory.record_day, date, isolated)
        return result

    async def days(self, limit: int) -> list[DayCounts]:
        """See :meth:`Inventory.days`."""
        result: list[DayCounts] = await self._call(self.inventory.days, limit)
        return result

    async def last_scan(self) -> ScanRecord | None:
        """See :meth:`Inventory.last_scan`."""
        result: ScanRecord | None = await self._call(self.inventory.last_scan)
        return result
