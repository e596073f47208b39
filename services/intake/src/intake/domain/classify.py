"""Which category of the city's taxonomy a report belongs to, and how sure that is.

A category the citizen picked (app category, Open311 ``service_code``) wins with
confidence 1.0. Otherwise keyword rules from the configuration decide: each keyword
found in the text (folded, teencode expanded, on word boundaries, see
:class:`~intake.config.Words`) adds ``weight × number of words`` to its category, so
"lấn chiếm vỉa hè" (4 words) outweighs "vỉa hè" (2). With ``s1`` and ``s2`` the best and
second-best scores and ``h`` the configured ``evidence_half``::

    confidence = s1 / (s1 + s2)  ×  s1 / (s1 + h)

The first factor is the margin (1 when no other category scored, 0.5 for a tie), the
second the amount of evidence (0.5 for a score of ``h``, towards 1 for many keywords).
Below ``min_confidence`` the report keeps the best category but needs triage; with no
keyword at all it is ``unclassified`` with confidence 0.

With a trained :class:`~intake.domain.category_model.CategoryModel` (the city's
``classification.model``), the keyword rules and the model decide together. With ``p``
the model's probabilities and ``k`` the keyword evidence of each category,
``k(c) = s(c) / (Σ s + h)``, the combined confidence of a category is::

    q(c) = (1 - α) × p(c)  +  α × k(c)            (α: the model's keyword_weight)

Where the rules are certain (keyword confidence at least the model's
``keyword_certain``) and the model's best category is theirs, the rules' category stands
with the higher of the two confidences. Otherwise the category with the highest ``q``
wins with confidence ``q``. Below the model's ``min_confidence`` the report needs triage,
and with no keyword either it is ``unclassified`` (confidence 0). Both thresholds and
``α`` are chosen on the corpus's dev split by ``scripts/train_classifier.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from intake.config import UNCLASSIFIED, CityConfig, Words, derived, words_of
from intake.domain.category_model import CategoryModel


@dataclass(frozen=True)
class Classification:
    """The category of a report and the evidence for it."""

    category: str
    """A category code of the taxonomy (``unclassified`` when nothing matched)."""
    confidence: float
    """0..1: 1.0 for a category the citizen chose, 0 for unclassified."""
    needs_triage: bool
    """A person must check the category before routing trusts it."""
    scores: Mapping[str, float]
    """Keyword score per category that matched at least one keyword."""


@dataclass(frozen=True)
class _Keyword:
    category: int
    """The category's place in the taxonomy (ties go to the earlier one)."""
    order: int
    """The keyword's place in its category (scores add up in this order)."""
    phrase: Words
    points: float


@dataclass(frozen=True)
class _Rules:
    codes: tuple[str, ...]
    by_first_word: Mapping[str, tuple[_Keyword, ...]]
    """Each keyword under its first folded word: a text is only checked for the keywords
    whose first word it contains, not for every keyword of the taxonomy."""


def _rules(config: CityConfig) -> _Rules:
    index: dict[str, list[_Keyword]] = {}
    for number, category in enumerate(config.categories):
        for order, (keyword, weight) in enumerate(category.keywords.items()):
            phrase = Words.of(keyword)
            if phrase.folded:
                entry = _Keyword(number, order, phrase, weight * len(phrase.folded))
                index.setdefault(phrase.folded[0], []).append(entry)
    return _Rules(
        tuple(category.code for category in config.categories),
        {word: tuple(entries) for word, entries in index.items()},
    )


def classify(
    config: CityConfig,
    text: str,
    category_hint: str | None = None,
    model: CategoryModel | None = None,
) -> Classification:
    """The category of ``text`` (see the module docstring for the rules); keyword rules
    alone without ``model``."""
    words = words_of(config, text)
    rules = derived(config, _rules)
    found = sorted(
        (keyword.category, keyword.order, keyword.points)
        for word in words.vocabulary
        for keyword in rules.by_first_word.get(word, ())
        if words.has(keyword.phrase)
    )
    scores: dict[str, float] = {}
    for category, _, points in found:  # taxonomy order, then keyword order
        code = rules.codes[category]
        scores[code] = scores.get(code, 0) + points
    scores = {code: score for code, score in scores.items() if score > 0}
    frozen = MappingProxyType(scores)
    hint = (category_hint or "").strip().lower()
    if hint != UNCLASSIFIED and config.category(hint) is not None:
        return Classification(hint, 1.0, needs_triage=False, scores=frozen)
    if model is not None:
        return _combined(config, model, words, frozen)
    if not scores:
        return Classification(UNCLASSIFIED, 0.0, needs_triage=True, scores=frozen)
    best, confidence = _keyword_confidence(config, scores)
    return Classification(
        best,
        confidence,
        needs_triage=confidence < config.classification.min_confidence,
        scores=frozen,
    )


def _keyword_confidence(config: CityConfig, scores: Mapping[str, float]) -> tuple[str, float]:
    """The keyword rules' best category and confidence (the formula of the module docstring)."""
    if not scores:
        return UNCLASSIFIED, 0.0
    ranked = sorted(scores.items(), key=lambda item: -item[1])  # stable: taxonomy order
    best, first = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    evidence = first / (first + config.classification.evidence_half)
    return best, round(first / (first + second) * evidence, 4)


def _combined(
    config: CityConfig, model: CategoryModel, words: Words, scores: Mapping[str, float]
) -> Classification:
    probabilities = model.probabilities(words.key)
    total = sum(scores.values()) + config.classification.evidence_half
    weight = model.keyword_weight
    combined = {
        code: (1 - weight) * p + weight * scores.get(code, 0.0) / total
        for code, p in probabilities.items()
    }
    best = max(combined, key=lambda code: combined[code])  # ties: the model's order
    confidence = combined[best]
    rules, rules_confidence = _keyword_confidence(config, scores)
    model_best = max(probabilities, key=lambda code: probabilities[code])
    if rules_confidence >= model.keyword_certain and rules == model_best:
        best, confidence = rules, max(rules_confidence, combined[rules])
    confidence = round(confidence, 4)
    needs_triage = confidence < model.min_confidence
    if needs_triage and not scores:
        return Classification(UNCLASSIFIED, 0.0, needs_triage=True, scores=scores)
    return Classification(best, confidence, needs_triage=needs_triage, scores=scores)
