"""Policy parsing and the risk verdict: regimes, confidence, allow and deny lists."""

from __future__ import annotations

import ipaddress

import pytest

from cctv_sentinel.errors import ConfigError
from cctv_sentinel.identify import (
    Catalogue,
    Policy,
    assess,
    check_policy,
    covering_regimes,
    policy_from_mapping,
)
from cctv_sentinel.identify.policy import DEFAULT_MIN_CONFIDENCE, Rules
from cctv_sentinel.identify.risk import prc_based
from cctv_sentinel.model import Attribution, Host, Risk


def _attr(maker: str | None, confidence: float, brand: str | None = None) -> Attribution:
    return Attribution(
        is_camera=True,
        manufacturer=maker,
        manufacturer_id=maker,
        brand=brand,
        model=None,
        firmware=None,
        serial=None,
        confidence=confidence,
        evidence=(),
        explanation="x",
    )


HOST = Host(ip="198.18.0.77", mac="44:19:b6:00:00:77", open_ports=(), observations=())


def test_default_policy_enables_everything() -> None:
    policy = policy_from_mapping({})
    assert policy.enabled_regimes is None
    assert policy.regime_enabled("anything")
    assert policy.min_confidence == DEFAULT_MIN_CONFIDENCE
    assert policy.elevated_alerts is True
    assert not policy.allow
    assert not policy.deny
    assert policy_from_mapping({"regimes": "all"}).enabled_regimes is None


def test_policy_from_mapping_reads_every_key() -> None:
    policy = policy_from_mapping(
        {
            "regimes": ["us-ndaa-889", "uk-2022-sensitive-sites"],
            "min_confidence": 0.7,
            "elevated_alerts": False,
            "allow": {
                "makers": ["Axis"],
                "brands": ["LTS Platinum"],
                "macs": ["AC-CC-8E"],
                "ips": ["10.0.0.5"],
            },
            "deny": {"macs": ["44:19:B6:00:00:01"], "ips": ["198.18.0.0/24"]},
        }
    )
    assert policy.enabled_regimes == frozenset({"us-ndaa-889", "uk-2022-sensitive-sites"})
    assert policy.min_confidence == 0.7
    assert policy.elevated_alerts is False
    assert policy.allow.makers == frozenset({"axis"})
    assert policy.allow.brands == frozenset({"lts platinum"})
    assert policy.allow.macs == frozenset({"ac:cc:8e"})
    assert policy.allow.networks == (ipaddress.ip_network("10.0.0.5/32"),)
    assert policy.deny.macs == frozenset({"44:19:b6:00:00:01"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"regimz": []}, "unknown key regimz"),
        ({"regimes": "us"}, None),
        ({"regimes": [1]}, "regimes must be a list of strings"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"min_confidence": True}, "min_confidence"),
        ({"elevated_alerts": "yes"}, "elevated_alerts"),
        ({"allow": ["hikvision"]}, "allow must be a mapping"),
        ({"deny": {"vendors": ["x"]}}, "unknown key deny.vendors"),
        ({"deny": {"macs": ["not-a-mac"]}}, "deny.macs entry 'not-a-mac'"),
        ({"allow": {"ips": ["300.1.1.1"]}}, "allow.ips entry '300.1.1.1'"),
    ],
)
def test_bad_policy_names_the_key(data: dict[str, object], message: str | None) -> None:
    if message is None:  # a single string is accepted as a one-item list
        assert policy_from_mapping(data).enabled_regimes == frozenset({"us"})
        return
    with pytest.raises(ConfigError, match=message):
        policy_from_mapping(data)


def test_check_policy_against_the_catalogue(catalogue: Catalogue) -> None:
    check_policy(
        policy_from_mapping({"regimes": ["us-ndaa-889"], "deny": {"makers": ["hikvision"]}}),
        catalogue,
    )
    with pytest.raises(ConfigError, match="unknown regime 'us-ndaa'"):
        check_policy(policy_from_mapping({"regimes": ["us-ndaa"]}), catalogue)
    with pytest.raises(ConfigError, match="unknown maker 'hikvison'"):
        check_policy(policy_from_mapping({"allow": {"makers": ["hikvison"]}}), catalogue)


