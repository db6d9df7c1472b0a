"""Observation-level cases (tests/fixtures/observations/*.json).

What we conclude from what the probes saw.

Each file is a host as the scanner groups it, an optional policy, and the
expected verdict. The cases cover conflicting labels, no MAC, only an OUI,
only HTTP, generic ONVIF strings, renamed OEM web UIs, non-cameras, and the
allow/deny/regime policy knobs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel.identify import Catalogue, identify, policy_from_mapping
from cctv_sentinel.identify.catalogue import normalise_label
from cctv_sentinel.model import Host, Observation

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "observations"
FILES = sorted(CASES.glob("*.json"))

EXPECT_KEYS = {
    "is_camera",
    "manufacturer",
    "brand",
    "risk",
    "regimes",
    "model",
    "serial",
    "confidence_at_least",
    "confidence_below",
    "explanation_contains",
    "camera_reasons_contain",
    "reason_contains",
}


def _host(case: dict[str, Any]) -> Host:
    ip = case["host"]["ip"]
    obs = tuple(Observation.from_json({"ip": ip, **o}) for o in case["observations"])
    ports = tuple(
        sorted(
            {
                o.port
                for o in obs
                if o.port is not None and o.probe in {"sweep", "http", "rtsp", "onvif", "nmap"}
            }
        )
    )
    return Host(ip=ip, mac=case["host"].get("mac"), open_ports=ports, observations=obs)


def test_there_are_enough_cases() -> None:
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_case(path: Path, catalogue: Catalogue) -> None:
    case = json.loads(path.read_text())
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown expectation keys in {path.name}"
    policy = policy_from_mapping(case.get("policy", {}))
    host = _host(case)
    attribution, assessment = identify(host, catalogue, policy)
    why = f"{attribution.explanation} | {attribution.camera_reasons} | {assessment.reason}"

    assert attribution.is_camera is expect["is_camera"], why
    if "manufacturer" in expect:
        assert attribution.manufacturer_id == expect["manufacturer"], why
    if "brand" in expect:
        if expect["brand"] is None:
            assert attribution.brand is None, why
        else:
            assert attribution.brand is not None, why
            assert normalise_label(attribution.brand) == normalise_label(expect["brand"]), why
    if "risk" in expect:
        assert assessment.risk.value == expect["risk"], why
    if "regimes" in expect:
        assert sorted(assessment.regimes) == sorted(expect["regimes"]), why
    for key in ("model", "serial"):
        if key in expect:
            assert getattr(attribution, key) == expect[key], why
    if "confidence_at_least" in expect:
        assert attribution.confidence >= expect["confidence_at_least"], why
    if "confidence_below" in expect:
        assert attribution.confidence < expect["confidence_below"], why
    for text in expect.get("explanation_contains", []):
        assert text in attribution.explanation, why
    for text in expect.get("camera_reasons_contain", []):
        assert any(text in r for r in attribution.camera_reasons), why
    for text in expect.get("reason_contains", []):
        assert text in assessment.reason, why
    assert 0.0 <= attribution.confidence <= 1.0
    assert attribution.explanation
