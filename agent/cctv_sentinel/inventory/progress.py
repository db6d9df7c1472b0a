"""Daily removal progress of one agent: one row per day, kept in the inventory database.

A row counts the cameras present that day and the restricted ones by removal
status: in place (present, not isolated), isolated (present, isolated) and
gone (restricted when last seen, and no longer seen: missing, or forgotten
after the retention time). To count forgotten cameras as gone, the ids of
cameras ever judged restricted are kept in ``restricted_seen``; a camera that
is present and no longer restricted (a corrected verdict) leaves that table,
so it is never counted as removed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.inventory.records import CameraRecord

PROGRESS_DDL: Final = """
CREATE TABLE IF NOT EXISTS restricted_seen (camera_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS daily_counts (
    date TEXT PRIMARY KEY,
    cameras INTEGER NOT NULL,
    restricted_in_place INTEGER NOT NULL,
    restricted_isolated INTEGER NOT NULL,
    restricted_gone INTEGER NOT NULL
);
"""

MAX_DAYS_KEPT: Final = 3 * 366
"""Rows kept locally (three years); the contract publishes the newest 400."""


@dataclass(frozen=True, slots=True)
class DayCounts:
    """One day of one agent: cameras present, and restricted cameras by removal status."""

    date: str
    """ISO date (UTC) of the day."""
    cameras: int
    restricted_in_place: int
    """Restricted cameras present and not isolated."""
    restricted_isolated: int
    """Restricted cameras present and isolated."""
    restricted_gone: int
    """Restricted cameras seen before and no longer seen (missing, or forgotten)."""


def day_counts(
    date: str,
    records: Iterable[CameraRecord],
    isolated: Collection[str],
    restricted_seen: Collection[str],
) -> DayCounts:
    """The counts of one day from the records, the isolated ids and the ever-restricted ids."""
    present = [r for r in records if r.state == "present"]
    present_ids = {r.camera_id for r in present}
    restricted = [r for r in present if r.risk == "restricted"]
    isolated_now = sum(1 for r in restricted if r.camera_id in isolated)
    return DayCounts(
        date=date,
        cameras=len(present),
        restricted_in_place=len(restricted) - isolated_now,
        restricted_isolated=isolated_now,
        restricted_gone=sum(1 for cid in restricted_seen if cid not in present_ids),
    )


def record_day(
    db: sqlite3.Connection, date: str, records: Collection[CameraRecord], isolated: Collection[str]
) -> DayCounts:
    """Update ``restricted_seen`` and today's row; return the row."""
    db.executescript(PROGRESS_DDL)
    with db:
        now_restricted = [(r.camera_id,) for r in records if r.risk == "restricted"]
        cleared = [
            (r.camera_id,) for r in records if r.state == "present" and r.risk != "restricted"
        ]
        db.executemany("INSERT OR IGNORE INTO restricted_seen VALUES (?)", now_restricted)
        db.executemany("DELETE FROM restricted_seen WHERE camera_id = ?", cleared)
        seen = {row[0] for row in db.execute("SELECT camera_id FROM restricted_seen")}
        counts = day_counts(date, records, isolated, seen)
        db.execute(
            "INSERT OR REPLACE INTO daily_counts VALUES (?, ?, ?, ?, ?)",
            (
                counts.date,
                counts.cameras,
                counts.restricted_in_place,
                counts.restricted_isolated,
                counts.restricted_gone,
            ),
        )
        db.execute(
            "DELETE FROM daily_counts WHERE date NOT IN"
            " (SELECT date FROM daily_counts ORDER BY date DESC LIMIT ?)",
            (MAX_DAYS_KEPT,),
        )
    return counts


def recorded_days(db: sqlite3.Connection, limit: int) -> list[DayCounts]:
    """The newest ``limit`` rows, oldest first."""
    db.executescript(PROGRESS_DDL)
    rows = db.execute(
        "SELECT date, cameras, restricted_in_place, restricted_isolated, restricted_gone"
        " FROM daily_counts ORDER BY date DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [DayCounts(*row) for row in reversed(rows)]
