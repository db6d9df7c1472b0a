"""`cctv-sentinel run` when its state fails: a disk that fills under it, a damaged inventory.

The real agent process, real Mosquitto, emulated cameras on the lab LAN, the
state directory on a real tmpfs (1 MiB, mounted by the test under its
tmp_path and unmounted at teardown). What an operator relies on: with the disk
full the agent keeps watching and publishing, says so once, and once space
returns nothing is lost; a damaged inventory stops it with exit 2 and one line
that names the file and the recovery command, which saves the cameras.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cctv_sentinel.cli.errors import EXIT_OK
from cctv_sentinel.inventory.store import DB_NAME
from tests.agent.service.lan import ServiceLan, camera_id_of, cameras_in, events_in, now, wait
from tests.agent.service.support import agent_command
from tests.lab import netlab
from tests.lab.disk import fill, small_tmpfs
from tests.lab.procs import child_env
from tests.lab.profiles import Profile, load_corpus

pytestmark = pytest.mark.lab

FIRST = ("hikvision-ds-2cd2387g2-lu", "dahua-ipc-hfw1230s")
LATER = "uniview-ipc322lb-sf28-a"
PAGE = 4096


@pytest.fixture(scope="module")
def corpus() -> dict[str, Profile]:
    return {p.id: p for p in load_corpus()}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk") as mount:
        yield mount


@pytest.fixture
def bench(corpus: dict[str, Profile], tmp_path: Path, disk: Path) -> Iterator[ServiceLan]:
    if reason := netlab.lab_unavailable_reason():
        pytest.skip(reason)
    with netlab.Lab(workdir=tmp_path / "lab") as lab:
        bench = ServiceLan.build(lab, [corpus[p] for p in FIRST], tmp_path)
        try:
            yield bench
        finally:
            bench.close()


def config(disk: Path) -> dict[str, dict[str, str]]:
    return {"agent": {"state_dir": str(disk / "state")}, "scan": {"interval": "8s"}}


def scans_after(sub, since: float) -> int:
    return len(events_in(sub, "scan_finished", after=since))


def test_a_full_disk_under_a_running_agent_loses_nothing(
    bench: ServiceLan, disk: Path, corpus: dict[str, Profile]
) -> None:
    first = {camera_id_of(corpus[p]) for p in FIRST}
    later = camera_id_of(corpus[LATER])
    sub = bench.subscriber()
    bench.start_agent(**config(disk))
    wait(
        sub,
        lambda s: events_in(s, "scan_finished") and set(cameras_in(s.state())) == first,
        60,
        bench,
    )

    filler = fill(disk)
    filled = now()
    bench.lan.add_device(corpus[LATER])
    # Still watching and publishing: the new camera arrives, from memory.
    wait(sub, lambda s: later in cameras_in(s.state()), 60, bench)
    wait(sub, lambda s: scans_after(s, filled) >= 2, 60, bench)
    assert bench.agent is not None
    assert bench.agent.poll() is None, bench.log()
    said = [line for line in bench.log().splitlines() if "cannot write the inventory" in line]
    assert len(said) == 1, said  # said once, however many writes failed
    assert "free space" in said[0]
    assert "nothing was removed" in said[0]

    filler.unlink()  # space returns: the backlog is written within the retry period
    deadline = time.monotonic() + 40
    while "is written again" not in bench.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "is written again" in bench.log(), bench.log()[-3000:]
    assert bench.stop_agent() == EXIT_OK

    with contextlib.closing(sqlite3.connect(disk / "state" / DB_NAME)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT camera_id FROM cameras")}
        found = {row[0] for row in db.execute("SELECT camera_id FROM history WHERE new = 'found'")}
    assert stored == first | {later}
    assert found == first | {later}

    # A restart republishes all three from SQLite, and nothing is found anew.
    restarted = now()
    bench.start_agent(**config(disk))
    wait(sub, lambda s: scans_after(s, restarted) >= 1, 60, bench)
    assert not events_in(sub, "camera_found", after=restarted)
    assert "damaged" not in bench.log()
    assert "cannot" not in bench.log()


def test_a_damaged_inventory_stops_run_with_exit_2_and_recover_state_saves_it(
    bench: ServiceLan, disk: Path, corpus: dict[str, Profile]
) -> None:
    first = {camera_id_of(corpus[p]) for p in FIRST}
    sub = bench.subscriber()
    bench.start_agent(**config(disk))
    wait(
        sub,
        lambda s: events_in(s, "scan_finished") and set(cameras_in(s.state())) == first,
        60,
        bench,
    )
    assert bench.stop_agent(signal.SIGTERM) == EXIT_OK
    path = disk / "state" / DB_NAME
    with path.open("r+b") as f:  # the history table's pages (2 cameras fit in a few pages)
        f.seek(3 * PAGE)
        f.write(b"\xa5" * PAGE)

    agent = bench.start_agent(**config(disk))
    assert agent.wait(30) == 2
    log = bench.log()
    errors = [line for line in log.splitlines() if "error:" in line]
    assert len(errors) == 1, log
    assert str(path) in errors[0]
    assert "recover-state" in errors[0]
    assert "Traceback" not in log

    done = subprocess.run(
        [*agent_command(), "recover-state", "--state-dir", str(disk / "state")],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("recovered "), done.stdout
    assert list((disk / "state").glob(f"{DB_NAME}.damaged-*")), "the damaged file is kept"

    restarted = now()
    bench.start_agent(**config(disk))
    wait(sub, lambda s: scans_after(s, restarted) >= 1, 60, bench)
    assert bench.agent is not None
    assert bench.agent.poll() is None
    # The cameras were saved (only history pages were damaged): none is found anew.
    assert set(cameras_in(sub.state())) == first
    assert not events_in(sub, "camera_found", after=restarted)
