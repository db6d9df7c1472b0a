"""The retained progress history of one agent (docs/mqtt.md, History), pure.

Every agent keeps one row per day in its inventory: how many cameras it saw and
how many restricted cameras were in place, isolated or gone that day. It
publishes the last :data:`MAX_HISTORY_DAYS` rows, retained, at
``<base>/<agent_id>/history``, so an estate report (or anyone) can draw the
removal progress without keeping its own database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict

from cctv_sentinel.inventory.progress import DayCounts
from cctv_sentinel.mqtt.contract.common import SCHEMA_VERSION

MAX_HISTORY_DAYS: Final = 400
"""Rows published (a bit over a year, so a yearly comparison fits); older rows stay local."""

DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DayPayload(TypedDict):
    """One row of the history payload."""

    date: str
    cameras: int
    restricted_in_place: int
    restricted_isolated: int
    restricted_gone: int


class HistoryPayload(TypedDict):
    """``<base>/<agent_id>/history``."""

    schema_version: int
    agent_id: str
    days: list[DayPayload]


def history_payload(agent_id: str, days: Iterable[DayCounts]) -> HistoryPayload:
    """The retained history: the newest :data:`MAX_HISTORY_DAYS` days, oldest first."""
    ordered = sorted(days, key=lambda d: d.date)[-MAX_HISTORY_DAYS:]
    return {
        "schema_version": SCHEMA_VERSION,
        "agent_id": agent_id,
        "days": [
            {
                "date": d.date,
                "cameras": d.cameras,
                "restricted_in_place": d.restricted_in_place,
                "restricted_isolated": d.restricted_isolated,
                "restricted_gone": d.restricted_gone,
            }
            for d in ordered
        ],
    }


_COUNT_FIELDS: Final = ("cameras", "restricted_in_place", "restricted_isolated", "restricted_gone")


def parse_history(payload: Any) -> list[DayCounts] | None:
    """The days of a history payload from the wire, or None when it is not one.

    Rows with a bad date or a count that is not a non-negative integer are
    dropped one by one; at most :data:`MAX_HISTORY_DAYS` rows are read.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("days"), list):
        return None
    out: dict[str, DayCounts] = {}
    for row in payload["days"][:MAX_HISTORY_DAYS]:
        if not isinstance(row, Mapping):
            continue
        date = row.get("date")
        if not isinstance(date, str) or not DATE_RE.match(date):
            continue
        values = [row.get(name) for name in _COUNT_FIELDS]
        counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
        if len(counts) == len(_COUNT_FIELDS):
            out[date] = DayCounts(date, *counts)
    return [out[d] for d in sorted(out)]
