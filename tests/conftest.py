"""Fixtures every suite can use: a real Mosquitto broker and a LAN of namespaces.

Tests that need root for namespaces are marked ``lab`` (added automatically to
users of the ``lab``/``lab_factory`` fixtures) and skip without root; tests that
need mosquitto are marked ``broker``. With CCTV_REQUIRE_LAB=1 both fail
instead of skipping, so CI cannot pass by skipping the bench.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.lab import netlab
from tests.lab.broker import Broker, mosquitto_unavailable_reason

_LAB_FIXTURES = frozenset({"lab", "lab_factory"})
_BROKER_FIXTURES = frozenset({"broker", "broker_session", "broker_factory"})


def _require_lab_env() -> bool:
    return os.environ.get("CCTV_REQUIRE_LAB") == "1"


def _unavailable(reason: str) -> NoReturn:
    if _require_lab_env():
        pytest.fail(f"{reason} (and CCTV_REQUIRE_LAB=1)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the bench fixtures they use, so `-m "not lab"` works."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _LAB_FIXTURES:
            item.add_marker(pytest.mark.lab)
        if names & _BROKER_FIXTURES:
            item.add_marker(pytest.mark.broker)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or fail under CCTV_REQUIRE_LAB=1) when the bench cannot run here."""
    if item.get_closest_marker("lab") and (reason := netlab.lab_unavailable_reason()):
        _unavailable(reason)
    if item.get_closest_marker("broker") and (reason := mosquitto_unavailable_reason()):
        _unavailable(reason)


@pytest.fixture(scope="session", autouse=True)
def _lab_hygiene() -> Iterator[None]:
    """Remove namespaces of dead earlier runs; at the end, insist we left none."""
    if netlab.lab_unavailable_reason() is not None:
        yield
        return
    netlab.remove_stale()
    yield
    leftovers = netlab.own_namespaces()
    netlab.close_all()
    netlab.remove_stale(include_own=True)
    assert not leftovers, f"namespaces survived the session: {leftovers}"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[netlab.Lab]:
    """A fresh, empty Lab; closed (everything in it removed) after the test."""
    with netlab.Lab(workdir=tmp_path / "lab") as fresh:
        yield fresh


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., netlab.Lab]]:
    """Make extra Labs (e.g. two LANs in one test); all closed after the test."""
    made: list[netlab.Lab] = []

    def factory(**kwargs: Any) -> netlab.Lab:
        kwargs.setdefault("workdir", tmp_path / f"lab{len(made)}")
        made.append(netlab.Lab(**kwargs))
        return made[-1]

    yield factory
    errors: list[str] = []
    for item in reversed(made):
        try:
            item.close()
        except netlab.LabError as err:
            errors.append(str(err))
    assert not errors, errors


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A running anonymous Mosquitto on 127.0.0.1:<free port>, stopped afterwards."""
    with Broker(workdir=tmp_path / "broker") as running:
        yield running


@pytest.fixture(scope="session")
def broker_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One anonymous Mosquitto shared by a whole session (tests must not stop it)."""
    if reason := mosquitto_unavailable_reason():
        _unavailable(reason)
    with Broker(workdir=tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """Start brokers with options (users=, acl=, tls=, netns=...); all stopped after."""
    made: list[Broker] = []

    def factory(**kwargs: Any) -> Broker:
        kwargs.setdefault("workdir", tmp_path / f"broker{len(made)}")
        started = Broker(**kwargs)
        made.append(started)
        started.start()
        return started

    yield factory
    for item in reversed(made):
        item.close()
