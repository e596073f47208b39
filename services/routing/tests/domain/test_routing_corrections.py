"""Triage corrections: re-categorise, re-place, out of scope, link and unlink."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawnEvent,
    AgencyUpdate,
    AgencyUpdateRefusedEvent,
    DuplicateLinkChangedEvent,
    ReportAssignedEvent,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind, ReportStatus, UpdateRefusalReason
from routing.adapters.rules_file import load_ruleset
from routing.domain.calendar import WorkingCalendar
from routing.domain.case import Case, Decision, apply_update, open_case
from routing.domain.corrections import CityCodes, correct
from routing.domain.decisions import Context, Incoming, decide_report

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")
CALENDAR = WorkingCalendar()
RECEIVED = REPORT_RECEIVED.data.received_at
WARD, TRIAGE = "ubnd-chieng-sinh", "ioc-tiep-nhan"

CSGT, MARKET, POLICE = "doi-csgt", "bql-cho-noong-duc", "cong-an-thanh-pho"
CITY = CityCodes(
    categories=frozenset({"urban_order", "traffic_safety", "security_order", "electricity"}),
    wards={"03679": "Chiềng Sinh", "03646": "Tô Hiệu"},
)
ORIGINAL_ID, DUPLICATE_ID = "01GVHQ0000000000000000000A", "01GVHQ0000000000000000000B"
LATER = RECEIVED + timedelta(hours=2)


def opened(report_id: str = ORIGINAL_ID, code: str = "SL-2303-7KQ4M9", **changes: Any) -> Case:
    report = REPORT_RECEIVED.data.model_copy(
        update={"report_id": report_id, "tracking_code": code, **changes}
    )
    case = open_case(RULES, CALENDAR, report, now=RECEIVED).case
    assert case is not None
    return case


def at_triage(**changes: Any) -> Case:
    """A report intake was not sure of: the triage desk holds it."""
    case = opened(needs_triage=True, triage_reasons=("low_confidence_category",), **changes)
    assert case.lead.agency_id == TRIAGE
    return case


def corrected(
    case: Case | None,
    agency: str,
    kind: AgencyUpdateKind,
    note: str = "Phân loại lại sau khi đọc kỹ nội dung",
    *,
    event_id: str | None = None,
    others: dict[str, Case] | None = None,
    **fields: Any,
) -> Decision:
    report_id = case.report_id if case is not None else ORIGINAL_ID
    data = AgencyUpdate(
        report_id=report_id, agency_id=agency, kind=kind, note=note, updated_at=LATER, **fields
    )
    return correct(
        case,
        event_id or str(uuid.uuid4()),
        data,
        RULES,
        CALENDAR,
        now=LATER,
        city=CITY,
        others=others or {},
    )


def of_type(decision: Decision, kind: type) -> list[Any]:
    return [fact for fact in decision.facts if isinstance(fact.event, kind)]


def inboxes(decision: Decision, kind: type) -> list[str]:
    return sorted(str(fact.topic.name) for fact in of_type(decision, kind))


def refusal(decision: Decision) -> UpdateRefusalReason | None:
    refused = of_type(decision, AgencyUpdateRefusedEvent)
    return refused[0].event.data.reason if refused else None


# --- Re-categorise and re-place -----------------------------------------------------------


def test_the_triage_desk_recategorising_moves_the_report_to_the_rules_agency() -> None:
    case = at_triage()
    decision = corrected(case, TRIAGE, AgencyUpdateKind.RECATEGORIZED, category="traffic_safety")

    moved = decision.case
    assert moved is not None and decision.refused is None
    assert moved.lead.agency_id == CSGT and moved.report.category == "traffic_safety"
    assert moved.term == case.term + 1 and moved.term_start == LATER
    assert moved.deadline is not None and moved.deadline > LATER
    assigned = of_type(decision, ReportAssignedEvent)[0].event.data
    assert assigned.lead_agency_id == CSGT and assigned.reassignment_of == case.assignment_id
    assert assigned.category == "traffic_safety"
    assert assigned.matched["corrected_by"] == TRIAGE
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [f"pakn.inbox.{TRIAGE}.v1"]
    assert inboxes(decision, AgencyTaskAssignedEvent) == [f"pakn.inbox.{CSGT}.v1"]
    task = of_type(decision, AgencyTaskAssignedEvent)[0].event.data
    assert "Phân loại lại" in (task.note or "") and task.history[-1].agency_id == TRIAGE


def test_recategorising_a_report_in_progress_puts_it_back_to_assigned() -> None:
    case = at_triage()
    started = apply_update(
        case,
        "accept",
        AgencyUpdate(
            report_id=case.report_id,
            agency_id=TRIAGE,
            kind=AgencyUpdateKind.ACCEPTED,
            updated_at=RECEIVED,
        ),
        RULES,
        CALENDAR,
        now=RECEIVED + timedelta(minutes=5),
    ).case
    assert started is not None and started.status == ReportStatus.IN_PROGRESS
    decision = corrected(started, TRIAGE, AgencyUpdateKind.RECATEGORIZED, category="traffic_safety")
    statuses = [f.event.data for f in of_type(decision, ReportStatusChangedEvent)]
    assert [(s.previous_status, s.status) for s in statuses] == [
        (ReportStatus.IN_PROGRESS, ReportStatus.ASSIGNED)
    ]


def test_re_placing_a_report_sends_it_to_the_new_wards_committee() -> None:
    case = opened(category="security_order")  # Chiềng Sinh leads, the police support
    assert [p.agency_id for p in case.parts] == [WARD, POLICE]

    decision = corrected(
        case, WARD, AgencyUpdateKind.RELOCATED, ward_code="03646", residential_group="Tổ 3"
    )

    moved = decision.case
    assert moved is not None and moved.lead.agency_id == "ubnd-to-hieu"
    assert moved.report.place is not None
    assert (moved.report.place.ward_code, moved.report.place.ward_name) == ("03646", "Tô Hiệu")
    assert moved.report.place.residential_group == "Tổ 3"
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [f"pakn.inbox.{WARD}.v1"]
    assert inboxes(decision, AgencyTaskAssignedEvent) == [
        f"pakn.inbox.{POLICE}.v1",
        "pakn.inbox.ubnd-to-hieu.v1",
    ]


def test_a_correction_that_keeps_the_lead_keeps_its_term_and_tells_the_citizen_nothing() -> None:
    case = opened()  # the market rule: Chiềng Sinh leads, the market board supports
    decision = corrected(
        case, WARD, AgencyUpdateKind.RELOCATED, ward_code="03679", residential_group="Tổ 9"
    )

    kept = decision.case
    assert kept is not None and kept.lead.agency_id == WARD
    assert (kept.term, kept.deadline) == (case.term, case.deadline)
    assert of_type(decision, ReportAssignedEvent) == []
    assert of_type(decision, ReportStatusChangedEvent) == []
    assert inboxes(decision, AgencyTaskAssignedEvent) == [
        f"pakn.inbox.{MARKET}.v1",
        f"pakn.inbox.{WARD}.v1",
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"category": "urban_order"}, "đã thuộc"),
        ({"category": "space_travel"}, "không có trong danh mục"),
    ],
)
def test_a_recategorisation_naming_nothing_new_is_refused(
    fields: dict[str, str], reason: str
) -> None:
    case = at_triage()
    decision = corrected(case, TRIAGE, AgencyUpdateKind.RECATEGORIZED, **fields)
    assert decision.refused == UpdateRefusalReason.INVALID_CORRECTION
    assert decision.case is not None and decision.case.parts == case.parts
    refused = of_type(decision, AgencyUpdateRefusedEvent)
    assert reason in refused[0].event.data.detail
    assert f"pakn.inbox.{TRIAGE}.v1" in inboxes(decision, AgencyUpdateRefusedEvent)


def test_an_unknown_ward_is_refused() -> None:
    decision = corrected(at_triage(), TRIAGE, AgencyUpdateKind.RELOCATED, ward_code="99999")
    assert decision.refused == UpdateRefusalReason.INVALID_CORRECTION


def test_only_the_lead_or_the_triage_desk_holding_the_report_may_correct() -> None:
    case = opened()  # Chiềng Sinh leads, the market board supports; triage does not hold it
    by_supporting = corrected(case, MARKET, AgencyUpdateKind.OUT_OF_SCOPE)
    assert by_supporting.refused == UpdateRefusalReason.LEAD_ONLY
    by_triage = corrected(case, TRIAGE, AgencyUpdateKind.RECATEGORIZED, category="electricity")
    assert by_triage.refused == UpdateRefusalReason.NOT_HOLDER
    by_stranger = corrected(case, CSGT, AgencyUpdateKind.OUT_OF_SCOPE)
    assert by_stranger.refused == UpdateRefusalReason.NOT_HOLDER
    unknown = corrected(None, TRIAGE, AgencyUpdateKind.OUT_OF_SCOPE)
    assert unknown.refused == UpdateRefusalReason.UNKNOWN_REPORT


def test_a_correction_decided_twice_gives_the_same_facts_then_nothing() -> None:
    case = at_triage()
    first = corrected(
        case, TRIAGE, AgencyUpdateKind.RECATEGORIZED, event_id="u-1", category="traffic_safety"
    )
    again = corrected(
        case, TRIAGE, AgencyUpdateKind.RECATEGORIZED, event_id="u-1", category="traffic_safety"
    )
    assert [f.event.id for f in first.facts] == [f.event.id for f in again.facts]
    assert first.case == again.case
    assert first.case is not None
    replay = corrected(
        first.case,
        TRIAGE,
        AgencyUpdateKind.RECATEGORIZED,
        event_id="u-1",
        category="traffic_safety",
    )
    assert replay.changed is False and replay.facts == ()


# --- Out of scope ------------------------------------------------------------------------


def test_out_of_scope_closes_the_report_as_rejected_and_tells_the_citizen_why() -> None:
    case = opened()
    why = "Nội dung là khiếu nại quyết định hành chính; đề nghị gửi đơn tới UBND thành phố."
    decision = corrected(case, WARD, AgencyUpdateKind.OUT_OF_SCOPE, note=why)

    closed = decision.case
    assert closed is not None and closed.status == ReportStatus.REJECTED
    assert not closed.is_open and closed.deadline is None
    status = of_type(decision, ReportStatusChangedEvent)[0].event.data
    assert (status.status, status.note) == (ReportStatus.REJECTED, why)
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [
        f"pakn.inbox.{MARKET}.v1",
        f"pakn.inbox.{WARD}.v1",
    ]
    again = corrected(closed, WARD, AgencyUpdateKind.OUT_OF_SCOPE, note=why)
    assert again.refused == UpdateRefusalReason.NOT_ALLOWED_NOW


# --- Link and unlink ----------------------------------------------------------------------


def duplicate_on_arrival(original: Case) -> Decision:
    report = REPORT_RECEIVED.data.model_copy(
        update={
            "report_id": DUPLICATE_ID,
            "tracking_code": "SL-2303-4HC8WD",
            "duplicate_of": original.report_id,
            "text": "Bán hàng rong ở cổng chợ phía bắc, gây ùn tắc.",
        }
    )
    return open_case(RULES, CALENDAR, report, now=RECEIVED, original=original)


def test_a_duplicate_on_arrival_is_shown_to_the_originals_holders() -> None:
    original = opened()
    decision = duplicate_on_arrival(original)
    assert decision.case is not None and decision.case.duplicate_of == ORIGINAL_ID
    notices = [f.event.data for f in of_type(decision, DuplicateLinkChangedEvent)]
    assert sorted(n.agency_id for n in notices) == [MARKET, WARD]
    assert all(n.linked and n.original_tracking_code == "SL-2303-7KQ4M9" for n in notices)
    assert notices[0].by_agency_id is None and "cổng chợ" in notices[0].text


def test_the_originals_lead_unlinking_gives_the_duplicate_its_own_case() -> None:
    original = opened()
    linked = duplicate_on_arrival(original).case
    assert linked is not None

    decision = corrected(
        linked,
        WARD,
        AgencyUpdateKind.UNLINKED,
        note="Cổng chợ phía bắc, không phải hành lang chợ",
        others={ORIGINAL_ID: original},
    )

    own = decision.case
    assert own is not None and own.is_open and not own.is_linked
    assert own.lead.agency_id == WARD and own.term_start == LATER
    assigned = of_type(decision, ReportAssignedEvent)[0].event.data
    assert assigned.report_id == DUPLICATE_ID and assigned.reassignment_of is None
    assert assigned.matched["unlinked_from"] == ORIGINAL_ID
    status = of_type(decision, ReportStatusChangedEvent)[0].event.data
    assert (status.previous_status, status.status) == (ReportStatus.RECEIVED, ReportStatus.ASSIGNED)
    assert status.unlinked_from == ORIGINAL_ID
    assert inboxes(decision, AgencyTaskAssignedEvent) == [
        f"pakn.inbox.{MARKET}.v1",
        f"pakn.inbox.{WARD}.v1",
    ]
    told = [f.event.data for f in of_type(decision, DuplicateLinkChangedEvent)]
    assert told and not any(n.linked for n in told) and told[0].by_agency_id == WARD


def test_who_may_unlink_the_triage_desk_or_the_originals_lead() -> None:
    original = opened()
    linked = duplicate_on_arrival(original).case
    others = {ORIGINAL_ID: original}
    by_supporting = corrected(linked, MARKET, AgencyUpdateKind.UNLINKED, others=others)
    assert by_supporting.refused == UpdateRefusalReason.NOT_HOLDER
    by_triage = corrected(linked, TRIAGE, AgencyUpdateKind.UNLINKED, others=others)
    assert by_triage.refused is None and by_triage.case is not None
    not_linked = corrected(original, WARD, AgencyUpdateKind.UNLINKED)
    assert not_linked.refused == UpdateRefusalReason.NOT_ALLOWED_NOW


def test_linking_by_hand_withdraws_the_case_and_closes_it_as_a_duplicate() -> None:
    original = opened()
    second = opened(DUPLICATE_ID, "SL-2303-4HC8WD", category="security_order")
    assert [p.agency_id for p in second.parts] == [WARD, POLICE]

    decision = corrected(
        second,
        WARD,
        AgencyUpdateKind.LINKED,
        note="Cùng vụ bán hàng ở hành lang chợ",
        duplicate_of=ORIGINAL_ID,
        others={ORIGINAL_ID: original},
    )

    linked = decision.case
    assert linked is not None and linked.duplicate_of == ORIGINAL_ID and linked.parts == ()
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [
        f"pakn.inbox.{POLICE}.v1",
        f"pakn.inbox.{WARD}.v1",
    ]
    withdrawn = of_type(decision, AgencyTaskWithdrawnEvent)[0].event.data
    assert "SL-2303-7KQ4M9" in withdrawn.reason
    status = of_type(decision, ReportStatusChangedEvent)[0].event.data
    assert (status.status, status.duplicate_of) == (ReportStatus.CLOSED, ORIGINAL_ID)
    assert "SL-2303-7KQ4M9" in (status.note or "")
    assert inboxes(decision, DuplicateLinkChangedEvent) == [
        f"pakn.inbox.{MARKET}.v1",
        f"pakn.inbox.{WARD}.v1",
    ]
    # … and unlinking it again gives it a case of its own, with a new term.
    back = corrected(linked, TRIAGE, AgencyUpdateKind.UNLINKED, others={ORIGINAL_ID: original})
    assert back.case is not None and back.case.is_open and back.case.term == second.term + 1
    status = of_type(back, ReportStatusChangedEvent)[0].event.data
    assert (status.previous_status, status.status) == (ReportStatus.CLOSED, ReportStatus.ASSIGNED)


def test_a_link_to_an_unknown_a_closed_or_a_duplicate_report_is_refused() -> None:
    original = opened()
    second = opened("01GVHQ0000000000000000000D", "SL-2303-BBBBBB")
    unknown = corrected(second, WARD, AgencyUpdateKind.LINKED, duplicate_of=ORIGINAL_ID)
    assert unknown.refused == UpdateRefusalReason.INVALID_CORRECTION
    rejected = corrected(original, WARD, AgencyUpdateKind.OUT_OF_SCOPE).case
    assert rejected is not None
    to_closed = corrected(
        second,
        WARD,
        AgencyUpdateKind.LINKED,
        duplicate_of=ORIGINAL_ID,
        others={ORIGINAL_ID: rejected},
    )
    assert to_closed.refused == UpdateRefusalReason.INVALID_CORRECTION
    chained = duplicate_on_arrival(opened("01GVHQ0000000000000000000C", "SL-2303-AAAAAA")).case
    assert chained is not None
    to_duplicate = corrected(
        second,
        WARD,
        AgencyUpdateKind.LINKED,
        duplicate_of=DUPLICATE_ID,
        others={DUPLICATE_ID: chained},
    )
    assert to_duplicate.refused == UpdateRefusalReason.INVALID_CORRECTION


def test_a_linked_duplicates_citizen_replies_change_nothing_and_nobody_updates_it() -> None:
    linked = duplicate_on_arrival(opened()).case
    assert linked is not None
    accepted = apply_update(
        linked,
        "u",
        AgencyUpdate(
            report_id=DUPLICATE_ID, agency_id=WARD, kind=AgencyUpdateKind.ACCEPTED, updated_at=LATER
        ),
        RULES,
        CALENDAR,
        now=LATER,
    )
    assert accepted.refused == UpdateRefusalReason.NOT_HOLDER


def test_decide_report_dispatches_corrections_with_the_batchs_context() -> None:
    from phananh_contracts import AgencyUpdateEvent

    original = opened()
    linked = duplicate_on_arrival(original).case
    event = AgencyUpdateEvent.new(
        AgencyUpdate(
            report_id=DUPLICATE_ID,
            agency_id=WARD,
            kind=AgencyUpdateKind.UNLINKED,
            note="Không trùng",
            updated_at=LATER,
        ),
        source=f"/agencies/{WARD}",
    )
    outcome = decide_report(
        linked,
        [Incoming(event, event.to_kafka().value)],
        RULES,
        CALENDAR,
        now=LATER,
        context=Context(CITY, {ORIGINAL_ID: original}),
    )
    assert outcome.changed and outcome.case is not None and outcome.case.is_open
