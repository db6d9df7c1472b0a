"""The estate report an auditor reads: CSV (snapshot) and HTML (key facts, the chart)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import pytest

from cctv_sentinel.estate.model import Targets, build_estate, weekly_progress
from cctv_sentinel.report.estate import progress_svg, to_estate_csv, to_estate_html
from tests.agent.estate import support

SNAPSHOT = Path(__file__).parent / "snapshots" / "estate.csv"
TODAY = dt.date(2026, 12, 2)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory):
    return build_estate(support.estate_messages(tmp_path_factory.mktemp("estate")), support.BASE)


@pytest.fixture(scope="module")
def targets(estate) -> Targets:
    regime = sorted({r for c in estate.restricted for r in c.regimes})[0]
    return Targets(default=dt.date(2027, 6, 30), per_regime={regime: dt.date(2026, 11, 30)})


def test_csv_matches_the_snapshot(estate, targets):
    text = to_estate_csv(estate, targets, TODAY)
    if os.environ.get("CCTV_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_csv_has_one_row_per_estate_camera_with_its_sites(estate, targets):
    rows = list(csv.DictReader(io.StringIO(to_estate_csv(estate, targets, TODAY))))
    assert len(rows) == len(estate.cameras)
    shared = next(r for r in rows if r["camera"] == support.SHARED_MAC.replace(":", ""))
    assert shared["sites"] == "Library; Town hall"
    assert shared["plan_status"] == "overdue"
    assert all(r["plan_status"] for r in rows if r["risk"] == "restricted")
    assert not any(r["plan_status"] for r in rows if r["risk"] != "restricted")


def test_html_states_the_key_facts(estate, targets):
    page = to_estate_html(estate, targets, TODAY, source="mqtt://central:1883")
    restricted = len(estate.restricted)
    assert f"<b>{restricted}</b> restricted" in page
    assert "2 site(s) (2 online)" in page
    for site in ("Town hall", "Library"):
        assert site in page
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    # Every restricted camera has its evidence section.
    assert page.count("Seen by:") == restricted


def test_html_escapes_what_devices_say(tmp_path: Path):
    hostile = []
    for topic, raw in support.estate_messages(tmp_path):
        if "/camera/" in topic:
            doc = json.loads(raw)
            doc["model"] = "<img src=x onerror=alert(1)>"
            hostile.append((topic, json.dumps(doc).encode()))
        else:
            hostile.append((topic, raw))
    page = to_estate_html(build_estate(hostile, support.BASE), Targets(), TODAY)
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_chart_shows_the_fixtures_trend(estate):
    weeks = weekly_progress(estate.histories)
    svg = progress_svg(weeks)
    bars = re.findall(r'<rect class="in_place"[^>]*data-week="([^"]+)" data-count="(\d+)"', svg)
    in_place = [int(n) for _, n in bars]
    assert len(bars) == len(weeks) == 5
    assert in_place == sorted(in_place, reverse=True)
    assert in_place[0] > in_place[-1]
    gone = [int(n) for n in re.findall(r'<rect class="gone"[^>]*data-count="(\d+)"', svg)]
    assert gone == sorted(gone)
    assert gone[-1] >= 3
    assert "No history yet" in progress_svg([])
