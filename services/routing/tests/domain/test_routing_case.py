"""The case of one report: agencies' updates, the citizen's replies, what everyone sees."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawnEvent,
    AgencyUpdate,
    AgencyUpdateRefusedEvent,
    CitizenReplied,
    CitizenRepliedEvent,
    ReportAssignedEvent,
    Reporter,
    ReportEscalatedEvent,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind, ReportStatus, UpdateRefusalReason
from routing.adapters.rules_file import load_ruleset
from routing.domain.calendar import WorkingCalendar, add_working_days
from routing.domain.case import Case, Decision, ReplyKind, apply_reply, apply_update, open_case

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")
CALENDAR = WorkingCalendar()
# The seed's report arrived on Tuesday 14 March 2023, 08:12 in Sơn La.
RECEIVED = REPORT_RECEIVED.data.received_at
WARD, MARKET, TRIAGE = "ubnd-chieng-sinh", "bql-cho-noong-duc", "ioc-tiep-nhan"


def opened(**changes: Any) -> Case:
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
    suggest: str | None = None,
    event_id: str | None = None,
    report_id: str | None = None,
) -> Decision:
    data = AgencyUpdate(
        report_id=report_id or REPORT_RECEIVED.data.report_id,
        agency_id=agency,
        kind=kind,
        note=note,
        suggested_agency_id=suggest,
        updated_at=at or RECEIVED + timedelta(hours=1),
    )
    return apply_update(
        case,
        event_id or str(uuid.uuid4()),
        data,
        RULES,
        CALENDAR,
        now=at or RECEIVED + timedelta(hours=1),
    )


REPORTER = REPORT_RECEIVED.data.reporter
"""Who sent the seed's report (a pseudonym and a sealed contact)."""
STRANGER = Reporter(anonymous=False, pseudonym="ctz-" + "5" * 24, contact_ciphertext="sealed")
"""Someone else, who knows the tracking code."""
NOBODY = Reporter(anonymous=True)
"""A citizen who chose not to be contacted: no identity."""


def replied(
    case: Case, text: str, *, at: datetime, rating: int | None = None, by: Reporter = REPORTER
) -> CitizenRepliedEvent:
    return CitizenRepliedEvent.new(
        CitizenReplied(
            report_id=case.report_id,
            tracking_code=case.report.tracking_code,
            channel=REPORT_RECEIVED.data.channel,
            channel_message_id=f"reply-{uuid.uuid4().hex[:8]}",
            received_at=at,
            text=text,
            rating=rating,
            reporter=by,
        ),
        source="/services/intake",
    )


def decided(case: Case, event: CitizenRepliedEvent, *, at: datetime) -> Decision | None:
    return apply_reply(case, event, event.to_kafka().value, RULES, CALENDAR, now=at)


def reply(
    case: Case, text: str, *, at: datetime, rating: int | None = None, by: Reporter = REPORTER
) -> Decision | None:
    """A new reply, ``by`` the reporter unless said otherwise, decided on."""
    return decided(case, replied(case, text, at=at, rating=rating, by=by), at=at)


def of_type(decision: Decision, kind: type) -> list[Any]:
    return [fact for fact in decision.facts if isinstance(fact.event, kind)]


def statuses(decision: Decision) -> list[tuple[str, str | None]]:
    return [
        (fact.event.data.status.value, fact.event.data.note)
        for fact in of_type(decision, ReportStatusChangedEvent)
    ]


def inboxes(decision: Decision, kind: type) -> list[str]:
    return [fact.topic.name for fact in of_type(decision, kind)]


def test_a_new_report_reaches_the_lead_and_the_supporting_agency_inboxes() -> None:
    decision = open_case(RULES, CALENDAR, REPORT_RECEIVED.data, now=RECEIVED)
    assert decision is not None and decision.case is not None

    (assigned,) = of_type(decision, ReportAssignedEvent)
    assert assigned.event.data.lead_agency_name == "Ủy ban nhân dân phường Chiềng Sinh"
    assert assigned.event.data.supporting_agency_ids == (MARKET,)
    assert statuses(decision)[0][0] == "assigned"
    assert "Chiềng Sinh chủ trì" in (statuses(decision)[0][1] or "")
    assert inboxes(decision, AgencyTaskAssignedEvent) == [
        f"pakn.inbox.{WARD}.v1",
        f"pakn.inbox.{MARKET}.v1",
    ]
    roles = [fact.event.data.role for fact in of_type(decision, AgencyTaskAssignedEvent)]
    assert roles == ["lead", "supporting"]
    task = of_type(decision, AgencyTaskAssignedEvent)[0].event.data
    assert task.text == REPORT_RECEIVED.data.text and task.deadline == assigned.event.data.deadline


