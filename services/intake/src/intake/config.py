"""The city's intake configuration (places, categories, signals), loaded from YAML.

Everything a city changes without touching code lives in one YAML file validated here:
its wards with old names and finer places, its category taxonomy with keywords, the
phrases that make a report urgent, an emergency or out of scope, and the tuning of
classification and duplicate detection. ``config/son-la/city.yaml`` is the reference.

The module also holds :class:`Words`, the form in which the domain matches configured
Vietnamese phrases against a citizen's text, and :func:`derived`, which computes the
matching indexes once per configuration.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, cast

from phananh_citydata import CityIdentity
from phananh_contracts.values import Code, NfcText
from phananh_platform.config import read_yaml_mapping
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from shapely.geometry import Polygon

from intake.domain.dedupe import Thresholds
from intake.domain.text import fold, fold_word, normalize_text

UNCLASSIFIED = "unclassified"
"""Code of the triage bucket: reports no rule could place in the taxonomy."""


class CityConfigError(ValueError):
    """The city configuration file cannot be read or is invalid (the message says where)."""


def _foldable(value: str) -> str:
    if not fold(value):
        raise ValueError(f"{value!r} has no letters or digits to match")
    return value


Phrase = Annotated[
    NfcText, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_foldable)
]
"""Vietnamese text matched accent-insensitively; written with diacritics in the file."""

Weight = Annotated[float, Field(gt=0, le=10)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class City(CityIdentity):
    """Who the configuration is for: the city's identity as every service reads it
    (:class:`phananh_citydata.CityIdentity`: code, name, tracking prefix, time zone), with
    nothing else allowed in intake's file."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TextRules(_Section):
    """Limits on a report's text and the teencode expanded before matching."""

    min_chars: int = Field(default=5, ge=1, description="Shorter texts are rejected.")
    max_chars: int = Field(
        default=4000, ge=1, le=4000, description="Longer texts are rejected (contract: 4000)."
    )
    teencode: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Folded word -> folded replacement, e.g. 'ko' -> 'khong', 'ntn' -> 'nhu the nao'; "
            "applied by fold(text, teencode) before classification and signals."
        ),
    )

    @field_validator("teencode")
    @classmethod
    def _folded(cls, value: dict[str, str]) -> dict[str, str]:
        for word, replacement in value.items():
            if fold(word) != word or " " in word:
                raise ValueError(f"teencode key {word!r} must be one folded word")
            if not replacement or fold(replacement) != replacement:
                raise ValueError(f"teencode value {replacement!r} of {word!r} must be folded")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_chars > self.max_chars:
            raise ValueError("min_chars must not exceed max_chars")
        return self


class Locality(_Section):
    """A finer place inside a ward: residential group, village, sub-area, market, landmark."""

    name: Phrase = Field(
        max_length=100, description="Display name, e.g. 'Chợ Noong Đúc', 'Bản Hụm', 'Tổ 8'."
    )
    kind: Literal["residential_group", "village", "sub_area", "market", "landmark"] = Field(
        description=(
            "residential_group (tổ dân phố), village (bản), sub_area (tiểu khu), market, "
            "landmark. Residential groups never decide the ward: numbered groups repeat "
            "across wards."
        )
    )
    aliases: tuple[Phrase, ...] = Field(default=(), description="Other names and spellings.")
    group: NfcText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Residential group or village it lies in, e.g. 'Tổ 8' for chợ Noong Đúc.",
    )

    def phrases(self) -> tuple[str, ...]:
        """The name and its aliases."""
        return (self.name, *self.aliases)


