"""Near-duplicate reports across channels.

Several citizens often report the same thing through different channels (the app, the
ward's Zalo group, the hotline). A new report is linked to the first earlier report of
the same ward and category, received within the configured window, whose text is similar
enough. Linking keeps every reporter informed while agencies handle one case.

Similarity is the Jaccard index of word bigram sets of the folded texts (accents,
case and teencode already removed), with single words for very short texts. A report is
remembered by its *fingerprint*: the 32-bit hashes of those bigrams (a few bytes a
report instead of its text), so the state kept for detection stays small.

That state lives in buckets of one ward and one hour (UTC), keyed
``<ward code>#<YYYYMMDDHH>``: the candidates of a report are the buckets of its ward
for the hours of the window, and a bucket keeps its first :data:`BUCKET_LIMIT` reports
(duplicates link to the earliest report, so later ones are not needed there). The cost
of a report therefore stays the same however many reports came before it.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BUCKET_LIMIT = 500
"""Reports of one ward and hour kept as near-duplicate candidates."""

Fingerprint = frozenset[int]


@dataclass(frozen=True)
class EarlierReport:
    """What near-duplicate detection needs to know of an earlier report."""

    report_id: str
    ward_code: str | None
    category: str
    fingerprint: Fingerprint
    received_at: datetime
    duplicate_of: str | None = None


def shingles(folded_text: str) -> frozenset[str]:
    """The word bigrams of a folded text (its words when it has fewer than three)."""
    words = folded_text.split()
    if len(words) < 3:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in itertools.pairwise(words))


def fingerprint(folded_text: str) -> Fingerprint:
    """The 32-bit hashes (CRC-32, the same in every process) of a folded text's shingles."""
    return frozenset(zlib.crc32(shingle.encode()) for shingle in shingles(folded_text))


def similarity(first: str, second: str) -> float:
    """Jaccard index of the bigram sets of two folded texts, 0..1."""
    return jaccard(fingerprint(first), fingerprint(second))


def jaccard(a: Fingerprint, b: Fingerprint) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def find_original(
    *,
    folded_text: str | None = None,
    fingerprint_of: Fingerprint | None = None,
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
    mine = fingerprint_of if fingerprint_of is not None else fingerprint(folded_text or "")
    best: tuple[float, float] | None = None
    match: EarlierReport | None = None
    for candidate in earlier:
        if (
            candidate.ward_code != ward_code
            or candidate.category != category
            or not received_at - window <= candidate.received_at <= received_at
        ):
            continue
        score = jaccard(mine, candidate.fingerprint)
        if score < min_similarity:
            continue
        # The most similar wins; among equals, the earliest.
        rank = (score, -candidate.received_at.timestamp())
        if best is None or rank > best:
            best, match = rank, candidate
    if match is None:
        return None
    return match.duplicate_of or match.report_id


def bucket_of(ward_code: str, at: datetime) -> str:
    """The ``_id`` of the bucket of a ward's reports received in the hour of ``at``."""
    return f"{ward_code}#{at.astimezone(UTC):%Y%m%d%H}"


def buckets_for(ward_code: str, received_at: datetime, window: timedelta) -> Iterator[str]:
    """The buckets holding a report's candidates: its ward, every hour of its window."""
    hour = (received_at - window).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= received_at:
        yield bucket_of(ward_code, hour)
        hour += timedelta(hours=1)