def test_a_duplicate_is_kept_linked_held_by_nobody_with_no_clock() -> None:
    report = REPORT_RECEIVED.data.model_copy(update={"duplicate_of": "01GVHQ6JZ9Y3X5B7C2D4E6F8G9"})
    decision = open_case(RULES, CALENDAR, report, now=RECEIVED)
    assert decision.case is not None and decision.facts == ()
    assert decision.case.is_linked and not decision.case.is_open
    assert decision.case.parts == () and decision.case.deadline is None


def test_the_lead_accepting_puts_the_report_in_progress_a_supporting_agency_does_not() -> None:
    case = opened()

    by_market = update(case, MARKET, AgencyUpdateKind.ACCEPTED)
    assert by_market.facts == () and by_market.case is not None
    assert by_market.case.status == ReportStatus.ASSIGNED

    by_lead = update(by_market.case, WARD, AgencyUpdateKind.ACCEPTED)
    assert statuses(by_lead) == [
        ("in_progress", "Ủy ban nhân dân phường Chiềng Sinh đã tiếp nhận và đang xử lý phản ánh.")
    ]


@pytest.mark.parametrize(
    ("agency", "report_known", "reason", "to_inbox"),
    [
        ("doi-qltt-do-thi", True, UpdateRefusalReason.NOT_HOLDER, True),
        ("no-such-agency", True, UpdateRefusalReason.UNKNOWN_AGENCY, False),
        (WARD, False, UpdateRefusalReason.UNKNOWN_REPORT, True),
    ],
)
def test_an_agency_cannot_touch_a_report_it_does_not_hold(
    agency: str, report_known: bool, reason: UpdateRefusalReason, to_inbox: bool
) -> None:
    case = opened() if report_known else None

    decision = update(case, agency, AgencyUpdateKind.RESOLVED, "Đã xử lý xong.")

    assert decision.refused == reason
    assert decision.case == (None if case is None else decision.case)
    if case is not None:
        assert decision.case is not None and decision.case.parts == case.parts
        assert decision.case.status == case.status
    topics = inboxes(decision, AgencyUpdateRefusedEvent)
    assert topics[0] == "pakn.agency.updates.refused.v1"
    assert (f"pakn.inbox.{agency}.v1" in topics) == to_inbox
    assert of_type(decision, ReportStatusChangedEvent) == []


def test_deciding_twice_on_the_same_update_gives_the_same_facts_and_then_nothing() -> None:
    case = opened()
    event_id = str(uuid.uuid4())

    first = update(case, WARD, AgencyUpdateKind.ACCEPTED, event_id=event_id)
    again = update(case, WARD, AgencyUpdateKind.ACCEPTED, event_id=event_id)
    assert [f.event.id for f in first.facts] == [f.event.id for f in again.facts]

    assert first.case is not None
    redelivered = update(first.case, WARD, AgencyUpdateKind.ACCEPTED, event_id=event_id)
    assert redelivered.facts == () and redelivered.changed is False


def test_asking_the_citizen_stops_the_clock_and_the_answer_moves_the_deadline() -> None:
    case = opened()
    deadline = case.deadline
    assert deadline is not None
    asked_at = datetime(2023, 3, 15, 2, 0, tzinfo=UTC)  # Wednesday 09:00 in Sơn La
    question = "Đề nghị cho biết khung giờ các hộ thường bày bán."

    refused = update(case, MARKET, AgencyUpdateKind.NEEDS_INFORMATION, question, at=asked_at)
    assert refused.refused == UpdateRefusalReason.LEAD_ONLY

    waiting = update(case, WARD, AgencyUpdateKind.NEEDS_INFORMATION, question, at=asked_at)
    assert statuses(waiting) == [("waiting_for_citizen", question)]
    assert waiting.case is not None and waiting.case.deadline is None

    # The citizen answers two working days later (Friday 09:00).
    answered_at = asked_at + timedelta(days=2)
    answered = reply(waiting.case, "Thường từ 6 giờ đến 8 giờ sáng.", at=answered_at)
    assert answered is not None and answered.case is not None
    assert [status for status, _ in statuses(answered)] == ["in_progress"]
    assert answered.case.deadline == add_working_days(CALENDAR, deadline, 2)
    forwarded = of_type(answered, CitizenRepliedEvent)
    assert [fact.topic.name for fact in forwarded] == [
        f"pakn.inbox.{WARD}.v1",
        f"pakn.inbox.{MARKET}.v1",
    ]
    assert forwarded[0].original is not None and b"6 gi" in forwarded[0].original


