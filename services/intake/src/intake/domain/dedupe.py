"""Near-duplicate reports across channels.

Several citizens often report the same thing through different channels (the app, the
ward's Zalo group, the hotline). A new report is linked to the first earlier report of
the same ward and category, received within the configured window, whose text is similar
enough. Linking keeps every reporter informed while agencies handle one case.

Similarity is the Jaccard index of word bigram sets of the folded texts (accents,
case and teencode already removed), with single words for very short texts.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class EarlierReport:
    """What near-duplicate detection needs to know of an earlier report."""

    report_id: str
    ward_code: str | None
    category: str
    folded_text: str
    received_at: datetime
    duplicate_of: str | None = None


@functools.lru_cache(maxsize=8192)
def shingles(folded_text: str) -> frozenset[str]:
    """The word bigrams of a folded text (its words when it has fewer than three).

    Cached: each earlier report of a busy ward and category is compared with every new
    one of the window; its bigrams are computed once, not once per comparison."""
    words = folded_text.split()
    if len(words) < 3:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in itertools.pairwise(words))


def similarity(first: str, second: str) -> float:
    """Jaccard index of the bigram sets of two folded texts, 0..1."""
    return _jaccard(shingles(first), shingles(second))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def find_original(
    *,
    folded_text: str,
    ward_code: str | None,
    category: str,
    received_at: datetime,
    earlier: Iterable[EarlierReport],
    window: timedelta,
    min_similarity: float,
) -> str | None:
    """The report id this report duplicates, or None.

    Only reports with a known ward qualify: without a place, similar words are not
    enough to say two citizens saw the same thing. A match that is itself a duplicate
    points to its original, so every duplicate links to the first report.
    """
    if ward_code is None:
        return None
    mine = shingles(folded_text)
    scored = [
        (_jaccard(mine, shingles(candidate.folded_text)), candidate)
        for candidate in earlier
        if candidate.ward_code == ward_code
        and candidate.category == category
        and received_at - window <= candidate.received_at <= received_at
    ]
    similar = [(score, candidate) for score, candidate in scored if score >= min_similarity]
    if not similar:
        return None
    # The most similar wins; among equals, the earliest.
    _, match = max(similar, key=lambda pair: (pair[0], -pair[1].received_at.timestamp()))
    return match.duplicate_of or match.report_id
