"""Replay the corpus of published device answers and score the verdicts (no network).

Each item's raw answers go through ``cctv_sentinel.discovery.replay`` (the scan's
own parsers and field-building functions) into one host, and that host through
``identify`` under the US regimes, the way ``scan`` and ``classify`` judge a
host. Scores are aggregates; nothing here prints an item's contents, so the
test set can be scored without being read (tests/corpus/README.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cctv_sentinel.discovery.replay import Answer, replay
from cctv_sentinel.identify import Catalogue, Policy, identify
from cctv_sentinel.identify.other import other_device
from cctv_sentinel.model import Assessment, Attribution, Host, Risk

CORPUS_DIR: Final = Path(__file__).resolve().parent
ITEMS_DIR: Final = CORPUS_DIR / "items"
SPLIT_FILE: Final = CORPUS_DIR / "split.json"

US_REGIMES: Final = frozenset({"us-fcc-covered-list", "us-ndaa-889", "us-entity-list"})
"""The regimes the scores are judged under (the same as bench/bench_accuracy.py)."""

RESTRICTED_MAKERS: Final = frozenset({"hikvision", "dahua", "hytera", "huawei", "zte", "tiandy"})
"""Makers the US regimes name (normalised), which is what "restricted" means in the truth.

FCC Covered List (https://www.fcc.gov/supplychain/coveredlist) and NDAA FY2019
s.889(f)(3): Huawei, ZTE, Hytera, Hikvision, Dahua; Entity List (15 CFR 744
Supp. 4, 84 FR 54002, 2019-10-09): Hikvision, Dahua; Tiandy (87 FR 77505, 2022-12-19).
"""

CAMERA_KINDS: Final = frozenset({"camera", "recorder", "door-station", "encoder", "thermal-camera"})
NOT_CAMERA_KINDS: Final = frozenset({"non-camera", "other-restricted"})


def norm(text: str | None) -> str:
    """Lower-case letters and digits only (how names and models are compared)."""
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def maker_key(name: str | None) -> str:
    """A maker's name without its parenthesised legal name: 'DoorBird (Bird ...)' -> 'doorbird'."""
    return norm((name or "").split("(", 1)[0])


def names_match(said: str | None, truth: str | None) -> bool:
    """One name contains the other ('Ubiquiti' for 'Ubiquiti UniFi'), ignoring case and signs."""
    a, b = norm(said), norm(truth)
    return bool(a and b) and (a in b or b in a)


@dataclass(frozen=True, slots=True)
class Item:
    """One corpus item: its truth and answers (kept in memory, never printed)."""

    id: str
    truth: dict[str, Any]
    answers: tuple[Answer, ...]
    raw_text: str
    """Every answer's bytes as text, to tell whether the model is exposed at all."""


@dataclass(frozen=True, slots=True)
class Verdict:
    item: Item
    host: Host
    attribution: Attribution
    assessment: Assessment
    skipped: tuple[str, ...]
    catalogue: Catalogue
    policy: Policy


def load_item(directory: Path) -> Item:
    """Read one item directory (item.json and its answer files)."""
    meta = json.loads((directory / "item.json").read_text(encoding="utf-8"))
    answers: list[Answer] = []
    texts: list[str] = []
    for raw in meta["answers"]:
        data = b""
        if raw.get("file"):
            data = (directory / raw["file"]).read_bytes()
            texts.append(data.decode("latin-1"))
        answers.append(
            Answer(
                kind=raw["kind"],
                data=data,
                port=raw.get("port"),
                path=raw.get("path"),
                tls=bool(raw.get("tls", False)),
                field=raw.get("field"),
                value=raw.get("value"),
                name=raw.get("file") or "",
            )
        )
    return Item(meta["id"], meta["truth"], tuple(answers), "\n".join(texts))


def split() -> dict[str, list[str]]:
    """The fixed development and test ids."""
    doc = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))
    return {"dev": list(doc["dev"]), "test": list(doc["test"])}


def load_set(name: str) -> list[Item]:
    """The items of one side of the split ("dev" or "test"), in split order."""
    return [load_item(ITEMS_DIR / item_id) for item_id in split()[name]]


def judge(item: Item, catalogue: Catalogue, policy: Policy) -> Verdict:
    """Replay one item and judge its host the way a scan does."""
    replayed = replay(item.answers)
    attribution, assessment = identify(replayed.host, catalogue, policy)
    return Verdict(
        item, replayed.host, attribution, assessment, replayed.skipped, catalogue, policy
    )


def us_policy() -> Policy:
    return Policy(enabled_regimes=US_REGIMES)


