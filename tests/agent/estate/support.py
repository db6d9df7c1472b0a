"""A fixture estate: two sites' retained messages, built by the agent's own code.

Real observations go through the real identify, the real inventory (SQLite in a
temporary directory) and the real contract builders, exactly as ``run`` would
publish them; only the clock is chosen. The story (docs/estate.md):

- Town hall (agent ``town-hall``): a Hikvision camera sold as Annke (restricted)
  and an Axis camera (low). Its history: 4 restricted cameras in place five weeks
  ago, going down week by week as cameras are isolated and removed.
- Library (agent ``library``): the *same* Hikvision (a recorder-side camera both
  VLANs reach: the same MAC), a second Hikvision that is isolated, a Dahua behind a
  router (known only by its IP) and a Hikvision that has gone missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cctv_sentinel.identify import load_catalogue
from cctv_sentinel.inventory.records import CameraRecord
from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.mqtt import contract
from tests.agent.service import support

BASE = "cctv_sentinel"
T0 = dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC).timestamp()
"""A Monday; the histories run for five weeks from here."""
DAY = 86400.0

SHARED_MAC = "bc:ad:28:00:00:21"
ISOLATED_MAC = "bc:ad:28:00:00:77"
MISSING_MAC = "bc:ad:28:00:00:99"


def regimes() -> dict[str, contract.RegimeRef]:
    """The published form of every regime in the catalogue."""
    catalogue = load_catalogue()
    return {
        rid: {"id": rid, "name": regime.name, "jurisdiction": regime.jurisdiction}
        for rid, regime in catalogue.regimes.items()
    }


@contextmanager
def inventory(path: Path) -> Iterator[Inventory]:
    """An open inventory at ``path``."""
    inv = Inventory(path, missing_after_scans=1, retention=365 * DAY)
    inv.open()
    try:
        yield inv
    finally:
        inv.close()


def _isolation(record: CameraRecord, isolated: set[str]) -> contract.CameraIsolation:
    if record.camera_id not in isolated:
        return contract.NOT_ISOLATED
    return {"state": "isolated", "mode": "internet", "backend": "nftables", "since": None}


def agent_messages(
    inv: Inventory, agent_id: str, name: str, isolated: set[str], networks: list[str]
) -> list[tuple[str, bytes]]:
    """Every retained message the agent would hold on the broker."""
    topics = contract.Topics(BASE, agent_id)
    refs = regimes()
    records = inv.records()
    out = [
        (topics.discovery, contract.encode(contract.announcement(topics, name=name, version="t"))),
        (topics.status, contract.ONLINE),
        (
            topics.info,
            contract.encode(
                contract.info(
                    topics,
                    name=name,
                    version="t",
                    catalogue_version="t",
                    networks=networks,
                    scan=contract.ScanStatus(),
                    counts=contract.count_cameras((r.risk for r in records), len(isolated)),
                    regimes=list(refs.values()),
                    isolation={
                        "backends": ["nftables"],
                        "default_backend": "nftables",
                        "modes": ["internet"],
                        "auto_isolate": False,
                    },
                )
            ),
        ),
        (
            topics.history,
            contract.encode(
                contract.history_payload(agent_id, inv.days(contract.MAX_HISTORY_DAYS))
            ),
        ),
    ]
    for record in records:
        payload = contract.camera_payload(
            record, regimes=refs, isolation=_isolation(record, isolated)
        )
        out.append((topics.camera(record.camera_id), contract.encode(payload)))
    return out


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def town_hall(path: Path) -> list[tuple[str, bytes]]:
    """Town hall: five weekly scans; restricted cameras go from 4 in place to 1."""
    observations = support.hikvision(mac=SHARED_MAC) + support.axis()
    extra = [
        support.hikvision(ip=f"198.18.0.{40 + i}", mac=f"bc:ad:28:00:01:{i:02x}") for i in range(3)
    ]
    with inventory(path) as inv:
        isolated: set[str] = set()
        for week in range(5):
            at = T0 + week * 7 * DAY
            # Week by week one of the extra Hikvisions is taken down.
            seen = observations + [o for cam in extra[week:] for o in cam]
            inv.observe(support.facts(seen), at=at, full_scan=True)
            inv.record_day(_day(at), isolated)
        return agent_messages(inv, "town-hall", "Town hall", isolated, ["198.18.0.0/24"])


def library(path: Path) -> list[tuple[str, bytes]]:
    """Library: shares one camera with the town hall; one isolated, one routed, one gone."""
    first = (
        support.hikvision(ip="198.18.2.21", mac=SHARED_MAC)
        + support.hikvision(ip="198.18.2.77", mac=ISOLATED_MAC)
        + support.hikvision(ip="198.18.2.99", mac=MISSING_MAC)
        + support.dahua_routed(ip="198.18.3.10")
    )
    later = [o for o in first if o.ip != "198.18.2.99"]
    with inventory(path) as inv:
        inv.observe(support.facts(first), at=T0 + DAY, full_scan=True)
        inv.record_day(_day(T0 + DAY), set())
        # No report in the second and third weeks (the agent was off): a gap.
        inv.observe(support.facts(later), at=T0 + 22 * DAY, full_scan=True)
        isolated = {ISOLATED_MAC.replace(":", "")}
        inv.record_day(_day(T0 + 22 * DAY), isolated)
        return agent_messages(
            inv, "library", "Library", isolated, ["198.18.2.0/24", "198.18.3.0/24"]
        )


def estate_messages(tmp: Path) -> list[tuple[str, bytes]]:
    """Both sites' retained messages."""
    return town_hall(tmp / "town-hall.sqlite3") + library(tmp / "library.sqlite3")
