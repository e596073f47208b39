"""Masking a citizen's free text: contacts and people's names go, places stay."""

from __future__ import annotations

import pytest
from phananh_platform.privacy import mask_names, mask_personal_data

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Tôi là Nguyễn Văn An, tổ 8", "Tôi là [họ tên], tổ 8"),
        (
            "Hộ ông Lò Văn Pấng ở bản Hụn lấn chiếm vỉa hè",
            "Hộ ông [họ tên] ở bản Hụn lấn chiếm vỉa hè",
        ),
        ("Ông Lò Văn Minh ở tổ 5", "Ông [họ tên] ở tổ 5"),
        ("chị Hoa bán hàng ngoài chợ", "chị [họ tên] bán hàng ngoài chợ"),
        ("Người gửi: Cầm Thị Thanh", "Người gửi: [họ tên]"),
        ("Nguyễn Thị Lan và Quàng Văn Hùng cùng ký tên", "[họ tên] và [họ tên] cùng ký tên"),
    ],
)
def test_peoples_names_are_masked(text: str, masked: str) -> None:
    assert mask_names(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Đèn đường hỏng trên đường Lò Văn Giá, tổ 2 phường Tô Hiệu",
        "Đường Lê Duẩn đoạn qua phường Chiềng Cơi có nhiều ổ gà",
        "Trần nhà trường Chu Văn An bị dột",
        "Ngã tư Hoàng Văn Thụ ùn tắc giờ cao điểm",
        "UBND phường Quyết Thắng chưa xử lý",
        "Anh em trong tổ đều thấy; bà con bản Hụn phản ánh",
        "Hộ gia đình bán thịt lợn ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh",
    ],
)
def test_places_named_after_people_and_plain_words_stay(text: str) -> None:
    assert mask_names(text) == text


def test_contacts_and_names_are_masked_together() -> None:
    text = "Liên hệ chị Lò Thị Hoa, 0912 345 678, hoa.lo@example.vn"
    assert mask_personal_data(text) == "Liên hệ chị [họ tên], [số điện thoại], [email]"
