"""Near-duplicate reports across channels, paraphrases included.

Several citizens often report the same thing through different channels (the app, the
ward's Zalo group, the hotline), each in their own words: "xe tải chở đất không che bạt,
rơi vãi đầy đường" and "mấy xe ben chở vật liệu làm đất cát rơi xuống mặt đường". A new
report is linked to the earlier report of the same ward, received within the configured
window, that it most resembles, if it resembles it enough. Linking keeps every reporter
informed while agencies handle one case; an officer can undo a wrong link.

Two signals decide, both computed once per report and kept small:

* **text**: the cosine of the two reports' sets of character 4-grams (taken within words
  of the folded text, so accents, case and teencode do not count), which survives
  rewording far better than shared word pairs: different words about the same trucks
  still share stems, the street, the ward. A report is remembered by the 32-bit hashes of
  its 4-grams (its *fingerprint*; at most :data:`SKETCH` of them, the smallest hashes, a
  sample that is the same for every text);
* **place**: the named places the text mentions (*anchors*: a place word, "đường",
  "ngõ", "tổ", "chợ", "bản", "cầu" …, followed by a capitalised name or a number:
  "đường Tô Hiệu", "tổ 8", "chợ Noong Đúc"). Two reports that each name a place the
  other does not are about different spots of the ward and never link, however alike
  their words ("đèn đường hỏng ở đường Tô Hiệu" is not "… ở đường Lò Văn Giá", and "ngõ 3,
  tổ 5" is not "ngõ 7, tổ 5"); one that names fewer places than the other may link.

Then, with the thresholds of the configuration (``dedupe``): a shared place and the same
category link from ``same_place_same_category`` (low: the place and category already say
much), a shared place and another category from ``same_place`` (the classifier may file
two tellings of one incident under two categories), no place known on one side from
``min_similarity`` (high: words alone). The thresholds are chosen on labelled pairs
(``services/intake/tests/domain/data/duplicate_pairs``, ``docs/intake.md``).

That state lives in buckets of one ward and one hour (UTC), keyed
``<ward code>#<YYYYMMDDHH>``: the candidates of a report are the buckets of its ward
for the hours of the window, and a bucket keeps its first :data:`BUCKET_LIMIT` reports
(duplicates link to the earliest report, so later ones are not needed there). The cost
of a report therefore stays the same however many reports came before it.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from intake.domain.text import fold, fold_word

BUCKET_LIMIT = 500
"""Reports of one ward and hour kept as near-duplicate candidates."""
NGRAM = 4
"""Characters per gram: measured best of 3, 4 and 5 on the labelled pairs."""
SKETCH = 256
"""Most 4-gram hashes kept per report (a text of ~250 characters has that many)."""

PLACE_WORDS = frozenset(
    {"duong", "pho", "ngo", "ngach", "hem", "to", "ban", "cho", "cau", "truong", "xom"}
)
"""Folded words that introduce a named place ("đường", "tổ", "chợ", "bản" …)."""
_WARD_WORDS = frozenset({"phuong", "xa", "thanh", "tinh", "huyen", "tp", "thi", "quan"})
"""Folded words that begin the name of a ward, commune, town or province."""
_TOKEN = re.compile(r"\w+(?:/\d+)?")

Fingerprint = frozenset[int]


class PackedFingerprint(AbstractSet[int]):
    """A remembered report's fingerprint as its packed hashes (4 bytes each: ~1 KB, where
    a set of 256 Python ints takes ~16 KB). A comparison unpacks them for the moment it
    lasts (a few microseconds) and keeps nothing: a ward's thousands of remembered
    reports stay ~1 KB each however often they are compared."""

    __slots__ = ("packed",)

    def __init__(self, packed: bytes) -> None:
        self.packed = packed

    def hashes(self) -> tuple[int, ...]:
        """The hashes, unpacked (not kept)."""
        return struct.unpack(f"<{len(self.packed) // 4}I", self.packed)

    def unpacked(self) -> frozenset[int]:
        return frozenset(self.hashes())

    def __len__(self) -> int:
        return len(self.packed) // 4

    def __iter__(self) -> Iterator[int]:
        return iter(self.hashes())

    def __contains__(self, value: object) -> bool:
        return value in self.unpacked()

    def __and__(self, other: AbstractSet[Any]) -> frozenset[int]:
        if isinstance(other, PackedFingerprint):
            return other.unpacked().intersection(self.hashes())
        if not isinstance(other, (set, frozenset)):
            other = frozenset(other)
        return frozenset(other.intersection(self.hashes()))

    __rand__ = __and__

    def __hash__(self) -> int:
        return hash(self.unpacked())


def pack_fingerprint(hashes: AbstractSet[int]) -> bytes:
    """The hashes of a fingerprint as little-endian 32-bit integers, sorted."""
    if isinstance(hashes, PackedFingerprint):
        return hashes.packed
    ordered = sorted(hashes)
    return struct.pack(f"<{len(ordered)}I", *ordered)


@dataclass(frozen=True)
class EarlierReport:
    """What near-duplicate detection needs to know of an earlier report."""

    report_id: str
    ward_code: str | None
    category: str
    fingerprint: AbstractSet[int]
    """Its 4-gram hashes (:func:`fingerprint`; packed when read back from the store)."""
    received_at: datetime
    duplicate_of: str | None = None
    anchors: frozenset[int] = frozenset()
    """Hashes of the named places its text mentions (:func:`place_anchors`)."""


@dataclass(frozen=True)
class Thresholds:
    """How alike two reports of a ward must be to link (cosine of 4-grams, 0..1)."""

    same_place_same_category: float
    same_place: float
    unknown_place: float


def grams(folded_text: str) -> frozenset[str]:
    """The character 4-grams within the words of a folded text (a short word whole)."""
    found: set[str] = set()
    for word in folded_text.split():
        padded = f" {word} "
        if len(padded) <= NGRAM:
            found.add(padded)
        else:
            found.update(padded[i : i + NGRAM] for i in range(len(padded) - NGRAM + 1))
    return frozenset(found)


def fingerprint(folded_text: str) -> Fingerprint:
    """The 32-bit hashes (CRC-32, the same in every process) of a folded text's 4-grams;
    the :data:`SKETCH` smallest when there are more."""
    hashes = sorted({zlib.crc32(gram.encode()) for gram in grams(folded_text)})
    return frozenset(hashes[:SKETCH])


def place_anchors(text: str) -> frozenset[int]:
    """Hashes of the named places a report's text mentions: a place word followed by
    capitalised words or a number ("đường Tô Hiệu", "tổ 8", "chợ Noong Đúc").

    Ward names ("phường Tô Hiệu", "xã Chiềng Ngần") are not anchors: every report of the
    ward may name its ward, and candidates are of one ward already.
    """
    tokens = _TOKEN.findall(unicodedata.normalize("NFC", text))
    found: set[int] = set()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        after_ward_word = index > 0 and fold_word(tokens[index - 1]) in _WARD_WORDS
        if fold_word(token) in PLACE_WORDS and not after_ward_word:
            name: list[str] = []
            for following in tokens[index + 1 : index + 5]:
                if not (following[0].isupper() or following[0].isdigit()):
                    break
                if fold_word(following) in _WARD_WORDS:
                    break
                name.append(following)
            if name:
                found.add(zlib.crc32(fold(" ".join([token, *name])).encode()))
                index += 1 + len(name)
                continue
        index += 1
    return frozenset(found)


def cosine(a: AbstractSet[int], b: AbstractSet[int]) -> float:
    """Cosine of two sets of hashes (shared over the geometric mean of the sizes), 0..1."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def similarity(first: str, second: str) -> float:
    """Cosine of the 4-gram fingerprints of two folded texts, 0..1."""
    return cosine(fingerprint(first), fingerprint(second))


