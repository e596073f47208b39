"""Classification: keyword rules, confidence, hints and accuracy on labelled reports."""

import json
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from intake.config import load_city_config
from intake.domain.classify import classify

pytestmark = pytest.mark.unit

CONFIG = load_city_config(Path(__file__).resolve().parents[4] / "config/son-la/city.yaml")
LABELLED = Path(__file__).resolve().parent / "data/labelled_reports.jsonl"
GOLDEN = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc"


def test_golden_path_is_urban_order() -> None:
    result = classify(CONFIG, GOLDEN)

    assert result.category == "urban_order"
    assert result.confidence >= CONFIG.classification.min_confidence
    assert not result.needs_triage


def test_teencode_and_missing_diacritics() -> None:
    result = classify(CONFIG, "nha e bi mat dien tu sang ma ko dc thong bao j")

    assert result.category == "electricity"
    assert not result.needs_triage


def test_old_tone_marks_and_nfd_classify_alike() -> None:
    modern = classify(CONFIG, "Hóa đơn tiền điện tính sai chỉ số")
    old = classify(CONFIG, "Hoá đơn tiền điện tính sai chỉ số")
    nfd = classify(CONFIG, unicodedata.normalize("NFD", "Hóa đơn tiền điện tính sai chỉ số"))

    assert modern == old == nfd
    assert modern.category == "electricity"


def test_citizen_choice_wins_with_full_confidence() -> None:
    result = classify(CONFIG, GOLDEN, category_hint="environmental_sanitation")

    assert result.category == "environmental_sanitation"
    assert result.confidence == 1.0
    assert not result.needs_triage
    assert result.scores["urban_order"] > 0


@pytest.mark.parametrize("hint", ["no_such_category", "unclassified", ""])
def test_unknown_or_empty_hint_is_ignored(hint: str) -> None:
    assert classify(CONFIG, GOLDEN, category_hint=hint).category == "urban_order"


def test_nothing_matched_is_unclassified() -> None:
    result = classify(CONFIG, "Xin chào, chúc mọi người một ngày vui vẻ")

    assert result.category == "unclassified"
    assert result.confidence == 0.0
    assert result.needs_triage
    assert result.scores == {}


def test_weak_evidence_keeps_the_best_category_but_needs_triage() -> None:
    result = classify(CONFIG, "Có chuyện về con đường này")

    assert result.category == "roads_infrastructure"
    assert 0 < result.confidence < CONFIG.classification.min_confidence
    assert result.needs_triage


def test_confidence_follows_the_documented_formula() -> None:
    result = classify(CONFIG, "Xe tải chở quá tải làm rác rơi ra đường")
    (best, s1), (_, s2) = sorted(result.scores.items(), key=lambda item: -item[1])[:2]
    half = CONFIG.classification.evidence_half

    assert result.category == best
    assert result.confidence == pytest.approx(s1 / (s1 + s2) * s1 / (s1 + half), abs=1e-4)


def test_accuracy_on_labelled_reports() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    per_category = Counter(row["category"] for row in rows)
    misses = Counter(
        row["category"] for row in rows if classify(CONFIG, row["text"]).category != row["category"]
    )

    accuracy = 1 - sum(misses.values()) / len(rows)

    assert len(rows) >= 120
    assert min(per_category.values()) >= 8
    assert set(per_category) == {category.code for category in CONFIG.categories}
    assert accuracy >= 0.95, misses
    assert all(misses[code] / count <= 0.2 for code, count in per_category.items()), misses
