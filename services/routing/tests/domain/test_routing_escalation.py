"""The escalation ladder: each missed deadline moves the report up one level (pure)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    AgencyTaskAssignedEvent,
    AgencyUpdate,
    CitizenReplied,
    CitizenRepliedEvent,
    DeadlineBreached,
    DeadlineBreachedEvent,
    DeadlineMovedEvent,
    ReportAssignedEvent,
    ReportEscalatedEvent,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind, Priority, ReportStatus
from routing.adapters.rules_file import load_ruleset
from routing.domain.calendar import Sla, WorkingCalendar, due_at
from routing.domain.case import Case, Decision, Part, apply_reply, apply_update, open_case
from routing.domain.decisions import Incoming, decide_report
from routing.domain.escalation import ESCALATION_RULE, escalate, next_level
from routing.domain.rules import EscalationLadder, validate_ruleset

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")
CALENDAR = WorkingCalendar()
WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
CITY, LEADERSHIP = "ubnd-thanh-pho", "ban-thuong-vu-thanh-uy"
# The seed's report arrived on Tuesday 14 March 2023, 08:12 in Sơn La.
RECEIVED = REPORT_RECEIVED.data.received_at


def opened(**changes: Any) -> Case:
    """The seed's report opened: the ward leads, the market board supports."""
    report = REPORT_RECEIVED.data.model_copy(update=changes)
    decision = open_case(RULES, CALENDAR, report, now=RECEIVED + timedelta(seconds=1))
    assert decision is not None and decision.case is not None
    return decision.case


def update(
    case: Case | None,
    agency: str,
    kind: AgencyUpdateKind,
    note: str | None = None,
    *,
    at: datetime | None = None,
) -> Decision:
    at = at or RECEIVED + timedelta(hours=1)
    data = AgencyUpdate(
        report_id=REPORT_RECEIVED.data.report_id,
        agency_id=agency,
        kind=kind,
        note=note,
        updated_at=at,
    )
    return apply_update(case, str(uuid.uuid4()), data, RULES, CALENDAR, now=at)


def breach_of(case: Case, *, late: timedelta = timedelta(minutes=1)) -> DeadlineBreachedEvent:
    """What the deadline watch publishes when the case's lead missed its deadline."""
    assert case.deadline is not None
    data = DeadlineBreached(
        report_id=case.report_id,
        agency_id=case.lead.agency_id,
        deadline=case.deadline,
        at=case.deadline + late,
    )
    return DeadlineBreachedEvent.new(data, source="/services/routing", id=str(uuid.uuid4()))


def missed(case: Case) -> tuple[Decision, DeadlineBreachedEvent, datetime]:
    breach = breach_of(case)
    now = breach.data.at
    decision = escalate(case, breach, RULES, now=now)
    assert decision is not None
    return decision, breach, now


def of_type(decision: Decision, kind: type) -> list[Any]:
    return [fact.event for fact in decision.facts if isinstance(fact.event, kind)]


def test_a_breach_at_the_ward_moves_the_report_to_the_city_committee_with_a_new_term() -> None:
    ward = opened()
    decision, _, now = missed(ward)
    case = decision.case
    assert case is not None and decision.changed

    assert case.lead == Part(agency_id=CITY, role="lead")
    assert [(p.agency_id, p.role) for p in case.parts] == [
        (CITY, "lead"),
        (WARD, "supporting"),  # the ward stays on the report, informed
        (MARKET, "supporting"),
    ]
    assert (case.escalation_step, case.term, case.rule_id) == (1, 1, ESCALATION_RULE)
    assert case.deadline == due_at(CALENDAR, now, Sla(working_days=5)), "the city's own term"
    assert case.term_start == now and case.status == ReportStatus.ASSIGNED

    (escalated,) = of_type(decision, ReportEscalatedEvent)
    data = escalated.data
    assert (data.agency_id, data.from_level.value) == (WARD, "ward")
    assert (data.to_agency_id, data.level.value) == (CITY, "city")
    assert data.deadline == ward.deadline and data.new_deadline == case.deadline

    (assigned,) = of_type(decision, ReportAssignedEvent)
    assert assigned.data.lead_agency_id == CITY
    assert assigned.data.reassignment_of == ward.assignment_id, "the citizen hears of it"
    assert assigned.data.deadline == case.deadline

    tasks = {fact.topic.name: fact.event for fact in decision.facts if fact.topic is not None}
    assert set(tasks) == {f"pakn.inbox.{a}.v1" for a in (CITY, WARD, MARKET)}
    city_task = tasks[f"pakn.inbox.{CITY}.v1"]
    assert isinstance(city_task, AgencyTaskAssignedEvent)
    assert city_task.data.role == "lead" and city_task.data.deadline == case.deadline
    assert tasks[f"pakn.inbox.{WARD}.v1"].data.role == "supporting"
    history = [entry.what for entry in city_task.data.history]
    assert any("Quá hạn" in what for what in history), history
    assert any("chủ trì" in what and "tiếp nhận" in what for what in history), history


