"""A report's case: who holds it, what each agency did, and what the citizen sees.

Pure: the current case (or none), one event (a new report, an agency's update, a
citizen's reply), the rule set and the working calendar in; the next case and the facts
to publish out. Nothing here reads or writes anything.

The rules of the case:

* A new report (not a duplicate) opens a case: the lead agency (chủ trì) and the
  supporting agencies (phối hợp) each get the report in their inbox; the deadline runs
  from receipt on the working calendar. A duplicate (``duplicate_of``) is kept as a
  *linked* case: nobody holds it, no clock runs, and the agencies holding the original
  are told of it (``DuplicateLinkChanged``) so that they can undo a wrong link. The
  triage corrections (re-categorise, re-place, out of scope, link, unlink) are in
  :mod:`routing.domain.corrections`.
* An agency can only speak about a report it holds; only the lead asks the citizen or
  reopens. An update that does not fit is refused with a reason, and the case is left
  as it was.
* The lead accepting or starting work puts the report *in progress*. Asking the citizen
  for information *waits for the citizen* and stops the clock; the citizen's answer
  restarts it, the deadline moved by the working time spent waiting.
* The lead declining re-routes the report: to the agency it suggests, else to the next
  rule's lead that has not declined it, else to the triage desk. A report passed on more
  than ``max_handoffs`` times, or back to an agency that already declined it, is
  ping-pong: it is escalated to the decliner's parent agency, which then leads. A
  supporting agency declining leaves the case (the agency it suggests joins instead).
* The report is *resolved* only when the lead and every supporting agency resolved their
  part; the lead's result note is what the citizen reads. A rating at or below
  ``reopen_rating_at_most`` (or the lead) reopens it with a new term; a better rating
  closes it.
* Only the reporter rates or answers: a citizen's reply changes the case (a rating closes
  or reopens it, an answer restarts the clock) only when it comes from the identity the
  report came from (the same ``reporter.pseudonym``). Anyone else's reply on an open case
  still reaches the holders' inboxes, as information; it changes neither status nor
  clock. An anonymous report (and a case stored before routing kept the reporter) has no
  identity to match: nobody's reply changes it.

Every fact's event id derives from the event that caused it, so deciding twice on the
same event (a redelivery) gives identical facts, which consumers absorb.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AgencyTaskAssigned,
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawn,
    AgencyTaskWithdrawnEvent,
    AgencyUpdate,
    AgencyUpdateRefused,
    AgencyUpdateRefusedEvent,
    CitizenReplied,
    CitizenRepliedEvent,
    DeadlineMoved,
    DeadlineMovedEvent,
    DuplicateLinkChanged,
    DuplicateLinkChangedEvent,
    Event,
    ReportAssigned,
    ReportAssignedEvent,
    Reporter,
    ReportEscalated,
    ReportEscalatedEvent,
    ReportReceived,
    ReportStatusChanged,
    ReportStatusChangedEvent,
    TaskHistoryEntry,
    Topic,
    agency_inbox_topic,
)
from phananh_contracts.values import (
    AgencyUpdateKind,
    Attachment,
    Channel,
    EscalationLevel,
    Place,
    Priority,
    ReportStatus,
    UpdateRefusalReason,
)
from pydantic import BaseModel, ConfigDict

from routing.domain.calendar import (
    Pause,
    Sla,
    WorkingCalendar,
    deadline_with_pauses,
    due_at,
)
from routing.domain.rules import Routing, RoutingInput, RuleSet, candidates

SOURCE = "/services/routing"
TRIAGE_RULE = "intake-triage"
REFERRAL_RULE = "agency-referral"
ESCALATION_RULE = "ping-pong-escalation"
REOPEN_RULE = "reopened"
DUPLICATE_RULE = "duplicate"
"""The rule id of a linked case: a duplicate, handled with its original."""


def fact_id(cause: str, fact: str) -> str:
    """The id of a fact caused by ``cause`` (a report or event id): the same every time."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pakn:routing:{cause}:{fact}"))


class PartState(StrEnum):
    """Where one agency is with its part of a report."""

    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class Part(BaseModel):
    """One agency's part of a case."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    role: Literal["lead", "supporting"]
    state: PartState = PartState.ASSIGNED
    note: str | None = None


def identity_of(reporter: Reporter) -> str | None:
    """Whom a report or reply is known to come from: the reporter's pseudonym (a keyed
    hash of their channel identity: phone, email or channel account), None when anonymous."""
    return None if reporter.anonymous else reporter.pseudonym


class ReplyKind(StrEnum):
    """What a citizen's reply would do to the case if it came from the reporter."""

    RATING = "rating"
    """A rating on a resolved or closed report: closes or reopens it."""
    ANSWER = "answer"
    """A reply while the report waits for the citizen: restarts the clock."""
    MESSAGE = "message"
    """Anything else: it reaches the holders' inboxes (open report) and changes nothing."""


