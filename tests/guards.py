"""Guards for the agent's test suites (tests/agent, tests/e2e): their conftest files import them.

- Warnings are errors: a deprecation in our code fails a test instead of a user.
- No blocking call inside the event loop from our code (blockbuster): the agent is
  asyncio and one blocking read stalls every probe.
- No task outlives its test: a leaked task is a leaked probe, socket or timer.
- Garbage is collected after each test, so an unclosed socket or database fails
  the test that leaked it (as a ResourceWarning turned error), not a later one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

import pytest
from blockbuster import blockbuster_ctx

THIRD_PARTY_WARNINGS = (
    # Home Assistant's own classes warn at import time on aiohttp >= 3.11; not ours.
    "ignore:Inheritance class HomeAssistantApplication:DeprecationWarning",
    # paho-mqtt 2.1 drops the TLS socket of a failed handshake without closing it
    # (Client._create_socket); the garbage collector closes it.
    "ignore:unclosed <ssl.SSLSocket:ResourceWarning",
)


def install_warning_errors(items: list[pytest.Item], prefix: str) -> None:
    """Turn every warning into an error for the tests under ``prefix`` (a repo-relative path)."""
    for item in items:
        if item.nodeid.startswith(prefix):
            item.add_marker(pytest.mark.filterwarnings("error"))
            for spec in THIRD_PARTY_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


CHEAP_CALLS = ("os.getcwd",)
"""System calls that never wait on a device or a disk queue (no file is opened)."""


@contextlib.contextmanager
def loop_must_not_block(request: pytest.FixtureRequest) -> Iterator[None]:
    """In an async test, fail on any blocking call the agent's own code makes in the loop."""
    if not asyncio.iscoroutinefunction(getattr(request.node, "function", None)):
        yield
        return
    # Only calls made from the agent's own code count; the tests' helpers may block.
    with blockbuster_ctx("cctv_sentinel") as detector:
        for cheap in CHEAP_CALLS:
            detector.functions[cheap].deactivate()
        # coverage.py's tracer takes its own data lock when the traced code runs in a
        # thread it has not seen yet: the measuring tool's, not the agent's, wait.
        for lock in ("threading.Lock.acquire", "threading.Lock.acquire_lock"):
            detector.functions[lock].can_block_in("coverage/collector.py", {"lock_data"})
        yield


async def assert_no_leaked_tasks() -> None:
    """Fail when a task of this test's loop is still running (and cancel it)."""
    await asyncio.sleep(0)  # let tasks that were just cancelled finish
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks left running: {sorted(t.get_name() for t in leaked)}"


def collect_garbage() -> None:
    """Run the collector now, so a leaked resource warns during the test that leaked it."""
    gc.collect()