class Ward(_Section):
    """A ward or commune after the 2025 reorganization, with the names citizens still use."""

    code: str = Field(pattern=r"^[0-9]{5}$", description="Official 5-digit code, e.g. '03679'.")
    name: Phrase = Field(
        max_length=100, description="Current name without 'phường'/'xã', e.g. 'Chiềng Sinh'."
    )
    kind: Literal["ward", "commune"] = Field(description="ward (phường) or commune (xã).")
    aliases: tuple[Phrase, ...] = Field(
        default=(),
        description="Old names (before the 2025 merger) and other spellings, matched bare.",
    )
    prefixed_aliases: tuple[Phrase, ...] = Field(
        default=(),
        description=(
            "Names that are also ordinary words (e.g. 'Quyết Tâm'): in free text they count "
            "only after a prefix from places.prefixes ('phường Quyết Tâm')."
        ),
    )
    polygon: tuple[tuple[float, float], ...] | None = Field(
        default=None,
        description="Official boundary as [lon, lat] pairs (WGS 84); the ring may stay open.",
    )
    localities: tuple[Locality, ...] = Field(
        default=(), description="Residential groups, villages, markets, landmarks inside it."
    )

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(
        cls, value: tuple[tuple[float, float], ...] | None
    ) -> tuple[tuple[float, float], ...] | None:
        if value is None:
            return None
        if len(value) < 3:
            raise ValueError("a polygon needs at least 3 [lon, lat] points")
        if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in value):
            raise ValueError("polygon points must be [lon, lat] in degrees")
        if not Polygon(value).is_valid:
            raise ValueError("the polygon is not a valid simple ring (self-intersecting?)")
        return value

    def names(self) -> tuple[str, ...]:
        """Every name the ward goes by: current, aliases and prefixed aliases."""
        return (self.name, *self.aliases, *self.prefixed_aliases)


class Places(_Section):
    """The city's wards and communes."""

    prefixes: tuple[Phrase, ...] = Field(
        default=("phường", "xã", "p", "thị trấn"),
        description="Words that introduce a ward name: 'phường X', 'xã X', 'P. X'.",
    )
    wards: tuple[Ward, ...] = Field(min_length=1, description="Wards and communes.")

    @model_validator(mode="after")
    def _unambiguous(self) -> Self:
        codes: set[str] = set()
        owners: dict[str, Ward] = {}
        for ward in self.wards:
            if ward.code in codes:
                raise ValueError(f"ward code {ward.code} is used twice")
            codes.add(ward.code)
            for name in ward.names():
                other = owners.setdefault(fold(name), ward)
                if other is not ward:
                    raise ValueError(
                        f"the name {name!r} is ambiguous: it names both {other.name} "
                        f"({other.code}) and {ward.name} ({ward.code})"
                    )
        return self


def _weighted(value: Any) -> Any:
    return dict.fromkeys(value, 1.0) if isinstance(value, list | tuple) else value


class Category(_Section):
    """One category of the taxonomy and the keywords that suggest it."""

    code: Code = Field(description="Machine code, e.g. 'urban_order' (Open311 service_code).")
    name: NfcText = Field(min_length=1, description="Vietnamese name, e.g. 'Trật tự đô thị'.")
    name_en: str = Field(min_length=1, description="English name, e.g. 'Urban order'.")
    group: NfcText = Field(min_length=1, description="Group shown to citizens (Open311 group).")
    keywords: Annotated[dict[Phrase, Weight], BeforeValidator(_weighted)] = Field(
        default_factory=dict,
        description=(
            "Vietnamese phrases suggesting the category, written with diacritics: "
            "{phrase: weight} or a list of phrases (weight 1.0)."
        ),
    )

    @field_validator("keywords")
    @classmethod
    def _distinct(cls, value: dict[str, float]) -> dict[str, float]:
        seen: dict[str, str] = {}
        for phrase in value:
            other = seen.setdefault(fold(phrase), phrase)
            if other != phrase:
                raise ValueError(f"keywords {other!r} and {phrase!r} are the same phrase")
        return value

    def keyword_phrases(self) -> tuple[str, ...]:
        """The keywords, heaviest first (e.g. for Open311's service keywords)."""
        return tuple(sorted(self.keywords, key=lambda phrase: -self.keywords[phrase]))


class ClassificationRules(_Section):
    """How keyword scores become a category and a confidence."""

    min_confidence: float = Field(
        default=0.55, ge=0, le=1, description="Below this confidence the report needs triage."
    )
    evidence_half: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Score at which the evidence factor of the confidence reaches 0.5: one "
            "single-word keyword alone is weak evidence, several are strong."
        ),
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Trained category model (.npz written by scripts/train_classifier.py), relative "
            "to this file's directory; it decides with the keyword rules and brings its own "
            "triage threshold. Absent: keyword rules alone, min_confidence decides triage."
        ),
    )

    def model_path(self, config_file: Path) -> Path | None:
        """Where the model file is, for a configuration read from ``config_file``."""
        return config_file.parent / self.model if self.model else None


