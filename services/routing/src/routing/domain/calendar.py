"""Working time on a Vietnamese administrative calendar: deadlines, pauses and warnings.

A report's deadline counts only the agency's working time. :class:`WorkingCalendar` is
configuration (YAML or JSON validated here) that says when that is; the functions below
do the arithmetic. Everything is pure: the public holidays come from the ``holidays``
package, which computes them (Tết from the lunar calendar) without I/O.

**Time.** Every instant passed in must be timezone-aware (any offset) and every instant
returned is in UTC. Local time (``Asia/Ho_Chi_Minh`` by default, UTC+7 all year, no
daylight saving) is used only inside, to find the local date and the opening hours.

**Working day.** A local date is a working day when, in this order of precedence:

1. it is in ``closed_dates`` (configured): closed;
2. it is in ``working_dates`` (configured, e.g. a Saturday the government swapped for a
   bridge day): working;
3. it is a public holiday of ``holidays.country_holidays(country)``: closed. For Vietnam
   this includes the days off for Tết the government grants (e.g. 8–14 February 2024,
   labelled "29 Tết" and "Mùng bốn/năm Tết"), the observed days (nghỉ bù) of holidays
   falling on a weekend, and the bridge days it swapped (e.g. Monday 29 April 2024);
4. it is a weekend day the package knows the government made a working day in exchange
   (e.g. Saturday 4 May 2024): working;
5. otherwise: working when its weekday is one of ``working_weekdays``.

**Working time** is the union of the ``working_hours`` periods (07:30–11:30 and
13:30–17:00 by default) on working days.

**Deadlines.** :func:`add_working_time` runs a clock through working time only (for SLA
in hours, e.g. urgent: 8 working hours). :func:`add_working_days` follows the rule for
terms counted in days (Bộ luật Dân sự 2015, Điều 147–148): the day of receipt is not
counted; the term starts on the first working day after the local date of receipt, and
ends at the close of the N-th working day. :func:`deadline_with_pauses` stops the clock
while the agency waits for the citizen; :func:`warning_time` says when to warn before the
breach.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

import holidays
from phananh_citydata import TimeZoneName
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"""A day of the week as written in the configuration."""

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The weekdays in :meth:`datetime.date.weekday` order (Monday is 0)."""

Interval = tuple[datetime, datetime]
"""A working period as two UTC instants, start included, end excluded."""


class CalendarError(ValueError):
    """A calendar computation was given values it cannot work with (the message says why)."""


class NaiveDatetimeError(CalendarError):
    """A datetime without a time zone was given where an instant is needed."""


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError(f"{value.isoformat()} must be a local time without a UTC offset")
    return value


def _end_of_day(value: Any) -> Any:
    return time.max if value in ("24:00", "24:00:00") else value


LocalTime = Annotated[time, BeforeValidator(_end_of_day), AfterValidator(_local_time)]
"""A wall-clock time in the calendar's time zone, e.g. ``07:30``; ``24:00`` ends the day."""