def test_the_lead_declining_with_a_suggestion_reroutes_to_the_suggested_agency() -> None:
    case = opened()
    started = update(case, WARD, AgencyUpdateKind.ACCEPTED).case
    assert started is not None

    decision = update(
        started,
        WARD,
        AgencyUpdateKind.REJECTED,
        "Việc lấn chiếm vỉa hè thuộc đội trật tự đô thị.",
        suggest="doi-qltt-do-thi",
    )

    assert decision.case is not None
    assert decision.case.lead.agency_id == "doi-qltt-do-thi"
    (assigned,) = of_type(decision, ReportAssignedEvent)
    assert assigned.event.data.reassignment_of == case.assignment_id
    assert assigned.event.data.matched["declined_by"] == WARD
    assert assigned.event.data.deadline == case.deadline  # the citizen's term stands
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [f"pakn.inbox.{WARD}.v1"]
    assert inboxes(decision, AgencyTaskAssignedEvent) == ["pakn.inbox.doi-qltt-do-thi.v1"]
    assert statuses(decision)[0][0] == "assigned"


def test_the_lead_declining_without_a_suggestion_goes_to_the_next_rule_else_triage() -> None:
    decision = update(opened(), WARD, AgencyUpdateKind.REJECTED, "Không thuộc thẩm quyền.")

    # Every later rule for urban order in Chiềng Sinh names the same ward committee.
    assert decision.case is not None and decision.case.lead.agency_id == TRIAGE
    assert statuses(decision) == []  # still 'assigned' for the citizen; the assignment says who


def test_ping_pong_between_two_agencies_is_escalated_one_level_up() -> None:
    case = opened()
    first = update(
        case, WARD, AgencyUpdateKind.REJECTED, "Thuộc đội QLTT.", suggest="doi-qltt-do-thi"
    )
    assert first.case is not None

    back = update(
        first.case, "doi-qltt-do-thi", AgencyUpdateKind.REJECTED, "Thuộc phường.", suggest=WARD
    )

    assert back.case is not None and back.case.lead.agency_id == "ubnd-thanh-pho"
    assert back.escalated_to == "ubnd-thanh-pho"
    (escalated,) = of_type(back, ReportEscalatedEvent)
    assert escalated.event.data.level == "city"
    assert "chuyển qua lại" in escalated.event.data.reason


def test_too_many_handoffs_is_ping_pong_too() -> None:
    case = opened()
    chain = [WARD, "doi-qltt-do-thi", "phong-tnmt", "moi-truong-do-thi"]
    for agency, suggestion in itertools.pairwise(chain):
        decision = update(
            case, agency, AgencyUpdateKind.REJECTED, "Không thuộc.", suggest=suggestion
        )
        assert decision.case is not None and not decision.escalated_to
        case = decision.case
    assert case.handoffs == RULES.max_handoffs

    last = update(
        case, "moi-truong-do-thi", AgencyUpdateKind.REJECTED, "Không.", suggest="dien-luc-son-la"
    )
    assert last.escalated_to == "ubnd-thanh-pho"


def test_the_report_is_resolved_only_when_the_lead_and_every_supporter_resolved() -> None:
    case = opened()
    result = "Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt; chấm dứt việc bày bán."

    lead_done = update(case, WARD, AgencyUpdateKind.RESOLVED, result)
    assert statuses(lead_done) == []
    assert inboxes(lead_done, AgencyTaskWithdrawnEvent) == [f"pakn.inbox.{WARD}.v1"]
    assert lead_done.case is not None and lead_done.case.is_open

    all_done = update(lead_done.case, MARKET, AgencyUpdateKind.RESOLVED, "Đã phối hợp kiểm tra.")
    assert statuses(all_done) == [("resolved", result)]
    assert all_done.case is not None and all_done.case.deadline is None

    late = update(all_done.case, WARD, AgencyUpdateKind.IN_PROGRESS, "Tiếp tục theo dõi.")
    assert late.refused == UpdateRefusalReason.NOT_ALLOWED_NOW


