"""Attribution accuracy on published device answers: the corpus's development and test sets.

Replays every item of tests/corpus (raw answers through the scan's own parsers,
then ``identify`` under the US regimes; no network, no root) and prints, per
set, the figures docs/accuracy.md reports:

  cameras recognised          camera-class items judged cameras / camera-class items
  non-cameras called cameras  non-camera items judged cameras / non-camera items
  maker right                 cameras whose maker is named right / cameras with a stated maker
  label right                 cameras whose label (brand) is right / cameras with a stated label
  model right                 cameras whose model is right / cameras whose answers carry the model
  restricted flagged          cameras of a US-listed maker judged restricted / such cameras
  false restricted            items judged restricted cameras that are not (stated makers only)
  other restricted reported   restricted non-camera equipment reported apart / such items

Only aggregates are printed: the test set is scored, never shown
(tests/corpus/README.md). ``--misses`` lists failing ids for the development set only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cctv_sentinel.identify import load_catalogue
from tests.corpus import harness


def table(scores: dict[str, harness.Score]) -> str:
    names = list(scores)
    lines = ["| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, right, total in harness.ROWS:
        cells = [harness.pct(getattr(s, right), getattr(s, total)) for s in scores.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(
        "| false restricted | "
        + " | ".join(str(s.false_restricted) for s in scores.values())
        + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--misses", action="store_true", help="list failing ids (development set only)"
    )
    args = parser.parse_args(argv)
    catalogue = load_catalogue()
    start = time.perf_counter()
    scores = {name: harness.score_set(name, catalogue) for name in ("dev", "test")}
    seconds = time.perf_counter() - start
    result = {
        "catalogue_version": catalogue.version,
        "seconds": round(seconds, 3),
        **{name: s.figures() for name, s in scores.items()},
    }
    print(json.dumps(result, indent=2))
    print()
    print(table(scores))
    if args.misses:
        for what, ids in sorted(scores["dev"].misses.items()):
            print(f"\ndev, {what}: " + ", ".join(ids), file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