def test_covering_regimes_follow_subsidiaries_and_countries(catalogue: Catalogue) -> None:
    assert set(covering_regimes(catalogue, "hikvision")) == set(catalogue.regimes)
    # A subsidiary is covered where the regime says "subsidiaries and affiliates" ...
    hikmicro = set(covering_regimes(catalogue, "hikmicro"))
    assert {"us-fcc-covered-list", "us-ndaa-889", "au-2023-government-removal"} <= hikmicro
    # ... but the Entity List names legal entities only.
    assert "us-entity-list" not in hikmicro
    assert covering_regimes(catalogue, "uniview") == ("uk-2022-sensitive-sites",)
    assert covering_regimes(catalogue, "axis") == ()
    # Lorex's Dahua years are over: the brand itself is not covered any more.
    assert "us-ndaa-889" not in covering_regimes(catalogue, "lorex")
    assert prc_based(catalogue, "hikmicro")
    assert not prc_based(catalogue, "lorex")


def test_risk_levels(catalogue: Catalogue) -> None:
    policy = Policy()
    assert assess(_attr("hikvision", 0.9), HOST, catalogue, policy).risk is Risk.RESTRICTED
    low_conf = assess(_attr("hikvision", 0.35), HOST, catalogue, policy)
    assert low_conf.risk is Risk.ELEVATED
    assert "below" in low_conf.reason
    assert assess(_attr(None, 0.0), HOST, catalogue, policy).risk is Risk.UNKNOWN
    assert assess(_attr("axis", 0.9), HOST, catalogue, policy).risk is Risk.LOW
    us_only = Policy(enabled_regimes=frozenset({"us-fcc-covered-list"}))
    prc = assess(_attr("uniview", 0.9), HOST, catalogue, us_only)
    assert prc.risk is Risk.ELEVATED
    assert "PRC" in prc.reason
    assert prc.regimes == ()


def test_min_confidence_is_the_policy_threshold(catalogue: Catalogue) -> None:
    strict = Policy(min_confidence=0.95)
    assert assess(_attr("dahua", 0.9), HOST, catalogue, strict).risk is Risk.ELEVATED
    assert assess(_attr("dahua", 0.96), HOST, catalogue, strict).risk is Risk.RESTRICTED


def test_lists_override_the_verdict_with_a_reason(catalogue: Catalogue) -> None:
    deny_ip = Policy(deny=Rules(networks=(ipaddress.ip_network("198.18.0.0/24"),)))
    verdict = assess(_attr("axis", 0.9), HOST, catalogue, deny_ip)
    assert verdict.risk is Risk.RESTRICTED
    assert "deny list by ip 198.18.0.0/24" in verdict.reason
    allow_brand = Policy(allow=Rules(brands=frozenset({"lts"})))
    verdict = assess(_attr("hikvision", 0.9, brand="LTS"), HOST, catalogue, allow_brand)
    assert verdict.risk is Risk.LOW
    assert "allow list by brand LTS" in verdict.reason
    # The regimes still say who covers the maker, for the record.
    assert "us-ndaa-889" in verdict.regimes


def test_address_rules_beat_identity_rules_and_deny_beats_allow(catalogue: Catalogue) -> None:
    both = Policy(
        deny=Rules(makers=frozenset({"hikvision"})),
        allow=Rules(macs=frozenset({"44:19:b6:00:00:77"})),
    )
    assert assess(_attr("hikvision", 0.9), HOST, catalogue, both).risk is Risk.LOW
    same_level = Policy(
        deny=Rules(makers=frozenset({"hikvision"})), allow=Rules(makers=frozenset({"hikvision"}))
    )
    assert assess(_attr("hikvision", 0.9), HOST, catalogue, same_level).risk is Risk.RESTRICTED


def test_mac_prefix_rules_match_only_their_prefix() -> None:
    rules = Rules(macs=frozenset({"44:19:b6"}))
    assert rules.match_address(None, "44:19:B6:AA:BB:CC") == ("mac", "44:19:b6")
    assert rules.match_address(None, "44:19:b7:aa:bb:cc") is None
    assert rules.match_address("not-an-ip", None) is None
