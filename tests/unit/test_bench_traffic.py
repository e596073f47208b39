"""The benchmark's traffic: what it counts as contactable must be contactable for intake."""

from __future__ import annotations

import phonenumbers
import pytest

from bench.traffic import _phone

pytestmark = pytest.mark.unit


def test_every_phone_number_of_a_200k_run_is_a_valid_vietnamese_mobile_number() -> None:
    # At 50,000 reports, 275 reports lost their only contact to numbers starting 0992 (not a
    # mobile range): intake rightly dropped them, and the benchmark counted them as lost.
    numbers = range(0, 200_000, 13)
    for number in numbers:
        parsed = phonenumbers.parse(_phone(number), "VN")
        assert phonenumbers.is_valid_number(parsed), _phone(number)
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    assert len({_phone(number) for number in numbers}) == len(numbers), "one citizen each"
