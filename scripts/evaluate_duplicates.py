"""Choose the near-duplicate thresholds on the dev pairs and measure them on the test pairs.

    uv run python scripts/evaluate_duplicates.py            # figures with city.yaml's thresholds
    uv run python scripts/evaluate_duplicates.py --choose   # the thresholds dev suggests

Each pair is scored as intake scores a new report against an earlier one of its ward
(``intake.domain.dedupe.match_score``: 4-gram cosine, named places, the categories intake's
classifier gives both texts). ``--choose`` searches the thresholds that give the highest
recall on ``dev`` with precision >= 0.97 there; ``test`` is only ever measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services/intake/src"))

from intake.config import CityConfig, load_city_config  # noqa: E402
from intake.domain.classify import classify  # noqa: E402
from intake.domain.dedupe import (  # noqa: E402
    EarlierReport,
    Thresholds,
    fingerprint,
    match_score,
    place_anchors,
)
from intake.domain.text import fold  # noqa: E402

PAIRS = ROOT / "services/intake/tests/domain/data/duplicate_pairs"
TARGET_PRECISION = 0.97


@dataclass(frozen=True)
class Figures:
    precision: float
    recall: float
    pairs: int
    duplicates: int
    errors: Counter[str]


def load(split: str) -> list[dict[str, object]]:
    lines = (PAIRS / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


_FACTS: dict[str, tuple[str, frozenset[int], frozenset[int]]] = {}


def _facts(config: CityConfig, text: str) -> tuple[str, frozenset[int], frozenset[int]]:
    """What intake keeps of a text to compare it: its category, 4-grams and places."""
    if text not in _FACTS:
        category = classify(config, text).category
        _FACTS[text] = category, fingerprint(fold(text)), place_anchors(text)
    return _FACTS[text]


def linked(config: CityConfig, pair: dict[str, object], thresholds: Thresholds) -> bool:
    """Whether intake links the second text of the pair to the first."""
    category, hashes, places = _facts(config, str(pair["a"]))
    earlier = EarlierReport(
        report_id="a",
        ward_code="w",
        category=category,
        fingerprint=hashes,
        received_at=None,  # type: ignore[arg-type]  # not used by match_score
        anchors=places,
    )
    mine, my_hashes, my_places = _facts(config, str(pair["b"]))
    return match_score(my_hashes, my_places, mine, earlier, thresholds) is not None


def measure(config: CityConfig, rows: list[dict[str, object]], thresholds: Thresholds) -> Figures:
    tp = fp = fn = 0
    errors: Counter[str] = Counter()
    for row in rows:
        found, wanted = linked(config, row, thresholds), bool(row["duplicate"])
        if found and wanted:
            tp += 1
        elif found:
            fp += 1
            errors[f"wrongly linked: {row['kind']}"] += 1
        elif wanted:
            fn += 1
            errors[f"missed: {row['kind']}"] += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    return Figures(precision, tp / (tp + fn), len(rows), tp + fn, errors)


def choose(config: CityConfig, dev: list[dict[str, object]]) -> Thresholds:
    grid = [step / 100 for step in range(2, 101, 2)]
    best: tuple[float, Thresholds] | None = None
    for same in grid:
        for other in (g for g in grid if g >= same):
            thresholds = Thresholds(same, other, config.dedupe.min_similarity)
            figures = measure(config, dev, thresholds)
            if figures.precision >= TARGET_PRECISION and (best is None or figures.recall > best[0]):
                best = (figures.recall, thresholds)
    if best is None:
        raise SystemExit(f"no thresholds reach precision {TARGET_PRECISION} on dev")
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--choose", action="store_true", help="search thresholds on dev")
    args = parser.parse_args()
    config = load_city_config(ROOT / "config/son-la/city.yaml")
    thresholds = config.dedupe.thresholds()
    if args.choose:
        thresholds = choose(config, load("dev"))
        print(f"chosen on dev: {thresholds}")
    for split in ("dev", "test"):
        figures = measure(config, load(split), thresholds)
        print(
            f"{split}: {figures.pairs} pairs ({figures.duplicates} duplicates): precision "
            f"{figures.precision:.3f}, recall {figures.recall:.3f}; {dict(figures.errors)}"
        )


if __name__ == "__main__":
    main()
