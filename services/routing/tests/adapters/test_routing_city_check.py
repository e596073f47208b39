"""Routing checks its rules against the city's codes, read from the city's reference data."""

from __future__ import annotations

from pathlib import Path

import pytest
from routing.adapters.rules_file import checked_ruleset, city_check
from routing.domain.rules import RuleSetError
from routing.settings import Settings

pytestmark = pytest.mark.unit

SON_LA = Path(__file__).resolve().parents[4] / "config" / "son-la"


def settings(city: Path) -> Settings:
    return Settings(routing_config=SON_LA / "routing.yaml", city_config=city)


def test_son_la_rules_fit_son_la() -> None:
    ruleset = checked_ruleset(settings(SON_LA / "city.yaml"))
    assert city_check(settings(SON_LA / "city.yaml"))(ruleset) == []


def test_rules_naming_wards_the_city_lacks_are_refused(tmp_path: Path) -> None:
    city = tmp_path / "city.yaml"
    city.write_text(
        "city: {code: demo, name: Demo, tracking_prefix: DM}\n"
        "places: {wards: [{code: '00001', name: Một, kind: ward}]}\n"
        "categories: [{code: unclassified, name: Chưa phân loại}]\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleSetError, match="the rules cannot be used"):
        checked_ruleset(settings(city))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("city: {code: demo, name: Demo, tracking_prefix: DM}\n", "wards"),
        ("- not a mapping\n", "must be a YAML mapping"),
    ],
)
def test_an_unusable_city_file_is_refused_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    city = tmp_path / "city.yaml"
    city.write_text(text, encoding="utf-8")
    with pytest.raises(RuleSetError) as error:
        city_check(settings(city))
    assert str(city) in str(error.value) and problem in str(error.value)


def test_a_missing_city_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="cannot read"):
        city_check(settings(tmp_path / "nowhere.yaml"))
