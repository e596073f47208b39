"""The routing configuration file and the city's codes it is checked against."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from phananh_citydata import CityDataError, load_city_data
from phananh_platform.config import read_yaml_mapping

from routing.domain.corrections import CityCodes
from routing.domain.rules import RuleSet, RuleSetError, ruleset_of, validate_ruleset
from routing.settings import Settings


def load_ruleset(path: Path) -> RuleSet:
    """Read a routing configuration and check its shape.

    :class:`RuleSetError` names the file and each field in error, e.g.
    ``rules[2] (id 'mat-dien').sla.normal: give exactly one of working_days or
    working_hours``. Use :func:`validate_ruleset` next to check its meaning.
    """
    document = read_yaml_mapping(path, "routing configuration", RuleSetError)
    return ruleset_of(document, str(path))


def city_check(settings: Settings) -> Callable[[RuleSet], list[str]]:
    """The problems of a rule set against the city's ward and category codes.

    The codes come from the city's reference data (:func:`phananh_citydata.load_city_data`);
    a city file that cannot be used is a :class:`RuleSetError` naming the file and field.
    """
    try:
        city = load_city_data(settings.city_config)
    except CityDataError as error:
        raise RuleSetError(str(error)) from None
    wards, categories = set(city.ward_codes), set(city.category_codes)
    return lambda ruleset: [str(p) for p in validate_ruleset(ruleset, categories, wards)]


def city_codes(settings: Settings) -> CityCodes:
    """The category codes and wards (code → name) of the city, for triage corrections."""
    try:
        city = load_city_data(settings.city_config)
    except CityDataError as error:
        raise RuleSetError(str(error)) from None
    return CityCodes(
        categories=frozenset(city.category_codes),
        wards={ward.code: ward.name for ward in city.wards},
    )


def checked_ruleset(settings: Settings) -> RuleSet:
    """The rule set, validated against the city's codes; RuleSetError naming each problem."""
    ruleset = load_ruleset(settings.routing_config)
    problems = city_check(settings)(ruleset)
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise RuleSetError(f"{settings.routing_config}: the rules cannot be used:\n{listed}")
    return ruleset
