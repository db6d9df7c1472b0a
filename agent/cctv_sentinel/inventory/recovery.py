"""Saving what can be read from a damaged inventory (``cctv-sentinel recover-state``).

Nothing is deleted. A healthy inventory is left alone. A damaged one is
renamed, with its -wal and -shm files, to ``inventory.sqlite3.damaged-<time>``
beside it; every row SQLite can still read from it (cameras, history, daily progress, scan
records) is copied into a fresh inventory at the old name. Cameras whose rows
are lost come back with the next scan (as newly found).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cctv_sentinel.errors import HostEnvironmentError
from cctv_sentinel.inventory.store import DB_NAME, Inventory, quick_check

TABLES: Final = ("cameras", "history", "scans", "daily_counts", "restricted_seen")
_WHAT: Final = {
    "cameras": "camera(s)",
    "history": "history entries",
    "scans": "scan record(s)",
    "daily_counts": "day(s) of progress",
    "restricted_seen": "restricted camera id(s)",
}
MAX_SKIP: Final = 1 << 40
"""Past a damaged stretch, rowids are skipped in doubling steps up to this far."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """What ``recover`` did."""

    path: Path
    healthy: bool
    damaged_copy: Path | None = None
    saved: tuple[tuple[str, int], ...] = ()
    """Rows copied, per table."""
    unreadable: tuple[str, ...] = ()
    """Tables whose rows could not be read at all."""

    def summary(self) -> str:
        """One line for a person."""
        if self.healthy:
            return f"{self.path} is healthy: nothing to recover, nothing changed"
        counts = ", ".join(f"{n} {_WHAT[table]}" for table, n in self.saved) or "nothing"
        lost = f"; unreadable: {', '.join(self.unreadable)}" if self.unreadable else ""
        return (
            f"recovered {counts} from {self.path} into a fresh inventory{lost};"
            f" the damaged file is kept as {self.damaged_copy}"
        )


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


def _walk(db: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table`` SQLite can still read, in rowid order, past damaged pages.

    Rows are read one at a time, so those before a damaged page are kept; past
    it, the walk resumes further on (one rowid, then two, four...).
    """
    query = f"SELECT rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid"  # noqa: S608
    rows: list[tuple[Any, ...]] = []
    last, skip = 0, 1
    while skip <= MAX_SKIP:
        start = last
        try:
            for row in db.execute(query, (last,)):
                rows.append(row)
                last = int(row[0])
        except sqlite3.DatabaseError:
            skip = 1 if last != start else skip * 2
            last += skip
            continue
        break
    return rows


def _salvage(damaged: Path) -> tuple[dict[str, tuple[list[str], list[tuple[Any, ...]]]], list[str]]:
    found: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    unreadable: list[str] = []
    db = sqlite3.connect(damaged, isolation_level=None)
    try:
        for table in TABLES:
            try:
                columns = _columns(db, table)
            except sqlite3.DatabaseError:
                columns = []
            if not columns:
                unreadable.append(table)
                continue
            found[table] = (columns, [row[1:] for row in _walk(db, table)])
    except sqlite3.DatabaseError:
        unreadable.extend(t for t in TABLES if t not in found and t not in unreadable)
    finally:
        db.close()
    return found, unreadable


def _is_healthy(path: Path) -> bool:
    """True when SQLite finds the file sound; raises when an agent holds it."""
    db = sqlite3.connect(path, timeout=0.5)
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        return quick_check(db) is None
    except sqlite3.OperationalError as err:
        code = getattr(err, "sqlite_errorcode", 0) & 0xFF
        if code in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}:
            raise HostEnvironmentError(
                f"the inventory {path} is in use: stop the agent first"
            ) from err
        return False
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()


def _move_aside(path: Path, stamp: str) -> Path:
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    return target


def recover(state_dir: Path, *, now: float | None = None) -> Recovery:
    """Check the inventory in ``state_dir``; if damaged, save what can be read (see module)."""
    path = state_dir / DB_NAME
    if not path.is_file():
        raise HostEnvironmentError(f"there is no inventory at {path}: nothing to recover")
    if _is_healthy(path):
        return Recovery(path=path, healthy=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    try:
        damaged = _move_aside(path, stamp)
    except OSError as err:
        raise HostEnvironmentError(f"cannot rename the damaged {path}: {err.strerror}") from err
    found, unreadable = _salvage(damaged)
    fresh = Inventory(path)
    fresh.open()
    saved: list[tuple[str, int]] = []
    try:
        db = fresh.db
        db.execute("BEGIN IMMEDIATE")
        for table, (columns, rows) in found.items():
            wanted = set(_columns(db, table))
            keep = [i for i, c in enumerate(columns) if c in wanted]
            names = ", ".join(columns[i] for i in keep)  # only our own schema's column names
            marks = ", ".join("?" for _ in keep)
            insert = f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
            count = 0
            for row in rows:
                with contextlib.suppress(sqlite3.DatabaseError):  # a row that breaks a constraint
                    db.execute(insert, tuple(row[i] for i in keep))
                    count += 1
            saved.append((table, count))
        db.execute("COMMIT")
    finally:
        fresh.close()
    return Recovery(
        path=path,
        healthy=False,
        damaged_copy=damaged,
        saved=tuple(saved),
        unreadable=tuple(unreadable),
    )
