"""When warnings and breaches are due (pure); what a breach does is the escalation ladder's
(test_routing_escalation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from routing.domain.deadlines import TrackedDeadline, due

pytestmark = pytest.mark.unit

DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
TRACKED = TrackedDeadline(
    report_id="rpt-1",
    agency_id="ubnd-chieng-sinh",
    deadline=DEADLINE,
    warn_at=DEADLINE - timedelta(hours=8),
)


def test_nothing_is_due_before_the_warning_time() -> None:
    facts = due(TRACKED, now=TRACKED.warn_at - timedelta(minutes=1))
    assert (facts.warning, facts.breach) == (None, None)


def test_a_warning_comes_between_the_warning_time_and_the_deadline() -> None:
    facts = due(TRACKED, now=DEADLINE - timedelta(hours=1))
    assert facts.warning is not None and facts.warning.agency_id == "ubnd-chieng-sinh"
    assert facts.breach is None


def test_a_late_check_breaches_without_a_warning() -> None:
    facts = due(TRACKED, now=DEADLINE + timedelta(days=2))
    assert facts.warning is None
    assert facts.breach is not None and facts.breach.deadline == DEADLINE
    assert facts.breach.agency_id == "ubnd-chieng-sinh"


def test_what_was_said_is_not_said_again() -> None:
    said = TrackedDeadline(**{**TRACKED.__dict__, "warned": True, "breached": True})
    facts = due(said, now=DEADLINE + timedelta(days=2))
    assert (facts.warning, facts.breach) == (None, None)


def test_each_term_has_facts_of_its_own() -> None:
    later = TrackedDeadline(**{**TRACKED.__dict__, "term": 2})
    assert TRACKED.fact("deadline:breached") != later.fact("deadline:breached")