class CaseReport(BaseModel):
    """What routing keeps of the report: its facts for rules, its text for inboxes."""

    model_config = ConfigDict(frozen=True)

    tracking_code: str
    category: str
    priority: Priority
    channel: Channel
    title: str | None = None
    text: str
    place: Place | None = None
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime
    reporter_pseudonym: str | None = None
    """Who sent the report (:func:`identity_of` its reporter), the only one whose replies
    rate or answer; None for an anonymous report, and in cases stored before routing kept
    it (then nobody's reply changes the case)."""

    @classmethod
    def of(cls, report: ReportReceived) -> CaseReport:
        return cls(
            tracking_code=report.tracking_code,
            category=report.category,
            priority=report.priority,
            channel=report.channel,
            title=report.title,
            text=report.text,
            place=report.place,
            attachments=report.attachments,
            received_at=report.received_at,
            reporter_pseudonym=identity_of(report.reporter),
        )

    def routing_input(self, calendar: WorkingCalendar) -> RoutingInput:
        return RoutingInput.from_report(self, calendar.zone)


class EscalationStep(BaseModel):
    """A missed deadline that moved the report up one level of the ladder."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    step: int
    """The rung reached (1: the first level above the rules' lead)."""
    from_agency_id: str
    from_level: EscalationLevel
    to_agency_id: str
    level: EscalationLevel
    missed_deadline: datetime
    new_deadline: datetime
    breach_event_id: str


class Case(BaseModel):
    """A report's case as routing keeps it (one document per report)."""

    model_config = ConfigDict(frozen=True)

    report_id: str
    report: CaseReport
    status: ReportStatus
    parts: tuple[Part, ...]
    """The lead first, then the supporting agencies."""
    rule_id: str
    ruleset_version: str
    assignment_id: str
    """Event id of the assignment in force (a reassignment names it)."""
    sla: Sla
    term: int = 0
    """0 for the first term; each reopening and each escalation starts the next."""
    term_start: datetime
    pauses: tuple[Pause, ...] = ()
    deadline: datetime | None
    """None while the clock is stopped (waiting for the citizen)."""
    declined_by: tuple[str, ...] = ()
    handoffs: int = 0
    resolution_note: str | None = None
    applied: tuple[str, ...] = ()
    """Ids of the updates, replies and breaches already decided on."""
    escalation_step: int = 0
    """The rung of the escalation ladder the report is at: 0 with the lead the rules gave
    it, n once raised to the n-th level of ``RuleSet.escalation.ladder``."""
    escalations: tuple[EscalationStep, ...] = ()
    """Every missed deadline that moved the report up a level, oldest first."""
    history: tuple[TaskHistoryEntry, ...] = ()
    """What happened at the levels the report left, oldest first: each new level's
    agencies get it in their inbox."""
    duplicate_of: str | None = None
    """The report this one is linked to as its duplicate (by intake, or by hand): it has
    no case of its own then (no holder, no clock) and its citizen follows that report."""

    @property
    def lead(self) -> Part:
        return self.parts[0]

    @property
    def is_linked(self) -> bool:
        """Whether the report is a duplicate handled with another (no case of its own)."""
        return self.duplicate_of is not None

    def part_of(self, agency_id: str) -> Part | None:
        return next((part for part in self.parts if part.agency_id == agency_id), None)

    @property
    def is_open(self) -> bool:
        """Whether the report is being handled: not resolved, closed, rejected (out of
        scope) nor linked to another as its duplicate."""
        closed = {ReportStatus.RESOLVED, ReportStatus.CLOSED, ReportStatus.REJECTED}
        return self.status not in closed and not self.is_linked


@dataclass(frozen=True)
class Fact:
    """An event to publish, on its own topic or on ``topic`` (an agency's inbox).

    ``original`` holds the bytes of an event routing forwards without having produced
    it (a citizen's reply): they are forwarded unchanged, not re-serialized.
    """

    event: Event[Any]
    topic: Topic | None = None
    original: bytes | None = None


@dataclass(frozen=True)
class Decision:
    """The case after an event (None: there is no case) and the facts to publish."""

    case: Case | None
    facts: tuple[Fact, ...] = ()
    refused: UpdateRefusalReason | None = None
    escalated_to: str | None = None
    changed: bool = field(default=True)
    not_from_reporter: ReplyKind | None = None
    """A citizen's reply that did not come from the report's reporter, by what it would
    have done: it changed neither status nor clock."""
    resolved_on_time: bool | None = None
    """Set when the event resolved the report: whether on or before the deadline in force
    (moved by any wait for the citizen; a report resolved while waiting is on time)."""
    escalation: EscalationStep | None = None
    """The step up the ladder a missed deadline made (None: none)."""
    breach_at_top: bool = False
    """A missed deadline at the top of the ladder: recorded, nothing climbs."""


# --- Opening ----------------------------------------------------------------------------


def routing_of(ruleset: RuleSet, calendar: WorkingCalendar, report: ReportReceived) -> Routing:
    """The routing decision for a new report (triage first, then the rules)."""
    if report.needs_triage:
        # The catch-all rule (validated to exist, last, to the triage desk) has its terms.
        sla = ruleset.sla_for(ruleset.rules[-1], report.priority)
        assert sla is not None, "validate_ruleset guarantees the catch-all's SLA"
        return Routing(
            rule_id=TRIAGE_RULE,
            ruleset_version=ruleset.version,
            lead_agency_id=ruleset.triage_agency_id,
            supporting_agency_ids=(),
            sla=sla,
            matched={"needs_triage": ",".join(report.triage_reasons) or "yes"},
        )
    return next(candidates(ruleset, CaseReport.of(report).routing_input(calendar)))


def open_case(
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    report: ReportReceived,
    *,
    now: datetime,
    original: Case | None = None,
) -> Decision:
    """The case of a new report; for a duplicate of an earlier one (``original``, its
    case when routing has it), a linked case."""
    decision = routing_of(ruleset, calendar, report)
    if report.duplicate_of is not None:
        return _linked_on_arrival(report, decision, original, now=now)
    case = Case(
        report_id=report.report_id,
        report=CaseReport.of(report),
        status=ReportStatus.ASSIGNED,
        parts=(
            Part(agency_id=decision.lead_agency_id, role="lead"),
            *(Part(agency_id=a, role="supporting") for a in decision.supporting_agency_ids),
        ),
        rule_id=decision.rule_id,
        ruleset_version=decision.ruleset_version,
        assignment_id=fact_id(report.report_id, "assigned"),
        sla=decision.sla,
        term_start=report.received_at,
        deadline=due_at(
            ruleset.calendar_of(decision.lead_agency_id), report.received_at, decision.sla
        ),
    )
    lead = _name(ruleset, case.lead.agency_id)
    status = _status(
        case,
        ReportStatus.ASSIGNED,
        previous=ReportStatus.RECEIVED,
        ruleset=ruleset,
        agency_id=case.lead.agency_id,
        note=f"Phản ánh đã được chuyển {lead} chủ trì xử lý; thời hạn {sla_vi(case.sla)}.",
        at=max(now, report.received_at),
        event_id=fact_id(report.report_id, "status:assigned"),
    )
    facts = (
        Fact(_assigned(case, ruleset, decision.matched, at=max(now, report.received_at))),
        Fact(status),
        *_tasks(case, case.parts, at=max(now, report.received_at), cause=report.report_id),
    )
    return Decision(case, facts)


def _linked_on_arrival(
    report: ReportReceived, routing: Routing, original: Case | None, *, now: datetime
) -> Decision:
    """A duplicate intake linked: kept (to be unlinked if wrong), held by nobody; the
    agencies holding the original are told."""
    assert report.duplicate_of is not None
    case = Case(
        report_id=report.report_id,
        report=CaseReport.of(report),
        status=ReportStatus.RECEIVED,
        parts=(),
        rule_id=DUPLICATE_RULE,
        ruleset_version=routing.ruleset_version,
        assignment_id=fact_id(report.report_id, "assigned"),
        sla=routing.sla,
        term_start=report.received_at,
        deadline=None,
        duplicate_of=report.duplicate_of,
    )
    at = max(now, report.received_at)
    facts = duplicate_notices(case, original, linked=True, at=at, cause=report.report_id)
    return Decision(case, tuple(facts))


def duplicate_notices(
    duplicate: Case,
    original: Case | None,
    *,
    linked: bool,
    at: datetime,
    cause: str,
    by_agency_id: str | None = None,
    reason: str | None = None,
) -> list[Fact]:
    """``DuplicateLinkChanged`` in the inbox of every agency holding ``original`` (none
    when routing does not have it, or it is no longer open)."""
    if original is None or not original.is_open:
        return []
    facts = []
    for part in original.parts:
        notice = DuplicateLinkChanged(
            report_id=duplicate.report_id,
            tracking_code=duplicate.report.tracking_code,
            agency_id=part.agency_id,
            original_report_id=original.report_id,
            original_tracking_code=original.report.tracking_code,
            linked=linked,
            text=duplicate.report.text,
            received_at=duplicate.report.received_at,
            by_agency_id=by_agency_id,
            reason=reason[:1000] if reason else None,
            at=at,
        )
        event = DuplicateLinkChangedEvent.new(
            notice, source=SOURCE, id=fact_id(cause, f"duplicate:{part.agency_id}"), time=at
        )
        facts.append(Fact(event, agency_inbox_topic(part.agency_id)))
    return facts


# --- Agencies' updates -----------------------------------------------------------------


def apply_update(
    case: Case | None,
    event_id: str,
    update: AgencyUpdate,
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    *,
    now: datetime,
) -> Decision:
    """What an agency's update does to the case; a refusal when it may not."""
    answered = answered_before_any_step(
        case,
        event_id,
        update,
        ruleset,
        now=now,
        unknown_report=f"Không có phản ánh {update.report_id} đã được giao xử lý.",
    )
    if answered is not None:
        return answered
    assert case is not None
    part = case.part_of(update.agency_id)
    if part is None:
        return _refuse(
            case,
            event_id,
            update,
            UpdateRefusalReason.NOT_HOLDER,
            f"Đơn vị {update.agency_id} không được giao phản ánh {case.report.tracking_code}.",
            now=now,
        )
    step = _STEPS[update.kind]
    decision = step(_Step(case, event_id, update, part, ruleset, calendar, now))
    return _with_moved_deadline(case, decision, ruleset, cause=event_id, now=now)


@dataclass(frozen=True)
class _Step:
    case: Case
    event_id: str
    update: AgencyUpdate
    part: Part
    ruleset: RuleSet
    calendar: WorkingCalendar
    now: datetime

    @property
    def is_lead(self) -> bool:
        return self.part.role == "lead"

    def refuse(self, reason: UpdateRefusalReason, detail: str) -> Decision:
        return _refuse(self.case, self.event_id, self.update, reason, detail, now=self.now)

    def not_now(self, detail: str) -> Decision:
        return self.refuse(UpdateRefusalReason.NOT_ALLOWED_NOW, detail)

    def lead_only(self, what: str) -> Decision:
        return self.refuse(
            UpdateRefusalReason.LEAD_ONLY,
            f"Chỉ đơn vị chủ trì ({self.case.lead.agency_id}) được {what}.",
        )

    def status(
        self, case: Case, status: ReportStatus, note: str | None, label: str
    ) -> ReportStatusChangedEvent:
        return _status(
            case,
            status,
            previous=self.case.status,
            ruleset=self.ruleset,
            agency_id=self.update.agency_id,
            note=note,
            at=self.now,
            event_id=fact_id(self.event_id, label),
        )


def _start_work(step: _Step) -> Decision:
    """accepted / in_progress: the part moves on; the lead's puts the report in progress."""
    case, update = step.case, step.update
    if not case.is_open:
        return step.not_now(f"Phản ánh {case.report.tracking_code} đã xử lý xong.")
    if step.part.state == PartState.RESOLVED:
        return step.not_now("Đơn vị đã báo cáo xử lý xong phần việc của mình.")
    if case.status == ReportStatus.WAITING_FOR_CITIZEN and step.is_lead:
        return step.not_now("Đang chờ người dân bổ sung thông tin; chưa thể chuyển trạng thái.")
    if update.kind == AgencyUpdateKind.IN_PROGRESS:
        state = PartState.IN_PROGRESS
    else:  # accepting twice, or after starting work, changes nothing
        state = PartState.ACCEPTED if step.part.state == PartState.ASSIGNED else step.part.state
    updated = _with_part(case, step.part.model_copy(update={"state": state}), step.event_id)
    facts: tuple[Fact, ...] = ()
    if step.is_lead and case.status in {ReportStatus.ASSIGNED, ReportStatus.REOPENED}:
        updated = updated.model_copy(update={"status": ReportStatus.IN_PROGRESS})
        name = _name(step.ruleset, update.agency_id)
        note = update.note or f"{name} đã tiếp nhận và đang xử lý phản ánh."
        facts = (Fact(step.status(updated, ReportStatus.IN_PROGRESS, note, "status")),)
    return Decision(updated, facts)


def _ask_citizen(step: _Step) -> Decision:
    """needs_information: the lead asks the citizen; the clock stops."""
    case = step.case
    if not step.is_lead:
        return step.lead_only("đề nghị người dân bổ sung thông tin")
    if not case.is_open:
        return step.not_now(f"Phản ánh {case.report.tracking_code} đã xử lý xong.")
    if case.status == ReportStatus.WAITING_FOR_CITIZEN:
        return step.not_now("Đang chờ người dân trả lời câu hỏi trước.")
    updated = _with_part(
        case, step.part.model_copy(update={"state": PartState.IN_PROGRESS}), step.event_id
    ).model_copy(
        update={
            "status": ReportStatus.WAITING_FOR_CITIZEN,
            "pauses": (*case.pauses, (step.now, None)),
            "deadline": None,
        }
    )
    status = step.status(updated, ReportStatus.WAITING_FOR_CITIZEN, step.update.note, "status")
    return Decision(updated, (Fact(status),))


def _decline(step: _Step) -> Decision:
    """rejected: a supporting agency leaves; the lead's sends the report elsewhere."""
    case, update = step.case, step.update
    if not case.is_open:
        return step.not_now(f"Phản ánh {case.report.tracking_code} đã xử lý xong.")
    if step.part.state == PartState.RESOLVED:
        return step.not_now("Đơn vị đã báo cáo xử lý xong phần việc của mình.")
    suggested = update.suggested_agency_id
    if suggested is not None and step.ruleset.agency(suggested) is None:
        return step.refuse(
            UpdateRefusalReason.UNKNOWN_AGENCY,
            f"Đơn vị được đề xuất ({suggested}) không có trong cấu hình.",
        )
    resumed = _resume_clock(case, step.ruleset, step.now)
    if not step.is_lead:
        return _supporting_leaves(step, resumed)
    return _reroute(step, resumed)


def _supporting_leaves(step: _Step, case: Case) -> Decision:
    update = step.update
    parts = [part for part in case.parts if part.agency_id != update.agency_id]
    suggested = update.suggested_agency_id
    joined: list[Part] = []
    if (
        suggested is not None
        and suggested not in case.declined_by
        and all(part.agency_id != suggested for part in parts)
    ):
        joined.append(Part(agency_id=suggested, role="supporting"))
    updated = case.model_copy(
        update={
            "parts": (*parts, *joined),
            "declined_by": (*case.declined_by, update.agency_id),
            "assignment_id": fact_id(step.event_id, "assigned"),
            "applied": (*case.applied, step.event_id),
        }
    )
    facts: list[Fact] = [
        Fact(
            _assigned(
                updated,
                step.ruleset,
                _declined(update),
                previous=case.assignment_id,
                at=step.now,
            )
        ),
        _withdrawn(case, update.agency_id, _declined_note(step), step.now, step.event_id),
        *_tasks(updated, joined, at=step.now, cause=step.event_id, note=_declined_note(step)),
    ]
    return _maybe_resolved(step, updated, facts)


def _reroute(step: _Step, case: Case) -> Decision:
    update, ruleset = step.update, step.ruleset
    declined = (*case.declined_by, update.agency_id)
    target, rule_id = _next_lead(case, step, declined)
    escalation: ReportEscalatedEvent | None = None
    ping_pong = (
        target is None or target in case.declined_by or case.handoffs + 1 > (ruleset.max_handoffs)
    )
    if ping_pong:
        target, escalation = _escalate(case, step, declined)
        rule_id = ESCALATION_RULE
    assert target is not None
    supporting = [
        part
        for part in case.parts[1:]
        if part.agency_id != target and part.agency_id not in declined
    ]
    updated = case.model_copy(
        update={
            "parts": (Part(agency_id=target, role="lead"), *supporting),
            "status": ReportStatus.ASSIGNED,
            "declined_by": declined,
            "handoffs": case.handoffs + 1,
            "rule_id": rule_id,
            "ruleset_version": ruleset.version,
            "assignment_id": fact_id(step.event_id, "assigned"),
            "applied": (*case.applied, step.event_id),
        }
    )
    matched = {**_declined(update), "handoffs": str(updated.handoffs)}
    note = _declined_note(step)
    facts: list[Fact] = [
        Fact(_assigned(updated, ruleset, matched, previous=case.assignment_id, at=step.now)),
        _withdrawn(case, update.agency_id, note, step.now, step.event_id),
        *_tasks(updated, updated.parts[:1], at=step.now, cause=step.event_id, note=note),
    ]
    if escalation is not None:
        facts.append(Fact(escalation))
    if case.status != ReportStatus.ASSIGNED:
        name = _name(ruleset, target)
        facts.append(
            Fact(
                step.status(
                    updated,
                    ReportStatus.ASSIGNED,
                    f"Phản ánh được chuyển {name} chủ trì xử lý.",
                    "status",
                )
            )
        )
    return Decision(updated, tuple(facts), escalated_to=target if escalation else None)


def _next_lead(case: Case, step: _Step, declined: tuple[str, ...]) -> tuple[str | None, str]:
    """The agency the report goes to next, and the rule id recorded for it."""
    suggested = step.update.suggested_agency_id
    if suggested is not None:
        return suggested, REFERRAL_RULE
    facts = case.report.routing_input(step.calendar)
    for decision in candidates(step.ruleset, facts):
        if decision.lead_agency_id not in declined:
            return decision.lead_agency_id, decision.rule_id
    triage = step.ruleset.triage_agency_id
    return (None if triage in declined else triage), TRIAGE_RULE


def _escalate(
    case: Case, step: _Step, declined: tuple[str, ...]
) -> tuple[str, ReportEscalatedEvent]:
    """Ping-pong: the decliner's nearest ancestor that has not declined leads now."""
    ruleset = step.ruleset
    agency = ruleset.agency(step.update.agency_id)
    seen: set[str] = set()
    target = None
    while agency is not None and agency.parent and agency.parent not in seen:
        seen.add(agency.parent)
        agency = ruleset.agency(agency.parent)
        if agency is not None and agency.id not in declined:
            target = agency
            break
    if target is None:  # every ancestor declined: the top of the chain decides
        target = agency or ruleset.agency(ruleset.triage_agency_id)
    assert target is not None
    trail = " → ".join(declined)
    escalated = ReportEscalated(
        report_id=case.report_id,
        agency_id=step.update.agency_id,
        deadline=case.deadline or step.now,
        at=step.now,
        to_agency_id=target.id,
        level=EscalationLevel(target.level),
        reason=(
            f"Phản ánh bị chuyển qua lại giữa các đơn vị ({trail}); "
            f"chuyển {target.name} chủ trì, chỉ đạo xử lý."
        )[:1000],
    )
    event = ReportEscalatedEvent.new(
        escalated, source=SOURCE, id=fact_id(step.event_id, "escalated"), time=step.now
    )
    return target.id, event


def _resolve(step: _Step) -> Decision:
    """resolved: the part is done; the report when every part is."""
    case = step.case
    if not case.is_open:
        return step.not_now(f"Phản ánh {case.report.tracking_code} đã xử lý xong.")
    if step.part.state == PartState.RESOLVED:
        return step.not_now("Đơn vị đã báo cáo xử lý xong phần việc của mình.")
    resumed = _resume_clock(case, step.ruleset, step.now)
    part = step.part.model_copy(update={"state": PartState.RESOLVED, "note": step.update.note})
    updated = _with_part(resumed, part, step.event_id)
    if step.is_lead:
        updated = updated.model_copy(update={"resolution_note": step.update.note})
    facts = [
        _withdrawn(
            case, step.update.agency_id, "Đơn vị đã báo cáo kết quả xử lý.", step.now, step.event_id
        )
    ]
    return _maybe_resolved(step, updated, facts)


def _maybe_resolved(step: _Step, case: Case, facts: list[Fact]) -> Decision:
    """The report is resolved once the lead and every supporting agency resolved."""
    if case.parts and all(part.state == PartState.RESOLVED for part in case.parts):
        on_time = case.deadline is None or step.now <= case.deadline
        resolved = case.model_copy(update={"status": ReportStatus.RESOLVED, "deadline": None})
        note = case.resolution_note or "Phản ánh đã được xử lý xong."
        lead = case.lead.agency_id
        status = _status(
            resolved,
            ReportStatus.RESOLVED,
            previous=step.case.status,
            ruleset=step.ruleset,
            agency_id=lead,
            note=note,
            at=step.now,
            event_id=fact_id(step.event_id, "status:resolved"),
        )
        facts.append(Fact(status))
        return Decision(resolved, tuple(facts), resolved_on_time=on_time)
    return Decision(case, tuple(facts))


def _reopen_by_agency(step: _Step) -> Decision:
    if not step.is_lead:
        return step.lead_only("mở lại phản ánh")
    if step.case.is_open:
        return step.not_now(f"Phản ánh {step.case.report.tracking_code} đang được xử lý.")
    note = step.update.note or "Đơn vị chủ trì mở lại phản ánh để xử lý tiếp."
    return reopen(step.case, step.ruleset, now=step.now, cause=step.event_id, note=note)


_STEPS = {
    AgencyUpdateKind.ACCEPTED: _start_work,
    AgencyUpdateKind.IN_PROGRESS: _start_work,
    AgencyUpdateKind.NEEDS_INFORMATION: _ask_citizen,
    AgencyUpdateKind.REJECTED: _decline,
    AgencyUpdateKind.RESOLVED: _resolve,
    AgencyUpdateKind.REOPENED: _reopen_by_agency,
}


# --- Citizens' replies -------------------------------------------------------------------


def apply_reply(
    case: Case | None,
    reply: CitizenRepliedEvent,
    raw_reply: bytes,
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    *,
    now: datetime,
) -> Decision | None:
    """A citizen's reply: the reporter's answer restarts the clock, their rating closes or
    reopens the report.

    On an open report the reply also reaches the inbox of every agency holding it
    (``raw_reply``, the original bytes, forwarded unchanged), whoever sent it. A reply
    that does not come from the reporter (:func:`from_the_reporter`) changes nothing else:
    it is recorded as decided on and said in ``Decision.not_from_reporter``. None when
    there is no case to act on.
    """
    if case is None or case.is_linked:
        return None  # a duplicate's citizen follows the original report
    if reply.id in case.applied:
        return Decision(case, changed=False)
    if case.status == ReportStatus.REJECTED:
        return Decision(_applied(case, reply.id))  # out of scope: a rating changes nothing
    data = reply.data
    if not from_the_reporter(case, data):
        forwarded = _forwarded(case, reply, raw_reply) if case.is_open else ()
        kind = reply_kind(case, data)
        return Decision(_applied(case, reply.id), forwarded, not_from_reporter=kind)
    if not case.is_open:
        if data.rating is None:
            return Decision(_applied(case, reply.id))
        if data.rating <= ruleset.reopen_rating_at_most:
            note = (
                f"Người dân chưa hài lòng với kết quả (đánh giá {data.rating}/5); "
                "phản ánh được mở lại để xử lý tiếp."
            )
            return reopen(case, ruleset, now=now, cause=reply.id, note=note)
        if case.status == ReportStatus.CLOSED:
            return Decision(_applied(case, reply.id))
        closed = _applied(case, reply.id).model_copy(update={"status": ReportStatus.CLOSED})
        status = _status(
            closed,
            ReportStatus.CLOSED,
            previous=case.status,
            ruleset=ruleset,
            agency_id=case.lead.agency_id,
            note=f"Người dân đánh giá kết quả {data.rating}/5. Phản ánh được đóng.",
            at=now,
            event_id=fact_id(reply.id, "status:closed"),
        )
        return Decision(closed, (Fact(status),))
    updated = _applied(case, reply.id)
    facts = list(_forwarded(case, reply, raw_reply))
    if case.status == ReportStatus.WAITING_FOR_CITIZEN:
        facts += _moved(case, _resume_clock(case, ruleset, now), ruleset, cause=reply.id, now=now)
        updated = _resume_clock(updated, ruleset, now).model_copy(
            update={"status": ReportStatus.IN_PROGRESS}
        )
        status = _status(
            updated,
            ReportStatus.IN_PROGRESS,
            previous=case.status,
            ruleset=ruleset,
            agency_id=case.lead.agency_id,
            note="Đã nhận thông tin bổ sung của người dân; phản ánh tiếp tục được xử lý.",
            at=now,
            event_id=fact_id(reply.id, "status:answered"),
        )
        facts.append(Fact(status))
    return Decision(updated, tuple(facts))


def from_the_reporter(case: Case, reply: CitizenReplied) -> bool:
    """Whether ``reply`` comes from the identity the report came from (never true for an
    anonymous report or reply, nor for a case stored before routing kept the reporter)."""
    reporter = case.report.reporter_pseudonym
    return reporter is not None and identity_of(reply.reporter) == reporter


def reply_kind(case: Case, reply: CitizenReplied) -> ReplyKind:
    """What ``reply`` would do to the case if it came from the reporter."""
    if case.status == ReportStatus.WAITING_FOR_CITIZEN:
        return ReplyKind.ANSWER
    if reply.rating is not None and not case.is_open:
        return ReplyKind.RATING
    return ReplyKind.MESSAGE


def _forwarded(case: Case, reply: CitizenRepliedEvent, raw_reply: bytes) -> tuple[Fact, ...]:
    """The reply, byte for byte, to the inbox of every agency still working on the report."""
    return tuple(
        Fact(reply, agency_inbox_topic(part.agency_id), original=raw_reply)
        for part in case.parts
        if part.state != PartState.RESOLVED
    )


def reopen(
    case: Case,
    ruleset: RuleSet,
    *,
    now: datetime,
    cause: str,
    note: str,
) -> Decision:
    """A resolved or closed report reopened: the lead gets it back with a new term."""
    lead = Part(agency_id=case.lead.agency_id, role="lead")
    reopened = case.model_copy(
        update={
            "parts": (lead,),
            "status": ReportStatus.REOPENED,
            "term": case.term + 1,
            "term_start": now,
            "pauses": (),
            "deadline": due_at(ruleset.calendar_of(lead.agency_id), now, case.sla),
            "rule_id": REOPEN_RULE,
            "ruleset_version": ruleset.version,
            "assignment_id": fact_id(cause, "assigned"),
            "resolution_note": None,
            "applied": (*case.applied, cause),
        }
    )
    status = _status(
        reopened,
        ReportStatus.REOPENED,
        previous=case.status,
        ruleset=ruleset,
        agency_id=lead.agency_id,
        note=note[:4000],
        at=now,
        event_id=fact_id(cause, "status:reopened"),
    )
    facts = (
        Fact(
            _assigned(
                reopened,
                ruleset,
                {"reopened": note[:1024]},
                previous=case.assignment_id,
                at=now,
            )
        ),
        Fact(status),
        *_tasks(reopened, reopened.parts, at=now, cause=cause, note=note[:1000]),
    )
    return Decision(reopened, facts)


# --- Helpers -------------------------------------------------------------------------------


def sla_vi(sla: Sla) -> str:
    """The term in Vietnamese, e.g. '5 ngày làm việc' or '8 giờ làm việc'."""
    if sla.working_days is not None:
        return f"{sla.working_days} ngày làm việc"
    return f"{sla.working_hours:g} giờ làm việc"


def _name(ruleset: RuleSet, agency_id: str) -> str:
    agency = ruleset.agency(agency_id)
    return agency.name if agency is not None else agency_id


def _applied(case: Case, event_id: str) -> Case:
    return case.model_copy(update={"applied": (*case.applied, event_id)})


def _with_part(case: Case, part: Part, event_id: str) -> Case:
    parts = tuple(part if p.agency_id == part.agency_id else p for p in case.parts)
    return case.model_copy(update={"parts": parts, "applied": (*case.applied, event_id)})


def _resume_clock(case: Case, ruleset: RuleSet, now: datetime) -> Case:
    """The case with an open wait for the citizen ended at ``now`` and its deadline moved."""
    if not case.pauses or case.pauses[-1][1] is not None:
        return case
    pauses = (*case.pauses[:-1], (case.pauses[-1][0], now))
    calendar = ruleset.calendar_of(case.lead.agency_id)
    deadline = deadline_with_pauses(calendar, case.term_start, case.sla, pauses)
    return case.model_copy(update={"pauses": pauses, "deadline": deadline})


def _with_moved_deadline(
    before: Case, decision: Decision, ruleset: RuleSet, *, cause: str, now: datetime
) -> Decision:
    """``decision`` with the deadline moved by a wait for the citizen that it ended."""
    after = decision.case
    if after is None or after.term != before.term or decision.refused is not None:
        return decision
    moved = _moved(before, after, ruleset, cause=cause, now=now)
    if not moved:
        return decision
    return dataclasses.replace(decision, facts=(*decision.facts, *moved))


def _moved(before: Case, after: Case, ruleset: RuleSet, *, cause: str, now: datetime) -> list[Fact]:
    """The deadline moved when ``after`` ended the wait for the citizen ``before`` was in,
    published so that every figure counts on the deadline routing counts on."""
    waiting = bool(before.pauses) and before.pauses[-1][1] is None
    ended = len(after.pauses) == len(before.pauses) and bool(after.pauses)
    if not waiting or not ended or after.pauses[-1][1] is None:
        return []
    calendar = ruleset.calendar_of(before.lead.agency_id)
    deadline = deadline_with_pauses(calendar, before.term_start, before.sla, after.pauses)
    previous = deadline_with_pauses(calendar, before.term_start, before.sla, before.pauses[:-1])
    if deadline is None:
        return []
    moved = DeadlineMoved(
        report_id=before.report_id,
        agency_id=before.lead.agency_id,
        deadline=deadline,
        previous_deadline=previous,
        at=now,
    )
    event = DeadlineMovedEvent.new(
        moved, source=SOURCE, id=fact_id(cause, "deadline:moved"), time=now
    )
    return [Fact(event)]


def _declined(update: AgencyUpdate) -> dict[str, str]:
    matched = {"declined_by": update.agency_id}
    if update.suggested_agency_id is not None:
        matched["suggested"] = update.suggested_agency_id
    return matched


def _declined_note(step: _Step) -> str:
    name = _name(step.ruleset, step.update.agency_id)
    return f"{name} từ chối: {step.update.note}"[:1000]


def _assigned(
    case: Case,
    ruleset: RuleSet,
    matched: dict[str, str],
    *,
    at: datetime,
    previous: str | None = None,
) -> ReportAssignedEvent:
    """The assignment event, timed at the decision (``at``), like the facts beside it."""
    deadline = case.deadline
    assert deadline is not None, "an assignment is made with the clock running"
    assigned = ReportAssigned(
        report_id=case.report_id,
        tracking_code=case.report.tracking_code,
        lead_agency_id=case.lead.agency_id,
        lead_agency_name=_name(ruleset, case.lead.agency_id),
        supporting_agency_ids=tuple(part.agency_id for part in case.parts[1:]),
        deadline=deadline,
        priority=case.report.priority,
        category=case.report.category,
        rule_id=case.rule_id,
        ruleset_version=case.ruleset_version,
        matched={key: value[:1024] for key, value in list(matched.items())[:32]},
        # The term runs from receipt (or reopening); routing within it is part of it.
        assigned_at=case.term_start,
        reassignment_of=previous,
    )
    return ReportAssignedEvent.new(assigned, source=SOURCE, id=case.assignment_id, time=at)


def _status(
    case: Case,
    status: ReportStatus,
    *,
    previous: ReportStatus,
    ruleset: RuleSet,
    agency_id: str,
    note: str | None,
    at: datetime,
    event_id: str,
    duplicate_of: str | None = None,
    unlinked_from: str | None = None,
) -> ReportStatusChangedEvent:
    changed = ReportStatusChanged(
        report_id=case.report_id,
        tracking_code=case.report.tracking_code,
        status=status,
        previous_status=previous,
        agency_id=agency_id,
        agency_name=_name(ruleset, agency_id),
        note=note,
        changed_at=at,
        duplicate_of=duplicate_of,
        unlinked_from=unlinked_from,
    )
    return ReportStatusChangedEvent.new(changed, source=SOURCE, id=event_id, time=at)


def _tasks(
    case: Case,
    parts: Iterable[Part],
    *,
    at: datetime,
    cause: str,
    note: str | None = None,
    history: tuple[TaskHistoryEntry, ...] = (),
) -> list[Fact]:
    """The report put into each of ``parts``' agencies' inboxes."""
    report = case.report
    assert case.deadline is not None, "a report is given to an agency with the clock running"
    facts = []
    for part in parts:
        task = AgencyTaskAssigned(
            report_id=case.report_id,
            tracking_code=report.tracking_code,
            agency_id=part.agency_id,
            role=part.role,
            lead_agency_id=case.lead.agency_id,
            deadline=case.deadline,
            priority=report.priority,
            category=report.category,
            title=report.title,
            text=report.text,
            place=report.place,
            attachments=report.attachments,
            received_at=report.received_at,
            assigned_at=at,
            note=note,
            history=history[-50:],
        )
        event = AgencyTaskAssignedEvent.new(
            task, source=SOURCE, id=fact_id(cause, f"task:{part.agency_id}"), time=at
        )
        facts.append(Fact(event, agency_inbox_topic(part.agency_id)))
    return facts


def _withdrawn(case: Case, agency_id: str, reason: str, at: datetime, cause: str) -> Fact:
    withdrawn = AgencyTaskWithdrawn(
        report_id=case.report_id,
        tracking_code=case.report.tracking_code,
        agency_id=agency_id,
        reason=reason[:1000],
        withdrawn_at=at,
    )
    event = AgencyTaskWithdrawnEvent.new(
        withdrawn, source=SOURCE, id=fact_id(cause, f"withdrawn:{agency_id}"), time=at
    )
    return Fact(event, agency_inbox_topic(agency_id))


def answered_before_any_step(
    case: Case | None,
    event_id: str,
    update: AgencyUpdate,
    ruleset: RuleSet,
    *,
    now: datetime,
    unknown_report: str,
) -> Decision | None:
    """What every agency update (correction or not) gets before its own rules: nothing new
    for one applied already, a refusal from an agency the configuration does not know
    (not echoed to an inbox it does not have) or about a report routing does not hold;
    None when its own rules decide."""
    if case is not None and event_id in case.applied:
        return Decision(case, changed=False)
    if ruleset.agency(update.agency_id) is None:
        return _refuse(
            case,
            event_id,
            update,
            UpdateRefusalReason.UNKNOWN_AGENCY,
            f"Đơn vị {update.agency_id} không có trong cấu hình tiếp nhận, xử lý phản ánh.",
            now=now,
            to_inbox=False,
        )
    if case is None:
        return _refuse(
            None, event_id, update, UpdateRefusalReason.UNKNOWN_REPORT, unknown_report, now=now
        )
    return None


def _refuse(
    case: Case | None,
    event_id: str,
    update: AgencyUpdate,
    reason: UpdateRefusalReason,
    detail: str,
    *,
    now: datetime,
    to_inbox: bool = True,
) -> Decision:
    refused = AgencyUpdateRefused(
        report_id=update.report_id,
        agency_id=update.agency_id,
        update_event_id=event_id,
        update_kind=update.kind,
        reason=reason,
        detail=detail[:1000],
        refused_at=now,
    )
    event = AgencyUpdateRefusedEvent.new(
        refused, source=SOURCE, id=fact_id(event_id, "refused"), time=now
    )
    facts = [Fact(event, AGENCY_UPDATES_REFUSED_TOPIC)]
    if to_inbox:
        facts.append(Fact(event, agency_inbox_topic(update.agency_id)))
    updated = _applied(case, event_id) if case is not None else None
    return Decision(updated, tuple(facts), refused=reason)
