"""Plain TCP ports (``tcp[]``): accept, send an optional banner, hold the line."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

HOLD: Final = 30.0
"""Seconds a silent connection stays open (nmap reads a NULL-probe banner in 6 s)."""
MAX_DISCARD: Final = 65_536


class TcpPort:
    """One listener that greets with ``banner_hex`` bytes and then waits."""

    def __init__(self, device: Device, entry: dict[str, Any]) -> None:
        self.device = device
        self.port: int = entry["port"]
        self.banner = bytes.fromhex(entry.get("banner_hex") or "")
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Listen on the (mapped) port."""
        self.server = await asyncio.start_server(
            self._client,
            self.device.options.bind,
            self.device.options.port(self.port),
            reuse_address=True,
        )

    def close(self) -> None:
        """Stop listening and drop open connections."""
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        peer = writer.get_extra_info("peername")
        self.device.log("tcp", peer, f"connect to {self.port}")
        try:
            if self.banner:
                writer.write(self.banner)
                await writer.drain()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + HOLD
            # Read and discard until the client closes or the hold time ends.
            while (left := deadline - loop.time()) > 0:
                data = await asyncio.wait_for(reader.read(MAX_DISCARD), left)
                if not data:
                    break
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