def match_score(
    fingerprint_of: Fingerprint,
    anchors: frozenset[int],
    category: str,
    candidate: EarlierReport,
    thresholds: Thresholds,
) -> float | None:
    """How alike a report is to an earlier one of its ward, or None if they do not link."""
    theirs = candidate.anchors
    if not (anchors <= theirs or theirs <= anchors):
        return None  # each names a place the other does not: two spots of the ward
    score = cosine(fingerprint_of, candidate.fingerprint)
    if anchors & candidate.anchors:
        needed = (
            thresholds.same_place_same_category
            if category == candidate.category
            else thresholds.same_place
        )
    else:
        needed = thresholds.unknown_place
    return score if score >= needed else None


def find_original(
    *,
    fingerprint_of: Fingerprint,
    anchors: frozenset[int],
    ward_code: str | None,
    category: str,
    received_at: datetime,
    earlier: Iterable[EarlierReport],
    window: timedelta,
    thresholds: Thresholds,
) -> str | None:
    """The report id this report duplicates, or None.

    Only reports with a known ward qualify: without a place, similar words are not
    enough to say two citizens saw the same thing. A match that is itself a duplicate
    points to its original, so every duplicate links to the first report.
    """
    if ward_code is None:
        return None
    best: tuple[float, float] | None = None
    match: EarlierReport | None = None
    since = received_at - window
    for candidate in earlier:
        if candidate.ward_code != ward_code or not since <= candidate.received_at <= received_at:
            continue
        score = match_score(fingerprint_of, anchors, category, candidate, thresholds)
        if score is None:
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
