"""The escalation ladder: a missed deadline moves the report up one level (pure).

The deadline watch publishes a :class:`~phananh_contracts.DeadlineBreached` when a lead
agency misses its deadline; routing's case consumer reads it back, in order with the
report's other events, and :func:`escalate` decides what it does to the case:

* the breach of the deadline in force, by the lead in charge, on an open case, moves the
  report to the next level of ``RuleSet.escalation`` (:func:`next_level`): that level's
  agency becomes the lead (chủ trì) with a new term counted from now (the level's SLA,
  else the report's own), the agency that missed the deadline stays on the report as a
  supporting agency (phối hợp), and every agency on the report gets the task again in its
  inbox, with the history so far; the report is reassigned (the citizen is told who
  handles it now, and by when) and ``ReportEscalated`` says from which agency and level to
  which. The new term is watched like any other: warnings and breaches go on at the new
  level.
* at the top of the ladder the breach is recorded (the case notes it) and nothing climbs;
* a breach already decided on (a redelivery, the watch publishing again after a crash)
  changes nothing, nor does a stale one: a deadline no longer in force (the report was
  resolved, reassigned, paused or escalated since).

Every fact's id derives from the breach event's id, so deciding twice gives identical
facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from phananh_contracts import (
    DeadlineBreachedEvent,
    ReportEscalated,
    ReportEscalatedEvent,
    TaskHistoryEntry,
)
from phananh_contracts.values import EscalationLevel, ReportStatus

from routing.domain.calendar import Sla, due_at
from routing.domain.case import (
    SOURCE,
    Case,
    Decision,
    EscalationStep,
    Fact,
    Part,
    PartState,
    _assigned,
    _name,
    _status,
    _tasks,
    fact_id,
    sla_vi,
)
from routing.domain.rules import RuleSet

ESCALATION_RULE = "deadline-escalation"
"""The rule id recorded on an assignment made by the escalation ladder."""
HISTORY_KEPT = 50
"""Entries of a report's history an inbox gets (the most recent)."""
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")

_STATE_VI = {
    PartState.ASSIGNED: "đã nhận giao, chưa tiếp nhận",
    PartState.ACCEPTED: "đã tiếp nhận",
    PartState.IN_PROGRESS: "đang xử lý",
    PartState.RESOLVED: "đã báo cáo xử lý xong phần việc",
}
_ROLE_VI = {"lead": "chủ trì", "supporting": "phối hợp"}


@dataclass(frozen=True)
class Level:
    """Where a missed deadline takes the report: the rung, its agency, level and term."""

    step: int
    agency_id: str
    level: EscalationLevel
    sla: Sla


def current_step(case: Case, ruleset: RuleSet) -> int:
    """The rung the report is at: its recorded step, or higher when its lead is itself the
    agency of a higher rung (e.g. a report led by the city People's Committee from the
    start, or after ping-pong)."""
    ward = case.report.place.ward_code if case.report.place is not None else None
    step = case.escalation_step
    for number, rung in enumerate(ruleset.escalation.ladder, start=1):
        if rung.agency_for(ward) == case.lead.agency_id:
            step = max(step, number)
    return step


def next_level(case: Case, ruleset: RuleSet) -> Level | None:
    """The level above the one the report is at; None at the top."""
    ladder = ruleset.escalation.ladder
    if not ladder:  # no ladder configured: the lead agency's parent, same term
        lead = ruleset.agency(case.lead.agency_id)
        parent = ruleset.agency(lead.parent) if lead is not None and lead.parent else None
        if parent is None or parent.id == case.lead.agency_id:
            return None
        return Level(case.escalation_step + 1, parent.id, parent.level, case.sla)
    step = current_step(case, ruleset)
    if step >= len(ladder):
        return None
    rung = ladder[step]
    ward = case.report.place.ward_code if case.report.place is not None else None
    sla = rung.sla.get(case.report.priority) or case.sla
    return Level(step + 1, rung.agency_for(ward), rung.level, sla)


def is_in_force(case: Case, breach: DeadlineBreachedEvent) -> bool:
    """Whether ``breach`` is about the deadline the case runs on now, by its lead."""
    data = breach.data
    return (
        case.is_open
        and case.deadline is not None
        and data.agency_id == case.lead.agency_id
        and _millis(data.deadline) == _millis(case.deadline)
    )


def escalate(
    case: Case | None, breach: DeadlineBreachedEvent, ruleset: RuleSet, *, now: datetime
) -> Decision | None:
    """What a missed deadline does to the case (None: there is no case)."""
    if case is None:
        return None
    if breach.id in case.applied or not is_in_force(case, breach):
        return Decision(case, changed=False)
    level = next_level(case, ruleset)
    if level is None or level.agency_id == case.lead.agency_id:
        entry = TaskHistoryEntry(
            at=now,
            agency_id=case.lead.agency_id,
            what=(
                f"Quá hạn xử lý ở cấp cao nhất (hạn {_local(breach.data.deadline)}); "
                "không chuyển cấp tiếp."
            ),
        )
        recorded = case.model_copy(
            update={
                "applied": (*case.applied, breach.id),
                "history": (*case.history, entry)[-HISTORY_KEPT:],
            }
        )
        return Decision(recorded, breach_at_top=True)
    return _raise(case, breach, ruleset, level, now=now)


