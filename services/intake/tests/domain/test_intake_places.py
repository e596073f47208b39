"""Where a report is: wards by coordinates, hint, address or text; residential groups."""

import unicodedata
from pathlib import Path

import pytest
import yaml
from intake.config import CityConfig, load_city_config
from intake.domain.places import PlaceResolution, resolve_place
from phananh_contracts import GeoPoint

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[4] / "config/son-la/city.yaml"
CONFIG = load_city_config(REFERENCE)
GOLDEN = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc"


def resolve(
    text: str,
    *,
    config: CityConfig = CONFIG,
    point: GeoPoint | None = None,
    address: str | None = None,
    hint: str | None = None,
) -> PlaceResolution:
    return resolve_place(config, text=text, point=point, address_text=address, ward_hint=hint)


@pytest.mark.parametrize(
    ("text", "code", "name"),
    [
        ("Ổ gà trên đường ở phường Chiềng Sinh", "03679", "Chiềng Sinh"),
        ("Mất nước ở phường Quyết Thắng cũ", "03646", "Tô Hiệu"),
        ("Mat dien o xa Chieng Ngan", "03679", "Chiềng Sinh"),
        ("rac thai o hua la", "03670", "Chiềng Cơi"),
        ("Đèn đường hỏng ở P. Chiềng Sinh", "03679", "Chiềng Sinh"),
        (unicodedata.normalize("NFD", "Rác ở Chiềng Xôm"), "03664", "Chiềng An"),
        ("Ổ gà ở phường Quyết Tâm", "03646", "Tô Hiệu"),
        ("Xe đỗ kín lối vào Quảng trường Tây Bắc", "03646", "Tô Hiệu"),
    ],
)
def test_wards_by_current_and_old_names(text: str, code: str, name: str) -> None:
    resolution = resolve(text)

    assert resolution.place is not None
    assert (resolution.place.ward_code, resolution.place.ward_name) == (code, name)
    assert resolution.matched_by == "text"
    assert not resolution.unknown


def test_golden_path_market_decides_the_ward_and_group() -> None:
    resolution = resolve(GOLDEN)

    assert resolution.place is not None
    assert resolution.place.ward_code == "03679"
    assert resolution.place.ward_name == "Chiềng Sinh"
    assert resolution.place.residential_group == "Tổ 8"


def test_golden_path_typed_without_diacritics() -> None:
    resolution = resolve("ho gia dinh ban thit lon ngoai hanh lang cho noong duc")

    assert resolution.place is not None
    assert resolution.place.ward_code == "03679"


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Ổ gà ở tổ 8, phường Chiềng Sinh", "Tổ 8"),
        ("O ga o to 8 phuong Chieng Sinh", "Tổ 8"),
        ("Ổ gà ở tổ dân phố số 08 phường Chiềng Sinh", "Tổ 8"),
        ("Ổ gà ở TDP 12, Chiềng Sinh", "Tổ 12"),
        ("Ổ gà ở tiểu khu 3, xã Chiềng Ngần", "Tiểu khu 3"),
        ("Đường vào bản Hụm nhiều ổ gà", "Bản Hụm"),
        ("Đường vào bản Pá Khoang, Chiềng Đen hỏng", "Bản Pá Khoang"),
        ("Ổ gà ở phường Chiềng Sinh", None),
    ],
)
def test_residential_group(text: str, group: str | None) -> None:
    resolution = resolve(text)

    assert resolution.place is not None
    assert resolution.place.residential_group == group


def test_residential_group_alone_does_not_decide_the_ward() -> None:
    resolution = resolve("Ổ gà ở tổ 8 rất nguy hiểm")

    assert resolution.place is None
    assert resolution.unknown


def test_two_wards_mentioned_is_ambiguous() -> None:
    resolution = resolve("Đường từ Chiềng An sang chợ Noong Đúc bị sạt")

    assert resolution.place is None
    assert resolution.unknown
    assert resolution.ambiguous_wards == ("03664", "03679")


def test_nothing_found_is_unknown() -> None:
    resolution = resolve("Bạn có thể cho tôi biết ai quyết tâm xử lý ổ gà này không?")

    assert resolution == PlaceResolution(None, None, unknown=True)


def test_ward_hint_with_old_name_or_code() -> None:
    by_name = resolve("Mất điện cả buổi", hint="Phường Hua La")
    by_code = resolve("Mất điện cả buổi", hint="03670")

    assert by_name.place is not None
    assert by_name.place.ward_name == "Chiềng Cơi"
    assert by_name.matched_by == "hint"
    assert by_code.place == by_name.place


def test_unknown_hint_falls_back_to_the_text() -> None:
    resolution = resolve(GOLDEN, hint="Phường Không Có")

    assert resolution.matched_by == "text"
    assert resolution.place is not None
    assert resolution.place.ward_code == "03679"


def test_address_before_text_and_kept_on_the_place() -> None:
    resolution = resolve("Rác ở đầu ngõ, gần Chiềng An", address="  Số 5, tổ 3, phường Chiềng Lề  ")

    assert resolution.matched_by == "address"
    assert resolution.place is not None
    assert resolution.place.ward_code == "03646"
    assert resolution.place.residential_group == "Tổ 3"
    assert resolution.place.address_text == "Số 5, tổ 3, phường Chiềng Lề"


def test_coordinates_without_polygons_fall_back_to_the_text() -> None:
    point = GeoPoint(lat=21.3035, lon=103.9472)

    resolution = resolve(GOLDEN, point=point)

    assert resolution.matched_by == "text"
    assert resolution.place is not None
    assert resolution.place.point == point


def with_polygon() -> CityConfig:
    document = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    chieng_sinh = next(w for w in document["places"]["wards"] if w["code"] == "03679")
    chieng_sinh["polygon"] = [[103.93, 21.29], [103.96, 21.29], [103.96, 21.32], [103.93, 21.32]]
    return CityConfig.model_validate(document)


def test_point_inside_a_polygon_decides_the_ward() -> None:
    config = with_polygon()
    point = GeoPoint(lat=21.3035, lon=103.9472)

    resolution = resolve("Ổ gà ở phường Chiềng An", config=config, point=point)

    assert resolution.matched_by == "coordinates"
    assert resolution.place is not None
    assert resolution.place.ward_code == "03679"
    assert resolution.place.point == point


def test_point_outside_every_polygon_falls_back() -> None:
    config = with_polygon()

    resolution = resolve(
        "Ổ gà ở phường Chiềng An", config=config, point=GeoPoint(lat=21.35, lon=103.90)
    )

    assert resolution.matched_by == "text"
    assert resolution.place is not None
    assert resolution.place.ward_code == "03664"
