"""Figures for oversight: what was received in a period, and what became of it.

The cohort of a period ``[start, end)`` is the set of reports received in it, messages
refused at intake included. Each report counts once, as it stands now:

received
    Every report of the cohort.
resolved
    Reports whose latest outcome is a resolution (see ``facts``).
rejected
    Messages refused at intake, and reports whose latest status is 'rejected'.
in_progress
    ``received − resolved − rejected − duplicates``, the reports still being handled.
overdue
    Breached (a DeadlineBreached event, or resolved after the deadline), or still being
    handled with the deadline passed at ``now`` while its clock runs (a report waiting for
    the citizen is not overdue; its deadline moves when the citizen answers).
on_time_pct
    Of the resolved reports that have a deadline, the share resolved on or before it,
    as a percentage (1 decimal). None when no resolved report has a deadline.
median_first_response_hours, median_resolution_hours
    Median hours from reception to the first agency response or to the resolution
    (2 decimals). None without any.
satisfaction_avg, ratings_count
    Mean of every rating (1–5) citizens gave on the cohort's reports (2 decimals; None
    without ratings), and how many ratings there were.
duplicates
    Reports linked to an earlier report of the same incident, by intake on arrival or by
    an officer (and not unlinked since): handled with their original, whose outcome their
    citizens are told. Not counted as still being handled, nor as resolved (a report
    closed by a link was not resolved on its own).

Dates at the edges are in Asia/Ho_Chi_Minh: ``period_of`` turns local calendar days into
UTC instants, and the sentences show local dates.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from audit.domain.facts import ReportFacts

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
"""Vietnam's time (UTC+7, no daylight saving): the calendar of periods and sentences."""

GroupBy = Literal["all", "ward", "agency", "category", "channel"]
GROUP_BYS: tuple[GroupBy, ...] = get_args(GroupBy)
UNASSIGNED = "unassigned"
"""Agency group of reports without a lead agency (not yet assigned, or refused)."""

_UNIT_EN = {"phường": "ward", "xã": "commune", "thị trấn": "township"}


@dataclass(frozen=True)
class FigureRow:
    """The figures of one group of reports (one ward, agency, category or channel)."""

    group: str
    """Ward code, agency id, category code, channel, or 'all'."""
    name: str | None
    """Ward name when grouped by ward, else None."""
    received: int
    resolved: int
    in_progress: int
    rejected: int
    overdue: int
    on_time_pct: float | None
    median_first_response_hours: float | None
    median_resolution_hours: float | None
    satisfaction_avg: float | None
    ratings_count: int
    duplicates: int = 0
    """Reports linked to an earlier one, handled with it (not in ``in_progress``)."""


