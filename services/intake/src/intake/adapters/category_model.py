"""Reading and writing the trained category model (one ``.npz`` file).

The file holds plain arrays only (read with ``allow_pickle=False``: loading it runs no
code): ``meta`` (JSON: format, categories, feature spec, thresholds, how it was trained),
``features`` (the feature strings, UTF-8, one a line), ``idf`` (float32), ``weights``
(float16, features × categories) and ``bias`` (float32). ``scripts/train_classifier.py``
writes it; the composition root reads it once at start.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from intake.config import UNCLASSIFIED, CityConfig
from intake.domain.category_model import CategoryModel, FeatureSpec

FORMAT = "phananh-category-model/1"


class CategoryModelError(ValueError):
    """The model file cannot be read, or does not fit the city's taxonomy."""


def dump_category_model(model: CategoryModel, path: Path, about: dict[str, Any]) -> None:
    """Write ``model`` to ``path``; ``about`` says how it was trained (kept in ``meta``)."""
    features = sorted(model.vocabulary, key=lambda feature: model.vocabulary[feature])
    meta = {
        "format": FORMAT,
        "categories": list(model.categories),
        "spec": {
            "char_min": model.spec.char_min,
            "char_max": model.spec.char_max,
            "word_max": model.spec.word_max,
        },
        "min_confidence": model.min_confidence,
        "keyword_certain": model.keyword_certain,
        "keyword_weight": model.keyword_weight,
        "about": about,
    }
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
        features=np.frombuffer("\n".join(features).encode(), dtype=np.uint8),
        idf=model.idf.astype(np.float32),
        weights=model.weights.astype(np.float16),
        bias=model.bias.astype(np.float32),
    )
    path.write_bytes(buffer.getvalue())


def read_meta(path: Path) -> dict[str, Any]:
    """The ``meta`` record of a model file (format, thresholds, training figures)."""
    with np.load(path, allow_pickle=False) as arrays:
        meta: dict[str, Any] = json.loads(arrays["meta"].tobytes().decode())
    return meta


def load_category_model(path: Path, config: CityConfig | None = None) -> CategoryModel:
    """The model in ``path``; with ``config``, checked against the city's taxonomy (every
    category but ``unclassified``, no other)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            features = arrays["features"].tobytes().decode().split("\n")
            idf = arrays["idf"].astype(np.float32)
            weights = arrays["weights"].astype(np.float32)
            bias = arrays["bias"].astype(np.float32)
    except (OSError, KeyError, ValueError) as error:
        raise CategoryModelError(f"{path}: not a category model ({error})") from None
    if meta.get("format") != FORMAT:
        raise CategoryModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    categories = tuple(meta["categories"])
    if config is not None:
        taxonomy = {category.code for category in config.categories} - {UNCLASSIFIED}
        if set(categories) != taxonomy:
            missing = ", ".join(sorted(taxonomy - set(categories))) or "none"
            unknown = ", ".join(sorted(set(categories) - taxonomy)) or "none"
            raise CategoryModelError(
                f"{path}: the model's categories differ from the taxonomy "
                f"(missing: {missing}; unknown: {unknown}); retrain it"
            )
    try:
        return CategoryModel(
            categories=categories,
            spec=FeatureSpec(**meta["spec"]),
            vocabulary={feature: row for row, feature in enumerate(features)},
            idf=idf,
            weights=weights,
            bias=bias,
            min_confidence=float(meta["min_confidence"]),
            keyword_certain=float(meta["keyword_certain"]),
            keyword_weight=float(meta["keyword_weight"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CategoryModelError(f"{path}: invalid category model ({error})") from None
