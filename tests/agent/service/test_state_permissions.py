"""State files are 0600 (and the state directory 0700) whatever the umask (issue 11, item 5).

The inventory holds full serial numbers; the isolation database's audit log
holds the names of the people who isolated cameras. SQLite creates its -wal
and -shm files with the database's mode, so they must be private from the
first byte; files left looser by an older version are tightened on open.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cctv_sentinel.inventory.store import DB_NAME, Inventory
from cctv_sentinel.isolation.store import IsolationStore
from tests.agent.isolation.test_store import _audit, _isolation
from tests.agent.service.support import facts, hikvision

T0 = 1_795_000_000.0


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(path: Path) -> dict[str, int]:
    """The mode of the database and of each companion SQLite has made."""
    return {
        name: mode(Path(f"{path}{suffix}"))
        for name, suffix in (("db", ""), ("wal", "-wal"), ("shm", "-shm"))
        if Path(f"{path}{suffix}").exists()
    }


@pytest.mark.usefixtures("loose_umask")
def test_inventory_files_are_private_under_umask_022(tmp_path: Path) -> None:
    state = tmp_path / "state"
    inventory = Inventory(state / DB_NAME)
    inventory.open()
    try:
        inventory.observe(facts(hikvision()), at=T0, full_scan=True)
        found = modes(state / DB_NAME)
        assert set(found) >= {"db", "wal"}  # a write happened: the WAL exists
        assert set(found.values()) == {0o600}, found
        assert mode(state) == 0o700
    finally:
        inventory.close()


@pytest.mark.usefixtures("loose_umask")
def test_isolation_database_and_its_wal_are_private_under_umask_022(tmp_path: Path) -> None:
    path = tmp_path / "state" / "isolation.sqlite3"
    store = IsolationStore(path, origin="agent")
    try:
        store.commit(put=[_isolation()], audit=[_audit()])
        found = modes(path)
        assert set(found) >= {"db", "wal", "shm"}
        assert set(found.values()) == {0o600}, found
        assert mode(path.parent) == 0o700
    finally:
        store.close()


@pytest.mark.usefixtures("loose_umask")
def test_files_an_older_version_left_readable_are_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    inventory = Inventory(state / DB_NAME)
    inventory.open()
    inventory.observe(facts(hikvision()), at=T0, full_scan=True)
    inventory.close()
    isolation = state / "isolation.sqlite3"
    store = IsolationStore(isolation, origin="agent")
    store.commit(put=[_isolation()], audit=[_audit()])
    store.close()
    for path in (state / DB_NAME, isolation):
        for suffix in ("", "-wal", "-shm"):
            companion = Path(f"{path}{suffix}")
            if not companion.exists():
                companion.write_bytes(b"")  # a leftover from a crash, say
            companion.chmod(0o644)
    reopened = Inventory(state / DB_NAME)
    reopened.open()
    again = IsolationStore(isolation, origin="agent")
    try:
        for path in (state / DB_NAME, isolation):
            found = modes(path)
            assert set(found.values()) == {0o600}, (path.name, found)
    finally:
        reopened.close()
        again.close()
