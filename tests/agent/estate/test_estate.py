"""The estate from many agents' retained messages: merged, deduplicated, planned, charted."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from cctv_sentinel.estate.model import (
    Targets,
    build_estate,
    removal_plan,
    totals_by,
    weekly_progress,
)
from cctv_sentinel.inventory.progress import DayCounts
from cctv_sentinel.mqtt import contract
from tests.agent.estate import support
from tests.agent.service.support import check

SHARED = support.SHARED_MAC.replace(":", "")
ISOLATED = support.ISOLATED_MAC.replace(":", "")
MISSING = support.MISSING_MAC.replace(":", "")


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    return support.estate_messages(tmp_path_factory.mktemp("estate"))


def test_a_camera_two_agents_see_is_one_camera_with_both_sightings(messages):
    estate = build_estate(messages, support.BASE)
    shared = [c for c in estate.cameras if c.camera_id == SHARED]
    assert len(shared) == 1
    assert shared[0].sites == ("Library", "Town hall")
    assert {s.ip for s in shared[0].sightings} == {"198.18.0.21", "198.18.2.21"}
    assert shared[0].risk == "restricted"


def test_cameras_known_only_by_ip_stay_per_site(messages):
    # The same address on two sites is two devices: an IP-only id never merges.
    relabelled = [
        (
            t.replace("/library/", "/annex/").replace("/discovery/library", "/discovery/annex"),
            p.replace(b'"library"', b'"annex"'),
        )
        for t, p in messages
        if "/library/" in t or t.endswith("/discovery/library")
    ]
    estate = build_estate(messages + relabelled, support.BASE)
    routed = [c for c in estate.cameras if c.camera_id.startswith("ip-")]
    assert len(routed) == 2
    assert {c.key.split("/")[0] for c in routed} == {"library", "annex"}


def test_status_follows_every_sighting(messages):
    estate = build_estate(messages, support.BASE)
    by_id = {c.camera_id: c for c in estate.cameras}
    assert by_id[ISOLATED].status == "isolated"
    assert by_id[MISSING].status == "gone"
    assert by_id[SHARED].status == "in_place"


def test_the_estate_does_not_depend_on_message_order(messages):
    first = build_estate(messages, support.BASE)
    shuffled = list(messages)
    random.Random(7).shuffle(shuffled)
    assert build_estate(shuffled, support.BASE) == first


def test_messages_that_break_the_contract_are_counted_and_left_out(messages):
    hostile = [
        (f"{support.BASE}/evil/camera/bcad28000021", b"not json"),
        (
            f"{support.BASE}/evil/camera/bcad28000022",
            json.dumps({"camera_id": "other", "ip": "1"}).encode(),
        ),
        (f"{support.BASE}/evil/camera/bcad28000023", b"{" + b" " * 300_000 + b"}"),
        (f"{support.BASE}/evil/history", json.dumps({"days": "many"}).encode()),
        (f"{support.BASE}/discovery/evil", json.dumps({"agent_id": "someone-else"}).encode()),
        (f"{support.BASE}/evil/camera/../../x", b"{}"),
        ("other_app/state", b"{}"),
    ]
    estate = build_estate(messages + hostile, support.BASE)
    assert estate.skipped == 5
    assert {c.key for c in estate.cameras} == {
        c.key for c in build_estate(messages, support.BASE).cameras
    }


def test_device_strings_are_plain_text(messages):
    topic, raw = next((t, p) for t, p in messages if t.endswith(f"/camera/{SHARED}"))
    doc = json.loads(raw)
    doc["model"] = "DS-2CD\x1b[31m\u202e<b>x</b>\r\nInjected"
    estate = build_estate([*messages, (topic, json.dumps(doc).encode())], support.BASE)
    model = next(c for c in estate.cameras if c.camera_id == SHARED).model or ""
    assert not any(ch in model for ch in "\x1b\u202e\r\n")


def test_totals_by_site_count_a_shared_camera_at_each_site(messages):
    estate = build_estate(messages, support.BASE)
    sites = dict(totals_by(estate.cameras, "site"))
    assert sites["Town hall"] == len([t for t, _ in messages if "/town-hall/camera/" in t])
    assert sites["Library"] == len([t for t, _ in messages if "/library/camera/" in t])
    risks = dict(totals_by(estate.cameras, "risk"))
    assert sum(risks.values()) == len(estate.cameras)
    with pytest.raises(ValueError, match="no total by"):
        totals_by(estate.cameras, "colour")


def test_removal_plan_uses_the_earliest_target_and_flags_overdue(messages):
    estate = build_estate(messages, support.BASE)
    regime = next(r for c in estate.restricted for r in c.regimes)
    targets = Targets(default=dt.date(2027, 12, 31), per_regime={regime: dt.date(2026, 11, 1)})
    plan = removal_plan(estate, targets, today=dt.date(2026, 12, 2))
    assert len(plan) == len(estate.restricted)
    by_id = {row.camera.camera_id: row for row in plan}
    assert by_id[SHARED].status == "overdue"
    assert by_id[SHARED].target == dt.date(2026, 11, 1)
    assert by_id[ISOLATED].status == "isolated"
    assert by_id[MISSING].status == "gone"
    assert plan[0].status == "overdue"  # the most urgent first
    relaxed = removal_plan(estate, Targets(), today=dt.date(2026, 12, 2))
    assert {row.camera.camera_id: row.status for row in relaxed}[SHARED] == "in place"


def test_weekly_progress_sums_sites_and_carries_a_gap_forward():
    days = {
        "a": [DayCounts("2026-10-26", 5, 4, 0, 0), DayCounts("2026-11-02", 5, 3, 0, 1),
              DayCounts("2026-11-03", 5, 2, 1, 1)],
        "b": [DayCounts("2026-10-27", 3, 2, 0, 0), DayCounts("2026-11-16", 3, 0, 1, 1)],
    }  # fmt: skip
    weeks = weekly_progress(days)
    assert [w.week for w in weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    # W45 takes a's last day of the week (Tuesday) and b's W44 row carried forward.
    assert (weeks[1].in_place, weeks[1].isolated, weeks[1].gone) == (2 + 2, 1, 1)
    assert (weeks[3].in_place, weeks[3].isolated, weeks[3].gone) == (2, 2, 2)
    assert weekly_progress({}) == []


def test_history_rows_that_break_the_contract_are_dropped_one_by_one():
    payload = {
        "days": [
            {"date": "2026-11-01", "cameras": 3, "restricted_in_place": 1,
             "restricted_isolated": 0, "restricted_gone": 0},
            {"date": "yesterday", "cameras": 3, "restricted_in_place": 1,
             "restricted_isolated": 0, "restricted_gone": 0},
            {"date": "2026-11-02", "cameras": -1, "restricted_in_place": 1,
             "restricted_isolated": 0, "restricted_gone": 0},
            {"date": "2026-11-03", "cameras": True, "restricted_in_place": 1,
             "restricted_isolated": 0, "restricted_gone": 0},
            "row",
        ]
    }  # fmt: skip
    assert [d.date for d in contract.parse_history(payload) or []] == ["2026-11-01"]
    assert contract.parse_history({"days": 3}) is None
    assert contract.parse_history([]) is None


def test_the_fixture_history_shows_the_town_halls_removals(messages):
    estate = build_estate(messages, support.BASE)
    town = estate.histories["town-hall"]
    assert [d.restricted_in_place for d in town] == [4, 3, 2, 1, 1]
    assert [d.restricted_gone for d in town] == [0, 1, 2, 3, 3]


def test_the_history_payload_matches_the_schema(messages):
    for topic, raw in messages:
        if topic.endswith("/history"):
            check("history", json.loads(raw))
        if "/discovery/" in topic:
            check("announcement", json.loads(raw))


def test_a_site_with_fewer_states_than_its_info_announces_is_incomplete(messages):
    assert build_estate(messages, support.BASE).incomplete == ()
    # A broker that drops retained messages on the way (Mosquitto's per-client queue).
    dropped = [
        (t, p)
        for t, p in messages
        if not (t.startswith(f"{support.BASE}/library/camera/") and t.endswith("77"))
    ]
    short = build_estate(dropped, support.BASE).incomplete
    assert [(s.agent_id, s.cameras_read, s.cameras_announced) for s in short] == [("library", 3, 4)]
