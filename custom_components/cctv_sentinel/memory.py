"""What an entry remembers across restarts: which cameras it has seen and which alerted.

Events fire on change only (a restart must not announce every camera again), so
the last alert state of every camera is kept in Home Assistant's storage.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 5.0
"""Seconds to batch writes (a scan changes many cameras at once)."""


def memory_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where an entry keeps its memory."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")


class Memory:
    """camera id → whether it was alerting, loaded once and saved lazily."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self._store = memory_store(hass, entry)
        self.known: dict[str, bool] = {}

    async def async_load(self) -> None:
        """Read what the entry remembered (nothing on first run or if unreadable)."""
        stored = await self._store.async_load()
        cameras = stored.get("cameras") if isinstance(stored, dict) else None
        if isinstance(cameras, dict):
            self.known = {
                str(key): bool(value.get("alerting"))
                for key, value in cameras.items()
                if isinstance(value, dict)
            }

    @callback
    def remember(self, camera_id: str, alerting: bool) -> None:
        """Note a camera's alert state."""
        if self.known.get(camera_id) is not alerting:
            self.known[camera_id] = alerting
            self._schedule_save()

    @callback
    def forget(self, camera_id: str) -> None:
        """Drop a camera (gone, or deleted by a person)."""
        if self.known.pop(camera_id, None) is not None:
            self._schedule_save()

    async def async_save(self) -> None:
        """Write now (on unload)."""
        await self._store.async_save(self._data())

    def _data(self) -> dict[str, Any]:
        return {"cameras": {key: {"alerting": value} for key, value in self.known.items()}}

    @callback
    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)
