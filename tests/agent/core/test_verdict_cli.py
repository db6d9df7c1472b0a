"""classify, explain and report on saved scans and nmap XML, through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel.cli.main import main
from tests.lab.profiles import Profile, load_corpus

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CAPTURE = FIXTURES / "scans" / "corpus-lan.json"
NMAP = FIXTURES / "nmap"
CORPUS = load_corpus()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def classify_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run(capsys, "classify", str(CAPTURE), "--format", "json", *extra)
    assert code in {0, 1}, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_capture_holds_the_whole_corpus() -> None:
    doc = json.loads(CAPTURE.read_text(encoding="utf-8"))
    seen = {h["ip"] for h in doc["hosts"]}
    assert {p.network.ip for p in CORPUS} <= seen


@pytest.mark.parametrize("profile", CORPUS, ids=lambda p: p.id)
def test_every_profile_is_judged_right_from_real_wire_data(
    profile: Profile, capsys: pytest.CaptureFixture[str]
) -> None:
    # The capture is what the agent's probes received from the emulated corpus on the LAN.
    cameras = {c["ip"]: c for c in classify_json(capsys)["cameras"]}
    if profile.truth.kind not in {"camera", "recorder"}:
        assert profile.network.ip not in cameras
        return
    camera = cameras[profile.network.ip]
    assert camera["manufacturer_id"] == profile.truth.manufacturer
    if profile.truth.restricted:
        assert camera["risk"] == "restricted"
        assert {"us-fcc-covered-list", "us-ndaa-889", "us-entity-list"} & set(camera["regimes"])


def test_classify_exit_codes_follow_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "classify", str(CAPTURE))
    assert code == 1
    assert "restricted" in out
    allow_all = ",".join(sorted({p.truth.manufacturer for p in CORPUS if p.truth.manufacturer}))
    # Allow-listing every maker means nothing is restricted any more.
    policy = tmp_path / "policy.yaml"
    policy.write_text("allow:\n  makers: [" + allow_all + "]\n", encoding="utf-8")
    code, _, err = run(capsys, "classify", str(CAPTURE), "--policy", str(policy))
    assert code == 0, err


def test_regimes_option_changes_what_counts(capsys: pytest.CaptureFixture[str]) -> None:
    everything = {c["ip"]: c for c in classify_json(capsys)["cameras"]}
    us_only = {
        c["ip"]: c for c in classify_json(capsys, "--regimes", "us-fcc-covered-list")["cameras"]
    }
    uniview = next(p for p in CORPUS if p.truth.manufacturer == "uniview")
    hikvision = next(p for p in CORPUS if p.id == "hikvision-ds-2cd2143g2-i")
    # Uniview is PRC-based (covered by the UK 2022 rule) but not on the FCC list.
    assert everything[uniview.network.ip]["risk"] == "restricted"
    assert us_only[uniview.network.ip]["risk"] == "elevated"
    assert us_only[hikvision.network.ip]["risk"] == "restricted"


def test_policy_deny_and_allow_by_mac(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    axis = next(p for p in CORPUS if p.id == "axis-p3245-lve")
    hik = next(p for p in CORPUS if p.id == "hikvision-ds-2cd2143g2-i")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"policy:\n  deny: {{macs: ['{axis.network.mac}']}}\n"
        f"  allow: {{macs: ['{hik.network.mac}']}}\n",
        encoding="utf-8",
    )
    cameras = {c["ip"]: c for c in classify_json(capsys, "--policy", str(policy))["cameras"]}
    assert cameras[axis.network.ip]["risk"] == "restricted"
    assert cameras[hik.network.ip]["risk"] == "low"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"cameras": []}', "no raw observations"),
        ('{"nothing": 1}', "not a cctv-sentinel scan"),
        ("{not json", "not valid JSON"),
        ("hello", "neither a cctv-sentinel JSON scan nor nmap XML"),
        ('{"hosts": [{"ip": "1.2.3.4", "observations": [{"probe": 5}]}]}', "observations[0]"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "classify", str(bad))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_a_bad_file_does_not_lose_the_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "classify", str(tmp_path / "missing.json"), str(CAPTURE), "--format", "json"
    )
    assert code == 2
    assert "cannot read" in err
    assert len(json.loads(out)["cameras"]) >= 30


def test_nmap_xml_gets_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "classify", str(NMAP / "lan-mixed.xml"), "--format", "json")
    assert code in {0, 1}, err
    doc = json.loads(out)
    assert doc["cameras"], "the nmap fixture holds cameras"
    assert all(c["discovered_by"] for c in doc["cameras"])


def test_nmap_xml_with_entities_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "classify", str(NMAP / "hostile-entities.xml"))
    assert code == 2
    assert out == ""
    assert "entities" in err


def test_explain_from_a_saved_scan_by_ip_and_by_mac(capsys: pytest.CaptureFixture[str]) -> None:
    annke = next(p for p in CORPUS if p.id.startswith("annke"))
    code, by_ip, _ = run(capsys, "explain", annke.network.ip, "--from", str(CAPTURE))
    assert code == 0
    assert "real maker: Hikvision" in by_ip
    assert "label: ANNKE" in by_ip
    assert "source:" in by_ip
    code, by_mac, _ = run(capsys, "explain", annke.network.mac.upper(), "--from", str(CAPTURE))
    assert code == 0
    assert by_mac == by_ip
    code, _, err = run(capsys, "explain", "198.18.0.250", "--from", str(CAPTURE))
    assert code == 2
    assert "no device 198.18.0.250" in err


def test_html_report_is_self_contained_and_escapes_device_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(CAPTURE.read_text(encoding="utf-8"))
    hostile_name = '<script>alert("x")</script>'
    for host in doc["hosts"]:
        for obs in host["observations"]:
            if obs["probe"] == "wsd":
                obs["fields"]["name"] = hostile_name
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "report.html"
    code, _, err = run(capsys, "report", "--from", str(tampered), "--output", str(out))
    assert code == 1, err
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "src=" not in page
    assert "<link" not in page
    assert "Summary by risk" in page
    assert "Recommended action" in page
    for profile in CORPUS:
        if profile.truth.kind in {"camera", "recorder"}:
            assert profile.network.ip in page


def test_csv_report_neutralises_formulas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(CAPTURE.read_text(encoding="utf-8"))
    for host in doc["hosts"]:
        for obs in host["observations"]:
            if obs["probe"] == "sadp":
                obs["fields"]["model"] = '=HYPERLINK("http://example.invalid")'
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = run(capsys, "report", "--from", str(tampered), "--format", "csv")
    assert code == 1
    assert ",=HYPERLINK" not in out
    assert "'=HYPERLINK" in out
    header = out.splitlines()[0]
    assert header.endswith("recommended_action")
