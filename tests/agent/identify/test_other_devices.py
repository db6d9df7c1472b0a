"""Restricted equipment that is not a camera: judged, and reported apart, never as a camera.

Hosts come from raw answers through the replay; the reports come from the real
command line (``classify`` and ``report`` of a saved scan).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cctv_sentinel.cli.main import main
from cctv_sentinel.discovery.replay import Answer, observations, replay
from cctv_sentinel.identify import Catalogue, Policy, identify
from cctv_sentinel.identify.other import assess_other
from cctv_sentinel.model import Risk

ONT = Answer("telnet-banner", b"ZXHN H298A Login:", port=23)
VRP = Answer("banner", b"HUAWEI-VRP-3.10", field="ssh.banner")
PANEL = Answer(
    "isapi-deviceinfo",
    b'<DeviceInfo xmlns="http://www.isapi.org/ver20/XMLSchema"><deviceName>alarm</deviceName>'
    b"<model>DS-PWA32-NG</model><serialNumber>DS-PWA32-NG0000</serialNumber>"
    b"<deviceType>PWA</deviceType></DeviceInfo>",
    path="/ISAPI/System/deviceInfo",
)
CAMERA = Answer(
    "isapi-deviceinfo",
    b'<DeviceInfo xmlns="http://www.isapi.org/ver20/XMLSchema"><model>DS-2CD2043G2-I</model>'
    b"<deviceType>IPCamera</deviceType></DeviceInfo>",
    path="/ISAPI/System/deviceInfo",
)


def _saved_scan(tmp_path: Path) -> Path:
    hosts = []
    for n, answer in enumerate((ONT, VRP, PANEL, CAMERA), start=20):
        found = observations(answer, f"192.0.2.{n}")
        hosts.append({"ip": f"192.0.2.{n}", "observations": [o.to_json() for o in found]})
    path = tmp_path / "scan.json"
    path.write_text(json.dumps({"cameras": [], "hosts": hosts}), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().out


def test_a_telecom_makers_ont_is_restricted_equipment_not_a_camera(catalogue: Catalogue) -> None:
    host = replay([ONT]).host
    attribution, _ = identify(host, catalogue, Policy())
    assert not attribution.is_camera
    assert attribution.equipment == "ont"
    assert attribution.model == "ZXHN H298A"
    verdict = assess_other(attribution, catalogue, Policy())
    assert verdict is not None
    assert verdict.risk is Risk.RESTRICTED
    assert set(verdict.regimes) == {"us-fcc-covered-list", "us-ndaa-889"}
    assert "telecommunications equipment" in verdict.reason


def test_a_regime_that_covers_only_surveillance_systems_does_not_cover_a_router(
    catalogue: Catalogue,
) -> None:
    attribution, _ = identify(replay([VRP]).host, catalogue, Policy())
    uk_only = Policy(enabled_regimes=frozenset({"uk-2022-sensitive-sites"}))
    assert assess_other(attribution, catalogue, uk_only) is None
    assert assess_other(attribution, catalogue, Policy()) is not None


def test_an_alarm_panel_of_a_listed_maker_is_elevated_with_the_reason(
    catalogue: Catalogue,
) -> None:
    attribution, _ = identify(replay([PANEL]).host, catalogue, Policy())
    verdict = assess_other(attribution, catalogue, Policy())
    assert verdict is not None
    assert verdict.risk is Risk.ELEVATED
    assert "alarm-panel" in verdict.reason


def test_json_table_and_csv_report_other_devices_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = _saved_scan(tmp_path)
    code, out = _run(capsys, "classify", str(scan), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [c["ip"] for c in doc["cameras"]] == ["192.0.2.23"]
    others = {d["ip"]: d for d in doc["other_devices"]}
    assert set(others) == {"192.0.2.20", "192.0.2.21", "192.0.2.22"}
    assert others["192.0.2.20"]["kind"] == "ont"
    assert others["192.0.2.20"]["risk"] == "restricted"
    assert others["192.0.2.21"]["kind"] == "router"
    assert others["192.0.2.22"]["kind"] == "alarm-panel"
    assert others["192.0.2.22"]["risk"] == "elevated"
    camera_fields = set(doc["cameras"][0])
    assert camera_fields | {"kind"} == set(others["192.0.2.20"])

    code, out = _run(capsys, "classify", str(scan))
    table, _, others_table = out.partition("Other equipment a regime may cover (not cameras):")
    assert "192.0.2.23" in table
    assert "192.0.2.20" not in table
    assert "192.0.2.20" in others_table
    assert "ont" in others_table

    code, out = _run(capsys, "classify", str(scan), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["ip"]: r["kind"] for r in rows} == {
        "192.0.2.23": "camera",
        "192.0.2.20": "ont",
        "192.0.2.21": "router",
        "192.0.2.22": "alarm-panel",
    }


def test_auditor_reports_list_other_devices_in_their_own_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = _saved_scan(tmp_path)
    page = tmp_path / "report.html"
    code, _ = _run(capsys, "report", "--from", str(scan), "--output", str(page))
    assert code == 1
    html = page.read_text(encoding="utf-8")
    cameras, _, rest = html.partition("<h2>Other equipment (not cameras)</h2>")
    assert rest, "no section for other equipment"
    section = rest.partition("<h2>")[0]
    assert "192.0.2.20" in section
    assert "192.0.2.20" not in cameras.partition("<h2>Cameras")[2]
    code, out = _run(capsys, "report", "--from", str(scan), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["kind"] for r in rows} == {"camera", "ont", "router", "alarm-panel"}
