"""Work that arrives in bursts, done in slices that leave Home Assistant's event loop free.

Home Assistant's MQTT client hands up to 500 messages to their subscribers in one
socket read, and a scan of a thousand cameras adds eight thousand entities. Done at
once, either stalls the event loop for seconds (the UI, automations and every other
integration wait). So the MQTT callbacks only queue, and one task per agent does
the queued work in slices of at most :data:`SLICE` seconds of loop time, yielding to
the loop between slices. Nothing is skipped: the work is the same, spread out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

SLICE: Final = 0.01
"""Loop time one slice may use before it yields (a slice ends after the item that
crosses this, so the longest slice is this plus the dearest single item)."""


class Pacer:
    """Runs ``work(deadline)`` slice by slice while it says more is left."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, work: Callable[[float], bool]
    ) -> None:
        self.hass = hass
        self.entry = entry
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @callback
    def wake(self) -> None:
        """There is work: start the slices unless they are already running."""
        if self._task is None and not self._stopped:
            self._task = self.entry.async_create_task(
                self.hass, self._run(), f"cctv_sentinel {self.entry.title}", eager_start=False
            )

    async def _run(self) -> None:
        loop = self.hass.loop
        try:
            more = self._work(loop.time() + SLICE)
            while more:
                await asyncio.sleep(0)  # the loop's turn: other callbacks run between slices
                more = self._work(loop.time() + SLICE)
        finally:
            self._task = None

    async def async_stop(self) -> None:
        """No more slices (the entry is unloading); work still queued is dropped."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
