"""The models of a city's reference data and their one loader."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from phananh_contracts.values import Code
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


class CityDataError(ValueError):
    """A city data file cannot be read or is invalid; the message names the file and field."""


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name that this machine's zone database knows, e.g. 'Asia/Ho_Chi_Minh'."""


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


Text = Annotated[str, Field(min_length=1), AfterValidator(_nfc)]


class _Part(BaseModel):
    # Other sections and fields of the same files belong to the services that own them.
    model_config = ConfigDict(frozen=True, extra="ignore")


class CityIdentity(_Part):
    """Who the data is for."""

    code: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="e.g. 'son-la'.")
    name: Text = Field(description="Vietnamese name, e.g. 'Sơn La'.")
    tracking_prefix: str = Field(
        pattern=r"^[A-Z]{2,4}$", description="Start of every tracking code, e.g. 'SL'."
    )
    timezone: TimeZoneName = Field(
        default="Asia/Ho_Chi_Minh",
        description="IANA time zone of messages to citizens and working days.",
    )


class Ward(_Part):
    """A ward or commune (after the 2025 reorganisation) and the names it goes by."""

    code: str = Field(pattern=r"^[0-9]{5}$", description="Official 5-digit code, e.g. '03679'.")
    name: Text = Field(description="Current name without 'phường'/'xã', e.g. 'Chiềng Sinh'.")
    kind: Literal["ward", "commune"] = Field(description="ward (phường) or commune (xã).")
    aliases: tuple[Text, ...] = Field(default=(), description="Old names and other spellings.")

    @property
    def title(self) -> str:
        """The name as a citizen reads it, e.g. 'phường Chiềng Sinh'."""
        return f"{'phường' if self.kind == 'ward' else 'xã'} {self.name}"


class Category(_Part):
    """One category of the taxonomy."""

    code: Code = Field(description="e.g. 'urban_order' (a machine code, as in the events).")
    name: Text = Field(description="Vietnamese name, e.g. 'Trật tự đô thị'.")
    name_en: str = Field(default="", description="English name, e.g. 'Urban order'.")
    group: Text | None = Field(default=None, description="Group shown to citizens.")


class AgencyLevel(StrEnum):
    """Where an agency stands on the escalation ladder."""

    WARD = "ward"
    CITY = "city"
    PROVINCE = "province"
    LEADERSHIP = "leadership"


class Agency(_Part):
    """An agency that handles reports, and whom it escalates to."""

    id: Code = Field(description="e.g. 'ubnd-chieng-sinh' (a machine code, as in the events).")
    name: Text = Field(description="Vietnamese name.")
    level: AgencyLevel = Field(description="Administrative level, on the escalation ladder.")
    parent: Code | None = Field(default=None, description="Agency escalated to, if any.")
    jurisdiction: tuple[str, ...] = Field(default=(), description="Ward codes it answers for.")


class CityData(_Part):
    """A city's reference data, as every service sees it."""

    city: CityIdentity
    wards: tuple[Ward, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)
    agencies: tuple[Agency, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        """The city's time zone, for what citizens read and for working days."""
        return ZoneInfo(self.city.timezone)

    @cached_property
    def _wards(self) -> Mapping[str, Ward]:
        return {ward.code: ward for ward in self.wards}

    @cached_property
    def _categories(self) -> Mapping[str, Category]:
        return {category.code: category for category in self.categories}

    @cached_property
    def _agencies(self) -> Mapping[str, Agency]:
        return {agency.id: agency for agency in self.agencies}

    @property
    def ward_codes(self) -> frozenset[str]:
        return frozenset(self._wards)

    @property
    def category_codes(self) -> frozenset[str]:
        return frozenset(self._categories)

    def ward(self, code: str) -> Ward | None:
        return self._wards.get(code)

    def ward_name(self, code: str) -> str | None:
        ward = self._wards.get(code)
        return ward.name if ward else None

    def category_name(self, code: str) -> str | None:
        category = self._categories.get(code)
        return category.name if category else None

    def agency(self, agency_id: str) -> Agency | None:
        return self._agencies.get(agency_id)

    def ward_names(self) -> dict[str, str]:
        """Ward code -> current name."""
        return {ward.code: ward.name for ward in self.wards}

    def category_names(self) -> dict[str, str]:
        """Category code -> Vietnamese name."""
        return {category.code: category.name for category in self.categories}

    def agency_names(self) -> dict[str, str]:
        """Agency id -> Vietnamese name."""
        return {agency.id: agency.name for agency in self.agencies}

    def ladder(self, agency_id: str) -> tuple[str, ...]:
        """The agency and every agency above it, nearest first (the escalation ladder)."""
        chain: list[str] = []
        current = self._agencies.get(agency_id)
        while current is not None and current.id not in chain:
            chain.append(current.id)
            current = self._agencies.get(current.parent) if current.parent else None
        return tuple(chain)


def load_city_data(city: Path | str, *, agencies: Path | str | None = None) -> CityData:
    """Read a city's reference data: ``city`` (its city.yaml: ``city``, ``places.wards``,
    ``categories``) and, when given, ``agencies`` (a file with an ``agencies`` list, the
    city's routing.yaml). :class:`CityDataError` names the file and every problem."""
    document = _read_mapping(Path(city))
    merged: dict[str, Any] = {
        "city": document.get("city"),
        "wards": (document.get("places") or {}).get("wards"),
        "categories": document.get("categories"),
    }
    sources = {"city": Path(city), "wards": Path(city), "categories": Path(city)}
    if agencies is not None:
        merged["agencies"] = _read_mapping(Path(agencies)).get("agencies") or ()
        sources["agencies"] = Path(agencies)
    try:
        data = CityData.model_validate(merged)
    except ValidationError as error:
        problems = "\n".join(
            f"  {sources.get(str(problem['loc'][0]), Path(city))}: "
            f"{_location(problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise CityDataError(f"invalid city data:\n{problems}") from None
    _check_parents(data, Path(agencies) if agencies is not None else None)
    return data


def _check_parents(data: CityData, path: Path | None) -> None:
    known = {agency.id for agency in data.agencies}
    for agency in data.agencies:
        if agency.parent is not None and agency.parent not in known:
            raise CityDataError(
                f"{path}: agency {agency.id!r} escalates to {agency.parent!r}, which is not listed"
            )
        if agency.id in data.ladder(agency.parent or ""):
            raise CityDataError(f"{path}: agency {agency.id!r} escalates in a circle")
    for agency in data.agencies:
        unknown = sorted(set(agency.jurisdiction) - data.ward_codes)
        if unknown:
            raise CityDataError(
                f"{path}: agency {agency.id!r} answers for unknown ward codes {unknown}"
            )


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise CityDataError(f"{path}: cannot read: {problem}") from None
    except UnicodeDecodeError:
        raise CityDataError(f"{path}: not UTF-8") from None
    except yaml.YAMLError as problem:
        raise CityDataError(f"{path}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise CityDataError(f"{path}: must be a YAML mapping")
    return document


def _location(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]
