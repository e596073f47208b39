"""Train intake's category model and write ``config/son-la/classifier/model.npz``.

    uv run python scripts/make_classifier_corpus.py   # the corpus (seeded, same files)
    uv run python scripts/train_classifier.py         # the model, then the test figures

What it does:

1. Fits a multinomial logistic regression (scikit-learn, a development dependency: the
   service scores with numpy, :mod:`intake.domain.category_model`) on TF-IDF weighted
   features of the *train* split, plus each keyword of ``city.yaml`` (weight >= 0.5) as a
   short document of its category: the rules' vocabulary is prior knowledge the few
   hundred training reports cannot all show.
2. Chooses, on the *dev* split only, the feature set, the regularisation ``C``, the
   keyword share ``keyword_weight`` (α) and ``keyword_certain`` by the macro-F1 of the
   combined classifier (:func:`intake.domain.classify.classify` with the candidate
   model, exactly as intake runs it), then ``min_confidence``: the highest threshold
   that sends at most ``--dev-triage`` (10 %) of dev to triage.
3. Checks that numpy's probabilities (float16 weights as shipped) agree with
   scikit-learn's on every train and dev report, and writes the file.
4. Prints the figures on the *test* split, which played no part in any choice above.
   Those are the figures ``docs/classification.md`` documents and
   ``services/intake/tests/domain/test_intake_classifier.py`` holds.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake.adapters.category_model import dump_category_model, load_category_model  # noqa: E402
from intake.config import UNCLASSIFIED, CityConfig, load_city_config, words_of  # noqa: E402
from intake.domain.category_model import CategoryModel, FeatureSpec, features  # noqa: E402
from intake.domain.text import fold  # noqa: E402

from bench.classification import (  # noqa: E402
    CITY,
    MODEL,
    Row,
    evaluate,
    load_split,
    report,
)

SPECS = [FeatureSpec(2, 5, 2), FeatureSpec(1, 4, 2), FeatureSpec(3, 5, 2)]
CS = [30.0, 100.0]
KEYWORD_WEIGHTS = [0.3, 0.5, 0.7]
KEYWORD_CERTAIN = [0.6, 0.8, 1.01]  # 1.01: the rules never decide alone
THRESHOLDS = [round(0.20 + 0.01 * n, 2) for n in range(41)]


def keyword_documents(config: CityConfig) -> list[tuple[str, str]]:
    """Each keyword of weight >= 0.5, folded, as a document of its category."""
    return [
        (fold(phrase), category.code)
        for category in config.categories
        if category.code != UNCLASSIFIED
        for phrase, weight in category.keywords.items()
        if weight >= 0.5
    ]


def fit(
    config: CityConfig, train: list[Row], spec: FeatureSpec, c: float
) -> tuple[TfidfVectorizer, LogisticRegression, CategoryModel]:
    """The fitted vectorizer and regression, and the model intake scores with (thresholds
    left neutral: the caller sets them)."""
    texts = [words_of(config, row.text).key for row in train]
    labels = [row.category for row in train]
    for text, label in keyword_documents(config):
        texts.append(text)
        labels.append(label)
    vectorizer = TfidfVectorizer(
        analyzer=lambda text: features(text, spec), sublinear_tf=True, dtype=np.float64
    )
    matrix = vectorizer.fit_transform(texts)
    regression = LogisticRegression(C=c, max_iter=5000, random_state=0).fit(matrix, labels)
    vocabulary = {str(feature): int(row) for feature, row in vectorizer.vocabulary_.items()}
    weights = regression.coef_.T.astype(np.float16).astype(np.float32)  # as shipped
    model = CategoryModel(
        categories=tuple(str(code) for code in regression.classes_),
        spec=spec,
        vocabulary=vocabulary,
        idf=vectorizer.idf_.astype(np.float32),
        weights=weights,
        bias=regression.intercept_.astype(np.float32),
        min_confidence=0.0,
        keyword_certain=1.01,
        keyword_weight=0.0,
    )
    return vectorizer, regression, model


def agree(
    config: CityConfig,
    rows: list[Row],
    vectorizer: TfidfVectorizer,
    regression: LogisticRegression,
    model: CategoryModel,
) -> float:
    """The largest difference between scikit-learn's and numpy's probabilities."""
    texts = [words_of(config, row.text).key for row in rows]
    expected = regression.predict_proba(vectorizer.transform(texts))
    worst = 0.0
    for text, row in zip(texts, expected, strict=True):
        got = model.probabilities(text)
        worst = max(
            worst,
            *(abs(got[str(code)] - p) for code, p in zip(regression.classes_, row, strict=True)),
        )
    return worst


def with_thresholds(model: CategoryModel, **changes: float) -> CategoryModel:
    values = {
        "min_confidence": model.min_confidence,
        "keyword_certain": model.keyword_certain,
        "keyword_weight": model.keyword_weight,
    } | changes
    return CategoryModel(
        categories=model.categories,
        spec=model.spec,
        vocabulary=model.vocabulary,
        idf=model.idf,
        weights=model.weights,
        bias=model.bias,
        **values,
    )


def triage_threshold(
    config: CityConfig, dev: list[Row], model: CategoryModel, budget: float
) -> float:
    """The highest threshold that sends at most ``budget`` of dev to triage."""
    chosen = THRESHOLDS[0]
    for threshold in THRESHOLDS:
        if (
            evaluate(config, dev, with_thresholds(model, min_confidence=threshold)).triage_rate
            <= budget
        ):
            chosen = threshold
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev-triage", type=float, default=0.10, help="triage budget on dev")
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args(argv)
    config = load_city_config(CITY)
    train, dev, test = load_split("train"), load_split("dev"), load_split("test")

    best: (
        tuple[float, CategoryModel, TfidfVectorizer, LogisticRegression, dict[str, float]] | None
    ) = None
    for spec, c in itertools.product(SPECS, CS):
        vectorizer, regression, base = fit(config, train, spec, c)
        for weight, certain in itertools.product(KEYWORD_WEIGHTS, KEYWORD_CERTAIN):
            candidate = with_thresholds(base, keyword_weight=weight, keyword_certain=certain)
            score = evaluate(config, dev, candidate).macro_f1
            choice = {
                "char_min": spec.char_min,
                "char_max": spec.char_max,
                "word_max": spec.word_max,
                "C": c,
                "keyword_weight": weight,
                "keyword_certain": certain,
            }
            print(f"dev macro-F1 {score:.4f} {choice}")
            if best is None or score > best[0]:
                best = (score, candidate, vectorizer, regression, choice)
    assert best is not None
    score, model, vectorizer, regression, choice = best
    threshold = triage_threshold(config, dev, model, args.dev_triage)
    model = with_thresholds(model, min_confidence=threshold)
    drift = agree(config, train + dev, vectorizer, regression, model)
    if drift > 0.02:
        raise SystemExit(f"numpy's probabilities differ from scikit-learn's by {drift:.4f}")
    dev_figures = evaluate(config, dev, model)
    about = {
        "trained_on": f"{len(train)} train reports + {len(keyword_documents(config))} keywords",
        "chosen_on": f"{len(dev)} dev reports",
        "choice": choice | {"min_confidence": threshold},
        "dev_macro_f1": round(dev_figures.macro_f1, 4),
        "dev_triage_rate": round(dev_figures.triage_rate, 4),
        "max_probability_drift": round(drift, 5),
    }
    dump_category_model(model, args.out, about)
    print(f"\nchosen on dev: {about['choice']}; numpy vs scikit-learn: {drift:.5f}")
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, "
        f"{len(model.vocabulary)} features)\n"
    )
    print(report("dev, keyword rules + model", dev_figures), end="\n\n")
    shipped = load_category_model(args.out, config)
    print(report("test, keyword rules alone", evaluate(config, test, None)), end="\n\n")
    print(report("test, keyword rules + model", evaluate(config, test, shipped)))


if __name__ == "__main__":
    main()
