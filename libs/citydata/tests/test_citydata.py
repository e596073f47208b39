"""The city's reference data as every service reads it (the reference files of Sơn La)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from phananh_citydata import AgencyLevel, CityDataError, load_city_data

pytestmark = pytest.mark.unit

SON_LA = Path(__file__).resolve().parents[3] / "config" / "son-la"


def test_son_la_names_its_wards_categories_and_agencies() -> None:
    city = load_city_data(SON_LA / "city.yaml", agencies=SON_LA / "routing.yaml")

    assert city.city.name == "Sơn La" and str(city.zone) == "Asia/Ho_Chi_Minh"
    assert city.ward_name("03679") == "Chiềng Sinh"
    assert city.ward("03679") is not None and city.ward("03679").title == "phường Chiềng Sinh"
    assert city.category_name("urban_order") == "Trật tự đô thị"
    assert "unclassified" in city.category_codes
    ward_committee = city.agency("ubnd-chieng-sinh")
    assert ward_committee is not None and ward_committee.level is AgencyLevel.WARD
    assert city.ladder("ubnd-chieng-sinh") == (
        "ubnd-chieng-sinh",
        "ubnd-thanh-pho",
        "ban-thuong-vu-thanh-uy",
    )
    assert city.agency_names()["ubnd-thanh-pho"] == "Ủy ban nhân dân thành phố Sơn La"


def test_without_the_agencies_file_there_are_no_agencies() -> None:
    city = load_city_data(SON_LA / "city.yaml")
    assert city.agencies == () and city.agency("ubnd-chieng-sinh") is None


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CITY = """
city: {code: demo, name: "Thành phố Demo", tracking_prefix: DM, timezone: %s}
places:
  wards:
    - {code: "00001", name: "Phường Một", kind: ward}
categories:
  - {code: other, name: "Khác"}
"""


def test_an_unknown_time_zone_is_refused_with_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "city.yaml", CITY % "Asia/Nowhere")
    with pytest.raises(CityDataError) as error:
        load_city_data(path)
    assert str(path) in str(error.value)
    assert "city.timezone" in str(error.value) and "Asia/Nowhere" in str(error.value)


def test_text_is_kept_in_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Thành phố Demo")
    path = write(
        tmp_path / "city.yaml", (CITY % "Asia/Ho_Chi_Minh").replace("Thành phố Demo", decomposed)
    )
    assert load_city_data(path).city.name == unicodedata.normalize("NFC", "Thành phố Demo")


@pytest.mark.parametrize(
    ("agencies", "problem"),
    [
        ("- {id: a, name: A, level: city, parent: b}", "escalates to 'b', which is not listed"),
        (
            "- {id: a, name: A, level: city, parent: b}\n"
            "- {id: b, name: B, level: city, parent: a}",
            "in a circle",
        ),
        (
            "- {id: a, name: A, level: ward, jurisdiction: ['99999']}",
            r"unknown ward codes \['99999'\]",
        ),
    ],
)
def test_agencies_that_cannot_escalate_or_name_unknown_wards_are_refused(
    tmp_path: Path, agencies: str, problem: str
) -> None:
    city = write(tmp_path / "city.yaml", CITY % "Asia/Ho_Chi_Minh")
    routing = write(tmp_path / "routing.yaml", "agencies:\n" + agencies + "\n")
    with pytest.raises(CityDataError, match=problem):
        load_city_data(city, agencies=routing)


def test_a_missing_or_broken_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(CityDataError, match="cannot read"):
        load_city_data(tmp_path / "absent.yaml")
    with pytest.raises(CityDataError, match="must be a YAML mapping"):
        load_city_data(write(tmp_path / "list.yaml", "- a\n- b\n"))


def test_codes_are_machine_codes_as_the_events_carry_them(tmp_path: Path) -> None:
    """A category code or agency id the owning service accepts (``.``, ``-``, ``_``) is
    accepted here too, so no service refuses a file another one runs on."""
    city = write(
        tmp_path / "city.yaml",
        (CITY % "Asia/Ho_Chi_Minh").replace("code: other", "code: roads.pot-holes"),
    )
    routing = write(
        tmp_path / "routing.yaml",
        "agencies:\n"
        "- {id: ubnd.mot, name: UBND Một, level: ward, jurisdiction: ['00001'], parent: so_xd}\n"
        "- {id: so_xd, name: Sở Xây dựng, level: province}\n",
    )
    data = load_city_data(city, agencies=routing)
    assert data.category_name("roads.pot-holes") == "Khác"
    assert data.ladder("ubnd.mot") == ("ubnd.mot", "so_xd")


def test_a_ward_is_a_ward_or_a_commune(tmp_path: Path) -> None:
    path = write(
        tmp_path / "city.yaml", (CITY % "Asia/Ho_Chi_Minh").replace("kind: ward", "kind: town")
    )
    with pytest.raises(CityDataError) as error:
        load_city_data(path)
    assert str(path) in str(error.value) and "wards[0].kind" in str(error.value)