def _model_exposed(item: Item) -> bool:
    model = norm(item.truth.get("model"))
    return len(model) >= 3 and model in norm(item.raw_text)


def _model_right(said: str | None, truth: str | None) -> bool:
    a, b = norm(said), norm(truth)
    return len(a) >= 3 and bool(b) and (a in b or b in a)


@dataclass
class Score:
    """Counts for one set; each figure is (right, out of)."""

    items: int = 0
    cameras: int = 0
    recognised: int = 0
    non_cameras: int = 0
    non_camera_as_camera: int = 0
    maker_known: int = 0
    maker_right: int = 0
    label_known: int = 0
    label_right: int = 0
    model_exposed: int = 0
    model_right: int = 0
    restricted: int = 0
    restricted_flagged: int = 0
    false_restricted: int = 0
    other_restricted: int = 0
    other_restricted_reported: int = 0
    skipped_answers: int = 0
    crashes: int = 0
    misses: dict[str, list[str]] = field(default_factory=dict)
    """Ids per failure class, only ever shown for the development set."""

    def miss(self, what: str, item_id: str) -> None:
        self.misses.setdefault(what, []).append(item_id)

    def figures(self) -> dict[str, Any]:
        """The aggregate figures (no ids)."""
        return {k: v for k, v in self.__dict__.items() if k != "misses"}


def is_restricted(risk: Risk) -> bool:
    return risk is Risk.RESTRICTED


def score(verdicts: Iterable[Verdict]) -> Score:
    """Aggregate scores over judged items."""
    out = Score()
    for v in verdicts:
        truth, attribution = v.item.truth, v.attribution
        kind = truth.get("kind")
        out.items += 1
        out.skipped_answers += len(v.skipped)
        maker_is_restricted = maker_key(truth.get("maker")) in RESTRICTED_MAKERS
        flagged = attribution.is_camera and is_restricted(v.assessment.risk)
        if kind in NOT_CAMERA_KINDS or kind is None:
            if kind is not None:
                out.non_cameras += 1
                if attribution.is_camera:
                    out.non_camera_as_camera += 1
                    out.miss("non-camera as camera", v.item.id)
            if kind == "other-restricted" and maker_is_restricted:
                out.other_restricted += 1
                if _reported_other(v):
                    out.other_restricted_reported += 1
                else:
                    out.miss("other restricted not reported", v.item.id)
            if flagged and kind is not None:
                out.false_restricted += 1
                out.miss("false restricted", v.item.id)
            continue
        if kind not in CAMERA_KINDS:
            continue
        out.cameras += 1
        if attribution.is_camera:
            out.recognised += 1
        else:
            out.miss("camera not recognised", v.item.id)
        if truth.get("maker"):
            out.maker_known += 1
            if attribution.is_camera and names_match(
                maker_key(attribution.manufacturer), maker_key(truth["maker"])
            ):
                out.maker_right += 1
            else:
                out.miss("maker", v.item.id)
        if truth.get("brand"):
            out.label_known += 1
            if attribution.is_camera and names_match(attribution.brand, truth["brand"]):
                out.label_right += 1
            else:
                out.miss("label", v.item.id)
        if _model_exposed(v.item):
            out.model_exposed += 1
            if attribution.is_camera and _model_right(attribution.model, truth.get("model")):
                out.model_right += 1
            else:
                out.miss("model", v.item.id)
        if maker_is_restricted:
            out.restricted += 1
            if flagged:
                out.restricted_flagged += 1
            else:
                out.miss("restricted not flagged", v.item.id)
        elif flagged and truth.get("maker"):
            # A camera whose source names no maker cannot be called wrongly restricted.
            out.false_restricted += 1
            out.miss("false restricted", v.item.id)
    return out


def _reported_other(v: Verdict) -> bool:
    """Restricted equipment that is not a camera, reported apart (see identify.other)."""
    return other_device(v.host, v.attribution, v.catalogue, v.policy) is not None


def score_set(name: str, catalogue: Catalogue, policy: Policy | None = None) -> Score:
    """Replay and score one side of the split."""
    chosen = policy or us_policy()
    return score(judge(item, catalogue, chosen) for item in load_set(name))


def pct(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.0%})" if total else "n/a"


ROWS: Final[Sequence[tuple[str, str, str]]] = (
    ("cameras recognised", "recognised", "cameras"),
    ("non-cameras called cameras", "non_camera_as_camera", "non_cameras"),
    ("maker right", "maker_right", "maker_known"),
    ("label right", "label_right", "label_known"),
    ("model right (where exposed)", "model_right", "model_exposed"),
    ("restricted flagged", "restricted_flagged", "restricted"),
    ("other restricted reported", "other_restricted_reported", "other_restricted"),
)
