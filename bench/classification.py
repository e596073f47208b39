"""How well intake classifies reports, what it costs, and what the model weighs in memory.

    uv run python -m bench.classification              # figures on the test split
    uv run python -m bench.classification --split dev  # or dev, train

For the keyword rules alone and for the rules with the trained model
(``config/son-la/classifier/model.npz``), on one split of the labelled corpus
(``config/son-la/classifier/corpus``): macro-F1, accuracy, triage rate, accuracy of the
reports that skip triage, precision and recall per category; then the CPU cost of one
classification (timeit over the split's texts, best of 5) and the resident memory of a
process that imports intake's service code, loads the city configuration and classifies
the split, without and with the model. Ratios are with over without, measured in the same
run on the same machine.

:func:`evaluate` is also what ``services/intake/tests/domain/test_intake_classifier.py``
checks the documented figures with.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import timeit
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from intake.adapters.category_model import load_category_model
from intake.config import UNCLASSIFIED, CityConfig, load_city_config
from intake.domain.category_model import CategoryModel
from intake.domain.classify import classify

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "config/son-la/city.yaml"
CORPUS = ROOT / "config/son-la/classifier/corpus"
MODEL = ROOT / "config/son-la/classifier/model.npz"


@dataclass(frozen=True)
class Row:
    """One labelled report of the corpus."""

    id: str
    category: str
    text: str
    form: str
    length: str


def load_split(name: str, corpus: Path = CORPUS) -> list[Row]:
    """The labelled reports of one split (train, dev or test)."""
    rows = []
    for line in (corpus / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append(Row(data["id"], data["category"], data["text"], data["form"], data["length"]))
    return rows


@dataclass(frozen=True)
class PerCategory:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Figures:
    """How a classifier did on a set of labelled reports."""

    reports: int
    macro_f1: float
    """Mean F1 over the taxonomy's categories (``unclassified`` counts as a miss)."""
    accuracy: float
    triage_rate: float
    """Share of reports sent to the triage desk (``needs_triage``)."""
    accuracy_untriaged: float
    """Accuracy over the reports that skip triage: what reaches an agency unchecked."""
    per_category: dict[str, PerCategory]


def figures(labels: Sequence[str], predicted: Sequence[str], triaged: Sequence[bool]) -> Figures:
    """Figures of predictions against labels (categories: those of the labels)."""
    codes = sorted(set(labels))
    hits = Counter(label for label, guess in zip(labels, predicted, strict=True) if label == guess)
    guessed = Counter(predicted)
    support = Counter(labels)
    per: dict[str, PerCategory] = {}
    for code in codes:
        precision = hits[code] / guessed[code] if guessed[code] else 0.0
        recall = hits[code] / support[code]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[code] = PerCategory(precision, recall, f1, support[code])
    kept = [
        (label, guess) for label, guess, t in zip(labels, predicted, triaged, strict=True) if not t
    ]
    return Figures(
        reports=len(labels),
        macro_f1=sum(p.f1 for p in per.values()) / len(per),
        accuracy=sum(hits.values()) / len(labels),
        triage_rate=sum(triaged) / len(labels),
        accuracy_untriaged=(
            sum(label == guess for label, guess in kept) / len(kept) if kept else 0.0
        ),
        per_category=per,
    )


def evaluate(config: CityConfig, rows: Sequence[Row], model: CategoryModel | None) -> Figures:
    """Classify every row as intake does (no category chosen by the citizen)."""
    results = [classify(config, row.text, model=model) for row in rows]
    return figures(
        [row.category for row in rows],
        [result.category for result in results],
        [result.needs_triage for result in results],
    )


def cost_us(config: CityConfig, texts: Sequence[str], model: CategoryModel | None) -> float:
    """CPU microseconds of one classification, best of 5 passes over ``texts``.

    Each text is made unique so that the per-text cache of the folded words
    (:func:`intake.config.words_of`) does not hide the folding a new report costs.
    """
    unique = [f"{text} #{n}" for n, text in enumerate(texts)]

    def one_pass() -> None:
        for text in unique:
            classify(config, text, model=model)

    one_pass()  # warm: indexes built, modules loaded
    best = min(timeit.repeat(one_pass, number=1, repeat=5))
    return best / len(texts) * 1e6


_RSS_PROBE = """
import sys
from pathlib import Path
import intake.app  # everything the service imports
from intake.adapters.category_model import load_category_model
from intake.config import load_city_config
from intake.domain.classify import classify
config = load_city_config(Path(sys.argv[1]))
model = load_category_model(Path(sys.argv[2]), config) if sys.argv[2] != "-" else None
for line in Path(sys.argv[3]).read_text(encoding="utf-8").splitlines():
    classify(config, line, model=model)
status = Path("/proc/self/status").read_text()
print(next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:")))
"""


def rss_kib(model: Path | None, split: str) -> int:
    """Resident memory (KiB) of a fresh process that imports intake's service code, loads
    the configuration (and the model) and classifies the split."""
    texts = "\n".join(row.text for row in load_split(split))
    scratch = ROOT / "data" / f"classification-{split}.txt"
    scratch.parent.mkdir(exist_ok=True)
    scratch.write_text(texts, encoding="utf-8")
    try:
        out = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE, str(CITY), str(model or "-"), str(scratch)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        scratch.unlink(missing_ok=True)
    return int(out.strip().splitlines()[-1])


def report(name: str, result: Figures) -> str:
    """The figures as a Markdown block."""
    lines = [
        f"{name}: {result.reports} reports, macro-F1 {result.macro_f1:.3f}, accuracy "
        f"{result.accuracy:.3f}, triage {result.triage_rate:.1%}, accuracy without triage "
        f"{result.accuracy_untriaged:.3f}",
        "",
        "| category | precision | recall | F1 | reports |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for code, per in result.per_category.items():
        lines.append(
            f"| {code} | {per.precision:.2f} | {per.recall:.2f} | {per.f1:.2f} | {per.support} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--no-memory", action="store_true", help="skip the RSS probes")
    args = parser.parse_args(argv)
    config = load_city_config(CITY)
    model = load_category_model(MODEL, config)
    rows = load_split(args.split)
    keywords = evaluate(config, rows, None)
    combined = evaluate(config, rows, model)
    print(report("keyword rules alone", keywords), end="\n\n")
    print(report("keyword rules + model", combined), end="\n\n")
    unclassified = sum(classify(config, r.text, model=model).category == UNCLASSIFIED for r in rows)
    print(f"unclassified with the model: {unclassified}")
    texts = [row.text for row in rows]
    before, after = cost_us(config, texts, None), cost_us(config, texts, model)
    print(
        f"cost per report: keywords {before:.0f} µs, with the model {after:.0f} µs "
        f"(x{after / before:.2f})"
    )
    if not args.no_memory:
        without, with_model = rss_kib(None, args.split), rss_kib(MODEL, args.split)
        print(
            f"RSS: without the model {without / 1024:.1f} MiB, with it "
            f"{with_model / 1024:.1f} MiB (x{with_model / without:.3f}, "
            f"+{(with_model - without) / 1024:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
