"""Table-driven test over every device profile: who really made it, and is it restricted.

The Host is built the way a scan would build it (profile_hosts.py), then
attributed. ``truth.restricted`` in the corpus means "named by the FCC
Covered List, NDAA s.889 or the US Entity List", so restriction is checked
under a policy enabling exactly those regimes; the default policy is checked
never to be more lenient.
"""

from __future__ import annotations

import pytest

from cctv_sentinel.identify import Catalogue, Policy, identify
from cctv_sentinel.identify.catalogue import normalise_label
from cctv_sentinel.model import Risk
from tests.agent.identify.profile_hosts import host
from tests.lab.profiles import Profile, load_corpus

CORPUS = load_corpus()
US_REGIMES = Policy(
    enabled_regimes=frozenset({"us-fcc-covered-list", "us-ndaa-889", "us-entity-list"})
)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 32


@pytest.mark.parametrize("profile", CORPUS, ids=[p.id for p in CORPUS])
def test_profile(profile: Profile, catalogue: Catalogue) -> None:
    truth = profile.truth
    attribution, assessment = identify(host(profile), catalogue, US_REGIMES)
    why = f"{attribution.explanation} | {attribution.camera_reasons} | {assessment.reason}"

    assert attribution.is_camera is (truth.kind != "non-camera"), why
    assert attribution.manufacturer_id == truth.manufacturer, why
    if attribution.brand is not None and truth.brand is not None:
        expected = catalogue.resolve_label(truth.brand)
        if expected is not None:
            assert catalogue.resolve_label(attribution.brand) == expected, why
        else:
            assert normalise_label(attribution.brand) == normalise_label(truth.brand), why
    if truth.kind != "non-camera":
        assert (assessment.risk is Risk.RESTRICTED) is truth.restricted, why
        default = identify(host(profile), catalogue, Policy())[1]
        if truth.restricted:
            assert default.risk is Risk.RESTRICTED, default.reason


def test_brand_is_found_when_the_device_names_itself(catalogue: Catalogue) -> None:
    """Every camera whose label the catalogue knows gets that brand back."""
    missing = []
    for profile in CORPUS:
        truth = profile.truth
        if truth.kind == "non-camera":
            continue
        if truth.brand is None or catalogue.resolve_label(truth.brand) is None:
            continue
        attribution, _ = identify(host(profile), catalogue, US_REGIMES)
        if attribution.brand is None:
            missing.append(profile.id)
    assert missing == []
