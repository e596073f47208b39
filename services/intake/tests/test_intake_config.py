"""The city configuration: the reference file, clear errors, phrase matching."""

import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from intake.config import CityConfigError, Words, load_city_config
from phananh_citydata import CityIdentity, load_city_data

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[3] / "config/son-la/city.yaml"
SEED_CATEGORIES = {
    "security_order",
    "traffic_safety",
    "natural_resources_environment",
    "construction_order",
    "urban_order",
    "environmental_sanitation",
}


def reference_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    return document


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_reference_config_loads() -> None:
    config = load_city_config(REFERENCE)

    assert config.city.tracking_prefix == "SL"
    assert config.city.timezone == "Asia/Ho_Chi_Minh"
    assert {(ward.code, ward.name) for ward in config.places.wards} == {
        ("03646", "Tô Hiệu"),
        ("03664", "Chiềng An"),
        ("03670", "Chiềng Cơi"),
        ("03679", "Chiềng Sinh"),
    }
    codes = {category.code for category in config.categories}
    assert codes >= SEED_CATEGORIES
    assert "unclassified" in codes
    assert all(
        len(category.keywords) >= 8
        for category in config.categories
        if category.code != "unclassified"
    )
    assert config.text.teencode["ko"] == "khong"
    assert config.dedupe.window_hours == 72


def test_reference_config_is_nfc() -> None:
    text = REFERENCE.read_text(encoding="utf-8")

    assert unicodedata.is_normalized("NFC", text)


def test_keywords_may_be_a_list_with_weight_one(tmp_path: Path) -> None:
    document = reference_document()
    document["categories"][0]["keywords"] = ["trộm cắp", "đánh nhau"]

    config = load_city_config(write(tmp_path, document))

    assert config.categories[0].keywords == {"trộm cắp": 1.0, "đánh nhau": 1.0}


def test_broken_field_is_named_with_the_file(tmp_path: Path) -> None:
    document = reference_document()
    document["places"]["wards"][3]["code"] = "3679"
    path = write(tmp_path, document)

    with pytest.raises(CityConfigError) as raised:
        load_city_config(path)

    assert str(path) in str(raised.value)
    assert "places.wards[3].code" in str(raised.value)


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    document = reference_document()
    document["dedupe"]["window_days"] = 3

    with pytest.raises(CityConfigError, match=r"dedupe\.window_days"):
        load_city_config(write(tmp_path, document))


def test_alias_of_two_wards_is_ambiguous(tmp_path: Path) -> None:
    document = reference_document()
    document["places"]["wards"][0]["aliases"].append("Chieng Ngan")  # Chiềng Ngần, folded

    with pytest.raises(CityConfigError) as raised:
        load_city_config(write(tmp_path, document))

    message = str(raised.value)
    assert "Tô Hiệu (03646)" in message
    assert "Chiềng Sinh (03679)" in message


def test_taxonomy_needs_the_triage_bucket(tmp_path: Path) -> None:
    document = reference_document()
    document["categories"] = [c for c in document["categories"] if c["code"] != "unclassified"]

    with pytest.raises(CityConfigError, match="unclassified"):
        load_city_config(write(tmp_path, document))


@pytest.mark.parametrize(
    ("teencode", "problem"),
    [({"Ko": "khong"}, "teencode key"), ({"ko": "không"}, "teencode value")],
)
def test_teencode_must_be_folded(tmp_path: Path, teencode: dict[str, str], problem: str) -> None:
    document = reference_document()
    document["text"]["teencode"] = teencode

    with pytest.raises(CityConfigError, match=problem):
        load_city_config(write(tmp_path, document))


def test_self_intersecting_polygon_is_refused(tmp_path: Path) -> None:
    document = reference_document()
    document["places"]["wards"][0]["polygon"] = [[0, 0], [1, 1], [1, 0], [0, 1]]

    with pytest.raises(CityConfigError, match=r"places\.wards\[0\]\.polygon"):
        load_city_config(write(tmp_path, document))


def test_missing_file_and_bad_yaml_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CityConfigError, match="cannot read"):
        load_city_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("city: [unclosed", encoding="utf-8")
    with pytest.raises(CityConfigError, match="not valid YAML"):
        load_city_config(broken)


def test_config_is_immutable() -> None:
    config = load_city_config(REFERENCE)

    with pytest.raises(ValueError, match="frozen"):
        config.city = config.city  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "phrase", "found"),
    [
        ("Bán hàng ngoài hành lang chợ Noong Đúc", "chợ Noong Đúc", True),
        ("ban hang ngoai hanh lang cho noong duc", "chợ Noong Đúc", True),
        (unicodedata.normalize("NFD", "CHỢ NOONG ĐÚC"), "chợ Noong Đúc", True),
        ("Chợ Noong Duc", "chợ Noong Đúc", True),  # partly typed without diacritics
        ("Nước thải hoà vào suối", "hòa vào suối", True),  # old tone-mark placement
        ("xe chạy quá nhanh", "cháy", False),
        ("bạn có thể xử lý", "bản Cọ", False),
        ("ban co the xu ly", "bản Cọ", True),  # without diacritics the two read the same
        ("chợ Noong Đúcc", "chợ Noong Đúc", False),  # word boundaries
    ],
)
def test_words_match_accent_insensitively_but_never_misread(
    text: str, phrase: str, found: bool
) -> None:
    assert Words.of(text).has(Words.of(phrase)) is found


def test_words_expand_teencode_only_where_typed_without_diacritics() -> None:
    teencode = {"ko": "khong", "hong": "khong"}

    assert Words.of("ko co dien", teencode).folded == ("khong", "co", "dien")
    assert Words.of("đường hỏng", teencode).folded == ("duong", "hong")


def test_intake_and_every_other_service_read_the_same_city() -> None:
    """Intake's richer model and the shared reference data (phananh_citydata) agree on the
    reference file: the same identity, wards and categories."""
    config = load_city_config(REFERENCE)
    shared = load_city_data(REFERENCE)

    assert isinstance(config.city, CityIdentity)
    assert config.city.model_dump() == shared.city.model_dump()
    assert [(w.code, w.name, w.kind, w.aliases) for w in config.places.wards] == [
        (w.code, w.name, w.kind, w.aliases) for w in shared.wards
    ]
    assert [(c.code, c.name, c.name_en, c.group) for c in config.categories] == [
        (c.code, c.name, c.name_en, c.group) for c in shared.categories
    ]


def test_an_unknown_time_zone_is_refused_naming_the_field(tmp_path: Path) -> None:
    document = reference_document()
    document["city"]["timezone"] = "Asia/Son_La"
    with pytest.raises(CityConfigError) as error:
        load_city_config(write(tmp_path, document))
    assert "city.timezone: Value error, unknown time zone 'Asia/Son_La'" in str(error.value)
