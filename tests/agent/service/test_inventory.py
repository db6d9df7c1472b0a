"""The SQLite inventory: stable ids, history, missing and gone, retention, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import threading
from dataclasses import replace

import pytest

from cctv_sentinel.errors import HostEnvironmentError
from cctv_sentinel.inventory.ids import camera_id_from, onvif_uuid
from cctv_sentinel.inventory.records import CameraFacts, ScanRecord
from cctv_sentinel.inventory.store import AsyncInventory, Inventory
from tests.agent.service.support import axis, dahua_routed, facts, hikvision

T0 = 1_795_000_000.0
DAY = 86400.0


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "inventory.sqlite3"


@pytest.fixture
def inv(path):
    inventory = Inventory(path, missing_after_scans=2, retention=7 * DAY)
    inventory.open()
    yield inventory
    inventory.close()


def kinds(changes):
    return sorted((c.kind, c.record.camera_id) for c in changes)


def test_ids_follow_design_md(inv):
    changes = inv.observe(facts(hikvision() + axis() + dahua_routed()), at=T0, full_scan=True)
    assert kinds(changes) == [
        ("found", "accc8e0a0b0c"),
        ("found", "bcad28000021"),
        ("found", "ip-198-18-1-10"),
    ]
    by_ip = {r.ip: r for r in inv.records()}
    assert by_ip["198.18.0.21"].id_source == "mac"
    assert by_ip["198.18.0.21"].onvif_uuid == "55cfe3d7-0000-1000-8000-bcad28000021"
    assert by_ip["198.18.1.10"].id_source == "ip"
    assert not by_ip["198.18.1.10"].stable
    assert by_ip["198.18.0.21"].first_seen == by_ip["198.18.0.21"].last_seen == T0


def test_weaker_keys_when_there_is_no_mac():
    assert camera_id_from(mac=None, uuid="abc-1", skey=None, ip="10.0.0.1") == (
        "uuid-abc-1",
        "onvif_uuid",
    )
    assert camera_id_from(mac=None, uuid=None, skey="0f" * 10, ip="10.0.0.1") == (
        "sn-" + "0f" * 10,
        "serial",
    )
    assert onvif_uuid("urn:uuid:55CFE3D7-0000-1000-8000-BCAD28000021") == (
        "55cfe3d7-0000-1000-8000-bcad28000021"
    )
    assert onvif_uuid("http://10.0.0.1/onvif") is None
    assert onvif_uuid("urn:uuid:" + "a" * 65) is None


def test_rescans_never_duplicate_and_only_report_what_changed(inv):
    found = facts(hikvision() + axis() + dahua_routed())
    inv.observe(found, at=T0, full_scan=True)
    again = inv.observe(found, at=T0 + 900, full_scan=True)
    assert {c.kind for c in again} == {"seen"}
    assert len(inv.records()) == 3
    assert all(r.last_seen == T0 + 900 for r in inv.records())
    assert all(r.first_seen == T0 for r in inv.records())


def test_restart_keeps_ids_times_and_everything_published(path, inv):
    inv.observe(facts(hikvision() + axis() + dahua_routed()), at=T0, full_scan=True)
    before = inv.records()
    inv.close()
    reopened = Inventory(path)
    reopened.open()
    try:
        assert reopened.records() == before
        changes = reopened.observe(
            facts(hikvision() + axis() + dahua_routed()), at=T0 + 60, full_scan=True
        )
        assert {c.kind for c in changes} == {"seen"}
    finally:
        reopened.close()


def test_history_of_ip_firmware_and_verdict(inv):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    moved = facts(hikvision(ip="198.18.0.99", firmware="V5.8.0build 230101"))
    changes = inv.observe(moved, at=T0 + 100, full_scan=True)
    assert [c.kind for c in changes] == ["changed"]
    assert changes[0].changes == {
        "ip": ("198.18.0.21", "198.18.0.99"),
        "firmware": ("V5.7.3build 220112", "V5.8.0build 230101"),
    }
    history = [(h.field, h.old, h.new) for h in inv.history("bcad28000021")]
    assert history == [
        ("state", None, "found"),
        ("ip", "198.18.0.21", "198.18.0.99"),
        ("firmware", "V5.7.3build 220112", "V5.8.0build 230101"),
    ]
    assert inv.records()[0].camera_id == "bcad28000021"  # a new address is the same camera


def test_a_maker_verdict_change_is_history(inv):
    base = CameraFacts(
        ip="198.18.0.40",
        mac="00:11:22:33:44:55",
        manufacturer="Uniview",
        manufacturer_id="uniview",
        risk="elevated",
        confidence=0.6,
    )
    inv.observe([base], at=T0, full_scan=True)
    relabelled = replace(
        base, manufacturer="Dahua", manufacturer_id="dahua", risk="restricted", confidence=0.9
    )
    change = inv.observe([relabelled], at=T0 + 1, full_scan=True)[0]
    assert change.kind == "changed"
    assert change.changes == {
        "manufacturer": ("Uniview", "Dahua"),
        "risk": ("elevated", "restricted"),
    }
    assert [(h.field, h.new) for h in inv.history("001122334455")][-2:] == [
        ("manufacturer", "Dahua"),
        ("risk", "restricted"),
    ]


def test_a_vaguer_scan_keeps_labels_and_verdict(inv):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    record = inv.records()[0]
    # Only ARP and an open port this time: the SADP answer was lost.
    vague = CameraFacts(
        ip="198.18.0.21",
        mac="bc:ad:28:00:00:21",
        ports=(80,),
        discovered_by=("sweep",),
        risk="unknown",
        confidence=0.1,
    )
    change = inv.observe([vague], at=T0 + 900, full_scan=True)[0]
    assert change.kind == "updated"  # ports and probes changed, nothing a person tracks
    after = inv.records()[0]
    assert (after.manufacturer, after.risk, after.model, after.firmware, after.brand) == (
        record.manufacturer,
        record.risk,
        record.model,
        record.firmware,
        record.brand,
    )


def test_missing_after_n_full_scans_then_back(inv):
    inv.observe(facts(hikvision() + axis()), at=T0, full_scan=True)
    assert kinds(inv.observe(facts(axis()), at=T0 + 1, full_scan=True)) == [
        ("seen", "accc8e0a0b0c")
    ]
    first_miss = inv.get("bcad28000021")
    assert first_miss is not None
    assert first_miss.state == "present"
    assert first_miss.missed_scans == 1
    changes = inv.observe(facts(axis()), at=T0 + 2, full_scan=True)
    assert ("missing", "bcad28000021") in kinds(changes)
    record = inv.get("bcad28000021")
    assert record is not None
    assert (record.state, record.missing_since) == ("missing", T0 + 2)
    back = inv.observe(facts(hikvision() + axis()), at=T0 + 3, full_scan=True)
    assert ("returned", "bcad28000021") in kinds(back)
    record = inv.get("bcad28000021")
    assert record is not None
    assert (record.state, record.missed_scans, record.missing_since) == ("present", 0, None)


def test_a_look_at_one_host_never_marks_others_missing(inv):
    inv.observe(facts(hikvision() + axis()), at=T0, full_scan=True)
    for step in range(1, 5):
        changes = inv.observe(facts(axis()), at=T0 + step, full_scan=False)
        assert {c.kind for c in changes} == {"seen"}
    record = inv.get("bcad28000021")
    assert record is not None
    assert (record.state, record.missed_scans) == ("present", 0)


def test_gone_after_the_retention_period(path):
    inventory = Inventory(path, missing_after_scans=1, retention=3 * DAY)
    inventory.open()
    try:
        inventory.observe(facts(hikvision() + axis()), at=T0, full_scan=True)
        inventory.observe(facts(axis()), at=T0 + 10, full_scan=True)
        assert inventory.expire(T0 + 10 + 3 * DAY - 1) == []
        gone = inventory.expire(T0 + 10 + 3 * DAY)
        assert kinds(gone) == [("gone", "bcad28000021")]
        assert inventory.get("bcad28000021") is None
        assert [r.camera_id for r in inventory.records()] == ["accc8e0a0b0c"]
        # The history outlives the camera (audit), and it is found again as new.
        assert inventory.history("bcad28000021")[-1].new == "gone"
        again = inventory.observe(facts(hikvision() + axis()), at=T0 + 4 * DAY, full_scan=True)
        assert ("found", "bcad28000021") in kinds(again)
    finally:
        inventory.close()


def test_an_ip_only_camera_is_rekeyed_when_its_mac_shows_up(inv):
    routed = CameraFacts(
        ip="198.18.1.10", manufacturer="Dahua", manufacturer_id="dahua", risk="restricted"
    )
    inv.observe([routed], at=T0, full_scan=True)
    with_mac = replace(routed, mac="b4:4c:3b:00:00:10")
    change = inv.observe([with_mac], at=T0 + 1, full_scan=True)[0]
    assert change.record.camera_id == "b44c3b000010"
    assert change.previous_id == "ip-198-18-1-10"
    assert [r.camera_id for r in inv.records()] == ["b44c3b000010"]
    assert inv.records()[0].first_seen == T0
    assert ("camera_id", "ip-198-18-1-10", "b44c3b000010") in [
        (h.field, h.old, h.new) for h in inv.history("b44c3b000010")
    ]


def test_an_uuid_shared_by_two_macs_makes_two_cameras(inv):
    # Lazy OEM firmware ships one endpoint UUID in every unit.
    a = CameraFacts(
        ip="198.18.0.50", mac="00:12:34:00:00:01", onvif_uuid="00000000-0000-0000-0000-000000000001"
    )
    b = replace(a, ip="198.18.0.51", mac="00:12:34:00:00:02")
    inv.observe([a, b], at=T0, full_scan=True)
    assert [r.camera_id for r in inv.records()] == ["001234000001", "001234000002"]


def test_a_new_device_at_a_known_address_is_a_new_camera(inv):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    replacement = facts(axis(ip="198.18.0.21"))
    changes = inv.observe(replacement, at=T0 + 1, full_scan=True)
    assert ("found", "accc8e0a0b0c") in kinds(changes)
    assert {r.camera_id for r in inv.records()} == {"bcad28000021", "accc8e0a0b0c"}


def test_touch_and_goodbye(inv):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    touched = inv.touch("bcad28000021", T0 + 50)
    assert touched is not None
    assert touched.kind == "seen"
    assert inv.get("bcad28000021").last_seen == T0 + 50
    assert inv.touch("bcad28000021", T0 + 10) is None  # never backwards
    assert inv.touch("nope", T0) is None
    bye = inv.mark_missing("bcad28000021", T0 + 60)
    assert bye is not None
    assert (bye.kind, bye.record.state) == ("missing", "missing")
    assert inv.mark_missing("bcad28000021", T0 + 61) is None


def test_scans_are_remembered(inv):
    assert inv.last_scan() is None
    inv.record_scan(ScanRecord(T0, T0 + 2, 3, 1, ("deadline reached",)))
    inv.record_scan(ScanRecord(T0 + 900, T0 + 902, 4, 2))
    assert inv.last_scan() == ScanRecord(T0 + 900, T0 + 902, 4, 2, ())


def test_the_database_is_private(path, inv):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_a_database_from_a_newer_agent_is_refused(path):
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(HostEnvironmentError, match="written by a newer agent"):
        Inventory(path).open()


def test_a_failed_write_leaves_memory_and_disk_unchanged(inv, monkeypatch):
    inv.observe(facts(hikvision()), at=T0, full_scan=True)
    before = inv.records()

    def boom(*_args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(inv, "_log", boom)
    # Neither a full disk nor damage (those have their own tests, test_state_failures.py):
    # one line naming the file, and memory follows the file back.
    with pytest.raises(HostEnvironmentError, match="cannot use the inventory"):
        inv.observe(facts(hikvision(ip="198.18.0.77")), at=T0 + 1, full_scan=True)
    assert inv.records() == before


async def test_async_inventory_keeps_a_copy_for_the_loop(path):
    inventory = AsyncInventory(Inventory(path, missing_after_scans=1, retention=0))
    await inventory.open()
    try:
        await inventory.observe(facts(hikvision() + dahua_routed()), at=T0, full_scan=True)
        assert inventory.get("bcad28000021") is not None
        assert inventory.at_ip("198.18.1.10").camera_id == "ip-198-18-1-10"
        changes = await inventory.observe(facts(dahua_routed()), at=T0 + 1, full_scan=True)
        # missing after 1 scan, and with zero retention removed in the same scan
        assert ("missing", "bcad28000021") in kinds(changes)
        assert ("gone", "bcad28000021") in kinds(changes)
        assert inventory.get("bcad28000021") is None
        assert [r.camera_id for r in inventory.records()] == ["ip-198-18-1-10"]
        assert await inventory.touch("ip-198-18-1-10", T0 + 5) is not None
        assert inventory.get("ip-198-18-1-10").last_seen == T0 + 5
    finally:
        await inventory.close()


class _HeldFacts(list[CameraFacts]):
    """Facts whose reading waits for ``release``: a write caught in the middle."""

    def __init__(self, items: list[CameraFacts]) -> None:
        super().__init__(items)
        self.started = threading.Event()
        self.release = threading.Event()

    def __iter__(self):
        self.started.set()
        self.release.wait(10)
        return super().__iter__()


def _saved_ids(path) -> list[str]:
    reopened = Inventory(path)
    reopened.open()
    try:
        return [r.camera_id for r in reopened.records()]
    finally:
        reopened.close()


def test_closing_waits_for_a_write_in_another_thread(path, inv):
    held = _HeldFacts(facts(hikvision()))
    writer = threading.Thread(
        target=inv.observe, args=(held,), kwargs={"at": T0, "full_scan": True}
    )
    writer.start()
    assert held.started.wait(10)
    closer = threading.Thread(target=inv.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # the connection is not closed under the write
    held.release.set()
    writer.join(10)
    closer.join(10)
    assert _saved_ids(path) == ["bcad28000021"]


async def test_a_cancelled_write_ends_before_the_inventory_closes(path):
    """A service that stops mid-scan cancels the write, then closes the database."""
    inventory = AsyncInventory(Inventory(path))
    await inventory.open()
    held = _HeldFacts(facts(hikvision()))
    observing = asyncio.create_task(inventory.observe(held, at=T0, full_scan=True))
    assert await asyncio.to_thread(held.started.wait, 10)
    observing.cancel()
    closing = asyncio.create_task(inventory.close())
    await asyncio.sleep(0.3)
    assert not observing.done()  # the cancellation waits for the thread ...
    assert not closing.done()  # ... and so does the close
    held.release.set()
    await closing
    assert observing.cancelled()
    assert await asyncio.to_thread(_saved_ids, path) == ["bcad28000021"]  # the write is kept