def test_each_breach_climbs_one_level_until_leadership_where_it_is_recorded() -> None:
    ward = update(opened(), WARD, AgencyUpdateKind.IN_PROGRESS).case
    assert ward is not None and ward.status == ReportStatus.IN_PROGRESS
    first, _, _ = missed(ward)
    assert first.case is not None
    (status,) = of_type(first, ReportStatusChangedEvent)
    assert (status.data.previous_status, status.data.status) == (
        ReportStatus.IN_PROGRESS,
        ReportStatus.ASSIGNED,
    )

    second, _, now = missed(first.case)
    case = second.case
    assert case is not None and case.lead.agency_id == LEADERSHIP
    assert [p.agency_id for p in case.parts] == [LEADERSHIP, CITY, WARD, MARKET]
    assert (case.escalation_step, case.term) == (2, 2)
    assert case.deadline == due_at(CALENDAR, now, Sla(working_days=3))
    (escalated,) = of_type(second, ReportEscalatedEvent)
    assert (escalated.data.agency_id, escalated.data.from_level.value) == (CITY, "city")
    assert (escalated.data.to_agency_id, escalated.data.level.value) == (LEADERSHIP, "leadership")
    (task,) = [
        f.event
        for f in second.facts
        if f.topic is not None and f.topic.name == f"pakn.inbox.{LEADERSHIP}.v1"
    ]
    whats = " | ".join(entry.what for entry in task.data.history)
    assert whats.count("Quá hạn") == 2, "the history tells both missed deadlines"
    assert [step.to_agency_id for step in case.escalations] == [CITY, LEADERSHIP]

    top, breach, _ = missed(case)
    assert top.breach_at_top and top.facts == (), "nothing climbs above leadership"
    assert top.case is not None and top.case.lead.agency_id == LEADERSHIP
    assert breach.id in top.case.applied
    assert next_level(case, RULES) is None


def test_a_breach_decided_twice_escalates_once() -> None:
    ward = opened()
    first, breach, now = missed(ward)
    assert first.case is not None
    again = escalate(first.case, breach, RULES, now=now + timedelta(minutes=5))
    assert again is not None and not again.changed and again.facts == ()

    # Redelivered within one batch: the report's events are folded in order.
    incoming = Incoming(breach, breach.to_kafka().value)
    outcome = decide_report(ward, [incoming, incoming], RULES, CALENDAR, now=now)
    assert len([f for f in outcome.facts if isinstance(f.event, ReportEscalatedEvent)]) == 1
    # Deciding again from scratch gives the very same facts (ids derive from the breach).
    replay = escalate(ward, breach, RULES, now=now)
    assert replay is not None
    assert [f.event.id for f in replay.facts] == [f.event.id for f in first.facts]


