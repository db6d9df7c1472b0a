"""Replay every published device answer of the corpus and hold the measured accuracy.

Both sides of the split replay without a crash; the test set is scored in
aggregate only (its items are never printed, not even on failure). The floors
are the figures measured on the current rules (docs/accuracy.md): a change that
loses a camera, a maker, a label, a model or a restricted flag on either set
fails here, and so does one that calls a non-camera a camera.
"""

from __future__ import annotations

import random

import pytest

from cctv_sentinel.discovery.replay import KINDS, replay
from cctv_sentinel.identify import Catalogue, identify
from tests.corpus import harness

FLOORS: dict[str, dict[str, int]] = {
    "dev": {
        "recognised": 34,
        "maker_right": 20,
        "label_right": 13,
        "model_right": 12,
        "restricted_flagged": 12,
        "other_restricted_reported": 6,
    },
    "test": {
        "recognised": 32,
        "maker_right": 23,
        "label_right": 13,
        "model_right": 5,
        "restricted_flagged": 11,
        "other_restricted_reported": 3,
    },
}
"""Right answers per figure, at least (raise them when the rules improve)."""

CEILINGS: dict[str, dict[str, int]] = {
    "dev": {"non_camera_as_camera": 0, "false_restricted": 0},
    "test": {"non_camera_as_camera": 0, "false_restricted": 0},
}
"""Wrong answers per figure, at most."""


@pytest.fixture(scope="module")
def scores(catalogue: Catalogue) -> dict[str, harness.Score]:
    return {name: harness.score_set(name, catalogue) for name in ("dev", "test")}


def test_the_split_is_fixed_and_covers_every_item() -> None:
    sides = harness.split()
    on_disk = {p.name for p in harness.ITEMS_DIR.iterdir() if (p / "item.json").is_file()}
    assert not set(sides["dev"]) & set(sides["test"])
    assert set(sides["dev"]) | set(sides["test"]) == on_disk
    assert len(on_disk) >= 150


@pytest.mark.parametrize("side", ["dev", "test"])
def test_every_answer_kind_is_one_the_replay_knows(side: str) -> None:
    unknown = {a.kind for item in harness.load_set(side) for a in item.answers} - KINDS
    assert not unknown


@pytest.mark.parametrize("side", ["dev", "test"])
def test_every_item_replays_and_is_judged_without_a_crash(side: str, catalogue: Catalogue) -> None:
    policy = harness.us_policy()
    judged = 0
    for item in harness.load_set(side):
        verdict = harness.judge(item, catalogue, policy)
        assert verdict.host.ip
        judged += 1
    assert judged == len(harness.split()[side])


@pytest.mark.parametrize("side", ["dev", "test"])
def test_figures_do_not_fall_below_the_measured_floors(
    side: str, scores: dict[str, harness.Score]
) -> None:
    figures = scores[side].figures()
    fallen = {k: (figures[k], floor) for k, floor in FLOORS[side].items() if figures[k] < floor}
    risen = {k: (figures[k], cap) for k, cap in CEILINGS[side].items() if figures[k] > cap}
    assert not fallen, f"{side}: below the floor (measured, floor): {fallen}"
    assert not risen, f"{side}: above the ceiling (measured, ceiling): {risen}"


@pytest.mark.parametrize("side", ["dev", "test"])
def test_the_verdict_does_not_depend_on_the_order_answers_arrived(
    side: str, catalogue: Catalogue
) -> None:
    """Two scans of the same device, answers heard in another order: the same verdict."""
    policy = harness.us_policy()
    shuffler = random.Random(20261202)
    changed = 0
    for item in harness.load_set(side):
        first = identify(replay(item.answers).host, catalogue, policy)
        for _ in range(3):
            answers = list(item.answers)
            shuffler.shuffle(answers)
            host = replay(answers).host
            observations = list(host.observations)
            shuffler.shuffle(observations)
            host = type(host)(host.ip, host.mac, host.open_ports, tuple(observations))
            again = identify(host, catalogue, policy)
            if again != first:
                changed += 1
                break
    assert changed == 0, f"{side}: {changed} items judged differently when answers came reordered"
