"""Every agent test runs under the guards of tests/guards.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests import guards


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warnings are errors here."""
    guards.install_warning_errors(items, "tests/agent/")


@pytest.fixture(autouse=True)
def _loop_must_not_block(request: pytest.FixtureRequest) -> Iterator[None]:
    with guards.loop_must_not_block(request):
        yield


@pytest.fixture(autouse=True)
def _resources_closed_by_their_test() -> Iterator[None]:
    yield
    guards.collect_garbage()


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    yield
    await guards.assert_no_leaked_tasks()
