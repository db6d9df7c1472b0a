"""Attribution mechanics: combining evidence, explanations, robustness, purity."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cctv_sentinel.identify import Catalogue, Policy, attribute, explain, identify, load_catalogue
from cctv_sentinel.identify.attribution import MIN_CLAIM, score
from cctv_sentinel.identify.evidence import MAX_VALUE, Hit
from cctv_sentinel.identify.vocabulary import FIELDS
from cctv_sentinel.model import Evidence, Host, Observation

IDENTIFY = Path(__file__).resolve().parents[3] / "agent" / "cctv_sentinel" / "identify"


def _hit(maker: str, weight: float, kind: str) -> Hit:
    return Hit(Evidence("p", "f", "v", maker, weight, "r", "s"), kind, "says", None)


def test_independent_channels_add_up_with_diminishing_returns() -> None:
    (one,) = score([_hit("hikvision", 0.5, "label")])
    (two,) = score([_hit("hikvision", 0.5, "label"), _hit("hikvision", 0.6, "oui")])
    assert one.value == 0.5
    assert two.value == 1 - 0.5 * 0.4
    assert two.value < 1.0


def test_evidence_in_one_channel_counts_once_at_its_strongest() -> None:
    (s,) = score([_hit("dahua", 0.65, "banner"), _hit("dahua", 0.7, "banner")])
    assert s.value == 0.7


def test_the_same_page_on_two_ports_is_one_piece_of_evidence(catalogue: Catalogue) -> None:
    page = {"scheme": "http", "status": "200", "server": "App-webs/"}
    host = Host(
        ip="198.18.0.9",
        mac=None,
        open_ports=(80, 8080),
        observations=(
            Observation("http", "198.18.0.9", page, port=80),
            Observation("http", "198.18.0.9", page, port=8080),
        ),
    )
    attribution = attribute(host, catalogue)
    assert [e.rule for e in attribution.evidence] == ["hikvision-app-webs-server"]


def test_evidence_is_sorted_strongest_first_and_sourced(catalogue: Catalogue) -> None:
    host = Host(
        ip="198.18.0.9",
        mac="44:19:b6:00:00:09",
        open_ports=(),
        observations=(
            Observation("arp", "198.18.0.9", mac="44:19:b6:00:00:09"),
            Observation("sadp", "198.18.0.9", {"model": "DS-2CD2143G2-I"}, port=37020),
            Observation(
                "onvif", "198.18.0.9", {"manufacturer": "HIKVISION", "auth": "ok"}, port=80
            ),
        ),
    )
    attribution = attribute(host, catalogue)
    weights = [e.weight for e in attribution.evidence]
    assert weights == sorted(weights, reverse=True)
    assert attribution.evidence[0].rule == "hikvision-sadp"
    assert all(e.source for e in attribution.evidence)
    assert attribution.model == "DS-2CD2143G2-I"


def test_explain_lists_every_piece_of_evidence_and_the_regimes(catalogue: Catalogue) -> None:
    host = Host(
        ip="198.18.0.9",
        mac="44:19:b6:00:00:09",
        open_ports=(),
        observations=(
            Observation("arp", "198.18.0.9", mac="44:19:b6:00:00:09"),
            Observation("onvif", "198.18.0.9", {"manufacturer": "ANNKE", "auth": "ok"}, port=80),
            Observation("sadp", "198.18.0.9", {"model": "I91BM"}, port=37020),
        ),
    )
    attribution, assessment = identify(host, catalogue, Policy())
    lines = explain(host, attribution, assessment, catalogue)
    text = "\n".join(lines)
    assert lines[0] == "host 198.18.0.9 (MAC 44:19:b6:00:00:09)"
    assert "label: ANNKE; real maker: Hikvision" in text
    for ev in attribution.evidence:
        assert ev.rule in text
        assert ev.source in text
    assert "regime us-ndaa-889" in text
    assert "risk: restricted" in text
    # Without the catalogue it still works, with ids instead of names.
    assert any("us-ndaa-889" in line for line in explain(host, attribution, assessment))


def test_below_min_claim_no_maker_is_named(catalogue: Catalogue) -> None:
    assert MIN_CLAIM > 0
    host = Host(
        ip="198.18.0.9",
        mac=None,
        open_ports=(),
        observations=(Observation("sweep", "198.18.0.9", port=80),),
    )
    attribution = attribute(host, catalogue)
    assert attribution.manufacturer is None
    assert attribution.confidence == 0.0


_PROBES = st.sampled_from(sorted(FIELDS))
_TEXT = st.text(max_size=300)


@st.composite
def _observation(draw: st.DrawFn) -> Observation:
    probe = draw(_PROBES)
    names = sorted(FIELDS[probe]) or ["x"]
    fields = draw(st.dictionaries(st.sampled_from(names), _TEXT, max_size=6))
    mac = draw(
        st.one_of(
            st.none(),
            st.text(max_size=20),
            st.sampled_from(["44:19:b6:00:00:01", "b4:4c:3b:00:00:01"]),
        )
    )
    return Observation(
        probe, "198.18.0.9", fields, mac=mac, port=draw(st.one_of(st.none(), st.integers(0, 65535)))
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_observation(), max_size=12))
def test_any_observations_give_a_well_formed_verdict(observations: list[Observation]) -> None:
    catalogue = load_catalogue()
    host = Host(ip="198.18.0.9", mac=None, open_ports=(), observations=tuple(observations))
    attribution, assessment = identify(host, catalogue, Policy())
    assert 0.0 <= attribution.confidence <= 1.0
    assert attribution.explanation
    assert attribution.camera_reasons
    assert all(len(e.value) <= MAX_VALUE + 2 for e in attribution.evidence)
    assert (attribution.manufacturer is None) == (attribution.manufacturer_id is None)
    assert explain(host, attribution, assessment, catalogue)


def test_identify_does_no_io() -> None:
    """identify/ imports nothing that talks to the network, the clock or processes."""
    banned = {"socket", "asyncio", "subprocess", "urllib", "http", "aiohttp", "paho", "ssl", "time"}
    for path in IDENTIFY.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in banned, f"{path.name} imports {name}"