class WorkingCalendar(BaseModel):
    """When an agency works: time zone, opening hours, weekdays, holidays and exceptions.

    All fields have the defaults of a Vietnamese state agency, so ``WorkingCalendar()`` is
    the national calendar; a city or an agency overrides what differs, e.g. in YAML::

        working_hours: [["07:00", "11:30"], ["13:30", "17:00"]]
        working_dates: ["2024-05-04"]   # a Saturday swapped for a bridge day
        closed_dates: ["2024-10-10"]    # a local day off

    See the module documentation for the order in which these decide a working day.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: TimeZoneName = Field(
        default="Asia/Ho_Chi_Minh",
        description="IANA time zone of the working hours and working days.",
    )
    country: str = Field(
        default="VN",
        description=(
            "ISO 3166 country code whose public holidays (from the holidays package, "
            "with observed and substituted days) close the agency."
        ),
    )
    working_hours: tuple[tuple[LocalTime, LocalTime], ...] = Field(
        default=((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))),
        min_length=1,
        description=(
            "Working periods of a working day as [start, end] local times, in order and "
            "not overlapping, e.g. [['07:30', '11:30'], ['13:30', '17:00']]."
        ),
    )
    working_weekdays: tuple[Weekday, ...] = Field(
        default=("mon", "tue", "wed", "thu", "fri"),
        min_length=1,
        description="Weekdays that are working days unless a holiday: mon … sun.",
    )
    observes_public_holidays: bool = Field(
        default=True,
        description=(
            "Whether the country's public holidays (and the government's swapped working "
            "days) apply; false for services on call every day (power, water, police)."
        ),
    )
    closed_dates: frozenset[date] = Field(
        default_factory=frozenset,
        description="Extra local dates without work (local days off, announced closures).",
    )
    working_dates: frozenset[date] = Field(
        default_factory=frozenset,
        description=(
            "Extra local dates with work, e.g. a Saturday the government swapped for a "
            "bridge day; they win over weekends and public holidays."
        ),
    )

    _zone: ZoneInfo = PrivateAttr()
    _weekdays: frozenset[int] = PrivateAttr()

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        try:
            holidays.country_holidays(value)
        except NotImplementedError:
            raise ValueError(f"the holidays package has no calendar for {value!r}") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _ordered_periods(
        cls, value: tuple[tuple[time, time], ...]
    ) -> tuple[tuple[time, time], ...]:
        for start, end in value:
            if start >= end:
                raise ValueError(f"working period {start}–{end} must end after it starts")
        for (_, end), (start, _) in itertools.pairwise(value):
            if start < end:
                raise ValueError(f"working periods must be in order without overlap ({start})")
        return value

    @field_validator("working_weekdays")
    @classmethod
    def _distinct_weekdays(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a weekday is listed twice")
        return value

    @model_validator(mode="after")
    def _consistent_dates(self) -> Self:
        if both := sorted(self.closed_dates & self.working_dates):
            listed = ", ".join(day.isoformat() for day in both)
            raise ValueError(f"dates both closed and working: {listed}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._zone = ZoneInfo(self.timezone)
        self._weekdays = frozenset(WEEKDAYS.index(day) for day in self.working_weekdays)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._zone

    def public_holidays(self, year: int) -> Mapping[date, str]:
        """The country's public holidays of ``year`` (local dates), named in Vietnamese.

        As the ``holidays`` package gives them: with observed days (nghỉ bù) and the
        government's substituted days off, before the configured exceptions apply.
        """
        return _public_calendar(self.country, year)[0]

    def is_working_day(self, day: date) -> bool:
        """Whether the local date ``day`` is a working day (precedence: module docs)."""
        if day in self.closed_dates:
            return False
        if day in self.working_dates:
            return True
        if not self.observes_public_holidays:
            return day.weekday() in self._weekdays
        holidays_of_year, swapped_workdays = _public_calendar(self.country, day.year)
        if day in holidays_of_year:
            return False
        return day in swapped_workdays or day.weekday() in self._weekdays

    def working_periods(self, day: date) -> tuple[Interval, ...]:
        """The working periods of the local date ``day`` as UTC intervals (none if closed)."""
        if not self.is_working_day(day):
            return ()
        return tuple(
            (
                self._instant(day, start),
                self._instant(day + timedelta(days=1), time(0))
                if end == time.max
                else self._instant(day, end),
            )
            for start, end in self.working_hours
        )

    def local_date(self, instant: datetime) -> date:
        """The local date of an aware instant."""
        return _utc("instant", instant).astimezone(self._zone).date()

    def _instant(self, day: date, wall: time) -> datetime:
        return datetime.combine(day, wall, tzinfo=self._zone).astimezone(UTC)

    def periods_from(self, day: date) -> Iterator[Interval]:
        """The working periods from the local date ``day`` on, in order, without end."""
        while True:
            yield from self.working_periods(day)
            day += timedelta(days=1)


@functools.lru_cache(maxsize=64)
def _public_calendar(country: str, year: int) -> tuple[Mapping[date, str], frozenset[date]]:
    """Public holidays of ``year`` and the weekend days made working days in exchange."""
    # Neighbouring years too: a day off may be swapped for a weekend day across New Year.
    nearby = holidays.country_holidays(country, years=(year - 1, year, year + 1), language="vi")
    days_off = {day: name for day, name in sorted(nearby.items()) if day.year == year}
    swapped = frozenset(day for day in nearby.weekend_workdays if day.year == year)
    return MappingProxyType(days_off), swapped


def _utc(name: str, value: datetime) -> datetime:
    """``value`` in UTC; :class:`NaiveDatetimeError` if it has no time zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware, got the naive datetime {value.isoformat()}; "
            "pass an instant with its offset, e.g. datetime(..., tzinfo=UTC)"
        )
    return value.astimezone(UTC)


