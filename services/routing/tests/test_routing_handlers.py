"""Routing's subscriptions under FastStream's test broker, with its stores and producer in
memory: a report published on the reports topic, or an agency's update on its own updates
topic, is decided by the real wiring (``routing.handlers.subscribe``) on the Sơn La rules
(config/son-la/routing.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    CitizenRepliedEvent,
    Event,
    Place,
    Reporter,
    ReportReceivedEvent,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_contracts import examples as ex
from phananh_contracts.values import AgencyUpdateKind
from phananh_platform.runtime import ServiceApp, build_service
from routing.adapters.rules_file import checked_ruleset
from routing.domain.calendar import WorkingCalendar
from routing.domain.rules import RulesInForce
from routing.handlers import CaseHandler, Gate, subscribe
from routing.metrics import RoutingMetrics
from routing.settings import Settings

from tests.support.delivery import under_test_broker
from tests.support.kafka import KeptRecords
from tests.support.routing import MemoryCases, MemoryDeadlines

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2023, 3, 14, 1, 13, tzinfo=UTC)  # a minute after the golden report arrived

GOLDEN = ex.REPORT_RECEIVED
"""Selling meat and fish outside Noong Đúc market, Chiềng Sinh ward (urban order)."""
TO_HIEU = ReportReceivedEvent.new(
    GOLDEN.data.model_copy(
        update={
            "report_id": "01GVHQ6JZ9Y3X5B7C2D4E6F8H1",
            "tracking_code": "SL-2303-8TQ4M9",
            "channel_message_id": "app-to-hieu-1",
            "text": (
                "Quán nhậu lấn chiếm vỉa hè đường Tô Hiệu, người đi bộ phải đi xuống lòng đường."
            ),
            "title": "Lấn chiếm vỉa hè đường Tô Hiệu",
            "place": Place(ward_code="03646", ward_name="Tô Hiệu"),
            "attachments": (),
        }
    ),
    source="/services/intake",
)
"""Urban order too, in Tô Hiệu ward, nowhere near the market."""


@dataclass
class Routing:
    service: ServiceApp
    published: KeptRecords
    cases: MemoryCases

    def assignments(self) -> dict[str, Any]:
        """Each report's assignment as published on pakn.assignments.v1, by report id."""
        events = self.published.events(ASSIGNMENTS_TOPIC)
        assert len({e.data.report_id for e in events}) == len(events), "assigned twice"
        return {event.data.report_id: event.data for event in events}


