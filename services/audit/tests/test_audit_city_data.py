"""Audit names wards, categories and agencies from the city's reference data."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit.app import city_data
from audit.settings import Settings
from phananh_citydata import CityDataError
from pydantic import ValidationError

pytestmark = pytest.mark.unit

SON_LA = Path(__file__).resolve().parents[3] / "config" / "son-la"


def test_the_board_names_wards_categories_and_agencies_of_son_la() -> None:
    city = city_data(
        Settings(city_config=SON_LA / "city.yaml", routing_config=SON_LA / "routing.yaml")
    )

    assert city is not None
    assert city.ward_names()["03664"] == "Chiềng An"
    assert city.category_names()["urban_order"] == "Trật tự đô thị"
    assert city.agency_names()["ubnd-to-hieu"] == "Ủy ban nhân dân phường Tô Hiệu"


def test_without_a_city_file_the_pages_show_codes() -> None:
    assert city_data(Settings()) is None


def test_agencies_without_the_city_file_are_refused() -> None:
    with pytest.raises(ValidationError, match="PHANANH_ROUTING_CONFIG needs PHANANH_CITY_CONFIG"):
        Settings(routing_config=SON_LA / "routing.yaml")


def test_a_broken_city_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    city = tmp_path / "city.yaml"
    city.write_text(
        "city: {code: demo, name: Demo, tracking_prefix: DM}\n"
        "places: {wards: [{code: '1', name: Một, kind: ward}]}\n"
        "categories: [{code: other, name: Khác}]\n",
        encoding="utf-8",
    )
    with pytest.raises(CityDataError) as error:
        city_data(Settings(city_config=city))
    assert str(city) in str(error.value) and "wards[0].code" in str(error.value)
