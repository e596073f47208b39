"""Oversight figures: a generated month of reports, folded from real event shapes.

The generator writes each report's story as contract events (``model_dump(mode="json")``,
the shape the consumer and the trail hand to ``apply``) and, alongside, the plain truth of
what happened. The figures computed from the folded facts must equal figures computed
here, from that truth, without ``audit.domain.facts``.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from audit.domain.chain import event_payload, sanitize
from audit.domain.facts import ReportFacts, apply, fold, rejected_report_id, report_key
from audit.domain.figures import (
    GROUP_BYS,
    FigureRow,
    compute_figures,
    period_of,
    to_csv,
    ward_sentence,
    ward_sentence_en,
)
from phananh_contracts import (
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    Channel,
    CitizenReplied,
    CitizenRepliedEvent,
    DeadlineBreached,
    DeadlineBreachedEvent,
    DeadlineWarning,
    DeadlineWarningEvent,
    EscalationLevel,
    Event,
    EventData,
    NotificationSent,
    NotificationSentEvent,
    Place,
    Priority,
    RejectionReason,
    ReportAssigned,
    ReportAssignedEvent,
    Reporter,
    ReportEscalated,
    ReportEscalatedEvent,
    ReportReceived,
    ReportReceivedEvent,
    ReportRejected,
    ReportRejectedEvent,
    ReportStatus,
    ReportStatusChanged,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import (
    ALL_EXAMPLES,
    OVERDUE_REPORT_ID,
    REPORT_ID,
    REPORT_REJECTED,
)

from tests.support.reports import tracking_code

pytestmark = pytest.mark.unit

# March 2023 in Sơn La, written out by hand: 01/03 00:00 to 01/04 00:00 at UTC+7.
START = datetime(2023, 2, 28, 17, 0, tzinfo=UTC)
END = datetime(2023, 3, 31, 17, 0, tzinfo=UTC)
NOW = datetime(2023, 4, 10, 3, 0, tzinfo=UTC)
WARDS = {"03646": "Tô Hiệu", "03664": "Chiềng An", "03670": "Chiềng Cơi", "03679": "Chiềng Sinh"}
WARD_SLUGS = {
    "03646": "to-hieu",
    "03664": "chieng-an",
    "03670": "chieng-coi",
    "03679": "chieng-sinh",
}
CATEGORIES = (
    "security_order",
    "traffic_safety",
    "natural_resources_environment",
    "construction_order",
    "urban_order",
    "environmental_sanitation",
)
SLA = {Priority.NORMAL: timedelta(days=10), Priority.URGENT: timedelta(days=2)}
NOTE = "Đã kiểm tra, xác minh và xử lý theo quy định."

Folded = tuple[str, dict[str, Any], datetime]
"""(event_type, data, occurred_at): what ``apply`` takes."""


def folded(event_class: type[Event[Any]], data: EventData, at: datetime) -> Folded:
    return event_class.event_type(), data.model_dump(mode="json"), at


@dataclass
class Truth:
    """What really happened to one report, as the generator decided it."""

    key: str
    ward: str
    category: str
    channel: str
    received_at: datetime
    agency: str = "unassigned"
    deadline: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    rejected: bool = False
    breach_event: bool = False
    ratings: list[int] = field(default_factory=list)


@dataclass
class Story:
    """Events and truth of one report, written step by step."""

    number: int
    truth: Truth
    events: list[Folded] = field(default_factory=list)

    @property
    def report_id(self) -> str:
        return f"rpt-{self.number:05d}"

    def status(self, status: ReportStatus, at: datetime, previous: ReportStatus | None) -> None:
        data = ReportStatusChanged(
            report_id=self.report_id,
            tracking_code=tracking_code(self.number),
            status=status,
            previous_status=previous,
            changed_at=at,
        )
        self.events.append(folded(ReportStatusChangedEvent, data, at))

    def update(self, agency: str, kind: AgencyUpdateKind, at: datetime, **extra: Any) -> None:
        note = None if kind in {AgencyUpdateKind.ACCEPTED, AgencyUpdateKind.REOPENED} else NOTE
        data = AgencyUpdate(
            report_id=self.report_id, agency_id=agency, kind=kind, note=note, updated_at=at, **extra
        )
        self.events.append(folded(AgencyUpdateEvent, data, at))

    def assign(self, agency: str, at: datetime, deadline: datetime, category: str) -> None:
        data = ReportAssigned(
            report_id=self.report_id,
            tracking_code=tracking_code(self.number),
            lead_agency_id=agency,
            supporting_agency_ids=("doi-trat-tu-do-thi",) if agency != "doi-trat-tu-do-thi" else (),
            deadline=deadline,
            priority=Priority.NORMAL,
            category=category,
            rule_id=f"rule-{category}",
            ruleset_version="2023.03.1",
            assigned_at=at,
        )
        self.events.append(folded(ReportAssignedEvent, data, at))

    def resolve(self, lead: str, at: datetime, rng: random.Random) -> datetime:
        """Resolved by the lead's update, routing's status, or both; returns when."""
        how = rng.choice(["both", "both", "agency", "status"])
        if how in {"both", "agency"}:
            self.update(lead, AgencyUpdateKind.RESOLVED, at)
        if how in {"both", "status"}:
            self.status(ReportStatus.RESOLVED, at + timedelta(minutes=10), ReportStatus.IN_PROGRESS)
        return at if how != "status" else at + timedelta(minutes=10)

    def rate(self, rating: int, at: datetime) -> None:
        data = CitizenReplied(
            report_id=self.report_id,
            tracking_code=tracking_code(self.number),
            channel=Channel.ZALO,
            channel_message_id=f"reply-{self.number}-{at.timestamp()}",
            received_at=at,
            text=f"Cảm ơn, đánh giá {rating}/5.",
            rating=rating,
            reporter=Reporter(anonymous=True),
        )
        self.events.append(folded(CitizenRepliedEvent, data, at))
        self.truth.ratings.append(rating)


def lead_agency(category: str, ward: str) -> str:
    slug = WARD_SLUGS.get(ward, "thanh-pho")
    return {
        "security_order": f"cong-an-{slug}",
        "traffic_safety": "csgt-son-la",
        "natural_resources_environment": "phong-tnmt-son-la",
    }.get(category, f"ubnd-{slug}")


def write_story(
    number: int, received_at: datetime, rng: random.Random, scenarios: Counter[str]
) -> Story:
    ward = rng.choice(list(WARDS)) if rng.random() > 0.05 else "unknown"
    category = rng.choice(CATEGORIES)
    channel = rng.choice(list(Channel))
    priority = Priority.URGENT if rng.random() < 0.15 else Priority.NORMAL
    message_id = f"msg-{number:05d}"
    if rng.random() < 0.05:
        scenarios["refused at intake"] += 1
        key = rejected_report_id(channel.value, message_id)
        story = Story(
            number, Truth(key, "unknown", "unknown", channel.value, received_at, rejected=True)
        )
        data = ReportRejected(
            channel=channel,
            channel_message_id=message_id,
            reason=RejectionReason.SPAM,
            detail="Tin nhắn quảng cáo, không phải phản ánh.",
            rejected_at=received_at,
            tracking_code=tracking_code(number),
        )
        story.events.append(folded(ReportRejectedEvent, data, received_at))
        return story

    triaged = rng.random() < 0.06  # intake could not classify; routing's triage did
    story = Story(number, Truth(f"rpt-{number:05d}", ward, category, channel.value, received_at))
    report = ReportReceived(
        report_id=story.report_id,
        tracking_code=tracking_code(number),
        channel=channel,
        channel_message_id=message_id,
        received_at=received_at,
        text="Có hộ dân đổ rác thải ra lòng đường, gây mất vệ sinh môi trường.",
        category="unclassified" if triaged else category,
        place=Place(ward_code=ward, ward_name=WARDS[ward]) if ward != "unknown" else None,
        priority=priority,
        reporter=Reporter(anonymous=True),
        needs_triage=triaged or ward == "unknown",
    )
    story.events.append(folded(ReportReceivedEvent, report, received_at))
    sent = NotificationSent(
        report_id=story.report_id,
        notification_id=f"{story.report_id}:vn.pakn.report.received:anon",
        trigger_event_id=f"evt-{number}",
        trigger_event_type="vn.pakn.report.received",
        recipient_pseudonym="anon",
        channel=channel.value,
        provider="test",
        template_id="report-received",
        attempts=1,
        at=received_at + timedelta(minutes=1),
    )
    story.events.append(folded(NotificationSentEvent, sent, received_at + timedelta(minutes=1)))
    if rng.random() < 0.04:
        scenarios["never assigned"] += 1
        story.truth.category = "unclassified" if triaged else category
        return story

    truth, lead = story.truth, lead_agency(category, ward)
    assigned_at = received_at + timedelta(minutes=rng.randint(2, 90))
    if rng.random() < 0.1 and lead != "phong-qldt-son-la":
        scenarios["handed back and reassigned"] += 1
        story.assign("phong-qldt-son-la", assigned_at, assigned_at + SLA[priority], category)
        story.status(ReportStatus.ASSIGNED, assigned_at, ReportStatus.RECEIVED)
        handed_back = assigned_at + timedelta(hours=rng.uniform(1, 20))
        story.update(
            "phong-qldt-son-la", AgencyUpdateKind.REJECTED, handed_back, suggested_agency_id=lead
        )
        assigned_at = handed_back + timedelta(minutes=30)
    deadline = assigned_at + SLA[priority]
    truth.agency, truth.deadline = lead, deadline
    story.assign(lead, assigned_at, deadline, category)
    story.status(ReportStatus.ASSIGNED, assigned_at, None)
    if deadline - timedelta(hours=4) > assigned_at:
        warning = DeadlineWarning(
            report_id=story.report_id,
            agency_id=lead,
            deadline=deadline,
            at=deadline - timedelta(hours=4),
        )
        story.events.append(folded(DeadlineWarningEvent, warning, deadline - timedelta(hours=4)))

    responses: list[datetime] = []
    responded = assigned_at
    if rng.random() < 0.25:  # the supporting team starts early; its 'resolved' is only its part
        support_at = assigned_at + timedelta(hours=rng.uniform(0.2, 30))
        story.update("doi-trat-tu-do-thi", AgencyUpdateKind.IN_PROGRESS, support_at)
        story.update(
            "doi-trat-tu-do-thi", AgencyUpdateKind.RESOLVED, support_at + timedelta(hours=2)
        )
        responses.append(support_at)
    outcome = rng.choices(
        ["silent", "on time or late", "open", "reopened", "reopened and resolved", "rejected"],
        weights=[8, 55, 17, 5, 8, 4],
    )[0]
    if outcome != "silent":
        responded = assigned_at + timedelta(hours=rng.uniform(0.5, 60))
        kind = rng.choice(
            [
                AgencyUpdateKind.ACCEPTED,
                AgencyUpdateKind.IN_PROGRESS,
                AgencyUpdateKind.NEEDS_INFORMATION,
            ]
        )
        story.update(lead, kind, responded)
        story.status(ReportStatus.IN_PROGRESS, responded, ReportStatus.ASSIGNED)
        responses.append(responded)
    truth.first_response_at = min(responses, default=None)

    resolved_at: datetime | None = None
    if outcome in {"on time or late", "reopened", "reopened and resolved"}:
        when = responded + timedelta(hours=rng.uniform(1, 24 * 9))
        if when + timedelta(days=5) < NOW:
            resolved_at = story.resolve(lead, when, rng)
            scenarios["resolved late" if resolved_at > deadline else "resolved on time"] += 1
            if outcome == "reopened":
                scenarios["reopened, still open"] += 1
                story.status(
                    ReportStatus.REOPENED, resolved_at + timedelta(days=2), ReportStatus.RESOLVED
                )
                resolved_at = None
            elif outcome == "reopened and resolved":
                scenarios["reopened and resolved again"] += 1
                if rng.random() < 0.5:
                    story.update(lead, AgencyUpdateKind.REOPENED, resolved_at + timedelta(days=1))
                else:
                    story.status(
                        ReportStatus.REOPENED,
                        resolved_at + timedelta(days=1),
                        ReportStatus.RESOLVED,
                    )
                resolved_at = story.resolve(lead, resolved_at + timedelta(days=4), rng)
            elif rng.random() < 0.4:
                scenarios["closed after resolution"] += 1
                story.status(
                    ReportStatus.CLOSED, resolved_at + timedelta(days=3), ReportStatus.RESOLVED
                )
            if resolved_at is not None and rng.random() < 0.55:
                story.rate(rng.randint(1, 5), resolved_at + timedelta(days=1))
                if rng.random() < 0.15:
                    story.rate(rng.randint(1, 5), resolved_at + timedelta(days=2))
    elif outcome == "rejected":
        scenarios["rejected by routing"] += 1
        story.status(
            ReportStatus.REJECTED, responded + timedelta(hours=1), ReportStatus.IN_PROGRESS
        )
        if rng.random() < 0.5:
            story.status(ReportStatus.CLOSED, responded + timedelta(days=1), ReportStatus.REJECTED)
        truth.rejected = True
    truth.resolved_at = resolved_at

    breach_at = deadline + timedelta(hours=1)
    unresolved_late = resolved_at is None and not truth.rejected and breach_at < NOW
    resolved_late = resolved_at is not None and resolved_at > breach_at
    if (unresolved_late or resolved_late) and rng.random() < 0.75:
        scenarios["breach event"] += 1
        truth.breach_event = True
        breach = DeadlineBreached(
            report_id=story.report_id, agency_id=lead, deadline=deadline, at=breach_at
        )
        story.events.append(folded(DeadlineBreachedEvent, breach, breach_at))
        if rng.random() < 0.5:
            escalated = ReportEscalated(
                report_id=story.report_id,
                agency_id=lead,
                deadline=deadline,
                at=breach_at,
                to_agency_id="ubnd-thanh-pho-son-la",
                level=EscalationLevel.CITY,
                reason="Quá hạn xử lý.",
            )
            story.events.append(folded(ReportEscalatedEvent, escalated, breach_at))
    elif unresolved_late:
        scenarios["overdue without breach event"] += 1
    if resolved_at is None and not truth.rejected and deadline > NOW:
        scenarios["open, deadline ahead"] += 1
    return story


def generate_month(seed: int = 2303) -> tuple[list[Folded], list[Truth], Counter[str]]:
    """~300 reports of March 2023, plus four on the edges of the month (local time)."""
    rng = random.Random(seed)
    scenarios: Counter[str] = Counter()
    times = [START + timedelta(seconds=rng.randrange(31 * 86400)) for _ in range(300)]
    times += [
        START - timedelta(seconds=1),  # 28/02 23:59:59 in Sơn La: February
        START,  # 01/03 00:00 in Sơn La
        END - timedelta(milliseconds=1),  # 31/03 23:59:59.999
        END,  # 01/04 00:00: April
    ]
    stories = [write_story(n, at, rng, scenarios) for n, at in enumerate(times, start=1)]
    events = [event for story in stories for event in story.events]
    return events, [story.truth for story in stories], scenarios


def fold_events(events: list[Folded]) -> dict[str, ReportFacts]:
    facts: dict[str, ReportFacts] = {}
    for event_type, data, at in events:
        key = report_key(event_type, data)
        if key is not None:
            result = apply(facts.get(key), event_type, data, at)
            assert result is not None
            facts[key] = result
    return facts


# ------------------------------------------------------- the independent computation


def plain_median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def hours_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def expected_figures(truths: list[Truth], group_by: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Truth]] = {}
    for truth in truths:
        if not START <= truth.received_at < END:
            continue
        key = {
            "all": "all",
            "ward": truth.ward,
            "agency": truth.agency,
            "category": truth.category,
            "channel": truth.channel,
        }[group_by]
        groups.setdefault(key, []).append(truth)
    expected = {}
    for key, members in groups.items():
        resolved = [t for t in members if t.resolved_at is not None]
        rejected = [t for t in members if t.rejected]
        timed = [t for t in resolved if t.deadline is not None]
        on_time = [t for t in timed if t.resolved_at <= t.deadline]  # type: ignore[operator]
        overdue = 0
        for t in members:
            late = (
                t.resolved_at is not None and t.deadline is not None and t.resolved_at > t.deadline
            )
            still_open = t.resolved_at is None and not t.rejected
            if (
                t.breach_event
                or late
                or (still_open and t.deadline is not None and t.deadline < NOW)
            ):
                overdue += 1
        ratings = [rating for t in members for rating in t.ratings]
        expected[key] = {
            "received": len(members),
            "resolved": len(resolved),
            "in_progress": len(members) - len(resolved) - len(rejected),
            "rejected": len(rejected),
            "overdue": overdue,
            "on_time_pct": 100 * len(on_time) / len(timed) if timed else None,
            "median_first_response_hours": plain_median(
                [
                    hours_between(t.received_at, t.first_response_at)
                    for t in members
                    if t.first_response_at
                ]
            ),
            "median_resolution_hours": plain_median(
                [hours_between(t.received_at, t.resolved_at) for t in resolved if t.resolved_at]
            ),
            "satisfaction_avg": sum(ratings) / len(ratings) if ratings else None,
            "ratings_count": len(ratings),
        }
    return expected


ROW_FIELDS = (
    "received",
    "resolved",
    "in_progress",
    "rejected",
    "overdue",
    "on_time_pct",
    "median_first_response_hours",
    "median_resolution_hours",
    "satisfaction_avg",
    "ratings_count",
)


# ------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def month() -> tuple[list[Folded], list[Truth], Counter[str]]:
    return generate_month()


def test_the_generated_month_tells_every_kind_of_story(
    month: tuple[list[Folded], list[Truth], Counter[str]],
) -> None:
    _, truths, scenarios = month
    assert len(truths) == 304
    for scenario in (
        "refused at intake",
        "never assigned",
        "handed back and reassigned",
        "resolved on time",
        "resolved late",
        "reopened, still open",
        "reopened and resolved again",
        "closed after resolution",
        "rejected by routing",
        "breach event",
        "overdue without breach event",
        "open, deadline ahead",
    ):
        assert scenarios[scenario] >= 2, (scenario, scenarios)


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_figures_of_a_month_match_an_independent_computation(
    month: tuple[list[Folded], list[Truth], Counter[str]], group_by: Any
) -> None:
    events, truths, _ = month
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)  # topics are consumed independently: any order
    shuffled += random.Random(8).sample(events, len(events) // 10)  # and redeliveries
    facts = fold_events(shuffled)

    start, end = period_of(date(2023, 3, 1), date(2023, 3, 31))
    rows = compute_figures(facts.values(), start, end, NOW, group_by)

    expected = expected_figures(truths, group_by)
    assert [row.group for row in rows] == sorted(expected)
    for row in rows:
        want = expected[row.group]
        for name in ROW_FIELDS:
            got, wanted = getattr(row, name), want[name]
            if wanted is None or isinstance(wanted, int):
                assert got == wanted, (row.group, name)
            else:
                assert got == pytest.approx(wanted, abs=0.051), (row.group, name)
    if group_by == "ward":
        assert {row.group: row.name for row in rows} == {**WARDS, "unknown": None}


def test_folding_in_any_order_and_twice_gives_the_same_facts(
    month: tuple[list[Folded], list[Truth], Counter[str]],
) -> None:
    events, _, _ = month
    forward = fold_events(events)
    backward = fold_events(list(reversed(events)) + events[:50])
    records = [
        {"event_type": t, "payload": d, "occurred_at": at, "valid": True} for t, d, at in events
    ]
    records.append({"event_type": "invalid", "payload": {}, "occurred_at": NOW, "valid": False})
    assert forward == backward == fold(records)


def test_sanitized_trail_payloads_fold_like_the_events(
    month: tuple[list[Folded], list[Truth], Counter[str]],
) -> None:
    """The trail keeps sanitized data (times as text, contacts masked): same facts."""
    events, _, _ = month
    assert fold_events([(t, sanitize(d), at) for t, d, at in events]) == fold_events(events)
    records = [(e.type, e.data.model_dump(mode="json"), e.time) for e in ALL_EXAMPLES]
    trail = [(e.type, event_payload(e), e.time) for e in ALL_EXAMPLES]
    assert fold_events(trail) == fold_events(records)


def test_the_golden_path_of_the_seed_case() -> None:
    facts = fold(
        {"event_type": e.type, "payload": e.data.model_dump(mode="json"), "occurred_at": e.time}
        for e in ALL_EXAMPLES
    )
    seed = facts[REPORT_ID]
    assert (seed.ward_code, seed.ward_name, seed.category, seed.channel) == (
        "03679",
        "Chiềng Sinh",
        "urban_order",
        "app",
    )
    assert seed.lead_agency_id == "ubnd-chieng-sinh"
    assert seed.first_response_at == datetime(2023, 3, 14, 2, 5, tzinfo=UTC)
    assert seed.resolved_at == datetime(2023, 3, 16, 8, 45, tzinfo=UTC)
    assert seed.deadline is not None and seed.resolved_at < seed.deadline
    assert (seed.breached, seed.rejected, seed.reopened, seed.ratings) == (
        False,
        False,
        False,
        (5,),
    )
    assert seed.last_status == "resolved"
    overdue = facts[OVERDUE_REPORT_ID]  # only its deadline events are in the examples
    assert overdue.received_at is None and overdue.breached and overdue.escalations == 1
    refused = facts[rejected_report_id("zalo", REPORT_REJECTED.data.channel_message_id)]
    assert refused.rejected and refused.ward_code == "unknown" and refused.last_status == "rejected"


def test_instants_are_kept_to_the_millisecond_as_the_database_holds_them() -> None:
    story = Story(1, Truth("rpt-00001", "03679", "urban_order", "app", START))
    precise = datetime(2023, 3, 5, 2, 0, 0, 123456, tzinfo=UTC)
    story.update("ubnd-chieng-sinh", AgencyUpdateKind.ACCEPTED, precise)
    event_type, data, at = story.events[0]
    first = apply(None, event_type, data, at)
    assert first is not None and first.first_response_at == precise.replace(microsecond=123000)
    again = apply(
        first, event_type, {**data, "updated_at": precise.replace(microsecond=123000)}, at
    )
    assert again == first


def test_a_period_is_local_days_and_to_is_inclusive() -> None:
    assert period_of(date(2023, 3, 1), date(2023, 3, 31)) == (START, END)
    assert period_of(date(2023, 3, 14), date(2023, 3, 14)) == (
        datetime(2023, 3, 13, 17, tzinfo=UTC),
        datetime(2023, 3, 14, 17, tzinfo=UTC),
    )


def seed_ward_events() -> list[Folded]:
    """Chiềng Sinh, March 2023: 32 reports through the app, 19 resolved, 13 in hand."""
    events: list[Folded] = []
    for number in range(1, 33):
        received_at = datetime(2023, 3, 1, 2, tzinfo=UTC) + timedelta(hours=22 * number)
        story = Story(
            number, Truth(f"rpt-{number:05d}", "03679", "urban_order", "app", received_at)
        )
        report = ReportReceived(
            report_id=story.report_id,
            tracking_code=tracking_code(number),
            channel=Channel.APP,
            channel_message_id=f"app-{number}",
            received_at=received_at,
            text="Bán hàng lấn chiếm hành lang chợ Noong Đúc, tổ 8.",
            category=CATEGORIES[number % len(CATEGORIES)],
            place=Place(ward_code="03679", ward_name="Chiềng Sinh", residential_group="Tổ 8"),
            priority=Priority.NORMAL,
            reporter=Reporter(anonymous=True),
        )
        story.events.append(folded(ReportReceivedEvent, report, received_at))
        story.assign(
            "ubnd-chieng-sinh",
            received_at + timedelta(hours=1),
            received_at + SLA[Priority.NORMAL],
            report.category,
        )
        if number <= 19:
            story.update(
                "ubnd-chieng-sinh", AgencyUpdateKind.RESOLVED, received_at + timedelta(days=3)
            )
        events += story.events
    return events


def test_the_seed_sentence_for_chieng_sinh() -> None:
    facts = fold_events(seed_ward_events())
    start, end = period_of(date(2023, 3, 1), date(2023, 3, 31))
    (row,) = compute_figures(facts.values(), start, end, NOW, "ward")
    assert (row.group, row.name, row.received, row.resolved, row.in_progress) == (
        "03679",
        "Chiềng Sinh",
        32,
        19,
        13,
    )
    assert ward_sentence(row, "Chiềng Sinh", start, end) == (
        "Từ 01/03/2023 đến 31/03/2023, phường Chiềng Sinh tiếp nhận 32 phản ánh, kiến nghị: "
        "19 đã xử lý xong, 13 đang xử lý."
    )
    assert ward_sentence_en(row, "Chiềng Sinh", start, end) == (
        "From 01/03/2023 to 31/03/2023, Chiềng Sinh ward received 32 reports: "
        "19 resolved, 13 still being handled."
    )


def test_sentences_mention_refusals_only_when_there_are_some() -> None:
    start, end = period_of(date(2023, 3, 14), date(2023, 3, 14))
    row = FigureRow("03646", "Tô Hiệu", 5, 2, 1, 2, 0, None, None, None, None, 0)
    assert ward_sentence(row, "Tô Hiệu", start, end) == (
        "Ngày 14/03/2023, phường Tô Hiệu tiếp nhận 5 phản ánh, kiến nghị: "
        "2 đã xử lý xong, 1 đang xử lý, 2 không được tiếp nhận."
    )
    empty = FigureRow("03664", "Chiềng An", 0, 0, 0, 0, 0, None, None, None, None, 0)
    assert ward_sentence(empty, "Chiềng An", start, end) == (
        "Ngày 14/03/2023, phường Chiềng An không tiếp nhận phản ánh, kiến nghị nào."
    )
    assert ward_sentence_en(empty, "Chiềng An", start, end) == (
        "On 14/03/2023, Chiềng An ward received no reports."
    )


def test_csv_keeps_vietnamese_names_and_every_figure(
    month: tuple[list[Folded], list[Truth], Counter[str]],
) -> None:
    facts = fold_events(month[0])
    rows = compute_figures(facts.values(), START, END, NOW, "ward")
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [line["name"] for line in parsed] == [
        "Tô Hiệu",
        "Chiềng An",
        "Chiềng Cơi",
        "Chiềng Sinh",
        "",
    ]
    for line, row in zip(parsed, rows, strict=True):
        assert int(line["received"]) == row.received
        assert line["on_time_pct"] == ("" if row.on_time_pct is None else str(row.on_time_pct))


def test_linked_duplicates_are_counted_as_such_not_as_still_being_handled() -> None:
    """Three citizens report one market stall: the first report is handled (and resolved),
    the two linked to it by intake are duplicates; one of them an officer unlinks later
    (routing gives it a case of its own: an assignment, and a status naming
    ``unlinked_from``), so it is being handled again."""
    received_at = datetime(2023, 3, 14, 2, tzinfo=UTC)
    stories = []
    for number, duplicate_of in ((1, None), (2, "rpt-00001"), (3, "rpt-00001")):
        at = received_at + timedelta(hours=number)
        story = Story(number, Truth(f"rpt-{number:05d}", "03679", "urban_order", "app", at))
        report = ReportReceived(
            report_id=story.report_id,
            tracking_code=tracking_code(number),
            channel=Channel.APP,
            channel_message_id=f"app-{number}",
            received_at=at,
            text="Bán hàng lấn chiếm hành lang chợ Noong Đúc, tổ 8.",
            category="urban_order",
            place=Place(ward_code="03679", ward_name="Chiềng Sinh"),
            priority=Priority.NORMAL,
            reporter=Reporter(anonymous=True),
            duplicate_of=duplicate_of,
        )
        story.events.append(folded(ReportReceivedEvent, report, at))
        stories.append(story)
    first, _, unlinked = stories
    first.assign("ubnd-chieng-sinh", received_at, received_at + timedelta(days=3), "urban_order")
    first.update("ubnd-chieng-sinh", AgencyUpdateKind.RESOLVED, received_at + timedelta(days=1))
    start, end = period_of(date(2023, 3, 14), date(2023, 3, 14))

    before = [event for story in stories for event in story.events]
    (row,) = compute_figures(fold_events(before).values(), start, end, NOW, "ward")
    assert (row.received, row.resolved, row.in_progress, row.duplicates) == (3, 1, 0, 2)
    assert ward_sentence(row, "Chiềng Sinh", start, end).endswith(
        "1 đã xử lý xong, 0 đang xử lý, 2 trùng với phản ánh đã tiếp nhận."
    )

    unlinked_at = received_at + timedelta(days=2)
    unlinked.assign("ubnd-chieng-sinh", unlinked_at, NOW, "urban_order")
    own_case = ReportStatusChanged(
        report_id=unlinked.report_id,
        tracking_code=tracking_code(3),
        status=ReportStatus.ASSIGNED,
        previous_status=ReportStatus.RECEIVED,
        changed_at=unlinked_at,
        unlinked_from="rpt-00001",
    )
    unlinked.events.append(folded(ReportStatusChangedEvent, own_case, unlinked_at))
    after = [event for story in stories for event in story.events]
    (row,) = compute_figures(fold_events(after).values(), start, end, NOW, "ward")
    assert (row.received, row.resolved, row.in_progress, row.duplicates) == (3, 1, 1, 1)


def test_a_report_an_officer_links_by_hand_is_a_duplicate_until_unlinked() -> None:
    at = datetime(2023, 3, 14, 2, tzinfo=UTC)
    story = Story(7, Truth("rpt-00007", "03679", "urban_order", "app", at))
    report = ReportReceived(
        report_id=story.report_id,
        tracking_code=tracking_code(7),
        channel=Channel.APP,
        channel_message_id="app-7",
        received_at=at,
        text="Đèn đường hỏng ở đường Tô Hiệu.",
        category="urban_order",
        place=Place(ward_code="03679", ward_name="Chiềng Sinh"),
        priority=Priority.NORMAL,
        reporter=Reporter(anonymous=True),
    )
    story.events.append(folded(ReportReceivedEvent, report, at))
    story.assign("ubnd-chieng-sinh", at, at + timedelta(hours=2), "urban_order")
    linked = ReportStatusChanged(
        report_id=story.report_id,
        tracking_code=tracking_code(7),
        status=ReportStatus.CLOSED,
        previous_status=ReportStatus.ASSIGNED,
        changed_at=at + timedelta(hours=1),
        duplicate_of="rpt-00001",
    )
    story.events.append(folded(ReportStatusChangedEvent, linked, at + timedelta(hours=1)))
    start, end = period_of(date(2023, 3, 14), date(2023, 3, 14))

    (row,) = compute_figures(fold_events(story.events).values(), start, end, NOW, "ward")
    assert (row.resolved, row.in_progress, row.duplicates, row.overdue) == (0, 0, 1, 0)

    unlinked = linked.model_copy(
        update={
            "status": ReportStatus.ASSIGNED,
            "previous_status": ReportStatus.CLOSED,
            "changed_at": at + timedelta(hours=3),
            "duplicate_of": None,
            "unlinked_from": "rpt-00001",
        }
    )
    story.events.append(folded(ReportStatusChangedEvent, unlinked, at + timedelta(hours=3)))
    facts = fold_events(list(reversed(story.events)))  # in any order
    (row,) = compute_figures(facts.values(), start, end, NOW, "ward")
    assert (row.resolved, row.in_progress, row.duplicates) == (0, 1, 0)
