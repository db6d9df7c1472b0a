"""Two scans of the same LAN give the same verdicts, whatever order the answers arrived in.

The captured scan of the emulated LAN (every honest profile, real wire data) is
judged once as captured and then with its observations shuffled across the whole
LAN, as a second scan would hear them; every verdict must be the same.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.identify import Catalogue, Policy
from cctv_sentinel.identify.verdicts import result_for_hosts
from cctv_sentinel.model import Observation, ScanInfo, ScanResult
from cctv_sentinel.report.formats import camera_json, other_json

CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "scans" / "corpus-lan.json"


def _observations() -> list[Observation]:
    doc = json.loads(CAPTURE.read_text(encoding="utf-8"))
    return [Observation.from_json(o) for host in doc["hosts"] for o in host["observations"]]


def _verdicts(result: ScanResult) -> dict[str, object]:
    return {
        "cameras": {c.ip: camera_json(c) for c in result.cameras},
        "other": {d.ip: other_json(d) for d in result.other_devices},
    }


def test_two_scans_of_the_same_lan_give_the_same_verdicts(catalogue: Catalogue) -> None:
    info = ScanInfo(started=0.0, finished=1.0, networks=(), probes=(), errors=())
    seen = _observations()
    first = _verdicts(result_for_hosts(info, group_hosts(seen), catalogue, Policy()))
    assert len(first["cameras"]) >= 30  # type: ignore[arg-type]
    shuffler = random.Random(20261202)
    for _ in range(5):
        again = list(seen)
        shuffler.shuffle(again)
        second = _verdicts(result_for_hosts(info, group_hosts(again), catalogue, Policy()))
        assert second == first
