"""Routing on the real servers: a canonical report in, its assignment and status out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    DEADLINES_TOPIC,
    REPORT_STATUS_TOPIC,
    ReportReceivedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish_events
from tests.support.routing import delivered

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]


def settings_for(kafka: KafkaSettings, mongo: MongoSettings) -> Settings:
    return Settings(
        kafka=kafka,
        mongodb=mongo,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=0.5,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",  # rule sets other tests publish stay theirs
    )


@pytest.fixture
async def routing(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[None]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    async with create_app(settings_for(kafka_settings, mongo_settings)).running():
        yield


def golden_report(**changes: Any) -> ReportReceivedEvent:
    """The seed's report (Noong Đúc market, Chiềng Sinh), received Tuesday 14 March 2023."""
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4()), **changes})
    return ReportReceivedEvent.new(data, source="/services/intake")


async def publish(kafka: KafkaSettings, *events: ReportReceivedEvent) -> None:
    await publish_events(kafka, *events, client_id="it-routing-source")


async def test_the_golden_path_report_goes_to_the_ward_with_the_market_board(
    routing: None, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    report = golden_report()
    async with (
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
    ):
        await publish(kafka_settings, report, report)  # redelivered: same events
        (assigned,) = await assignments.wait_for(
            lambda e: e.data.report_id == report.data.report_id
        )
        (status,) = await statuses.wait_for(lambda e: e.data.report_id == report.data.report_id)
        seen = await assignments.settle(1.5)

    data = assigned.data
    assert data.lead_agency_id == "ubnd-chieng-sinh"
    assert data.supporting_agency_ids == ("bql-cho-noong-duc",)
    assert data.matched["ward_code"] == "03679"
    # Received Tuesday 14 March 2023, 08:12 in Sơn La; 5 working days -> Tuesday 21 March,
    # end of the working day (17:00 local = 10:00 UTC).
    assert data.deadline == datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
    assert status.data.status.value == "assigned"
    assert "chủ trì" in (status.data.note or "")
    # (Received in 2023, it is long overdue: the escalation ladder reassigns it to the city,
    # a reassignment of this assignment; the redelivery makes no assignment of its own.)
    ids = {
        e.id
        for e in seen
        if e.data.report_id == report.data.report_id and e.data.reassignment_of is None
    }
    assert ids == {assigned.id}, "a redelivered report made a second assignment"


async def test_a_report_intake_flagged_goes_to_the_triage_desk_and_duplicates_are_not_assigned(
    routing: None, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    unsure = golden_report(needs_triage=True, triage_reasons=("unknown_place",), place=None)
    first = golden_report()
    duplicate = golden_report(duplicate_of=first.data.report_id)
    async with TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments:
        await publish(kafka_settings, unsure, duplicate, first)
        (triaged,) = await assignments.wait_for(lambda e: e.data.report_id == unsure.data.report_id)
        await assignments.wait_for(lambda e: e.data.report_id == first.data.report_id)
        seen = await assignments.settle(1.0)
    assert triaged.data.rule_id == "intake-triage"
    assert triaged.data.matched == {"needs_triage": "unknown_place"}
    assert not [e for e in seen if e.data.report_id == duplicate.data.report_id]


async def test_an_overdue_report_breaches_and_escalates_once_across_a_restart(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    """The seed's report was due on 21 March 2023: long past. Routing, started today,
    says so once — and a second life of the service, on the same database, says nothing."""
    await ensure_topics(kafka_settings, ALL_TOPICS)
    report = golden_report()
    mine = lambda e: e.data.report_id == report.data.report_id  # noqa: E731
    async with TopicWatcher(kafka_bootstrap, DEADLINES_TOPIC.name) as deadlines:
        async with create_app(settings_for(kafka_settings, mongo_settings)).running():
            await publish(kafka_settings, report)
            found = await deadlines.wait_for(mine, count=2)
        async with create_app(settings_for(kafka_settings, mongo_settings)).running():
            await publish(kafka_settings, report)  # redelivered into the second life
            seen = await deadlines.settle(3.0)

    types = sorted(event.type for event in found)
    assert types == ["vn.pakn.deadline.breached", "vn.pakn.report.escalated"]
    escalated = next(e for e in found if e.type == "vn.pakn.report.escalated").data
    assert (escalated.agency_id, escalated.to_agency_id) == ("ubnd-chieng-sinh", "ubnd-thanh-pho")
    assert escalated.level.value == "city"
    assert escalated.deadline == datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
    assert len([e for e in seen if mine(e)]) == 2, "a breach or escalation was said twice"


class CutShort(RecordProducer):
    """A producer that fails its first publication, as if the process died right then."""

    failed = False

    async def publish_all(self, records: Any) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("the process died before publishing")
        await super().publish_all(records)


async def test_a_decision_whose_publishing_was_cut_short_is_published_on_redelivery(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    from phananh_platform.mongo import create_mongo_client
    from prometheus_client import CollectorRegistry
    from routing.adapters.rules_file import checked_ruleset
    from routing.adapters.store import CaseStore, DeadlineStore
    from routing.domain.calendar import WorkingCalendar
    from routing.domain.rules import RulesInForce
    from routing.handlers import CaseHandler
    from routing.metrics import RoutingMetrics

    await ensure_topics(kafka_settings, ALL_TOPICS)
    client = create_mongo_client(mongo_settings, app_name="it-routing")
    database = client[mongo_settings.database]
    producer = CutShort(kafka_settings, client_id="it-routing-cut-short")
    await producer.start()
    handler = CaseHandler(
        RulesInForce(checked_ruleset(settings_for(kafka_settings, mongo_settings))),
        WorkingCalendar(),
        producer,
        RoutingMetrics(CollectorRegistry()),
        CaseStore(database),
        DeadlineStore(database),
    )
    report = golden_report()
    batch = delivered(report)
    try:
        async with TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments:
            with pytest.raises(ConnectionError):
                await handler.decide(batch)
            stored = await database["routing_cases"].find_one({"_id": report.data.report_id})
            assert stored is not None and len(stored["outbox"]) >= 2, "kept to publish later"

            await handler.decide(batch)  # the redelivery
            (assigned,) = await assignments.wait_for(
                lambda e: e.data.report_id == report.data.report_id
            )
            again = await CaseStore(database).get(report.data.report_id)
            assert again is not None and again.outbox == () and again.version == 1, "published"
            watched = await database["routing_deadlines"].find_one({"_id": report.data.report_id})
            assert watched is not None and watched["term"] == again.case.term
            assert not watched["warned"] and not watched["closed"], "its deadline is watched"
            await handler.decide(batch)  # delivered once more: nothing left to publish
            seen = await assignments.settle(1.5)
        assert [e.id for e in seen if e.data.report_id == report.data.report_id] == [assigned.id]
    finally:
        await producer.stop()
        await client.close()
