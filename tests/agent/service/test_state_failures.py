"""State failures are loud and lossless: a damaged inventory, a full disk (a real tmpfs).

The tmpfs is mounted by the test on a directory under its tmp_path (root only,
as the lab tests are) and unmounted at teardown. The inventory is the real
one on real SQLite; the damage is real bytes overwritten in the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cctv_sentinel.cli.main import main
from cctv_sentinel.errors import HostEnvironmentError, StateCorruptError, StateUnwritableError
from cctv_sentinel.inventory.records import CameraFacts, ScanRecord
from cctv_sentinel.inventory.recovery import recover
from cctv_sentinel.inventory.store import DB_NAME, Inventory
from cctv_sentinel.model import Observation
from cctv_sentinel.service.daemon import Service
from tests.agent.service.support import facts, hikvision
from tests.agent.service.test_service import ScriptedNetwork, make_config
from tests.lab.disk import fill, small_tmpfs

T0 = 1_795_000_000.0
PAGE = 4096


def fleet_observations(count: int, start: int = 0) -> list[Observation]:
    """What ``count`` Hikvision cameras at distinct addresses, MACs and serials answer."""
    observations = []
    for n in range(start, start + count):
        ip = f"198.18.{n // 200}.{n % 200 + 20}"
        mac = f"bc:ad:28:00:{n // 256:02x}:{n % 256:02x}"
        observations += hikvision(ip, mac, serial=f"DS-2CD2143G2-I2022{n:012d}")
    return observations


def fleet(count: int, start: int = 0) -> list[CameraFacts]:
    return facts(fleet_observations(count, start))


def corrupt(path: Path, first_page: int, pages: int) -> None:
    with path.open("r+b") as f:
        f.seek(first_page * PAGE)
        f.write(b"\xa5" * (pages * PAGE))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def filled_inventory(state: Path, count: int) -> Inventory:
    inv = Inventory(state / DB_NAME)
    inv.open()
    inv.observe(fleet(count), at=T0, full_scan=True)
    inv.record_scan(ScanRecord(T0, T0 + 5, count, count, ()))
    inv.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return inv


# --- a damaged inventory ------------------------------------------------------------------


def test_a_damaged_inventory_is_one_line_naming_the_file_and_the_recovery(state: Path) -> None:
    filled_inventory(state, 300).close()
    path = state / DB_NAME
    corrupt(path, 4, 6)
    with pytest.raises(StateCorruptError) as err:
        Inventory(path).open()
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"cctv-sentinel recover-state --state-dir {state}" in message
    for bad_advice in ("move it away", "delete", "remove"):
        assert bad_advice not in message
    assert err.value.exit_code == 2


def test_not_a_database_at_all_is_damage_too(state: Path) -> None:
    state.mkdir()
    (state / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateCorruptError, match="recover-state"):
        Inventory(state / DB_NAME).open()


def test_recovery_keeps_the_damaged_file_and_saves_every_readable_camera(state: Path) -> None:
    inv = filled_inventory(state, 300)
    before = {r.camera_id: r for r in inv.records()}
    inv.close()
    path = state / DB_NAME
    corrupt(path, 150, 3)  # three leaf pages of the cameras table
    damaged_bytes = path.read_bytes()

    result = recover(state, now=T0)
    assert not result.healthy
    assert result.damaged_copy == state / f"{DB_NAME}.damaged-20261118T110640Z"
    assert result.damaged_copy.read_bytes() == damaged_bytes  # kept as it was
    saved = dict(result.saved)
    assert len(before) - 10 <= saved["cameras"] < len(before)  # three pages lost, the rest saved
    assert saved["scans"] == 1
    assert saved["history"] > 0

    fresh = Inventory(path)
    fresh.open()  # sound again
    try:
        after = {r.camera_id: r for r in fresh.records()}
        assert len(after) == saved["cameras"]
        for camera_id, record in after.items():
            assert record == before[camera_id]  # what is kept is kept whole
        assert fresh.last_scan() == ScanRecord(T0, T0 + 5, 300, 300, ())
    finally:
        fresh.close()


def test_recovery_leaves_a_healthy_inventory_untouched(state: Path) -> None:
    filled_inventory(state, 20).close()
    path = state / DB_NAME
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns
    result = recover(state)
    assert result.healthy
    assert "healthy" in result.summary()
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in state.iterdir() if "damaged" in p.name) == []


def test_recover_state_command_and_run_exit_codes(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filled_inventory(state, 300).close()
    corrupt(state / DB_NAME, 4, 6)
    # run refuses to start, with one line and exit 2 (systemd restarts it: Restart=on-failure).
    with pytest.raises(SystemExit) as exit_run:
        main(["run", "--broker", "mqtt://127.0.0.1:9", "--state-dir", str(state)])
    assert exit_run.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "recover-state" in lines[0]
    assert "Traceback" not in err
    assert main(["recover-state", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("recovered ")
    assert main(["recover-state", "--state-dir", str(state)]) == 0
    assert "healthy" in capsys.readouterr().out


def test_recover_state_without_an_inventory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["recover-state", "--state-dir", str(tmp_path / "nowhere")])
    assert exit_code.value.code == 2
    assert "there is no inventory at" in capsys.readouterr().err


# --- a full disk (a real tmpfs) -----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    with small_tmpfs(tmp_path / "tmpfs") as mount:
        yield mount


def test_a_full_disk_keeps_everything_in_memory_says_so_once_and_writes_it_later(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = small_disk / "state"
    inv = filled_inventory(state, 5)
    filler = fill(small_disk)
    caplog.set_level(logging.WARNING, logger="cctv_sentinel.inventory.store")

    # Three scans while the disk is full: one new camera each time, and a scan record.
    for n in range(3):
        at = T0 + 600 * (n + 1)
        changes = inv.observe(fleet(6 + n), at=at, full_scan=True)
        inv.record_scan(ScanRecord(at, at + 5, 6 + n, 6 + n, ()))
        inv.record_day(f"2026-11-0{n + 1}", set())  # the daily progress (docs/estate.md)
        assert [c.kind for c in changes if c.kind == "found"] == ["found"]
    assert inv.degraded
    assert len(inv.records()) == 8  # memory has them all
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # said once
    assert "free space" in warnings[0]
    assert "nothing was removed" in warnings[0]
    assert not inv.retry()  # still full

    filler.unlink()
    assert inv.retry()
    assert not inv.degraded
    assert "written again" in caplog.records[-1].getMessage()
    memory = {r.camera_id: r for r in inv.records()}
    days = inv.days(400)
    assert [d.date for d in days] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert inv.close() == 0  # everything is on disk

    reopened = Inventory(state / DB_NAME)
    reopened.open()
    try:
        assert {r.camera_id: r for r in reopened.records()} == memory  # nothing lost
        found = [h for h in reopened.history() if h.field == "state" and h.new == "found"]
        assert len(found) == 8
        assert reopened.last_scan() == ScanRecord(T0 + 1800, T0 + 1805, 8, 8, ())
        assert reopened.days(400) == days
        ok = reopened.db.execute("PRAGMA integrity_check").fetchone()[0]
        assert ok == "ok"
    finally:
        reopened.close()


def test_a_healthy_inventory_on_a_full_disk_opens_and_is_never_called_unusable(
    small_disk: Path,
) -> None:
    state = small_disk / "state"
    filled_inventory(state, 5).close()
    filler = fill(small_disk)
    inv = Inventory(state / DB_NAME)
    try:
        inv.open()  # reading needs no space
        assert len(inv.records()) == 5
        inv.observe(fleet(6), at=T0 + 600, full_scan=True)
        assert inv.degraded
    finally:
        filler.unlink()
        inv.close()  # the backlog is written on the way out
    again = Inventory(state / DB_NAME)
    again.open()
    try:
        assert len(again.records()) == 6
    finally:
        again.close()
    with contextlib.suppress(FileNotFoundError):
        filler.unlink()
    with contextlib.closing(sqlite3.connect(state / DB_NAME)) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


# --- the systemd unit of docs/deploy.md restarts on these exits ------------------------------


def unit_settings() -> dict[str, list[str]]:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "deploy.md").read_text("utf-8")
    start = doc.index("`/etc/systemd/system/cctv-sentinel.service`:")
    block = doc[start:].split("```ini", 1)[1].split("```", 1)[0]
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in block.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def systemd_restarts(settings: dict[str, list[str]], exit_code: int) -> bool:
    """Restart=on-failure (systemd.service(5)): a non-zero exit not declared a success."""
    restart = settings["Service.Restart"][-1]
    success = {int(c) for v in settings.get("Service.SuccessExitStatus", []) for c in v.split()}
    prevent = {
        int(c) for v in settings.get("Service.RestartPreventExitStatus", []) for c in v.split()
    }
    assert restart == "on-failure"
    failed = exit_code != 0 and exit_code not in success
    return failed and exit_code not in prevent


def test_closing_while_the_disk_is_still_full_reports_what_it_could_not_write(
    small_disk: Path,
) -> None:
    state = small_disk / "state"
    inv = filled_inventory(state, 5)
    filler = fill(small_disk)
    inv.observe(fleet(8), at=T0 + 600, full_scan=True)  # three new cameras, in memory only
    assert inv.degraded

    assert inv.close() > 0
    assert inv.close() == 0  # closed already: nothing more to report

    filler.unlink()
    reopened = Inventory(state / DB_NAME)
    reopened.open()
    try:  # what the file held before the disk filled is all still there
        assert len(reopened.records()) == 5
        assert reopened.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        reopened.close()


async def test_a_service_stopping_on_a_full_disk_exits_loudly(broker, small_disk: Path) -> None:
    state = small_disk / "state"
    await asyncio.to_thread(lambda: filled_inventory(state, 5).close())
    config = make_config(broker, state, scan={"interval": 600, "jitter": 0})
    network = ScriptedNetwork(fleet_observations(40))
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    filler = await asyncio.to_thread(fill, small_disk)
    task = asyncio.create_task(service.run())
    try:
        await service.client.wait_connected(10)
        deadline = asyncio.get_running_loop().time() + 60
        while len(service.inventory.records()) < 40:  # seen and published from memory
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        assert service.inventory.inventory.degraded
        service.stop()
        with pytest.raises(HostEnvironmentError, match="not written to the inventory") as err:
            await asyncio.wait_for(task, 30)
        assert str(state / DB_NAME) in str(err.value)
        assert err.value.exit_code != 0  # systemd sees a failure, not a clean stop
    finally:
        if not task.done():
            service.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        await asyncio.to_thread(filler.unlink, missing_ok=True)


def test_the_documented_unit_restarts_on_state_failures_and_not_on_a_clean_stop() -> None:
    settings = unit_settings()
    assert systemd_restarts(settings, StateCorruptError("x").exit_code)
    assert systemd_restarts(settings, StateUnwritableError("x").exit_code)
    assert not systemd_restarts(settings, 0)
    # The start limit (5 in 10 s by default) is never reached at this pace.
    assert float(settings["Service.RestartSec"][-1].removesuffix("s")) * 5 > 10


# --- damage found while the service runs -------------------------------------------------


async def test_damage_found_mid_run_stops_the_service_with_the_state_error(
    broker, tmp_path: Path
) -> None:
    network = ScriptedNetwork(fleet_observations(300))
    state = tmp_path / "state"
    config = make_config(broker, state, scan={"interval": 600, "jitter": 0})
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    task = asyncio.create_task(service.run())
    try:
        await service.client.wait_connected(10)
        deadline = asyncio.get_running_loop().time() + 60
        while len(service.inventory.records()) < 300:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        db = service.inventory.inventory.db

        def damage() -> None:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA shrink_memory")  # what SQLite has cached is read again
            corrupt(state / DB_NAME, 100, 40)

        await service.inventory._call(damage)
        service._rescan.set()  # the next scan writes every camera again
        with pytest.raises(StateCorruptError, match="recover-state"):
            await asyncio.wait_for(task, 60)
    finally:
        if not task.done():
            service.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