class EmergencyRule(_Section):
    """Danger to life or property now: still accepted, as urgent, with a notice."""

    phrases: tuple[Phrase, ...] = Field(min_length=1, description="Phrases of an emergency.")
    notice: NfcText = Field(
        min_length=1, max_length=1000, description="Vietnamese notice: call 113, 114 or 115."
    )


class OutOfScopeRule(_Section):
    """A message the law sends to another channel (complaint, denunciation)."""

    kind: Literal["complaint", "denunciation"] = Field(
        description="complaint (khiếu nại) or denunciation (tố cáo)."
    )
    phrases: tuple[Phrase, ...] = Field(
        min_length=1,
        description=(
            "Phrases by which a message presents itself as such ('đơn khiếu nại'), not "
            "the bare word, which normal reports use too."
        ),
    )
    notice: NfcText = Field(
        min_length=1,
        max_length=1000,
        description="Vietnamese notice naming the lawful channel and where to file.",
    )


class SignalRules(_Section):
    """Phrases that change how a report is handled."""

    urgent_phrases: tuple[Phrase, ...] = Field(
        description="Sudden incidents (vụ việc đột xuất) that make a report urgent."
    )
    emergency: EmergencyRule = Field(description="Emergencies: urgent, and a notice.")
    out_of_scope: tuple[OutOfScopeRule, ...] = Field(
        default=(), description="Complaints and denunciations, first matching rule wins."
    )
    qualifiers: tuple[Phrase, ...] = Field(
        default=(),
        description=(
            "Negations and hypotheticals ('không', 'chưa', 'nguy cơ') that cancel the phrase "
            "they precede in the same clause."
        ),
    )
    qualifier_gap: int = Field(
        default=1,
        ge=0,
        le=5,
        description="At most this many words between a qualifier and the phrase it cancels.",
    )


