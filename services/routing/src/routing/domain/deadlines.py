"""Deadline warnings, breaches and escalation: pure decisions over a tracked deadline.

A tracked deadline is due for a **warning** once its warning time has passed (if the
deadline itself has not: a late check sends the breach instead), and for a **breach** once
the deadline has passed; a breach escalates one level up (ward → city People's Committee →
leadership), to the lead agency's ``parent``. Each fact has an id derived from the report,
so publishing it twice (a crash before it was marked sent) is absorbed by consumers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from phananh_contracts import DeadlineBreached, DeadlineWarning, ReportEscalated
from phananh_contracts.values import EscalationLevel

from routing.domain.rules import RuleSet


@dataclass(frozen=True)
class TrackedDeadline:
    """What routing keeps of an open report's term."""

    report_id: str
    agency_id: str
    deadline: datetime
    warn_at: datetime
    warned: bool = False
    breached: bool = False
    term: int = 0
    """0 for the first term; a reopened report is watched again in its next term."""

    def fact(self, name: str) -> str:
        """The name of a fact about this term, e.g. 'deadline:warning' (term 0)."""
        return name if self.term == 0 else f"{name}:term-{self.term}"


@dataclass(frozen=True)
class DueFacts:
    warning: DeadlineWarning | None
    breach: DeadlineBreached | None
    escalation: ReportEscalated | None


def due(tracked: TrackedDeadline, ruleset: RuleSet, *, now: datetime) -> DueFacts:
    """What must be said about ``tracked`` at ``now`` (possibly nothing)."""
    warning = breach = escalation = None
    if not tracked.warned and tracked.warn_at <= now < tracked.deadline:
        warning = DeadlineWarning(
            report_id=tracked.report_id,
            agency_id=tracked.agency_id,
            deadline=tracked.deadline,
            at=now,
        )
    if not tracked.breached and now >= tracked.deadline:
        breach = DeadlineBreached(
            report_id=tracked.report_id,
            agency_id=tracked.agency_id,
            deadline=tracked.deadline,
            at=now,
        )
        escalation = escalation_of(tracked, ruleset, now=now)
    return DueFacts(warning, breach, escalation)


def escalation_of(
    tracked: TrackedDeadline, ruleset: RuleSet, *, now: datetime
) -> ReportEscalated | None:
    """The report raised to the lead agency's parent, or None at the top."""
    agency = ruleset.agency(tracked.agency_id)
    parent = ruleset.agency(agency.parent) if agency and agency.parent else None
    if parent is None or parent.id == tracked.agency_id:
        return None
    return ReportEscalated(
        report_id=tracked.report_id,
        agency_id=tracked.agency_id,
        deadline=tracked.deadline,
        at=now,
        to_agency_id=parent.id,
        level=EscalationLevel(parent.level),
        reason=(
            f"Quá hạn xử lý: {tracked.agency_id} chưa giải quyết xong trước hạn; "
            f"chuyển {parent.name} đôn đốc."
        ),
    )
