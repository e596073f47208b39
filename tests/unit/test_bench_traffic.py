"""The benchmark's traffic: what it counts as contactable must be contactable for intake."""

from __future__ import annotations

import phonenumbers
import pytest

from bench.intake_domain import run
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


def test_about_one_report_in_ten_is_a_near_duplicate_as_the_benchmark_says() -> None:
    # The benchmark's traffic repeats every tenth report and otherwise tells distinct
    # incidents (each at its own lane). When every telling of an issue named the same
    # lane landmark, intake rightly linked most of them, and a run assigned 206 of 4,000:
    # routing and notify had next to nothing to do, and the figures flattered them.
    result = run(2000, 500)
    share = int(result["linked_as_duplicates"]) / 2000  # type: ignore[call-overload]

    assert 0.08 <= share <= 0.15, share
