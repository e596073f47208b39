"""A trained linear model of the city's categories, scored without the library that trained it.

``scripts/train_classifier.py`` fits a multinomial logistic regression on TF-IDF weighted
features of the labelled corpus (``config/son-la/classifier/corpus``) and writes what
scoring needs into one small ``.npz`` file: the feature strings, their IDF, the weight
matrix and the biases, and the thresholds it chose on the dev split. The composition root
loads the file once (:func:`intake.adapters.category_model.load_category_model`); this
module only computes, with numpy:

* features of a text (:func:`features`): the words of its folded form (diacritics off,
  teencode expanded, as the keyword rules read it), word pairs, and character n-grams
  across the whole folded text, so that "mat dien", "mất điện" and "mat dien" agree and a
  misspelt word still shares most of its n-grams;
* ``tf = 1 + log(count)``, times IDF, scaled to unit length, as scikit-learn's
  ``TfidfVectorizer(sublinear_tf=True)`` computes them (features the model does not know
  are left out, as there);
* ``softmax(x · W + b)``: a probability per category.

The trainer checks that these probabilities equal scikit-learn's on every report of the
corpus before it writes the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model reads; the trainer and the runtime share it."""

    char_min: int = 2
    """Shortest character n-gram."""
    char_max: int = 5
    """Longest character n-gram."""
    word_max: int = 2
    """Longest run of words (1: single words only)."""


def features(folded: str, spec: FeatureSpec) -> list[str]:
    """The features of a folded text (:attr:`intake.config.Words.key`), repeated as often
    as they occur. Word features start with ``w:``, character n-grams with ``c:``."""
    words = folded.split()
    found = [f"w:{word}" for word in words]
    for size in range(2, spec.word_max + 1):
        found.extend(
            "w:" + " ".join(words[start : start + size]) for start in range(len(words) - size + 1)
        )
    padded = f" {folded} "
    for size in range(spec.char_min, spec.char_max + 1):
        found.extend("c:" + padded[start : start + size] for start in range(len(padded) - size + 1))
    return found


@dataclass(frozen=True)
class CategoryModel:
    """Weights of a linear classifier over :func:`features`, and how to use its output."""

    categories: tuple[str, ...]
    """Category codes, in the order of the weight matrix's columns."""
    spec: FeatureSpec
    vocabulary: Mapping[str, int]
    """Feature string -> row of :attr:`weights` and index of :attr:`idf`."""
    idf: FloatArray
    weights: FloatArray
    """One row per feature, one column per category."""
    bias: FloatArray
    min_confidence: float
    """Below this combined confidence a report goes to triage (chosen on the dev split)."""
    keyword_certain: float
    """Keyword confidence from which the keyword rules decide when the model agrees."""
    keyword_weight: float
    """α: the share of the keyword evidence in the combined confidence (0..1)."""

    def __post_init__(self) -> None:
        rows = len(self.vocabulary)
        if self.weights.shape != (rows, len(self.categories)):
            raise ValueError(
                f"weights are {self.weights.shape}, expected ({rows}, {len(self.categories)})"
            )
        if self.idf.shape != (rows,) or self.bias.shape != (len(self.categories),):
            raise ValueError("idf or bias do not match the vocabulary and the categories")

    @cached_property
    def _rows(self) -> tuple[dict[str, int], dict[str, int]]:
        """The vocabulary split by kind, prefixes off: (character n-grams, words)."""
        grams: dict[str, int] = {}
        words: dict[str, int] = {}
        for feature, row in self.vocabulary.items():
            (grams if feature.startswith("c:") else words)[feature[2:]] = row
        return grams, words

    def _weighted_rows(self, folded: str) -> tuple[IntArray, FloatArray]:
        """The rows of the known features of a folded text and their ``1 + log(count)``:
        :func:`features`, looked up as plain strings (the prefixes are in the tables'
        choice, not in each string) and counted by row, in C rather than in a Python loop.
        """
        spec = self.spec
        grams, known_words = self._rows
        words = folded.split()
        phrases = list(words)
        for size in range(2, spec.word_max + 1):
            phrases.extend(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))
        padded = f" {folded} "
        slices = [
            padded[start : start + size]
            for size in range(spec.char_min, spec.char_max + 1)
            for start in range(len(padded) - size + 1)
        ]
        found = np.fromiter(
            chain(map(known_words.get, phrases, repeat(-1)), map(grams.get, slices, repeat(-1))),
            dtype=np.intp,
            count=len(phrases) + len(slices),
        )
        rows, counts = np.unique(found[found >= 0], return_counts=True)
        return rows, 1.0 + np.log(counts)

    def probabilities(self, folded: str) -> dict[str, float]:
        """The probability of each category for a folded text (they add up to 1)."""
        rows, tf = self._weighted_rows(folded)
        scores = self.bias.astype(np.float64)
        if len(rows):
            values = tf * self.idf[rows]
            values /= float(np.sqrt(values @ values))
            scores = scores + values @ self.weights[rows]
        scores -= scores.max()
        exp = np.exp(scores)
        exp /= exp.sum()
        return {code: float(p) for code, p in zip(self.categories, exp, strict=True)}
