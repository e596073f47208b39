"""The escalation ladder and moved deadlines in the oversight facts (pure): who escalated
what, and deadlines as routing counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.domain.board import escalated_reports, overdue_reports
from audit.domain.facts import Escalation, apply, fold_events
from audit.domain.figures import compute_figures
from phananh_contracts import examples as ex

pytestmark = pytest.mark.unit

Folded = tuple[str, dict[str, Any], datetime]
RID = "rpt-ladder"
RECEIVED = datetime(2023, 3, 14, 1, 12, tzinfo=UTC)
WARD_DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
CITY_DEADLINE = datetime(2023, 3, 28, 10, 0, tzinfo=UTC)
TOP_DEADLINE = datetime(2023, 3, 31, 10, 0, tzinfo=UTC)
MARCH = (datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 4, 1, tzinfo=UTC))


def received() -> Folded:
    data = ex.REPORT_RECEIVED.data.model_dump(mode="json") | {"report_id": RID}
    return ex.REPORT_RECEIVED.type, data, RECEIVED


def assigned(lead: str, deadline: datetime, at: datetime) -> Folded:
    data = ex.REPORT_ASSIGNED.data.model_dump(mode="json") | {
        "report_id": RID,
        "lead_agency_id": lead,
        "deadline": deadline.isoformat(),
        "assigned_at": at.isoformat(),
    }
    return ex.REPORT_ASSIGNED.type, data, at


def escalated(
    frm: str, frm_level: str, to: str, level: str, missed: datetime, at: datetime
) -> Folded:
    data = {
        "report_id": RID,
        "agency_id": frm,
        "deadline": missed.isoformat(),
        "at": at.isoformat(),
        "to_agency_id": to,
        "level": level,
        "from_level": frm_level,
        "reason": "Quá hạn xử lý.",
    }
    return ex.REPORT_ESCALATED.type, data, at


def breached(agency: str, deadline: datetime) -> Folded:
    at = deadline + timedelta(minutes=1)
    data = {"report_id": RID, "agency_id": agency, "deadline": deadline.isoformat()}
    return ex.DEADLINE_BREACHED.type, data | {"at": at.isoformat()}, at


def ladder_events() -> list[Folded]:
    at_city, at_top = WARD_DEADLINE + timedelta(minutes=1), CITY_DEADLINE + timedelta(minutes=1)
    return [
        received(),
        assigned("ubnd-chieng-sinh", WARD_DEADLINE, RECEIVED),
        breached("ubnd-chieng-sinh", WARD_DEADLINE),
        escalated("ubnd-chieng-sinh", "ward", "ubnd-thanh-pho", "city", WARD_DEADLINE, at_city),
        assigned("ubnd-thanh-pho", CITY_DEADLINE, at_city),
        breached("ubnd-thanh-pho", CITY_DEADLINE),
        escalated(
            "ubnd-thanh-pho", "city", "ban-thuong-vu-thanh-uy", "leadership", CITY_DEADLINE, at_top
        ),
        assigned("ban-thuong-vu-thanh-uy", TOP_DEADLINE, at_top),
    ]


def test_leadership_sees_who_escalated_what_latest_first() -> None:
    (facts,) = fold_events({}, ladder_events()).values()
    assert facts.escalations == 2
    assert facts.escalation_events[0] == Escalation(
        WARD_DEADLINE + timedelta(minutes=1), "ubnd-thanh-pho", "city", "ubnd-chieng-sinh", "ward"
    )
    steps = escalated_reports([facts])
    assert [(s.from_agency_id, s.from_level, s.to_agency_id, s.level) for s in steps] == [
        ("ubnd-thanh-pho", "city", "ban-thuong-vu-thanh-uy", "leadership"),
        ("ubnd-chieng-sinh", "ward", "ubnd-thanh-pho", "city"),
    ]
    assert all(s.holder == "ban-thuong-vu-thanh-uy" and s.still_open for s in steps)
    assert steps[0].tracking_code == ex.TRACKING_CODE


def test_an_escalation_from_before_the_ladder_folds_without_its_origin() -> None:
    _, data, at = escalated("a", "ward", "b", "city", WARD_DEADLINE, WARD_DEADLINE)
    del data["from_level"]
    facts = apply(None, ex.REPORT_ESCALATED.type, data, at)
    assert facts is not None
    (step,) = escalated_reports([facts])
    assert (step.from_agency_id, step.from_level, step.level) == ("a", None, "city")


def test_the_report_stays_overdue_and_the_deadline_is_the_new_levels() -> None:
    (facts,) = fold_events({}, ladder_events()).values()
    assert facts.deadline == TOP_DEADLINE and facts.lead_agency_id == "ban-thuong-vu-thanh-uy"
    (row,) = compute_figures([facts], *MARCH, now=CITY_DEADLINE + timedelta(hours=1))
    assert row.overdue == 1, "it missed deadlines on the way up"
    (listed,) = overdue_reports([facts], CITY_DEADLINE + timedelta(hours=1))
    assert listed.lead_agency_id == "ban-thuong-vu-thanh-uy"


def moved(deadline: datetime, at: datetime) -> Folded:
    data = {
        "report_id": RID,
        "agency_id": "ubnd-chieng-sinh",
        "deadline": deadline.isoformat(),
        "previous_deadline": WARD_DEADLINE.isoformat(),
        "at": at.isoformat(),
    }
    return ex.DEADLINE_MOVED.type, data, at


def status(value: str, at: datetime) -> Folded:
    data = {
        "report_id": RID,
        "tracking_code": ex.TRACKING_CODE,
        "status": value,
        "changed_at": at.isoformat(),
    }
    return "vn.pakn.report.status.changed", data, at


def test_a_deadline_moved_by_a_pause_is_the_one_counted_in_any_order() -> None:
    answered = datetime(2023, 3, 22, 3, 0, tzinfo=UTC)
    later = datetime(2023, 3, 29, 10, 0, tzinfo=UTC)
    resolved = datetime(2023, 3, 23, 3, 0, tzinfo=UTC)
    events = [
        received(),
        assigned("ubnd-chieng-sinh", WARD_DEADLINE, RECEIVED),
        status("waiting_for_citizen", RECEIVED + timedelta(hours=2)),
        status("in_progress", answered),
        moved(later, answered),
        status("resolved", resolved),
    ]
    for order in (events, list(reversed(events)), [events[4], *events[:4], events[5]]):
        (facts,) = fold_events({}, order).values()
        assert facts.deadline == later
        (row,) = compute_figures([facts], *MARCH, now=resolved)
        assert (row.overdue, row.on_time_pct) == (0, 100.0)
    # A later assignment (an escalation's new term) sets the deadline again.
    (facts,) = fold_events(
        {}, [*events[:5], assigned("ubnd-thanh-pho", CITY_DEADLINE, answered + timedelta(1))]
    ).values()
    assert facts.deadline == CITY_DEADLINE


def test_a_report_waiting_for_the_citizen_is_not_overdue() -> None:
    waiting = [
        received(),
        assigned("ubnd-chieng-sinh", WARD_DEADLINE, RECEIVED),
        status("waiting_for_citizen", RECEIVED + timedelta(hours=2)),
    ]
    (facts,) = fold_events({}, waiting).values()
    after = WARD_DEADLINE + timedelta(days=2)
    assert compute_figures([facts], *MARCH, now=after)[0].overdue == 0
    assert overdue_reports([facts], after) == []
    (answered,) = fold_events({}, [*waiting, status("in_progress", after)]).values()
    assert compute_figures([answered], *MARCH, now=after)[0].overdue == 1, "clock runs again"
