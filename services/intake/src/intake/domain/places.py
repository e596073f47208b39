"""Where a report is: the ward (after the 2025 merger) and the residential group.

Sources are tried from the most to the least reliable:

1. the point, inside a ward's configured polygon;
2. the ward the citizen picked (web form, Open311 attribute): a name, an old name or
   a code, with or without "phường"/"xã";
3. the address the citizen typed;
4. the free text.

In an address or a text, a ward is mentioned by its current name, an old name or an
alias (accent-insensitive, on word boundaries; "phường X", "P. X" or bare "X"), or by a
locality that belongs to one ward only (chợ Noong Đúc → Chiềng Sinh). Residential
groups never decide a ward, since "tổ 8" exists in many wards. Mentions of several
wards make the place ambiguous and nothing found makes it unknown: both go to triage
rather than to a guess. Old names resolve to the current ward, whose current name is
what the place carries.

The residential group comes from the address, then the text: a configured group,
village or sub-area of the ward; else "tổ 8", "tổ dân phố số 8", "TDP 8" as "Tổ 8"
("tiểu khu 3" as "Tiểu khu 3"); else "bản" and a capitalized name ("Bản Pá Khoang");
else the group a mentioned locality lies in (chợ Noong Đúc → "Tổ 8").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import takewhile
from typing import Literal

import shapely
from phananh_contracts import GeoPoint, Place
from shapely.geometry import Polygon

from intake.config import CityConfig, Ward, Words, derived
from intake.domain.text import fold, normalize_text

Source = Literal["coordinates", "hint", "address", "text"]
"""Which input decided the ward."""

_GROUP_KINDS = frozenset({"residential_group", "village", "sub_area"})
_NUMBERED = (
    (re.compile(r"(?:^| )(?:to dan pho|tdp|to)(?: so)? ?0*(\d{1,3})(?= |$)"), "Tổ {}"),
    (re.compile(r"(?:^| )tieu khu(?: so)? ?0*(\d{1,3})(?= |$)"), "Tiểu khu {}"),
)
_VILLAGE = re.compile(r"(?<!\w)bản\s+((?:[^\W\d_]+\s*){1,3})", re.IGNORECASE)


@dataclass(frozen=True)
class PlaceResolution:
    """What intake could tell about where a report is."""

    place: Place | None
    """The place, when a ward was found."""
    matched_by: Source | None
    """Which input decided the ward."""
    unknown: bool
    """No single ward could be decided: the report needs triage."""
    ambiguous_wards: tuple[str, ...] = ()
    """Codes of the wards an address or text mentioned, when it mentioned several."""


@dataclass(frozen=True)
class _Gazetteer:
    """The configured places, prepared for matching (built once per configuration)."""

    shapes: tuple[tuple[Polygon, Ward], ...]
    by_name: dict[str, Ward]
    mentions: tuple[tuple[Words, Ward], ...]
    groups: dict[str, tuple[tuple[Words, str], ...]]
    """Per ward code: phrases naming a residential group, village or sub-area."""
    located: dict[str, tuple[tuple[Words, str], ...]]
    """Per ward code: phrases of localities that lie in a known group (market → 'Tổ 8')."""


def _gazetteer(config: CityConfig) -> _Gazetteer:
    places = config.places
    shapes = tuple((Polygon(ward.polygon), ward) for ward in places.wards if ward.polygon)
    for shape, _ in shapes:
        shapely.prepare(shape)
    by_name = {ward.code: ward for ward in places.wards}
    mentions: list[tuple[Words, Ward]] = []
    for ward in places.wards:
        by_name.update((fold(name), ward) for name in ward.names())
        mentions.extend((Words.of(name), ward) for name in (ward.name, *ward.aliases))
        mentions.extend(
            (Words.of(f"{prefix} {name}"), ward)
            for name in ward.prefixed_aliases
            for prefix in places.prefixes
        )
    owners: defaultdict[str, set[str]] = defaultdict(set)
    for ward in places.wards:
        for locality in ward.localities:
            for phrase in locality.phrases():
                owners[fold(phrase)].add(ward.code)
    mentions.extend(
        (Words.of(phrase), ward)
        for ward in places.wards
        for locality in ward.localities
        if locality.kind != "residential_group"
        for phrase in locality.phrases()
        if len(owners[fold(phrase)]) == 1
    )
    groups = {
        ward.code: tuple(
            (Words.of(phrase), locality.name)
            for locality in ward.localities
            if locality.kind in _GROUP_KINDS
            for phrase in locality.phrases()
        )
        for ward in places.wards
    }
    located = {
        ward.code: tuple(
            (Words.of(phrase), locality.group)
            for locality in ward.localities
            if locality.group
            for phrase in locality.phrases()
        )
        for ward in places.wards
    }
    return _Gazetteer(shapes, by_name, tuple(mentions), groups, located)


def resolve_place(
    config: CityConfig,
    *,
    text: str,
    point: GeoPoint | None,
    address_text: str | None,
    ward_hint: str | None,
) -> PlaceResolution:
    """Where the report is (see the module docstring for the order of the sources)."""
    gazetteer = derived(config, _gazetteer)
    address = normalize_text(address_text)[:500] if address_text else ""
    texts: list[tuple[Source, Words]] = [("text", Words.of(text))]
    if address:
        texts.insert(0, ("address", Words.of(address)))

    def in_texts(search: Callable[[Words], str | None]) -> str | None:
        return next((name for _, words in texts if (name := search(words))), None)

    def found(ward: Ward, matched_by: Source) -> PlaceResolution:
        group = (
            in_texts(lambda words: _group(gazetteer.groups[ward.code], words))
            or _village(address)
            or _village(text)
            or in_texts(lambda words: _first(gazetteer.located[ward.code], words))
        )
        place = Place(
            ward_code=ward.code,
            ward_name=ward.name,
            residential_group=group,
            address_text=address or None,
            point=point,
        )
        return PlaceResolution(place, matched_by, unknown=False)

    if point is not None:
        inside = [
            ward
            for shape, ward in gazetteer.shapes
            if shapely.intersects_xy(shape, point.lon, point.lat)
        ]
        if len(inside) == 1:
            return found(inside[0], "coordinates")
    if ward_hint and (hinted := _hinted(config, gazetteer, ward_hint)):
        return found(hinted, "hint")
    for source, words in texts:
        mentioned = {ward.code: ward for phrase, ward in gazetteer.mentions if words.has(phrase)}
        if len(mentioned) == 1:
            return found(next(iter(mentioned.values())), source)
        if mentioned:
            order = [ward.code for ward in config.places.wards]
            codes = tuple(sorted(mentioned, key=order.index))
            return PlaceResolution(None, None, unknown=True, ambiguous_wards=codes)
    return PlaceResolution(None, None, unknown=True)


def _hinted(config: CityConfig, gazetteer: _Gazetteer, hint: str) -> Ward | None:
    key = fold(hint)
    for prefix in config.places.prefixes:
        key = key.removeprefix(f"{fold(prefix)} ")
    return gazetteer.by_name.get(key)


def _first(named: tuple[tuple[Words, str], ...], words: Words) -> str | None:
    """The name whose phrase occurs first in ``words``, if any does."""
    found = [
        (position, name)
        for phrase, name in named
        if (position := next(words.find(phrase), None)) is not None
    ]
    return min(found)[1] if found else None


def _group(configured: tuple[tuple[Words, str], ...], words: Words) -> str | None:
    """The residential group, village or sub-area named in ``words``, if any."""
    if named := _first(configured, words):
        return named
    for pattern, template in _NUMBERED:
        if match := pattern.search(words.key):
            return template.format(match.group(1))
    return None


def _village(text: str) -> str | None:
    """'Bản X' when the text names a village with a capitalized name ('bản Pá Khoang')."""
    for match in _VILLAGE.finditer(normalize_text(text)):
        name = list(takewhile(lambda word: word[0].isupper(), match.group(1).split()))
        if name:
            return f"Bản {' '.join(word.capitalize() for word in name)}"
    return None
