"""The leadership board's content: filters, overdue reports and bar charts, all pure.

The figures themselves are ``audit.domain.figures``; the board narrows the period's
cohort by ward, lead agency and category (``BoardFilter``) before computing them, lists
the cohort's overdue reports with the agency holding each, and lays out inline SVG bar
charts (``bar_chart``) so the page needs no script to draw them. ``escalated_reports``
says who escalated what: each step of a report up the escalation ladder, from which agency
and level to which, and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from audit.domain.facts import ReportFacts
from audit.domain.figures import UNASSIGNED, FigureRow, is_overdue


@dataclass(frozen=True)
class BoardFilter:
    """Which reports of the period the board shows; None means all."""

    ward_code: str | None = None
    agency_id: str | None = None
    """Lead agency of the latest assignment, or ``unassigned``."""
    category: str | None = None

    def keeps(self, facts: ReportFacts) -> bool:
        lead = facts.lead_agency_id or UNASSIGNED
        return (
            (self.ward_code is None or facts.ward_code == self.ward_code)
            and (self.agency_id is None or lead == self.agency_id)
            and (self.category is None or facts.category == self.category)
        )


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FilterOptions:
    """What the filters offer: the wards, agencies and categories of the period."""

    wards: tuple[Option, ...]
    agencies: tuple[Option, ...]
    categories: tuple[Option, ...]


def filter_options(
    facts: Iterable[ReportFacts],
    *,
    ward_names: Mapping[str, str],
    agency_names: Mapping[str, str],
    category_names: Mapping[str, str],
    selected: BoardFilter,
) -> FilterOptions:
    """Options of the period's reports (plus the configured wards, and what is selected),
    labelled with their names and sorted by label."""
    wards = dict(ward_names)
    agencies: dict[str, str] = {}
    categories: dict[str, str] = {}
    for report in facts:
        wards.setdefault(report.ward_code, report.ward_name or report.ward_code)
        lead = report.lead_agency_id or UNASSIGNED
        agencies[lead] = agency_label(lead, agency_names)
        categories[report.category] = category_names.get(report.category, report.category)
    if selected.ward_code:
        wards.setdefault(selected.ward_code, selected.ward_code)
    if selected.agency_id:
        agencies.setdefault(selected.agency_id, agency_label(selected.agency_id, agency_names))
    if selected.category:
        categories.setdefault(
            selected.category, category_names.get(selected.category, selected.category)
        )

    def ordered(labels: Mapping[str, str]) -> tuple[Option, ...]:
        return tuple(Option(v, t) for v, t in sorted(labels.items(), key=lambda i: (i[1], i[0])))

    return FilterOptions(ordered(wards), ordered(agencies), ordered(categories))


def agency_label(agency_id: str, agency_names: Mapping[str, str]) -> str:
    if agency_id == UNASSIGNED:
        return "Chưa giao xử lý"
    return agency_names.get(agency_id, agency_id)


@dataclass(frozen=True)
class OverdueReport:
    """One overdue report, as the board lists it."""

    report_id: str
    tracking_code: str | None
    ward_code: str
    ward_name: str | None
    category: str
    lead_agency_id: str | None
    deadline: datetime | None
    still_open: bool
    late_by: timedelta | None
    """How late: until now while still open, until the resolution once resolved."""


def overdue_reports(facts: Iterable[ReportFacts], now: datetime) -> list[OverdueReport]:
    """The overdue reports among ``facts``: still open first, then by deadline."""
    found = []
    for report in facts:
        if not is_overdue(report, now):
            continue
        resolved_at = report.resolved_at
        still_open = resolved_at is None and not report.rejected
        end = now if still_open else resolved_at
        late_by = end - report.deadline if end and report.deadline else None
        found.append(
            OverdueReport(
                report_id=report.report_id,
                tracking_code=report.tracking_code,
                ward_code=report.ward_code,
                ward_name=report.ward_name,
                category=report.category,
                lead_agency_id=report.lead_agency_id,
                deadline=report.deadline,
                still_open=still_open,
                late_by=late_by if late_by is None or late_by > timedelta(0) else None,
            )
        )
    never = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda r: (not r.still_open, r.deadline or never, r.report_id))


@dataclass(frozen=True)
class EscalatedReport:
    """One step of a report up the escalation ladder, as the board lists it: who missed
    the deadline (at which level), who got the report (at which level), and when."""

    report_id: str
    tracking_code: str | None
    ward_code: str
    ward_name: str | None
    category: str
    at: datetime
    from_agency_id: str | None
    from_level: str | None
    to_agency_id: str
    level: str
    holder: str | None
    """The report's lead agency now (the latest assignment)."""
    still_open: bool


def escalated_reports(facts: Iterable[ReportFacts]) -> list[EscalatedReport]:
    """Every escalation of ``facts``' reports, the latest first."""
    found = [
        EscalatedReport(
            report_id=report.report_id,
            tracking_code=report.tracking_code,
            ward_code=report.ward_code,
            ward_name=report.ward_name,
            category=report.category,
            at=step.at,
            from_agency_id=step.from_agency_id or None,
            from_level=step.from_level or None,
            to_agency_id=step.to_agency_id,
            level=step.level,
            holder=report.lead_agency_id,
            still_open=report.resolved_at is None and not report.rejected,
        )
        for report in facts
        for step in report.escalation_events
    ]
    return sorted(found, key=lambda e: (e.at, e.report_id, e.level), reverse=True)


@dataclass(frozen=True)
class Bar:
    series: int
    """Index of the series (its colour)."""
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarGroup:
    label: str
    y: float
    """Baseline of the group's label."""
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    """A horizontal grouped bar chart laid out for an SVG ``viewBox`` of ``width`` x
    ``height``; labels sit left of ``label_width``."""

    series: tuple[str, ...]
    groups: tuple[BarGroup, ...]
    width: float
    height: float
    label_width: float
    maximum: float


def bar_chart(
    rows: Sequence[FigureRow],
    labels: Mapping[str, str],
    series: Sequence[tuple[str, str]],
    *,
    width: float = 600,
    label_width: float = 170,
    bar_height: float = 14,
    gap: float = 12,
) -> BarChart:
    """Bars of ``series`` (attribute name, title) for each row, scaled to the largest
    value. Rows without a value (None) get no bar."""
    values = [[float(getattr(row, name) or 0) for name, _ in series] for row in rows]
    maximum = max((v for row in values for v in row), default=0.0) or 1.0
    span = width - label_width - 40
    groups = []
    y = gap
    for row, numbers in zip(rows, values, strict=True):
        bars = tuple(
            Bar(
                series=index,
                value=value,
                x=label_width,
                y=y + index * bar_height,
                width=round(span * value / maximum, 2),
                height=bar_height - 2,
            )
            for index, value in enumerate(numbers)
        )
        groups.append(BarGroup(labels.get(row.group, row.group), y + bar_height * 0.8, bars))
        y += bar_height * len(series) + gap
    return BarChart(
        series=tuple(title for _, title in series),
        groups=tuple(groups),
        width=width,
        height=y,
        label_width=label_width,
        maximum=maximum,
    )