class DedupeRules(_Section):
    """When a new report duplicates an earlier one of its ward (``intake.domain.dedupe``:
    cosine of character 4-grams, 0..1, and the named places both texts mention)."""

    window_hours: int = Field(default=72, ge=1, description="How far back to look.")
    min_similarity: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Similarity needed when one of the two names no place: words alone.",
    )
    same_place_same_category: float = Field(
        default=0.28,
        gt=0,
        le=1,
        description="Similarity needed when both name a place in common, same category.",
    )
    same_place: float = Field(
        default=0.44,
        gt=0,
        le=1,
        description="Similarity needed when both name a place in common, other categories.",
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(
            same_place_same_category=self.same_place_same_category,
            same_place=self.same_place,
            unknown_place=self.min_similarity,
        )


class CityConfig(_Section):
    """The whole intake configuration of one city."""

    city: City = Field(description="Who the configuration is for.")
    text: TextRules = Field(default_factory=TextRules, description="Text limits, teencode.")
    places: Places = Field(description="Wards and communes with old names and localities.")
    categories: tuple[Category, ...] = Field(
        min_length=2, description=f"The taxonomy, including {UNCLASSIFIED!r}."
    )
    classification: ClassificationRules = Field(
        default_factory=ClassificationRules, description="Confidence tuning."
    )
    signals: SignalRules = Field(description="Urgent, emergency and out-of-scope phrases.")
    dedupe: DedupeRules = Field(default_factory=DedupeRules, description="Duplicate rules.")

    @model_validator(mode="after")
    def _taxonomy(self) -> Self:
        codes = [category.code for category in self.categories]
        if duplicates := sorted({code for code in codes if codes.count(code) > 1}):
            raise ValueError(f"category codes used twice: {', '.join(duplicates)}")
        bucket = self.category(UNCLASSIFIED)
        if bucket is None:
            raise ValueError(f"the taxonomy needs the triage bucket {UNCLASSIFIED!r}")
        if bucket.keywords:
            raise ValueError(f"{UNCLASSIFIED!r} must have no keywords")
        return self

    def category(self, code: str) -> Category | None:
        """The category with this code, if any."""
        return next((category for category in self.categories if category.code == code), None)


def load_city_config(path: Path) -> CityConfig:
    """Read and validate a city configuration; :class:`CityConfigError` says what and where."""
    document = read_yaml_mapping(path, "city configuration", CityConfigError)
    try:
        return CityConfig.model_validate(document)
    except ValidationError as error:
        problems = "\n".join(
            f"  {_location(problem['loc'])}: {problem['msg']}" for problem in error.errors()
        )
        raise CityConfigError(f"{path}: invalid city configuration:\n{problems}") from None


def _location(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]


# --- Matching configured phrases ---------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


_CLAUSE = re.compile(r"[.,;:!?…\n]+")


@dataclass(frozen=True)
class Words:
    """A text prepared for matching configured phrases word by word.

    ``folded`` holds the words as :func:`~intake.domain.text.fold` gives them, teencode
    expanded in words typed without diacritics; ``written`` the same words lowercased with
    the diacritics the writer typed, or the folded word where they typed none; ``clauses``
    the clause number of each word (clauses end at punctuation).

    A phrase occurs where the folded words agree and each pair of words either has the
    same diacritics or one side has none. So "xe chay" and "xe chạy" both match the
    keyword "xe chạy", but "xe chạy" does not match "cháy" (fire) and "bạn có" does not
    match "bản Cọ": text typed without diacritics is understood, text typed with them is
    not misread.
    """

    folded: tuple[str, ...]
    written: tuple[str, ...]
    clauses: tuple[int, ...]

    @classmethod
    def of(cls, text: str, teencode: Mapping[str, str] | None = None) -> Words:
        """The words of ``text`` (any Unicode form, old or new tone-mark placement)."""
        folded: list[str] = []
        written: list[str] = []
        clauses: list[int] = []
        for number, clause in enumerate(_CLAUSE.split(normalize_text(text).lower())):
            for word in _WORD.findall(clause):
                bare = fold_word(word)
                if bare == word:  # typed without diacritics (so [0-9a-z]+): teencode applies
                    tokens = teencode.get(word, word).split() if teencode else [word]
                    written.extend(tokens)
                else:
                    tokens = bare.split()
                    written.extend([word] if len(tokens) == 1 else tokens)
                folded.extend(tokens)
                clauses.extend([number] * len(tokens))
        return cls(tuple(folded), tuple(written), tuple(clauses))

    @cached_property
    def key(self) -> str:
        """The folded text, words separated by single spaces."""
        return " ".join(self.folded)

    @cached_property
    def _padded(self) -> str:
        return f" {self.key} "

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """The distinct folded words."""
        return frozenset(self.folded)

    def find(self, phrase: Words) -> Iterator[int]:
        """Start positions (word indexes) where ``phrase`` occurs."""
        # Cheap refusals first: most configured phrases are absent from a given text.
        if not phrase.folded or phrase.folded[0] not in self.vocabulary:
            return
        if phrase._padded not in self._padded:  # on word boundaries (contains_phrase)
            return
        size = len(phrase.folded)
        for start in range(len(self.folded) - size + 1):
            if self.folded[start : start + size] == phrase.folded and all(
                common in (mine, theirs) or mine == theirs
                for mine, theirs, common in zip(
                    self.written[start : start + size], phrase.written, phrase.folded, strict=True
                )
            ):
                yield start

    def has(self, phrase: Words) -> bool:
        """Whether ``phrase`` occurs anywhere."""
        return next(self.find(phrase), None) is not None


_T = TypeVar("_T")
_derived: dict[tuple[int, Callable[[CityConfig], Any]], Any] = {}


def words_of(config: CityConfig, text: str) -> Words:
    """``Words.of(text, teencode)`` with the city's teencode, remembered for the last few
    texts (the signals and the classification of a report read the same text)."""
    return derived(config, _words_memo)(text)


def _words_memo(config: CityConfig) -> Callable[[str], Words]:
    teencode = config.text.teencode

    @functools.lru_cache(maxsize=16)  # one report's text is read a few times in a row
    def of(text: str) -> Words:
        return Words.of(text, teencode)

    return of


def derived(config: CityConfig, build: Callable[[CityConfig], _T]) -> _T:
    """``build(config)``, computed once per configuration object (cached by identity).

    Matching indexes (folded phrases, prepared polygons) are built on first use and
    dropped when the configuration is garbage-collected.
    """
    key = (id(config), build)
    if key not in _derived:
        _derived[key] = build(config)
        weakref.finalize(config, _derived.pop, key, None)
    return cast(_T, _derived[key])