def test_a_supporting_agency_declining_leaves_and_its_suggestion_joins() -> None:
    case = opened()

    decision = update(
        case, MARKET, AgencyUpdateKind.REJECTED, "Ngoài phạm vi chợ.", suggest="doi-qltt-do-thi"
    )

    assert decision.case is not None
    assert [p.agency_id for p in decision.case.parts] == [WARD, "doi-qltt-do-thi"]
    assert decision.case.lead.agency_id == WARD
    assert inboxes(decision, AgencyTaskAssignedEvent) == ["pakn.inbox.doi-qltt-do-thi.v1"]
    assert inboxes(decision, AgencyTaskWithdrawnEvent) == [f"pakn.inbox.{MARKET}.v1"]


def resolved_case(case: Case | None = None) -> Case:
    case = case or opened()
    for agency in (WARD, MARKET):
        decision = update(case, agency, AgencyUpdateKind.RESOLVED, "Đã xử lý.")
        assert decision.case is not None
        case = decision.case
    assert case.status == ReportStatus.RESOLVED
    return case


def test_a_low_rating_reopens_the_report_with_a_new_term_for_the_lead() -> None:
    case = resolved_case()
    at = datetime(2023, 3, 20, 2, 0, tzinfo=UTC)  # Monday 09:00

    decision = reply(case, "Vẫn còn bán, chưa xử lý dứt điểm. 1 sao", at=at, rating=1)

    assert decision is not None and decision.case is not None
    assert statuses(decision)[0][0] == "reopened"
    assert decision.case.term == 1
    assert decision.case.deadline == add_working_days(CALENDAR, at, 5)
    assert inboxes(decision, AgencyTaskAssignedEvent) == [f"pakn.inbox.{WARD}.v1"]


def test_a_good_rating_closes_the_report() -> None:
    decision = reply(
        resolved_case(), "Cảm ơn, đã hết bán. 5/5", at=RECEIVED + timedelta(days=5), rating=5
    )

    assert decision is not None
    assert [status for status, _ in statuses(decision)] == ["closed"]


def test_a_strangers_rating_with_the_tracking_code_neither_reopens_nor_closes() -> None:
    case = resolved_case()
    at = datetime(2023, 3, 20, 2, 0, tzinfo=UTC)  # Monday 09:00

    for rating in (1, 5):
        text = f"Mã {case.report.tracking_code}: {rating}/5"
        decision = reply(case, text, at=at, rating=rating, by=STRANGER)
        assert decision is not None and decision.case is not None
        assert decision.facts == (), "no status, no assignment, no inbox"
        assert decision.case.status == ReportStatus.RESOLVED and decision.case.term == 0
        assert decision.not_from_reporter == ReplyKind.RATING
        assert decision.changed, "recorded as decided on"
        case = decision.case

    # The reporter's own rating, after the stranger's, still counts.
    mine = reply(case, "Vẫn còn bán. 1/5", at=at + timedelta(hours=1), rating=1)
    assert mine is not None and mine.case is not None and mine.not_from_reporter is None
    assert [status for status, _ in statuses(mine)] == ["reopened"]


def test_a_strangers_rating_does_not_close_a_report_the_reporter_reopened() -> None:
    reopened = reply(resolved_case(), "1/5", at=RECEIVED + timedelta(days=5), rating=1)
    assert reopened is not None and reopened.case is not None
    resolved = resolved_case(reopened.case)

    decision = reply(resolved, "5/5", at=RECEIVED + timedelta(days=9), rating=5, by=STRANGER)

    assert decision is not None and decision.case is not None
    assert decision.case.status == ReportStatus.RESOLVED and statuses(decision) == []


def waiting_case() -> Case:
    asked_at = datetime(2023, 3, 15, 2, 0, tzinfo=UTC)  # Wednesday 09:00 in Sơn La
    question = "Đề nghị cho biết khung giờ các hộ thường bày bán."
    waiting = update(opened(), WARD, AgencyUpdateKind.NEEDS_INFORMATION, question, at=asked_at)
    assert waiting.case is not None and waiting.case.status == ReportStatus.WAITING_FOR_CITIZEN
    return waiting.case


