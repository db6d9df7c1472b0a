"""End-to-end agent tests run under the guards of tests/guards.py.

``test_isolation_ha.py`` is the exception: it runs inside Home Assistant's own test
harness (pytest-homeassistant-custom-component), which brings its own guards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests import guards

HA_DRIVEN = "test_isolation_ha.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warnings are errors here."""
    guards.install_warning_errors([i for i in items if i.path.name != HA_DRIVEN], "tests/e2e/")


@pytest.fixture(autouse=True)
def _loop_must_not_block(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.path.name == HA_DRIVEN:
        yield
        return
    with guards.loop_must_not_block(request):
        yield


@pytest.fixture(autouse=True)
def _resources_closed_by_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.path.name != HA_DRIVEN:
        guards.collect_garbage()


@pytest.fixture(autouse=True)
async def _no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if request.node.path.name != HA_DRIVEN:
        await guards.assert_no_leaked_tasks()
