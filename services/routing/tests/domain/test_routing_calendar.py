"""Working-day deadlines on the Vietnamese calendar: Tết, weekends, swaps, pauses, warnings."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from routing.domain.calendar import (
    CalendarError,
    NaiveDatetimeError,
    Sla,
    WorkingCalendar,
    add_working_days,
    add_working_time,
    deadline_with_pauses,
    due_at,
    warning_time,
    working_time_between,
)

pytestmark = pytest.mark.unit

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()
DAY = timedelta(hours=7, minutes=30)  # one working day of the default hours


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given in Sơn La's wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


# --- The calendar itself ---------------------------------------------------------------


def test_tet_2024_is_the_governments_eight_to_fourteen_february() -> None:
    # Government decision for Tết Giáp Thìn: off from Thursday 8 February (29 tháng Chạp)
    # to Wednesday 14 February 2024 (mùng 5 Tết). The package gives exactly these days.
    february = {day for day in CAL.public_holidays(2024) if day.month == 2}
    assert february == days(date(2024, 2, 8), date(2024, 2, 14))
    assert CAL.public_holidays(2024)[date(2024, 2, 10)] == "Tết Nguyên Đán"
    assert CAL.is_working_day(date(2024, 2, 7))  # Wednesday before Tết
    assert not any(CAL.is_working_day(day) for day in days(date(2024, 2, 8), date(2024, 2, 14)))
    assert CAL.is_working_day(date(2024, 2, 15))  # Thursday after Tết


def test_tet_2025_closes_every_weekday_of_the_tet_week() -> None:
    # The decision gave Saturday 25 January to Sunday 2 February 2025; the package lists
    # 27 January to 1 February, the weekend does the rest: the same working days.
    assert CAL.is_working_day(date(2025, 1, 24))
    assert not any(CAL.is_working_day(day) for day in days(date(2025, 1, 25), date(2025, 2, 2)))
    assert CAL.is_working_day(date(2025, 2, 3))


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2024, 1, 1), "Tết Dương lịch"),
        (date(2024, 4, 18), "Giỗ Tổ Hùng Vương (10/3 âm lịch)"),
        (date(2025, 4, 7), "Giỗ Tổ Hùng Vương (10/3 âm lịch)"),
        (date(2024, 4, 29), "bridge day swapped for Saturday 4 May 2024"),
        (date(2024, 4, 30), "Ngày Chiến thắng"),
        (date(2024, 5, 1), "Quốc tế Lao động"),
        (date(2024, 9, 2), "Quốc khánh"),
        (date(2024, 9, 3), "Quốc khánh, second day"),
        (date(2025, 9, 1), "Quốc khánh, day before"),
        (date(2026, 4, 27), "Hùng Vương on Sunday 26 April 2026, observed on Monday"),
    ],
)
def test_public_holidays_are_closed(day: date, why: str) -> None:
    assert day.weekday() < 5, "a weekday, or the test proves nothing"
    assert not CAL.is_working_day(day), why


def test_the_governments_swapped_saturday_is_a_working_day() -> None:
    assert CAL.is_working_day(date(2024, 5, 4))
    received = local(2024, 5, 3, 16, 30)  # Friday before the swapped Saturday
    assert add_working_days(CAL, received, 1) == local(2024, 5, 4, 17)


def test_a_configured_saturday_counts_as_working() -> None:
    swapped = WorkingCalendar(working_dates=frozenset({date(2024, 3, 9)}))
    received = local(2024, 3, 8, 16, 30)  # Friday
    assert add_working_days(swapped, received, 1) == local(2024, 3, 9, 17)
    assert add_working_days(CAL, received, 1) == local(2024, 3, 11, 17)
    assert add_working_time(swapped, received, timedelta(hours=1)) == local(2024, 3, 9, 8)


def test_configured_closed_dates_win_over_everything() -> None:
    closed = WorkingCalendar(closed_dates=frozenset({date(2024, 3, 11), date(2024, 5, 4)}))
    assert not closed.is_working_day(date(2024, 3, 11))
    assert not closed.is_working_day(date(2024, 5, 4))  # the package's swapped Saturday
    assert add_working_days(closed, local(2024, 3, 8, 16, 30), 1) == local(2024, 3, 12, 17)


def test_the_calendar_is_configuration_read_from_yaml_like_data() -> None:
    calendar = WorkingCalendar.model_validate(
        {
            "working_hours": [["07:00", "11:30"], ["13:30", "17:00"]],
            "working_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "closed_dates": ["2024-03-13"],
        }
    )
    assert calendar.working_hours[0] == (time(7), time(11, 30))
    assert calendar.is_working_day(date(2024, 3, 9))  # Saturday
    assert not calendar.is_working_day(date(2024, 3, 10))  # Sunday
    assert not calendar.is_working_day(date(2024, 3, 13))
    assert WorkingCalendar.model_validate(calendar.model_dump(mode="json")) == calendar


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timezone": "Asia/Son_La"}, "unknown time zone"),
        ({"country": "XX"}, "no calendar"),
        ({"working_hours": [["11:30", "07:30"]]}, "must end after it starts"),
        ({"working_hours": [["07:30", "12:00"], ["11:30", "17:00"]]}, "without overlap"),
        ({"working_hours": [["07:30+07:00", "11:30"]]}, "without a UTC offset"),
        ({"working_hours": []}, "at least 1"),
        ({"working_weekdays": []}, "at least 1"),
        ({"working_weekdays": ["mon", "mon"]}, "listed twice"),
        ({"working_weekdays": ["monday"]}, "mon"),
        ({"closed_dates": ["2024-05-04"], "working_dates": ["2024-05-04"]}, "both closed"),
        ({"holidays": []}, "Extra inputs"),
    ],
)
def test_an_invalid_calendar_is_refused_with_the_reason(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        WorkingCalendar.model_validate(config)


# --- Time zone -------------------------------------------------------------------------


def test_local_hours_are_utc_plus_seven_and_results_are_utc() -> None:
    opens, closes = CAL.working_periods(date(2024, 3, 8))[0]
    assert opens == datetime(2024, 3, 8, 0, 30, tzinfo=UTC)  # 07:30 in Sơn La
    assert closes == datetime(2024, 3, 8, 4, 30, tzinfo=UTC)  # 11:30
    result = add_working_time(CAL, datetime(2024, 3, 8, 0, 30, tzinfo=UTC), timedelta(hours=1))
    assert result.tzinfo is UTC
    assert result == datetime(2024, 3, 8, 1, 30, tzinfo=UTC)


def test_an_instant_in_another_offset_is_the_same_instant() -> None:
    tokyo = datetime(2024, 3, 8, 18, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 16:30 in Sơn La
    assert add_working_days(CAL, tokyo, 1) == local(2024, 3, 11, 17)
    # 23:30 UTC on Sunday is already Monday 06:30 in Sơn La: Monday is the day of receipt.
    assert CAL.local_date(datetime(2024, 3, 10, 23, 30, tzinfo=UTC)) == date(2024, 3, 11)
    assert add_working_days(CAL, datetime(2024, 3, 10, 23, 30, tzinfo=UTC), 1) == local(
        2024, 3, 12, 17
    )


def test_a_zone_with_daylight_saving_moves_the_utc_hours() -> None:
    paris = WorkingCalendar(timezone="Europe/Paris", country="FR")
    assert paris.working_periods(date(2024, 3, 29))[0][0] == datetime(
        2024, 3, 29, 6, 30, tzinfo=UTC
    )
    assert paris.working_periods(date(2024, 4, 2))[0][0] == datetime(2024, 4, 2, 5, 30, tzinfo=UTC)
    assert paris.working_periods(date(2024, 4, 1)) == ()  # Easter Monday


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: add_working_time(CAL, naive, timedelta(hours=1)),
        lambda naive: add_working_days(CAL, naive, 1),
        lambda naive: working_time_between(CAL, naive, local(2024, 3, 8)),
        lambda naive: working_time_between(CAL, local(2024, 3, 8), naive),
        lambda naive: deadline_with_pauses(CAL, naive, Sla(working_days=1), []),
        lambda naive: deadline_with_pauses(
            CAL, local(2024, 3, 8), Sla(working_days=1), [(naive, None)]
        ),
        lambda naive: warning_time(CAL, naive, local(2024, 3, 8)),
    ],
)
def test_naive_datetimes_are_refused_with_a_clear_error(call: object) -> None:
    assert callable(call)
    with pytest.raises(NaiveDatetimeError, match="must be timezone-aware"):
        call(datetime(2024, 3, 8, 16, 30))


# --- Working days ----------------------------------------------------------------------


def test_friday_afternoon_with_one_working_day_is_due_monday_evening() -> None:
    assert add_working_days(CAL, local(2024, 3, 8, 16, 30), 1) == local(2024, 3, 11, 17)


def test_friday_afternoon_with_five_working_days_is_due_next_friday_evening() -> None:
    assert add_working_days(CAL, local(2024, 3, 8, 16, 30), 5) == local(2024, 3, 15, 17)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (local(2024, 3, 8, 18), local(2024, 3, 11, 17)),  # Friday after closing
        (local(2024, 3, 9, 10), local(2024, 3, 11, 17)),  # Saturday
        (local(2024, 3, 10, 23, 59), local(2024, 3, 11, 17)),  # Sunday night
        (local(2024, 3, 11, 6), local(2024, 3, 12, 17)),  # Monday before opening
        (local(2024, 3, 11, 12), local(2024, 3, 12, 17)),  # Monday lunch break
    ],
)
def test_the_day_of_receipt_never_counts(received: datetime, due: datetime) -> None:
    assert add_working_days(CAL, received, 1) == due


def test_a_report_from_the_eve_of_tet_2024_is_due_after_tet() -> None:
    received = local(2024, 2, 7, 10)  # Wednesday, the last working day before Tết
    # Thursday 15, Friday 16, Monday 19, Tuesday 20, Wednesday 21 February.
    assert add_working_days(CAL, received, 5) == local(2024, 2, 21, 17)


def test_a_report_received_on_giao_thua_counts_from_the_first_day_after_tet() -> None:
    received = local(2024, 2, 9, 20)  # Giao thừa, a holiday
    assert add_working_days(CAL, received, 1) == local(2024, 2, 15, 17)


def test_a_term_across_national_day_skips_both_days() -> None:
    received = local(2024, 8, 30, 9)  # Friday
    assert add_working_days(CAL, received, 1) == local(2024, 9, 4, 17)


def test_a_term_of_zero_days_is_refused() -> None:
    with pytest.raises(CalendarError, match="at least 1 day"):
        add_working_days(CAL, local(2024, 3, 8, 9), 0)


# --- Working hours ---------------------------------------------------------------------


def test_eight_working_hours_run_across_the_weekend_and_the_lunch_break() -> None:
    received = local(2024, 3, 8, 15)  # Friday: 2 h today, 4 h Monday morning, 2 h after lunch
    assert add_working_time(CAL, received, timedelta(hours=8)) == local(2024, 3, 11, 15, 30)


def test_the_clock_starts_at_the_next_opening() -> None:
    assert add_working_time(CAL, local(2024, 3, 8, 12), timedelta(hours=1)) == local(
        2024, 3, 8, 14, 30
    )
    assert add_working_time(CAL, local(2024, 2, 9, 9), timedelta(hours=1)) == local(
        2024, 2, 15, 8, 30
    )


def test_time_that_runs_out_at_closing_is_due_at_closing() -> None:
    assert add_working_time(CAL, local(2024, 3, 8, 13, 30), timedelta(hours=3, minutes=30)) == (
        local(2024, 3, 8, 17)
    )


def test_working_time_between_counts_only_working_periods() -> None:
    assert working_time_between(CAL, local(2024, 3, 8, 7), local(2024, 3, 11, 8)) == DAY + (
        timedelta(minutes=30)
    )
    assert working_time_between(CAL, local(2024, 2, 8), local(2024, 2, 15)) == timedelta()
    assert working_time_between(CAL, local(2024, 3, 11, 8), local(2024, 3, 8, 7)) == -(
        DAY + timedelta(minutes=30)
    )


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(CalendarError, match="must not be negative"):
        add_working_time(CAL, local(2024, 3, 8, 9), timedelta(hours=-1))


# --- SLA and pauses --------------------------------------------------------------------

MONDAY_8 = local(2024, 3, 4, 8)
FIVE_DAYS = Sla(working_days=5)


def test_sla_has_exactly_one_term() -> None:
    assert due_at(CAL, MONDAY_8, Sla(working_hours=8)) == local(2024, 3, 5, 8, 30)
    assert due_at(CAL, MONDAY_8, FIVE_DAYS) == local(2024, 3, 11, 17)
    for bad in ({}, {"working_days": 1, "working_hours": 8}):
        with pytest.raises(ValidationError, match="exactly one"):
            Sla.model_validate(bad)
    with pytest.raises(ValidationError):
        Sla(working_days=0)
    with pytest.raises(ValidationError):
        Sla(working_hours=float("inf"))


def test_a_pause_of_two_working_days_pushes_the_deadline_two_working_days() -> None:
    pause = (local(2024, 3, 5, 8), local(2024, 3, 7, 8))  # Tuesday 08:00 to Thursday 08:00
    assert working_time_between(CAL, *pause) == 2 * DAY
    deadline = deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [pause])
    assert deadline == local(2024, 3, 13, 17) == add_working_days(CAL, MONDAY_8, 7)


def test_an_open_pause_stops_the_clock() -> None:
    assert deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [(local(2024, 3, 5, 8), None)]) is None


def test_pauses_that_cost_no_working_time_do_not_move_the_deadline() -> None:
    due = local(2024, 3, 11, 17)
    weekend = (local(2024, 3, 9, 8), local(2024, 3, 10, 20))
    before = (local(2024, 3, 1, 8), local(2024, 3, 4, 7))  # ends before the report came
    after = (local(2024, 3, 11, 17), None)  # begins once the deadline passed
    assert deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [weekend, before, after]) == due


def test_overlapping_pauses_count_once() -> None:
    first = (local(2024, 3, 5, 8), local(2024, 3, 6, 8))
    second = (local(2024, 3, 5, 14), local(2024, 3, 7, 8))
    assert deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [second, first]) == local(2024, 3, 13, 17)


def test_a_pause_that_began_before_the_report_counts_from_the_report() -> None:
    pause = (local(2024, 3, 1, 8), local(2024, 3, 5, 8))  # one working day after receipt
    assert deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [pause]) == local(2024, 3, 12, 17)


def test_a_pause_extends_the_deadline_it_began_before() -> None:
    # The first pause moves the deadline to Tuesday 12; the second begins before that.
    first = (local(2024, 3, 5, 8), local(2024, 3, 6, 8))
    second = (local(2024, 3, 12, 8), local(2024, 3, 13, 8))
    assert deadline_with_pauses(CAL, MONDAY_8, FIVE_DAYS, [first, second]) == local(2024, 3, 13, 17)


def test_a_pause_that_ends_before_it_begins_is_refused() -> None:
    with pytest.raises(CalendarError, match="before it begins"):
        deadline_with_pauses(
            CAL, MONDAY_8, FIVE_DAYS, [(local(2024, 3, 6, 8), local(2024, 3, 5, 8))]
        )


# --- Warnings --------------------------------------------------------------------------


def test_the_warning_comes_after_eighty_percent_of_the_working_time() -> None:
    assert warning_time(CAL, local(2024, 3, 4, 7, 30), local(2024, 3, 4, 17)) == local(
        2024, 3, 4, 15, 30
    )
    # Five working days from Friday 16:30: 38 h of working time (a half hour on Friday,
    # then five days); 80 % is 30 h 24 min, reached on Thursday at 16:54.
    received = local(2024, 3, 8, 16, 30)
    deadline = add_working_days(CAL, received, 5)
    assert warning_time(CAL, received, deadline) == local(2024, 3, 14, 16, 54)


def test_the_warning_fraction_and_order_are_checked() -> None:
    with pytest.raises(CalendarError, match="between 0 and 1"):
        warning_time(CAL, MONDAY_8, local(2024, 3, 5, 8), fraction=1.5)
    with pytest.raises(CalendarError, match="must not come before"):
        warning_time(CAL, local(2024, 3, 5, 8), MONDAY_8)


# --- Properties ------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(), max_value=timedelta(hours=200))


@settings(deadline=None)
@given(instants, durations, durations)
def test_working_time_adds_up(start: datetime, a: timedelta, b: timedelta) -> None:
    assert add_working_time(CAL, add_working_time(CAL, start, a), b) == add_working_time(
        CAL, start, a + b
    )


@settings(deadline=None)
@given(instants, durations)
def test_working_time_between_inverts_add_working_time(start: datetime, d: timedelta) -> None:
    end = add_working_time(CAL, start, d)
    assert end >= start
    assert working_time_between(CAL, start, end) == d


@settings(deadline=None)
@given(instants, instants, instants)
def test_working_time_between_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    assert working_time_between(CAL, a, b) + working_time_between(CAL, b, c) == (
        working_time_between(CAL, a, c)
    )


@settings(deadline=None)
@given(instants, st.integers(min_value=1, max_value=30))
def test_a_working_day_term_ends_at_closing_of_a_later_working_day(start: datetime, n: int) -> None:
    due = add_working_days(CAL, start, n)
    day = CAL.local_date(due)
    assert CAL.is_working_day(day)
    assert day > CAL.local_date(start)
    assert due.astimezone(VN).time() == time(17)
    assert add_working_days(CAL, start, n + 1) > due
