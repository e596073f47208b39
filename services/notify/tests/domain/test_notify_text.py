"""Dates on Sơn La's clock, SMS without diacritics, segments counted like a handset."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from notify.domain.text import (
    fit_sms,
    sms_segments,
    strip_diacritics,
    vietnamese_date,
    vietnamese_datetime,
)

pytestmark = pytest.mark.unit

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_dates_are_shown_in_vietnamese_on_sonla_time() -> None:
    deadline = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
    assert vietnamese_datetime(deadline, VN) == "17 giờ 00, thứ Ba, ngày 21/3/2023"
    assert vietnamese_date(deadline, VN) == "21/03/2023"
    late = datetime(2023, 3, 25, 17, 5, tzinfo=UTC)  # 00:05 on Sunday in Sơn La
    assert vietnamese_datetime(late, VN) == "0 giờ 05, Chủ nhật, ngày 26/3/2023"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        vietnamese_date(datetime(2023, 3, 21, 10, 0), VN)


def test_diacritics_are_stripped_and_d_with_stroke_becomes_d() -> None:
    assert strip_diacritics("Đội Quản lý trật tự đô thị – Sơn La") == (
        "Doi Quan ly trat tu do thi - Son La"
    )
    assert strip_diacritics("Chiềng Sinh, Tô Hiệu, hạn “21/3”…") == (
        'Chieng Sinh, To Hieu, han "21/3"...'
    )
    decomposed = "Chie\u0300ng"  # windows-1258 style: a combining grave accent
    assert strip_diacritics(decomposed) == "Chieng"


def test_segments_are_counted_for_gsm7_and_unicode() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("[" * 80) == 1  # extension characters count two septets
    assert sms_segments("[" * 81) == 2
    assert sms_segments("ư" * 70) == 1  # Vietnamese letters force UCS-2
    assert sms_segments("ư" * 71) == 2


def test_a_long_sms_is_cut_at_a_word_to_fit() -> None:
    text = "Ma SL-2303-7KQ4M9: " + "ket qua xu ly " * 40
    fitted = fit_sms(text, 2)
    assert fitted.startswith("Ma SL-2303-7KQ4M9: ket qua")
    assert fitted.endswith("...") and sms_segments(fitted) == 2
    assert fit_sms("ngan gon", 1) == "ngan gon"
