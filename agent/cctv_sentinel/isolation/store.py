"""Isolation state and audit log in SQLite (``<state_dir>/isolation.sqlite3``).

Synchronous on purpose: the manager calls it in a worker thread (``cctv_sentinel.blocking``).
WAL mode and a busy timeout let the agent and a ``cctv-sentinel isolate`` run
from a shell share the file safely.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from cctv_sentinel._util.permissions import make_private_database
from cctv_sentinel.blocking import serialised
from cctv_sentinel.errors import HostEnvironmentError
from cctv_sentinel.isolation.model import AuditRecord, Isolation, Mode, Requester

FILENAME: Final = "isolation.sqlite3"
AUDIT_KEEP: Final = 100_000
"""Audit rows kept; older ones are pruned (about 30 MB at most)."""
SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS isolation (
    key TEXT PRIMARY KEY,
    camera_id TEXT,
    ips TEXT NOT NULL,
    mac TEXT,
    mode TEXT NOT NULL,
    backend TEXT NOT NULL,
    state TEXT NOT NULL,
    since REAL NOT NULL,
    updated REAL NOT NULL,
    requested_by TEXT NOT NULL,
    reason TEXT,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    action TEXT NOT NULL,
    camera_id TEXT,
    ips TEXT NOT NULL,
    mac TEXT,
    mode TEXT,
    backend TEXT,
    requested_by TEXT NOT NULL,
    reason TEXT,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit row to write."""

    time: float
    action: str
    camera_id: str | None
    ips: Sequence[str]
    mac: str | None
    mode: str | None
    backend: str | None
    requested_by: Requester
    reason: str | None
    status: str
    message: str


class IsolationStore:
    """The SQLite file: current isolations and the audit log."""

    def __init__(self, path: Path, origin: str) -> None:
        self.path = path
        self.origin = origin
        self.guard = threading.RLock()
        """Held by every public method: one thread uses the connection at a time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Private before SQLite opens it: the audit log names people (issue 11).
            make_private_database(path)
            self._db = sqlite3.connect(
                path, timeout=10.0, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except (OSError, sqlite3.Error) as err:
            raise HostEnvironmentError(f"cannot open the isolation state {path}: {err}") from err

    @serialised
    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # isolations -------------------------------------------------------------------------

    @serialised
    def load(self) -> list[Isolation]:
        """Every persisted isolation, oldest first."""
        rows = self._db.execute(
            "SELECT key, camera_id, ips, mac, mode, backend, state, since, updated,"
            " requested_by, reason, message FROM isolation ORDER BY since, key"
        ).fetchall()
        return [_isolation(row) for row in rows]

    @serialised
    def commit(
        self,
        *,
        put: Sequence[Isolation] = (),
        delete: Sequence[str] = (),
        audit: Sequence[AuditEntry] = (),
    ) -> list[int]:
        """Write isolations, remove keys and append audit rows in one transaction.

        Returns the ids of the audit rows.
        """
        ids: list[int] = []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for key in delete:
                self._db.execute("DELETE FROM isolation WHERE key = ?", (key,))
            for item in put:
                self._db.execute(
                    "INSERT OR REPLACE INTO isolation (key, camera_id, ips, mac, mode, backend,"
                    " state, since, updated, requested_by, reason, message)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.key,
                        item.camera_id,
                        json.dumps(list(item.ips)),
                        item.mac,
                        item.mode,
                        item.backend,
                        item.state,
                        item.since,
                        item.updated,
                        json.dumps(item.requested_by.to_json()),
                        item.reason,
                        item.message,
                    ),
                )
            for entry in audit:
                cursor = self._db.execute(
                    "INSERT INTO audit (time, action, camera_id, ips, mac, mode, backend,"
                    " requested_by, reason, status, message, origin)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.time,
                        entry.action,
                        entry.camera_id,
                        json.dumps(list(entry.ips)),
                        entry.mac,
                        entry.mode,
                        entry.backend,
                        json.dumps(entry.requested_by.to_json()),
                        entry.reason,
                        entry.status,
                        entry.message,
                        self.origin,
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
            if audit:
                self._db.execute(
                    "DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?",
                    (AUDIT_KEEP,),
                )
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise HostEnvironmentError(
                f"cannot write the isolation state {self.path}: {err}"
            ) from err
        return ids

    # audit --------------------------------------------------------------------------------

    @serialised
    def audit(self, *, limit: int = 100, after_id: int | None = None) -> list[AuditRecord]:
        """Audit rows: the newest ``limit`` (newest last), or every row after ``after_id``."""
        if after_id is None:
            rows = self._db.execute(_NEWEST, (limit,)).fetchall()
            rows.reverse()
        else:
            rows = self._db.execute(_AFTER, (after_id, limit)).fetchall()
        return [_audit(row) for row in rows]

    @serialised
    def foreign_audit(self, after_id: int, limit: int = 1000) -> list[AuditRecord]:
        """Audit rows after ``after_id`` written by other processes (e.g. the CLI)."""
        rows = self._db.execute(_FOREIGN, (after_id, self.origin, limit)).fetchall()
        return [_audit(row) for row in rows]

    @serialised
    def last_audit_id(self) -> int:
        """The newest audit row's id (0 when empty)."""
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
        return int(row[0])

    @serialised
    def isolations_since(self, since: float) -> list[float]:
        """Times of applied isolations (real backends) since ``since``: seeds the rate limit."""
        rows = self._db.execute(
            "SELECT time FROM audit WHERE action = 'isolate' AND status = 'ok'"
            " AND backend != 'dry-run' AND time >= ? ORDER BY time",
            (since,),
        ).fetchall()
        return [float(row[0]) for row in rows]


_SELECT_AUDIT: Final = (
    "SELECT id, time, action, camera_id, ips, mac, mode, backend, requested_by, reason, status,"
    " message FROM audit"
)
_NEWEST: Final = _SELECT_AUDIT + " ORDER BY id DESC LIMIT ?"
_AFTER: Final = _SELECT_AUDIT + " WHERE id > ? ORDER BY id LIMIT ?"
_FOREIGN: Final = _SELECT_AUDIT + " WHERE id > ? AND origin != ? ORDER BY id LIMIT ?"


def _requester(text: str) -> Requester:
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    return Requester.from_json(data if isinstance(data, dict) else {})


def _ips(text: str) -> tuple[str, ...]:
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(ip) for ip in data) if isinstance(data, list) else ()


def _isolation(row: Sequence[Any]) -> Isolation:
    return Isolation(
        key=row[0],
        camera_id=row[1],
        ips=_ips(row[2]),
        mac=row[3],
        mode=cast(Mode, row[4]),
        backend=row[5],
        state="failed" if row[6] == "failed" else "isolated",
        since=float(row[7]),
        updated=float(row[8]),
        requested_by=_requester(row[9]),
        reason=row[10],
        message=row[11],
    )


def _audit(row: Sequence[Any]) -> AuditRecord:
    return AuditRecord(
        id=int(row[0]),
        time=float(row[1]),
        action=row[2],
        camera_id=row[3],
        ips=_ips(row[4]),
        mac=row[5],
        mode=row[6],
        backend=row[7],
        requested_by=_requester(row[8]),
        reason=row[9],
        status=row[10],
        message=row[11],
    )