# --- Working time ----------------------------------------------------------------------


def add_working_time(calendar: WorkingCalendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which ``duration`` of working time has elapsed after ``start`` (UTC).

    The clock runs only inside working periods: a start outside working time (at night,
    during the lunch break, on a weekend or holiday) begins at the next opening. When the
    duration runs out exactly at the close of a period the result is that close (Friday
    17:00), not the next opening. A zero duration gives ``start`` itself.
    """
    remaining = _non_negative("duration", duration)
    start = _utc("start", start)
    if not remaining:
        return start
    for opens, closes in calendar.periods_from(calendar.local_date(start)):
        if closes <= start:
            continue
        begin = max(opens, start)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: the calendar has working days every week")


def working_time_between(calendar: WorkingCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time from ``start`` to ``end``; negative when ``end`` comes first.

    The inverse of :func:`add_working_time`: for any ``duration``,
    ``working_time_between(c, s, add_working_time(c, s, duration)) == duration``.
    Used for paused time, for time left before a deadline and for reporting.
    """
    start, end = _utc("start", start), _utc("end", end)
    if end < start:
        return -working_time_between(calendar, end, start)
    total = timedelta()
    for opens, closes in calendar.periods_from(calendar.local_date(start)):
        if opens >= end:
            return total
        total += max(timedelta(), min(closes, end) - max(opens, start))
    raise AssertionError("unreachable: the calendar has working days every week")


def add_working_days(calendar: WorkingCalendar, start: datetime, days: int) -> datetime:
    """The close of the ``days``-th working day after the day of ``start`` (UTC).

    The day of receipt never counts, whatever the hour and whether or not it is itself a
    working day (Bộ luật Dân sự 2015, Điều 147: the first day of a term counted in days is
    not counted); counting starts on the first working day after the local date of
    ``start``. Only working days count, so a term never ends on a weekend or holiday
    (Điều 148). The deadline is the end of that day's last working period (17:00).

    With the default calendar: received Friday 16:30, 1 day → Monday 17:00; 5 days → the
    next Friday 17:00; received Saturday or Sunday, 1 day → Monday 17:00; received Monday
    06:00 (before opening), 1 day → Tuesday 17:00; received Wednesday 7 February 2024, the
    last working day before Tết, 5 days → Wednesday 21 February 2024 17:00.
    """
    if days < 1:
        raise CalendarError(f"a term in working days needs at least 1 day, got {days}")
    day = calendar.local_date(_utc("start", start))
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return calendar.working_periods(day)[-1][1]


# --- Service levels and pauses ---------------------------------------------------------


class Sla(BaseModel):
    """How long an agency has: a number of working days, or of working hours (exactly one).

    Working days follow :func:`add_working_days` (normal reports, e.g. 5 working days);
    working hours follow :func:`add_working_time` (urgent reports, e.g. 8 working hours).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int | None = Field(
        default=None, ge=1, le=366, description="Term in working days, e.g. 5."
    )
    working_hours: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        allow_inf_nan=False,
        description="Term in working hours, e.g. 8 or 1.5.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.working_days is None) == (self.working_hours is None):
            raise ValueError("set exactly one of working_days and working_hours")
        return self

    def __str__(self) -> str:
        if self.working_days is not None:
            return f"{self.working_days} working day{'s' * (self.working_days != 1)}"
        hours = f"{self.working_hours:g}"
        return f"{hours} working hour{'s' * (self.working_hours != 1)}"


def due_at(calendar: WorkingCalendar, start: datetime, sla: Sla) -> datetime:
    """The deadline (UTC) of a report received at ``start`` under ``sla``, without pauses."""
    if sla.working_days is not None:
        return add_working_days(calendar, start, sla.working_days)
    if sla.working_hours is not None:
        return add_working_time(calendar, start, timedelta(hours=sla.working_hours))
    raise AssertionError("unreachable: Sla has exactly one of its terms")


Pause = tuple[datetime, datetime | None]
"""A wait for the citizen: when it began, and when it ended (None: still waiting)."""


def deadline_with_pauses(
    calendar: WorkingCalendar, start: datetime, sla: Sla, pauses: Sequence[Pause]
) -> datetime | None:
    """The deadline (UTC) once the working time spent waiting for the citizen is added back.

    ``None`` while a pause that counts is still open: the clock is stopped and there is no
    deadline yet. Overlapping pauses count once; the part of a pause before ``start``
    does not count. A pause that begins at or after the deadline it would extend does not
    count either: the deadline had already passed, and asking the citizen afterwards does
    not undo a breach. Each counted pause moves the deadline by its working time, so a
    pause of two full working days moves a deadline of 17:00 two working days later.
    """
    start = _utc("start", start)
    deadline = due_at(calendar, start, sla)
    for paused_at, resumed_at in _merged(pauses):
        if paused_at >= deadline:
            break
        if resumed_at is None:
            return None
        if resumed_at > start:
            waited = working_time_between(calendar, max(paused_at, start), resumed_at)
            deadline = add_working_time(calendar, deadline, waited)
    return deadline


def _merged(pauses: Sequence[Pause]) -> list[Pause]:
    """The pauses in UTC, sorted, overlapping ones merged; an open pause ends the list."""
    checked: list[Pause] = []
    for index, (paused_at, resumed_at) in enumerate(pauses):
        began = _utc(f"pauses[{index}] start", paused_at)
        ended = None if resumed_at is None else _utc(f"pauses[{index}] end", resumed_at)
        if ended is not None and ended < began:
            raise CalendarError(
                f"pauses[{index}] ends ({ended.isoformat()}) before it begins ({began.isoformat()})"
            )
        checked.append((began, ended))
    merged: list[Pause] = []
    for began, ended in sorted(checked, key=lambda pause: pause[0]):
        if merged:
            last_began, last_ended = merged[-1]
            if last_ended is None:
                break
            if began <= last_ended:
                merged[-1] = (last_began, None if ended is None else max(last_ended, ended))
                continue
        merged.append((began, ended))
    return merged


def warning_time(
    calendar: WorkingCalendar, start: datetime, deadline: datetime, fraction: float = 0.8
) -> datetime:
    """When to warn (UTC): once ``fraction`` of the working time from start to deadline ran.

    With the default calendar, a report received Monday 07:30 and due Monday 17:00 (7.5
    working hours) is warned about at 80 %, after 6 working hours: Monday 15:30.
    """
    if not 0 <= fraction <= 1:
        raise CalendarError(f"the warning fraction must be between 0 and 1, got {fraction}")
    total = working_time_between(calendar, start, deadline)
    if total < timedelta():
        raise CalendarError("the deadline must not come before the start")
    return add_working_time(calendar, start, total * fraction)


def _non_negative(name: str, value: timedelta) -> timedelta:
    if value < timedelta():
        raise CalendarError(f"{name} must not be negative, got {value}")
    return value
