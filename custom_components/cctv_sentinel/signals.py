"""Dispatcher signals: how one agent's state reaches its entities (Home Assistant's push idiom).

Each signal is scoped to one config entry, so agents never wake each other's entities.
"""

from __future__ import annotations

from typing import Any

from homeassistant.util.signal_type import SignalType

__all__ = ["SignalType"]


def agent_updated(entry_id: str) -> SignalType[()]:
    """The agent's state changed (info, counts, availability): its entities write their state."""
    return SignalType(f"cctv_sentinel_{entry_id}_agent")


def camera_updated(entry_id: str, camera_id: str) -> SignalType[()]:
    """A camera's state, availability or policy changed: its entities write their state."""
    return SignalType(f"cctv_sentinel_{entry_id}_camera_{camera_id}")


def cameras_added(entry_id: str) -> SignalType[list[str]]:
    """Cameras the entry had not seen before (ids, batched): platforms add their entities."""
    return SignalType(f"cctv_sentinel_{entry_id}_cameras_added")


def cameras_removed(entry_id: str) -> SignalType[list[str]]:
    """Cameras that left (their entities went with their device): platforms forget them."""
    return SignalType(f"cctv_sentinel_{entry_id}_cameras_removed")


def estate_updated() -> SignalType[()]:
    """Some agent's counts changed: the estate's sensors write their state."""
    return SignalType("cctv_sentinel_estate")


def camera_event(entry_id: str) -> SignalType[str, dict[str, Any]]:
    """An event about a camera (type, data): the event entity shows it."""
    return SignalType(f"cctv_sentinel_{entry_id}_event")
