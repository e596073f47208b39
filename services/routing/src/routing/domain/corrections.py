"""Triage corrections: what an officer corrects of intake's guesses, and what follows (pure).

Intake guesses a report's category, its place and whether it duplicates an earlier one;
the triage desk (``RuleSet.triage_agency_id``) checks the guesses it is given, and a lead
agency knows its own reports best. Each correction is an agency update
(:class:`~phananh_contracts.AgencyUpdate`) of a correction kind, with a note: the reason,
kept in the trail with who sent it (audit records every admitted update).

Who may correct:

* re-categorise, re-place, out of scope, link: the agency leading the report, or the
  triage desk when it holds the report (as lead or supporting agency); any other holder
  is refused ``lead_only``, an agency not holding it ``not_holder``;
* unlink (a duplicate has no holder of its own): the triage desk, or the agency leading
  the report it is linked to.

What a correction does:

* **re-categorise** (``category``) / **re-place** (``ward_code``, ``residential_group``):
  the report's facts change and the rules decide again, with the function that routes a
  new report (:func:`routing.domain.rules.candidates`). If the lead changes, the report
  starts afresh with the new lead: a new term counted from now (the new rule's SLA), the
  agencies that no longer hold it get ``AgencyTaskWithdrawn``, the new ones
  ``AgencyTaskAssigned`` with the history, a reassignment (``ReportAssigned``, which
  notify tells the citizen as ``report-reassigned``) and the status back to *assigned*.
  If the lead stays, its term and deadline stay; the holders get the corrected task
  again (supporting agencies the rules no longer name are withdrawn, new ones added),
  and the citizen is told nothing (their agency did not change).
* **out of scope**: the report is closed as *rejected* (``ReportStatus.REJECTED``), the
  note told to the citizen (``report-rejected``: why, and where to go instead); every
  holder's task is withdrawn. The lead may reopen it (``reopened``) if it was a mistake.
* **link** (``duplicate_of``): the report becomes a duplicate of an open report that is
  not itself a duplicate; its case is withdrawn from its holders' inboxes with a note,
  its status is *closed* with ``duplicate_of`` set (notify links its citizen to the
  original, who hears the original's news from then on), and the original's holders are
  told (``DuplicateLinkChanged``).
* **unlink**: a duplicate (linked by intake or by hand) gets a case of its own, routed by
  the rules like a new report, with a term counted from the unlink; its status becomes
  *assigned* with ``unlinked_from`` set (notify stops telling its citizen the original's
  news; the assignment tells them who handles their report now); the original's holders
  are told.

A correction that changes nothing or names what is not there (an unknown category or
ward, the category it already has, a report linked to itself, to a duplicate or to a
closed report) is refused ``invalid_correction``; one on a report no longer being
handled, ``not_allowed_now``. Every refusal reaches the sender's inbox, as for any update.
Every fact's id derives from the update's event id, and an update already decided on
changes nothing: a redelivery gives the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from phananh_contracts import AgencyUpdate, Place, TaskHistoryEntry
from phananh_contracts.values import AgencyUpdateKind, ReportStatus, UpdateRefusalReason

from routing.domain.calendar import WorkingCalendar, due_at
from routing.domain.case import (
    Case,
    CaseReport,
    Decision,
    Fact,
    Part,
    _assigned,
    _name,
    _refuse,
    _status,
    _tasks,
    _withdrawn,
    answered_before_any_step,
    duplicate_notices,
    fact_id,
    sla_vi,
)
from routing.domain.rules import Routing, RuleSet, candidates

HISTORY_KEPT = 50


@dataclass(frozen=True)
class CityCodes:
    """The city's category codes and wards (code → name) a correction may name; empty:
    not checked (routing started without the city's reference data)."""

    categories: frozenset[str] = frozenset()
    wards: Mapping[str, str] = field(default_factory=dict)

    def knows_category(self, code: str) -> bool:
        return not self.categories or code in self.categories

    def knows_ward(self, code: str) -> bool:
        return not self.wards or code in self.wards


@dataclass(frozen=True)
class Correction:
    """One correction to decide: the update and what it needs to know."""

    case: Case | None
    event_id: str
    update: AgencyUpdate
    ruleset: RuleSet
    calendar: WorkingCalendar
    now: datetime
    city: CityCodes
    others: Mapping[str, Case]
    """Cases of the other reports the correction names (a link's target, a duplicate's
    original), as stored when the batch was read."""

    def refuse(self, reason: UpdateRefusalReason, detail: str) -> Decision:
        return _refuse(self.case, self.event_id, self.update, reason, detail, now=self.now)

    def invalid(self, detail: str) -> Decision:
        return self.refuse(UpdateRefusalReason.INVALID_CORRECTION, detail)

    @property
    def agency_name(self) -> str:
        return _name(self.ruleset, self.update.agency_id)

    @property
    def reason(self) -> str:
        return self.update.note or ""


def correct(
    case: Case | None,
    event_id: str,
    update: AgencyUpdate,
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    *,
    now: datetime,
    city: CityCodes | None = None,
    others: Mapping[str, Case] | None = None,
) -> Decision:
    """What a correction does to the case; a refusal when it may not."""
    answered = answered_before_any_step(
        case,
        event_id,
        update,
        ruleset,
        now=now,
        unknown_report=f"Không có phản ánh {update.report_id}.",
    )
    if answered is not None:
        return answered
    assert case is not None
    step = Correction(
        case, event_id, update, ruleset, calendar, now, city or CityCodes(), others or {}
    )
    if update.kind == AgencyUpdateKind.UNLINKED:
        return _unlink(step, case)
    refused = _may_correct(step, case)
    if refused is not None:
        return refused
    if not case.is_open:
        return step.refuse(
            UpdateRefusalReason.NOT_ALLOWED_NOW,
            f"Phản ánh {case.report.tracking_code} không còn đang được xử lý.",
        )
    match update.kind:
        case AgencyUpdateKind.RECATEGORIZED:
            return _recategorize(step, case)
        case AgencyUpdateKind.RELOCATED:
            return _relocate(step, case)
        case AgencyUpdateKind.OUT_OF_SCOPE:
            return _out_of_scope(step, case)
        case AgencyUpdateKind.LINKED:
            return _link(step, case)
    raise ValueError(f"not a correction: {update.kind}")


def _may_correct(step: Correction, case: Case) -> Decision | None:
    """None when the sender may correct ``case``: its lead, or the triage desk holding it."""
    agency_id = step.update.agency_id
    part = case.part_of(agency_id)
    if part is None:
        return step.refuse(
            UpdateRefusalReason.NOT_HOLDER,
            f"Đơn vị {agency_id} không được giao phản ánh {case.report.tracking_code}.",
        )
    if part.role == "lead" or agency_id == step.ruleset.triage_agency_id:
        return None
    return step.refuse(
        UpdateRefusalReason.LEAD_ONLY,
        f"Chỉ đơn vị chủ trì ({case.lead.agency_id}) hoặc bộ phận tiếp nhận "
        f"({step.ruleset.triage_agency_id}) được điều chỉnh phản ánh.",
    )


# --- Category and place ------------------------------------------------------------------


def _recategorize(step: Correction, case: Case) -> Decision:
    category = step.update.category
    assert category is not None, "the contract requires it"
    if category == case.report.category:
        return step.invalid(f"Phản ánh đã thuộc lĩnh vực {category}.")
    if not step.city.knows_category(category):
        return step.invalid(f"Lĩnh vực {category} không có trong danh mục của thành phố.")
    report = case.report.model_copy(update={"category": category})
    return _rerouted(step, case, report, f"lĩnh vực {case.report.category} → {category}")


def _relocate(step: Correction, case: Case) -> Decision:
    ward_code, group = step.update.ward_code, step.update.residential_group
    assert ward_code is not None, "the contract requires it"
    if not step.city.knows_ward(ward_code):
        return step.invalid(f"Mã phường, xã {ward_code} không có trong danh mục của thành phố.")
    old = case.report.place or Place()
    if old.ward_code == ward_code and old.residential_group == group:
        return step.invalid("Địa điểm không thay đổi.")
    ward_name = step.city.wards.get(ward_code) or (
        old.ward_name if old.ward_code == ward_code else None
    )
    place = old.model_copy(
        update={"ward_code": ward_code, "ward_name": ward_name, "residential_group": group}
    )
    report = case.report.model_copy(update={"place": place})
    where = ward_name or ward_code
    if group:
        where = f"{group}, {where}"
    return _rerouted(step, case, report, f"địa điểm → {where}")


def _rerouted(step: Correction, case: Case, report: CaseReport, what: str) -> Decision:
    """The corrected report routed again by the rules."""
    routing = next(candidates(step.ruleset, report.routing_input(step.calendar)))
    note = f"{step.agency_name} điều chỉnh {what}. Lý do: {step.reason}"[:1000]
    if routing.lead_agency_id == case.lead.agency_id:
        return _same_lead(step, case, report, routing, note)
    entry = TaskHistoryEntry(at=step.now, agency_id=step.update.agency_id, what=note[:500])
    moved = _fresh_case(step, case, report, routing, history_entry=entry)
    matched = {
        **routing.matched,
        "corrected_by": step.update.agency_id,
        "correction": step.update.kind.value,
    }
    facts: list[Fact] = [
        Fact(_assigned(moved, step.ruleset, matched, previous=case.assignment_id, at=step.now)),
        *_withdrawals(step, case, moved, note),
        *_tasks(
            moved, moved.parts, at=step.now, cause=step.event_id, note=note, history=moved.history
        ),
    ]
    if case.status != ReportStatus.ASSIGNED:
        lead = _name(step.ruleset, moved.lead.agency_id)
        facts.append(
            Fact(
                _status(
                    moved,
                    ReportStatus.ASSIGNED,
                    previous=case.status,
                    ruleset=step.ruleset,
                    agency_id=moved.lead.agency_id,
                    note=f"Phản ánh được chuyển {lead} chủ trì xử lý.",
                    at=step.now,
                    event_id=fact_id(step.event_id, "status"),
                )
            )
        )
    return Decision(moved, tuple(facts))


def _same_lead(
    step: Correction, case: Case, report: CaseReport, routing: Routing, note: str
) -> Decision:
    """The rules keep the lead: its term runs on; the holders get the corrected task."""
    supporting = routing.supporting_agency_ids
    kept = [part for part in case.parts[1:] if part.agency_id in supporting]
    held = {part.agency_id for part in case.parts}
    added = [Part(agency_id=a, role="supporting") for a in supporting if a not in held]
    entry = TaskHistoryEntry(at=step.now, agency_id=step.update.agency_id, what=note[:500])
    updated = case.model_copy(
        update={
            "report": report,
            "parts": (case.lead, *kept, *added),
            "rule_id": routing.rule_id,
            "ruleset_version": routing.ruleset_version,
            "applied": (*case.applied, step.event_id),
            "history": (*case.history, entry)[-HISTORY_KEPT:],
        }
    )
    facts: list[Fact] = [*_withdrawals(step, case, updated, note)]
    if updated.deadline is not None:  # waiting for the citizen: the next task says it
        facts += _tasks(
            updated,
            updated.parts,
            at=step.now,
            cause=step.event_id,
            note=note,
            history=updated.history,
        )
    return Decision(updated, tuple(facts))


def _fresh_case(
    step: Correction,
    case: Case,
    report: CaseReport,
    routing: Routing,
    *,
    history_entry: TaskHistoryEntry,
) -> Case:
    """The report led afresh by the rules' lead, with a term counted from now."""
    lead = routing.lead_agency_id
    return case.model_copy(
        update={
            "report": report,
            "parts": (
                Part(agency_id=lead, role="lead"),
                *(Part(agency_id=a, role="supporting") for a in routing.supporting_agency_ids),
            ),
            "status": ReportStatus.ASSIGNED,
            "rule_id": routing.rule_id,
            "ruleset_version": routing.ruleset_version,
            "assignment_id": fact_id(step.event_id, "assigned"),
            "sla": routing.sla,
            "term": case.term + 1,
            "term_start": step.now,
            "pauses": (),
            "deadline": due_at(step.ruleset.calendar_of(lead), step.now, routing.sla),
            "declined_by": (),
            "handoffs": 0,
            "resolution_note": None,
            "applied": (*case.applied, step.event_id),
            "escalation_step": 0,
            "history": (*case.history, history_entry)[-HISTORY_KEPT:],
            "duplicate_of": None,
        }
    )


def _withdrawals(step: Correction, before: Case, after: Case, note: str) -> list[Fact]:
    """The report taken from every agency that held it and no longer does."""
    kept = {part.agency_id for part in after.parts}
    return [
        _withdrawn(before, part.agency_id, note, step.now, step.event_id)
        for part in before.parts
        if part.agency_id not in kept
    ]


# --- Out of scope ------------------------------------------------------------------------


def _out_of_scope(step: Correction, case: Case) -> Decision:
    note = f"{step.agency_name}: phản ánh không thuộc phạm vi tiếp nhận. Lý do: {step.reason}"
    entry = TaskHistoryEntry(at=step.now, agency_id=step.update.agency_id, what=note[:500])
    closed = case.model_copy(
        update={
            "status": ReportStatus.REJECTED,
            "deadline": None,
            "resolution_note": step.reason,
            "applied": (*case.applied, step.event_id),
            "history": (*case.history, entry)[-HISTORY_KEPT:],
        }
    )
    facts = [
        *(_withdrawn(case, p.agency_id, note, step.now, step.event_id) for p in case.parts),
        Fact(
            _status(
                closed,
                ReportStatus.REJECTED,
                previous=case.status,
                ruleset=step.ruleset,
                agency_id=step.update.agency_id,
                note=step.reason[:4000],
                at=step.now,
                event_id=fact_id(step.event_id, "status"),
            )
        ),
    ]
    return Decision(closed, tuple(facts))


# --- Duplicates --------------------------------------------------------------------------


def _link(step: Correction, case: Case) -> Decision:
    """The report made a duplicate of an open report: handled with it from now on."""
    target_id = step.update.duplicate_of
    assert target_id is not None, "the contract requires it"
    original = step.others.get(target_id)
    if original is None:
        return step.invalid(f"Không có phản ánh {target_id} để gộp vào.")
    code = original.report.tracking_code
    if original.is_linked:
        return step.invalid(
            f"Phản ánh {code} đã được gộp vào phản ánh khác ({original.duplicate_of}); "
            "hãy gộp vào phản ánh đó."
        )
    if not original.is_open:
        return step.invalid(f"Phản ánh {code} đã kết thúc xử lý; không thể gộp vào.")
    lead = _name(step.ruleset, original.lead.agency_id)
    note = (
        f"Phản ánh trùng với phản ánh {code} ({lead} chủ trì), được gộp để xử lý cùng; "
        f"{step.agency_name} gộp. Lý do: {step.reason}"
    )[:1000]
    entry = TaskHistoryEntry(at=step.now, agency_id=step.update.agency_id, what=note[:500])
    linked = case.model_copy(
        update={
            "parts": (),
            "status": ReportStatus.CLOSED,
            "deadline": None,
            "duplicate_of": original.report_id,
            "applied": (*case.applied, step.event_id),
            "history": (*case.history, entry)[-HISTORY_KEPT:],
        }
    )
    citizen_note = (
        f"Phản ánh của bạn trùng với phản ánh {code} và được gộp để xử lý cùng; bạn sẽ nhận "
        "thông báo về cơ quan xử lý, thời hạn và kết quả của phản ánh đó."
    )
    facts = [
        *(_withdrawn(case, p.agency_id, note, step.now, step.event_id) for p in case.parts),
        Fact(
            _status(
                linked,
                ReportStatus.CLOSED,
                previous=case.status,
                ruleset=step.ruleset,
                agency_id=step.update.agency_id,
                note=citizen_note,
                at=step.now,
                event_id=fact_id(step.event_id, "status"),
                duplicate_of=original.report_id,
            )
        ),
        *duplicate_notices(
            linked,
            original,
            linked=True,
            at=step.now,
            cause=step.event_id,
            by_agency_id=step.update.agency_id,
            reason=step.reason,
        ),
    ]
    return Decision(linked, tuple(facts))


def _unlink(step: Correction, case: Case) -> Decision:
    """A duplicate given a case of its own, routed by the rules like a new report."""
    agency_id = step.update.agency_id
    original_id = case.duplicate_of
    original = step.others.get(original_id) if original_id is not None else None
    triage = step.ruleset.triage_agency_id
    may = agency_id == triage or (
        original is not None and original.parts and original.lead.agency_id == agency_id
    )
    if original_id is None:
        refused = _may_correct(step, case)
        if refused is not None:
            return refused
        return step.refuse(
            UpdateRefusalReason.NOT_ALLOWED_NOW,
            f"Phản ánh {case.report.tracking_code} không được gộp với phản ánh nào.",
        )
    if not may:
        return step.refuse(
            UpdateRefusalReason.NOT_HOLDER,
            f"Chỉ bộ phận tiếp nhận ({triage}) hoặc đơn vị chủ trì phản ánh gốc được tách "
            f"phản ánh {case.report.tracking_code}.",
        )
    code = original.report.tracking_code if original is not None else original_id
    routing = next(candidates(step.ruleset, case.report.routing_input(step.calendar)))
    note = (
        f"Phản ánh không trùng với phản ánh {code}, được tách để xử lý riêng; "
        f"{step.agency_name} tách. Lý do: {step.reason}"
    )[:1000]
    entry = TaskHistoryEntry(at=step.now, agency_id=agency_id, what=note[:500])
    own = _fresh_case(step, case, case.report, routing, history_entry=entry)
    lead = _name(step.ruleset, own.lead.agency_id)
    matched = {**routing.matched, "unlinked_from": original_id, "corrected_by": agency_id}
    facts = [
        Fact(_assigned(own, step.ruleset, matched, at=step.now)),
        Fact(
            _status(
                own,
                ReportStatus.ASSIGNED,
                previous=case.status,
                ruleset=step.ruleset,
                agency_id=own.lead.agency_id,
                note=(
                    f"Phản ánh của bạn được tách khỏi phản ánh {code} và xử lý riêng: {lead} "
                    f"chủ trì, thời hạn {sla_vi(own.sla)}."
                ),
                at=step.now,
                event_id=fact_id(step.event_id, "status"),
                unlinked_from=original_id,
            )
        ),
        *_tasks(own, own.parts, at=step.now, cause=step.event_id, note=note, history=own.history),
        *duplicate_notices(
            case,
            original,
            linked=False,
            at=step.now,
            cause=step.event_id,
            by_agency_id=agency_id,
            reason=step.reason,
        ),
    ]
    return Decision(own, tuple(facts))


def names_other_report(case: Case | None, update: AgencyUpdate) -> str | None:
    """The other report a correction needs the case of: a link's target, an unlink's
    original (None: none)."""
    if update.kind == AgencyUpdateKind.LINKED:
        return update.duplicate_of
    if update.kind == AgencyUpdateKind.UNLINKED and case is not None:
        return case.duplicate_of
    return None
