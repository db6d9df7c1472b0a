"""Times as people and the MQTT contract read them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """A UNIX time as ISO 8601 in UTC with seconds, e.g. ``2026-11-28T09:15:02+00:00``."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def iso_or_none(ts: float | None) -> str | None:
    """Like :func:`iso`, for optional times."""
    return None if ts is None else iso(ts)
