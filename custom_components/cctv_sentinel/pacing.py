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
"""Loop time the slices of one loop turn may use together before they yield: shared by
the agents working at the time, whose tasks all run in the same turn (a slice ends after
the item that crosses its share, so a turn lasts this plus one dear item per agent)."""


class Pacer:
    """Runs ``work(deadline)`` slice by slice while it says more is left."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        work: Callable[[float], bool],
        working: set[Pacer],
    ) -> None:
        self.hass = hass
        self.entry = entry
        self._work = work
        self._working = working
        """Every agent's pacer that has slices due now (shared: they split SLICE)."""
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
        working = self._working
        working.add(self)
        try:
            more = self._work(loop.time() + SLICE / len(working))
            while more:
                await asyncio.sleep(0)  # the loop's turn: other callbacks run between slices
                more = self._work(loop.time() + SLICE / len(working))
        finally:
            working.discard(self)
            self._task = None

    async def async_stop(self) -> None:
        """No more slices (the entry is unloading); work still queued is dropped."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