def test_a_strangers_answer_reaches_the_inboxes_but_the_report_keeps_waiting() -> None:
    case = waiting_case()
    at = datetime(2023, 3, 17, 2, 0, tzinfo=UTC)  # Friday 09:00

    decision = reply(case, "Họ bán từ 6 giờ sáng.", at=at, by=STRANGER)

    assert decision is not None and decision.case is not None
    assert statuses(decision) == [], "no in_progress: the clock stays stopped"
    assert decision.case.status == ReportStatus.WAITING_FOR_CITIZEN
    assert decision.case.deadline is None and decision.case.pauses == case.pauses
    assert inboxes(decision, CitizenRepliedEvent) == [
        f"pakn.inbox.{WARD}.v1",
        f"pakn.inbox.{MARKET}.v1",
    ], "the agencies still read it, as information"
    assert decision.not_from_reporter == ReplyKind.ANSWER

    answered = reply(decision.case, "Từ 6 đến 8 giờ sáng.", at=at + timedelta(hours=1))
    assert answered is not None and answered.not_from_reporter is None
    assert [status for status, _ in statuses(answered)] == ["in_progress"]


def test_a_strangers_message_on_an_open_report_is_forwarded_and_changes_nothing() -> None:
    case = opened()
    at = RECEIVED + timedelta(days=1)
    decision = reply(case, "Tôi cũng thấy vậy. 1/5", at=at, rating=1, by=STRANGER)
    assert decision is not None and decision.case is not None
    assert statuses(decision) == [] and decision.case.status == case.status
    assert len(inboxes(decision, CitizenRepliedEvent)) == 2
    assert decision.not_from_reporter == ReplyKind.MESSAGE


def test_nobody_rates_or_answers_for_an_anonymous_report() -> None:
    anonymous = opened(reporter=NOBODY)
    assert anonymous.report.reporter_pseudonym is None
    resolved = resolved_case(anonymous)
    at = RECEIVED + timedelta(days=5)

    for someone in (NOBODY, STRANGER, REPORTER):
        decision = reply(resolved, "Vẫn còn bán. 1/5", at=at, rating=1, by=someone)
        assert decision is not None and decision.case is not None
        assert decision.facts == () and decision.case.status == ReportStatus.RESOLVED
        assert decision.not_from_reporter == ReplyKind.RATING


def test_a_case_stored_before_routing_kept_the_reporter_is_rated_by_nobody() -> None:
    """Strict on old cases: their reporter is unknown, so no reply changes them."""
    stored = json.loads(resolved_case().model_dump_json())
    del stored["report"]["reporter_pseudonym"]
    old = Case.model_validate(stored)
    assert old.report.reporter_pseudonym is None

    decision = reply(old, "1/5", at=RECEIVED + timedelta(days=5), rating=1)

    assert decision is not None and decision.facts == ()
    assert decision.not_from_reporter == ReplyKind.RATING


@pytest.mark.parametrize("by", [REPORTER, STRANGER], ids=["reporter", "stranger"])
def test_a_redelivered_reply_is_decided_once(by: Reporter) -> None:
    case = resolved_case()
    at = RECEIVED + timedelta(days=5)
    event = replied(case, "1/5", at=at, rating=1, by=by)

    first = decided(case, event, at=at)
    again = decided(case, event, at=at)  # decided again on the same case
    assert first is not None and again is not None and first.case is not None
    assert [f.event.id for f in first.facts] == [f.event.id for f in again.facts]
    assert event.id in first.case.applied

    redelivered = decided(first.case, event, at=at + timedelta(minutes=1))
    assert redelivered is not None
    assert redelivered.facts == () and redelivered.changed is False
    assert redelivered.not_from_reporter is None, "counted once"


def test_only_the_lead_reopens_and_only_a_finished_report() -> None:
    case = resolved_case()
    assert update(case, MARKET, AgencyUpdateKind.REOPENED, "Mở lại.").refused == "lead_only"
    assert update(opened(), WARD, AgencyUpdateKind.REOPENED, "Mở lại.").refused == "not_allowed_now"
    reopened = update(case, WARD, AgencyUpdateKind.REOPENED, "Phát sinh vi phạm mới.")
    assert [status for status, _ in statuses(reopened)] == ["reopened"]


def test_an_urgent_night_report_to_the_police_is_due_on_their_round_the_clock_calendar() -> None:
    # Saturday 18 March 2023, 23:00 in Sơn La: an urgent security incident at night.
    at = datetime(2023, 3, 18, 16, 0, tzinfo=UTC)
    case = opened(
        category="security_order",
        priority="urgent",
        received_at=at,
        text="Đánh nhau gây mất an ninh trật tự trước quán karaoke, tổ 7 phường Chiềng Sinh.",
        title=None,
    )

    assert case.lead.agency_id == "cong-an-thanh-pho"
    # 4 working hours on the police's calendar: 03:00 on Sunday, not Monday noon.
    assert case.deadline == at + timedelta(hours=4)