def _raise(
    case: Case, breach: DeadlineBreachedEvent, ruleset: RuleSet, level: Level, *, now: datetime
) -> Decision:
    missed_by = case.lead
    missed = breach.data.deadline
    deadline = due_at(ruleset.calendar_of(level.agency_id), now, level.sla)
    lead_agency = ruleset.agency(missed_by.agency_id)
    from_level = lead_agency.level if lead_agency is not None else EscalationLevel.WARD
    stays = missed_by.model_copy(update={"role": "supporting"})
    others = [part for part in case.parts[1:] if part.agency_id != level.agency_id]
    step = EscalationStep(
        at=now,
        step=level.step,
        from_agency_id=missed_by.agency_id,
        from_level=from_level,
        to_agency_id=level.agency_id,
        level=level.level,
        missed_deadline=missed,
        new_deadline=deadline,
        breach_event_id=breach.id,
    )
    new_name = _name(ruleset, level.agency_id)
    old_name = _name(ruleset, missed_by.agency_id)
    history = (
        *case.history,
        *_term_history(case, ruleset),
        TaskHistoryEntry(
            at=now,
            agency_id=missed_by.agency_id,
            what=(
                f"Quá hạn xử lý (hạn {_local(missed)}); chuyển {new_name} chủ trì, "
                f"thời hạn {sla_vi(level.sla)}."
            )[:500],
        ),
    )[-HISTORY_KEPT:]
    raised = case.model_copy(
        update={
            "parts": (Part(agency_id=level.agency_id, role="lead"), stays, *others),
            "status": ReportStatus.ASSIGNED,
            "sla": level.sla,
            "term": case.term + 1,
            "term_start": now,
            "pauses": (),
            "deadline": deadline,
            "rule_id": ESCALATION_RULE,
            "ruleset_version": ruleset.version,
            "assignment_id": fact_id(breach.id, "assigned"),
            "applied": (*case.applied, breach.id),
            "escalation_step": level.step,
            "escalations": (*case.escalations, step),
            "history": history,
        }
    )
    reason = (
        f"Quá hạn xử lý: {old_name} chưa giải quyết xong trước hạn {_local(missed)}; "
        f"chuyển {new_name} chủ trì, chỉ đạo xử lý."
    )[:1000]
    escalated = ReportEscalated(
        report_id=case.report_id,
        agency_id=missed_by.agency_id,
        deadline=missed,
        at=now,
        to_agency_id=level.agency_id,
        level=level.level,
        reason=reason,
        from_level=from_level,
        new_deadline=deadline,
    )
    matched = {
        "escalated_from": missed_by.agency_id,
        "level": level.level.value,
        "missed_deadline": missed.isoformat(),
    }
    note = (
        f"Quá hạn tại {old_name}: {new_name} chủ trì xử lý, {old_name} tiếp tục phối hợp; "
        f"thời hạn mới {sla_vi(level.sla)}."
    )[:1000]
    facts: list[Fact] = [
        Fact(_assigned(raised, ruleset, matched, previous=case.assignment_id, at=now)),
        Fact(
            ReportEscalatedEvent.new(
                escalated, source=SOURCE, id=fact_id(breach.id, "escalated"), time=now
            )
        ),
        *_tasks(raised, raised.parts, at=now, cause=breach.id, note=note, history=history),
    ]
    if case.status != ReportStatus.ASSIGNED:
        facts.append(
            Fact(
                _status(
                    raised,
                    ReportStatus.ASSIGNED,
                    previous=case.status,
                    ruleset=ruleset,
                    agency_id=level.agency_id,
                    note=f"Phản ánh quá hạn xử lý; chuyển {new_name} chủ trì, chỉ đạo xử lý.",
                    at=now,
                    event_id=fact_id(breach.id, "status"),
                )
            )
        )
    return Decision(raised, tuple(facts), escalation=step)


def _term_history(case: Case, ruleset: RuleSet) -> list[TaskHistoryEntry]:
    """What happened in the term that ends: who led, the waits for the citizen, and where
    each agency stood with its part."""
    lead = case.lead.agency_id
    entries = [
        TaskHistoryEntry(
            at=case.term_start,
            agency_id=lead,
            what=(
                f"{_name(ruleset, lead)} chủ trì xử lý, thời hạn {sla_vi(case.sla)}"
                + (" (tiếp nhận phản ánh)." if case.term == 0 else ".")
            )[:500],
        )
    ]
    for paused_at, resumed_at in case.pauses:
        entries.append(
            TaskHistoryEntry(
                at=paused_at, agency_id=lead, what="Đề nghị người dân bổ sung thông tin."
            )
        )
        if resumed_at is not None:
            entries.append(
                TaskHistoryEntry(
                    at=resumed_at, agency_id=None, what="Người dân đã bổ sung thông tin."
                )
            )
    for part in case.parts:
        what = f"{_name(ruleset, part.agency_id)} ({_ROLE_VI[part.role]}): {_STATE_VI[part.state]}"
        if part.note:
            what += f" – {part.note}"
        entries.append(
            TaskHistoryEntry(at=case.term_start, agency_id=part.agency_id, what=(what + ".")[:500])
        )
    return sorted(entries, key=lambda entry: entry.at)


def _local(at: datetime) -> str:
    return at.astimezone(LOCAL_TIME).strftime("%H:%M %d/%m/%Y")


def _millis(at: datetime) -> datetime:
    """``at`` to the millisecond: what the watched deadline (a BSON date) keeps."""
    return at - timedelta(microseconds=at.microsecond % 1000)