@pytest.fixture
def routing() -> Iterator[Routing]:
    """Routing's own subscription (``subscribe``) over in-memory stores and producer."""
    settings = Settings(
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
    )
    service = build_service("routing", settings, uses_database=False)
    published, cases = KeptRecords(), MemoryCases()
    rules, metrics = RulesInForce(checked_ruleset(settings)), RoutingMetrics(service.registry)
    handler = CaseHandler(
        rules,
        WorkingCalendar(),
        published,  # type: ignore[arg-type]  # a RecordProducer twin
        metrics,
        cases,  # type: ignore[arg-type]
        MemoryDeadlines(),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    gate = Gate(rules, published, metrics, clock=lambda: NOW)  # type: ignore[arg-type]
    subscribe(service, handler, gate)
    yield Routing(service, published, cases)


async def publish(broker: Any, *events: Event[Any]) -> None:
    """Each event on its topic (reports, admitted updates, replies), one record (and one
    fetched batch) at a time."""
    for event in events:
        record = event.to_kafka()
        await broker.publish(record.value, topic=record.topic, key=record.key)


async def test_a_received_report_is_assigned_to_the_lead_agency_of_its_ward_and_category(
    routing: Routing,
) -> None:
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await publish(broker, GOLDEN, TO_HIEU)

    assigned = routing.assignments()
    market = assigned[GOLDEN.data.report_id]
    assert (market.lead_agency_id, market.supporting_agency_ids) == (
        "ubnd-chieng-sinh",
        ("bql-cho-noong-duc",),
    )
    assert (market.rule_id, market.ruleset_version) == ("cho-noong-duc", "2025.3")
    # Received Tuesday 14 March 2023, 08:12 in Sơn La; the rule gives 5 working days:
    # Tuesday 21 March, 17:00 local.
    assert market.deadline == datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
    (event,) = [
        e
        for e in routing.published.events(ASSIGNMENTS_TOPIC)
        if e.data.report_id == GOLDEN.data.report_id
    ]
    assert event.time == NOW, "timed at the decision, as its status and task events are"
    pavement = assigned[TO_HIEU.data.report_id]
    assert (pavement.lead_agency_id, pavement.supporting_agency_ids) == (
        "ubnd-to-hieu",
        ("doi-qltt-do-thi",),
    )
    assert pavement.rule_id == "trat-tu-do-thi-xay-dung"
    assert pavement.deadline == datetime(2023, 3, 28, 10, 0, tzinfo=UTC)  # default: 10 days

    # The lead finds the task in its inbox, the citizen sees the report assigned.
    (task,) = routing.published.events(agency_inbox_topic("ubnd-chieng-sinh"))
    assert task.data.report_id == GOLDEN.data.report_id
    changes = routing.published.events(REPORT_STATUS_TOPIC)
    statuses = {change.data.report_id: change.data.status.value for change in changes}
    assert statuses == {GOLDEN.data.report_id: "assigned", TO_HIEU.data.report_id: "assigned"}
    assert dead_letters.records == []


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_its_batch_is_decided(
    routing: Routing,
) -> None:
    poison = b'{"specversion": "1.0", "type": "vn.pakn.report.received"'
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await broker.publish_batch(
            GOLDEN.to_kafka().value, poison, TO_HIEU.to_kafka().value, topic=REPORTS_TOPIC.name
        )

    (dead,) = dead_letters.records
    assert dead["topic"] == "pakn.dlq.routing.v1"
    assert dead["value"] == poison, "kept as it came"
    headers = dict(dead["headers"])
    assert headers["x-dlq-source-topic"] == REPORTS_TOPIC.name.encode()
    assert headers["x-dlq-reason"].startswith(b"invalid JSON")
    leads = {report_id: a.lead_agency_id for report_id, a in routing.assignments().items()}
    assert leads == {
        GOLDEN.data.report_id: "ubnd-chieng-sinh",
        TO_HIEU.data.report_id: "ubnd-to-hieu",
    }


async def test_a_redelivered_report_publishes_nothing_new(routing: Routing) -> None:
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await publish(broker, GOLDEN)
        first = list(routing.published.records)
        await publish(broker, GOLDEN)  # the commit was lost: the same record again
        await broker.publish_batch(  # and twice more in one fetch
            GOLDEN.to_kafka().value, GOLDEN.to_kafka().value, topic=REPORTS_TOPIC.name
        )

    topics = [record.topic for record in first]
    assert ASSIGNMENTS_TOPIC.name in topics and "pakn.inbox.ubnd-chieng-sinh.v1" in topics
    assert routing.published.records == first, "a redelivery published again"
    stored = await routing.cases.get(GOLDEN.data.report_id)
    assert stored is not None and stored.version == 1 and stored.outbox == ()
    assert dead_letters.records == []


# --- the gate: each agency's own updates topic ------------------------------------------

WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
"""The golden report's lead and its supporting agency."""


def accepted(agency_id: str, *, speaking_for: str | None = None) -> AgencyUpdateEvent:
    """An update accepting the golden report, naming ``speaking_for`` (default: itself)."""
    data = ex.AGENCY_ACCEPTED.data.model_copy(update={"agency_id": speaking_for or agency_id})
    return AgencyUpdateEvent.new(data, source=f"/agencies/{agency_id}", time=NOW)


async def send_as(broker: Any, agency_id: str, update: AgencyUpdateEvent) -> None:
    """``update`` written on ``agency_id``'s own updates topic, as its principal may."""
    record = update.to_kafka(agency_updates_topic(agency_id))
    await broker.publish(record.value, topic=record.topic, key=record.key)


async def pass_on_admitted(routing: Routing, broker: Any) -> None:
    """What the gate put on pakn.agency.updates.v1 (kept in memory here) reaches the case,
    as the broker would carry it."""
    for record in routing.published.records:
        if record.topic == AGENCY_UPDATES_TOPIC.name:
            await broker.publish(record.value, topic=record.topic, key=record.key)


async def test_an_agencys_update_on_its_own_topic_is_admitted_unchanged_and_applied(
    routing: Routing,
) -> None:
    update = accepted(WARD)
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await publish(broker, GOLDEN)
        await send_as(broker, WARD, update)
        await send_as(broker, WARD, update)  # redelivered: forwarded again, same event
        admitted = [r for r in routing.published.records if r.topic == AGENCY_UPDATES_TOPIC.name]
        await pass_on_admitted(routing, broker)

    assert [record.value for record in admitted] == [update.to_kafka().value] * 2
    assert {record.key for record in admitted} == {GOLDEN.data.report_id.encode()}
    changes = [
        change.data.status.value
        for change in routing.published.events(REPORT_STATUS_TOPIC)
        if change.data.report_id == GOLDEN.data.report_id
    ]
    assert changes == ["assigned", "in_progress"], "applied once"
    assert routing.published.events(AGENCY_UPDATES_REFUSED_TOPIC) == []
    assert dead_letters.records == []


async def test_an_update_speaking_for_another_agency_is_refused_to_its_sender_only(
    routing: Routing,
) -> None:
    """The market board, which supports the report, writes "the ward accepted it" on its
    own topic: it may not speak for the ward."""
    forged = accepted(MARKET, speaking_for=WARD)
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await publish(broker, GOLDEN)
        await send_as(broker, MARKET, forged)
        await pass_on_admitted(routing, broker)

    assert not [r for r in routing.published.records if r.topic == AGENCY_UPDATES_TOPIC.name]
    (refused,) = routing.published.events(AGENCY_UPDATES_REFUSED_TOPIC)
    assert (refused.data.agency_id, refused.data.reason.value) == (MARKET, "agency_mismatch")
    assert refused.data.update_event_id == forged.id
    in_market_inbox = routing.published.events(agency_inbox_topic(MARKET))
    assert refused in in_market_inbox, "the sender is told, in its own inbox"
    assert refused not in routing.published.events(agency_inbox_topic(WARD))
    statuses = [
        change.data.status.value for change in routing.published.events(REPORT_STATUS_TOPIC)
    ]
    assert statuses == ["assigned"], "the ward's case did not move"
    stored = await routing.cases.get(GOLDEN.data.report_id)
    assert stored is not None and stored.version == 1
    assert dead_letters.records == []


async def test_poison_on_an_agencys_updates_topic_is_dead_lettered_and_not_forwarded(
    routing: Routing,
) -> None:
    topic = agency_updates_topic(WARD).name
    poison = b'{"specversion": "1.0", "type": "vn.pakn.report.received", "id": "x"}'
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await broker.publish_batch(poison, accepted(WARD).to_kafka().value, topic=topic)

    (dead,) = dead_letters.records
    assert (dead["topic"], dead["value"]) == ("pakn.dlq.routing.v1", poison)
    assert dict(dead["headers"])["x-dlq-source-topic"] == topic.encode()
    admitted = [r for r in routing.published.records if r.topic == AGENCY_UPDATES_TOPIC.name]
    assert len(admitted) == 1, "the valid update behind the poison went on"


# --- citizens' replies: only the reporter rates -----------------------------------------


def resolved_by(agency_id: str) -> AgencyUpdateEvent:
    """``agency_id`` reports its part of the golden report done (as admitted by the gate)."""
    data = ex.AGENCY_ACCEPTED.data.model_copy(
        update={"agency_id": agency_id, "kind": AgencyUpdateKind.RESOLVED, "note": "Đã xử lý."}
    )
    return AgencyUpdateEvent.new(data, source=f"/agencies/{agency_id}", time=NOW)


def rating(stars: int, *, by: Reporter) -> CitizenRepliedEvent:
    """A reply quoting the golden report's tracking code with a rating, ``by`` someone."""
    data = ex.CITIZEN_REPLIED.data.model_copy(
        update={
            "channel_message_id": f"reply-{stars}-{by.pseudonym}",
            "text": f"Mã {GOLDEN.data.tracking_code}: đánh giá {stars}/5.",
            "rating": stars,
            "reporter": by,
        }
    )
    return CitizenRepliedEvent.new(data, source="/services/intake", time=NOW)


def statuses(routing: Routing) -> list[str]:
    return [e.data.status.value for e in routing.published.events(REPORT_STATUS_TOPIC)]


async def test_a_strangers_rating_is_counted_and_changes_nothing_the_reporters_reopens(
    routing: Routing,
) -> None:
    stranger = Reporter(anonymous=False, pseudonym="ctz-" + "5" * 24, contact_ciphertext="x")
    theirs, mine = rating(1, by=stranger), rating(1, by=GOLDEN.data.reporter)
    async with under_test_broker(routing.service) as (broker, dead_letters):
        await publish(broker, GOLDEN, resolved_by(WARD), resolved_by(MARKET))
        await publish(broker, theirs, theirs)  # redelivered: decided (and counted) once
        after_stranger = statuses(routing)
        await publish(broker, mine)

    assert after_stranger == ["assigned", "resolved"], "the stranger's 1/5 reopened nothing"
    assert statuses(routing) == ["assigned", "resolved", "reopened"]
    registry = routing.service.registry
    counted = {
        kind: registry.get_sample_value(
            "pakn_routing_replies_not_from_reporter_total", {"kind": kind}
        )
        for kind in ("rating", "answer", "message")
    }
    assert counted == {"rating": 1.0, "answer": 0.0, "message": 0.0}
    stored = await routing.cases.get(GOLDEN.data.report_id)
    assert stored is not None and theirs.id in stored.case.applied
    assert dead_letters.records == []