def test_a_breach_of_a_deadline_no_longer_in_force_changes_nothing() -> None:
    ward = opened()
    old_breach = breach_of(ward)
    raised, _, _ = missed(ward)
    assert raised.case is not None
    stale = escalate(raised.case, old_breach, RULES, now=old_breach.data.at)
    assert stale is not None and not stale.changed, "the ward's old deadline is not the city's"

    waiting = update(ward, WARD, AgencyUpdateKind.NEEDS_INFORMATION, "Xin ảnh chụp.").case
    assert waiting is not None and waiting.deadline is None
    paused = escalate(waiting, old_breach, RULES, now=old_breach.data.at)
    assert paused is not None and not paused.changed, "the clock is stopped"

    resolved = update(ward, WARD, AgencyUpdateKind.RESOLVED, "Đã xử lý.").case
    resolved = update(resolved, MARKET, AgencyUpdateKind.RESOLVED, "Đã phối hợp.").case
    assert resolved is not None and resolved.status == ReportStatus.RESOLVED
    done = escalate(resolved, old_breach, RULES, now=old_breach.data.at)
    assert done is not None and not done.changed
    assert escalate(None, old_breach, RULES, now=old_breach.data.at) is None


def test_a_report_the_city_committee_leads_from_the_start_goes_to_leadership() -> None:
    ward = opened()
    city_led = ward.model_copy(update={"parts": (Part(agency_id=CITY, role="lead"),)})
    level = next_level(city_led, RULES)
    assert level is not None and (level.agency_id, level.step) == (LEADERSHIP, 2)


def test_an_urgent_report_gets_the_levels_urgent_term_and_no_second_part() -> None:
    urgent = opened(priority=Priority.URGENT)
    assert CITY in [p.agency_id for p in urgent.parts[1:]], "the city follows urgent reports"
    decision, _, now = missed(urgent)
    case = decision.case
    assert case is not None
    assert [p.agency_id for p in case.parts].count(CITY) == 1
    assert case.lead.agency_id == CITY
    assert case.deadline == due_at(CALENDAR, now, Sla(working_hours=8))


def test_a_ladder_is_validated_against_the_agencies_and_its_order() -> None:
    ladder = EscalationLadder.model_validate(
        {
            "ladder": [
                {"level": "leadership", "agency": LEADERSHIP},
                {"level": "city", "agency": "no-such-agency", "by_ward": {"99999": CITY}},
            ]
        }
    )
    broken = RULES.model_copy(update={"escalation": ladder})
    problems = [
        str(p)
        for p in validate_ruleset(broken, {"urban_order"}, {"03679"})
        if p.kind.value == "escalation_ladder"
    ]
    assert any("no-such-agency" in p for p in problems)
    assert any("99999" in p for p in problems)
    assert any("above the one before" in p for p in problems)


def test_without_a_ladder_a_breach_climbs_the_parent_chain() -> None:
    plain = RULES.model_copy(update={"escalation": EscalationLadder()})
    ward = opened()
    level = next_level(ward, plain)
    assert level is not None and (level.agency_id, level.sla) == (CITY, ward.sla)


def test_the_deadline_moved_by_a_wait_for_the_citizen_is_published() -> None:
    ward = opened()
    asked_at = RECEIVED + timedelta(hours=2)
    waiting = update(ward, WARD, AgencyUpdateKind.NEEDS_INFORMATION, "Xin ảnh.", at=asked_at).case
    assert waiting is not None
    answered_at = asked_at + timedelta(days=2)
    reply = CitizenRepliedEvent.new(
        CitizenReplied(
            report_id=ward.report_id,
            tracking_code=ward.report.tracking_code,
            channel=REPORT_RECEIVED.data.channel,
            channel_message_id="reply-1",
            received_at=answered_at,
            text="Ảnh đây ạ.",
            reporter=REPORT_RECEIVED.data.reporter,
        ),
        source="/services/intake",
    )
    decision = apply_reply(waiting, reply, b"{}", RULES, CALENDAR, now=answered_at)
    assert decision is not None and decision.case is not None
    (moved,) = of_type(decision, DeadlineMovedEvent)
    assert moved.data.deadline == decision.case.deadline, "what routing now counts on"
    assert ward.deadline is not None and moved.data.deadline > ward.deadline
    assert moved.data.previous_deadline == ward.deadline

    # Resolved while still waiting: the deadline in force is moved to the resolution.
    done = update(waiting, WARD, AgencyUpdateKind.RESOLVED, "Xong.", at=answered_at)
    assert [type(e).__name__ for e in of_type(done, DeadlineMovedEvent)] == ["DeadlineMovedEvent"]
