"""When warnings, breaches and escalations are due (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from routing.adapters.rules_file import load_ruleset
from routing.domain.deadlines import TrackedDeadline, due

pytestmark = pytest.mark.unit

RULES = load_ruleset(Path(__file__).resolve().parents[4] / "config/son-la/routing.yaml")
DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
TRACKED = TrackedDeadline(
    report_id="rpt-1",
    agency_id="ubnd-chieng-sinh",
    deadline=DEADLINE,
    warn_at=DEADLINE - timedelta(hours=8),
)


def test_nothing_is_due_before_the_warning_time() -> None:
    facts = due(TRACKED, RULES, now=TRACKED.warn_at - timedelta(minutes=1))
    assert (facts.warning, facts.breach, facts.escalation) == (None, None, None)


def test_a_warning_comes_between_the_warning_time_and_the_deadline() -> None:
    facts = due(TRACKED, RULES, now=DEADLINE - timedelta(hours=1))
    assert facts.warning is not None and facts.warning.agency_id == "ubnd-chieng-sinh"
    assert facts.breach is None


def test_a_late_check_breaches_without_a_warning_and_escalates_one_level_up() -> None:
    facts = due(TRACKED, RULES, now=DEADLINE + timedelta(days=2))
    assert facts.warning is None
    assert facts.breach is not None and facts.breach.deadline == DEADLINE
    assert facts.escalation is not None
    assert (facts.escalation.to_agency_id, facts.escalation.level.value) == (
        "ubnd-thanh-pho",
        "city",
    )
    assert "Quá hạn" in facts.escalation.reason


def test_what_was_said_is_not_said_again() -> None:
    said = TrackedDeadline(**{**TRACKED.__dict__, "warned": True, "breached": True})
    facts = due(said, RULES, now=DEADLINE + timedelta(days=2))
    assert (facts.warning, facts.breach, facts.escalation) == (None, None, None)


def test_the_city_committee_escalates_to_leadership() -> None:
    city = TrackedDeadline(**{**TRACKED.__dict__, "agency_id": "ubnd-thanh-pho"})
    facts = due(city, RULES, now=DEADLINE + timedelta(days=1))
    assert facts.escalation is not None and facts.escalation.level.value == "leadership"