def period_of(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC covering the local days ``first_day`` to ``last_day``."""
    start = datetime.combine(first_day, time(), LOCAL_TIME)
    end = datetime.combine(last_day + timedelta(days=1), time(), LOCAL_TIME)
    return start.astimezone(UTC), end.astimezone(UTC)


def compute_figures(
    facts: Iterable[ReportFacts],
    start: datetime,
    end: datetime,
    now: datetime,
    group_by: GroupBy = "all",
) -> list[FigureRow]:
    """Figures of the reports received in ``[start, end)``, one row per group sorted by
    group key; ``group_by='all'`` always gives exactly one row, even for no report."""
    cohort = [f for f in facts if f.received_at is not None and start <= f.received_at < end]
    if group_by == "all":
        return [_row("all", None, cohort, now)]
    groups: defaultdict[str, list[ReportFacts]] = defaultdict(list)
    for report in cohort:
        groups[_group_of(report, group_by)].append(report)
    return [
        _row(key, _ward_name(members) if group_by == "ward" else None, members, now)
        for key, members in sorted(groups.items())
    ]


def to_csv(rows: Sequence[FigureRow]) -> str:
    """The rows as CSV (RFC 4180): a header row of field names, then one line per row;
    None is an empty cell. Encode as UTF-8 (with a BOM for spreadsheet programs)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(field.name for field in fields(FigureRow))
    writer.writerows(["" if value is None else value for value in astuple(row)] for row in rows)
    return out.getvalue()


def ward_sentence(
    row: FigureRow, ward_name: str, start: datetime, end: datetime, *, unit: str = "phường"
) -> str:
    """The seed's sentence in Vietnamese, e.g. "Từ 01/03/2023 đến 31/03/2023, phường
    Chiềng Sinh tiếp nhận 32 phản ánh, kiến nghị: 19 đã xử lý xong, 13 đang xử lý."."""
    first, last = _local_days(start, end)
    when = f"Ngày {first}" if first == last else f"Từ {first} đến {last}"
    if row.received == 0:
        return f"{when}, {unit} {ward_name} không tiếp nhận phản ánh, kiến nghị nào."
    parts = [f"{row.resolved} đã xử lý xong", f"{row.in_progress} đang xử lý"]
    if row.duplicates:
        parts.append(f"{row.duplicates} trùng với phản ánh đã tiếp nhận")
    if row.rejected:
        parts.append(f"{row.rejected} không được tiếp nhận")
    return (
        f"{when}, {unit} {ward_name} tiếp nhận {row.received} phản ánh, kiến nghị: "
        f"{', '.join(parts)}."
    )


def ward_sentence_en(
    row: FigureRow, ward_name: str, start: datetime, end: datetime, *, unit: str = "phường"
) -> str:
    """The same sentence in English, e.g. "From 01/03/2023 to 31/03/2023, Chiềng Sinh
    ward received 32 reports: 19 resolved, 13 still being handled."."""
    first, last = _local_days(start, end)
    when = f"On {first}" if first == last else f"From {first} to {last}"
    who = f"{ward_name} {_UNIT_EN.get(unit, unit)}"
    if row.received == 0:
        return f"{when}, {who} received no reports."
    parts = [f"{row.resolved} resolved", f"{row.in_progress} still being handled"]
    if row.duplicates:
        parts.append(f"{row.duplicates} duplicates of earlier reports")
    if row.rejected:
        parts.append(f"{row.rejected} not accepted")
    noun = "report" if row.received == 1 else "reports"
    return f"{when}, {who} received {row.received} {noun}: {', '.join(parts)}."


def _row(group: str, name: str | None, members: list[ReportFacts], now: datetime) -> FigureRow:
    resolved = [
        (f, f.resolved_at) for f in members if f.resolved_at is not None and not f.linked_duplicate
    ]
    rejected = sum(f.rejected for f in members)
    with_deadline = [(at, f.deadline) for f, at in resolved if f.deadline is not None]
    on_time = sum(at <= deadline for at, deadline in with_deadline)
    first_responses = [
        _hours(f.first_response_at - f.received_at)
        for f in members
        if f.first_response_at is not None and f.received_at is not None
    ]
    resolutions = [_hours(at - f.received_at) for f, at in resolved if f.received_at is not None]
    ratings = [rating for f in members for rating in f.ratings]
    overdue = sum(is_overdue(f, now) for f in members)
    duplicates = sum(f.linked_duplicate for f in members)
    return FigureRow(
        group=group,
        name=name,
        received=len(members),
        resolved=len(resolved),
        in_progress=len(members) - len(resolved) - rejected - duplicates,
        rejected=rejected,
        overdue=overdue,
        on_time_pct=round(100 * on_time / len(with_deadline), 1) if with_deadline else None,
        median_first_response_hours=_median(first_responses),
        median_resolution_hours=_median(resolutions),
        satisfaction_avg=round(statistics.fmean(ratings), 2) if ratings else None,
        ratings_count=len(ratings),
        duplicates=duplicates,
    )


def is_overdue(facts: ReportFacts, now: datetime) -> bool:
    """Breached, or still being handled with the deadline in force passed at ``now`` and
    the clock running (not waiting for the citizen)."""
    open_and_late = (
        facts.resolved_at is None
        and not facts.rejected
        and not facts.linked_duplicate
        and not facts.clock_stopped
        and facts.deadline is not None
        and facts.deadline < now
    )
    return facts.breached or open_and_late


def _group_of(report: ReportFacts, group_by: GroupBy) -> str:
    if group_by == "ward":
        return report.ward_code
    if group_by == "agency":
        return report.lead_agency_id or UNASSIGNED
    if group_by == "category":
        return report.category
    if group_by == "channel":
        return report.channel
    return "all"


def _ward_name(members: list[ReportFacts]) -> str | None:
    """The name the most recent report gives the ward."""
    named = [(f.received_at, f.ward_name) for f in members if f.ward_name and f.received_at]
    return max(named)[1] if named else None


def _hours(duration: timedelta) -> float:
    return duration / timedelta(hours=1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _local_days(start: datetime, end: datetime) -> tuple[str, str]:
    """First and last local day of ``[start, end)``, as dd/mm/yyyy."""
    first = start.astimezone(LOCAL_TIME)
    last = end.astimezone(LOCAL_TIME) - timedelta(days=1)
    return first.strftime("%d/%m/%Y"), last.strftime("%d/%m/%Y")
