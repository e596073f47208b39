"""Deadline warnings and breaches: pure decisions over a tracked deadline.

A tracked deadline is due for a **warning** once its warning time has passed (if the
deadline itself has not: a late check sends the breach instead), and for a **breach** once
the deadline has passed. The breach is published on the deadlines topic; routing's case
consumer reads it back and moves the report up the escalation ladder
(:mod:`routing.domain.escalation`), which starts a new term, watched again. Each fact has
an id derived from the report and the term, so publishing it twice (a crash before it was
marked sent) is absorbed by consumers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from phananh_contracts import DeadlineBreached, DeadlineWarning


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


def due(tracked: TrackedDeadline, *, now: datetime) -> DueFacts:
    """What must be said about ``tracked`` at ``now`` (possibly nothing)."""
    warning = breach = None
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
    return DueFacts(warning, breach)
