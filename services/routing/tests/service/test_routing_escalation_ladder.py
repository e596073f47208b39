"""The escalation ladder on the real servers, with routing's clock moved forward: the
seed's report missed by the ward goes to the city People's Committee, missed there goes to
leadership, missed there is recorded; each level finds it in its inbox with the history
and a new term, and is warned before that term ends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    DEADLINES_TOPIC,
    Event,
    ReportReceivedEvent,
    agency_inbox_topic,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.mongo import create_mongo_client
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish_events

pytestmark = pytest.mark.integration

WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
CITY, LEADERSHIP = "ubnd-thanh-pho", "ban-thuong-vu-thanh-uy"
WARD_DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)  # the seed's report: 5 working days


ROOT = Path(__file__).resolve().parents[4]


def settings_for(kafka: KafkaSettings, mongo: MongoSettings) -> Settings:
    return Settings(
        kafka=kafka,
        mongodb=mongo,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=0.3,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",
    )


class Clock:
    """Routing's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_each_missed_deadline_moves_the_report_one_level_up_until_leadership(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())})
    report = ReportReceivedEvent.new(data, source="/services/intake")
    rid = data.report_id

    def mine(kind: str) -> Any:
        return lambda e: e.data.report_id == rid and e.type == kind

    clock = Clock(data.received_at + timedelta(minutes=1))
    app = create_app(settings_for(kafka_settings, mongo_settings), clock=clock)
    async with (
        app.running(),
        TopicWatcher(kafka_bootstrap, DEADLINES_TOPIC.name) as deadlines,
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(CITY).name) as city_inbox,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(LEADERSHIP).name) as top_inbox,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(WARD).name) as ward_inbox,
    ):
        await publish_events(kafka_settings, report, client_id="it-routing-ladder")
        (first,) = await assignments.wait_for(mine("vn.pakn.report.assigned"))
        assert first.data.lead_agency_id == WARD and first.data.deadline == WARD_DEADLINE

        # The ward misses its deadline: the city People's Committee leads, with a new term.
        clock.now = WARD_DEADLINE + timedelta(minutes=1)
        (to_city,) = await deadlines.wait_for(mine("vn.pakn.report.escalated"))
        assert (to_city.data.agency_id, to_city.data.from_level.value) == (WARD, "ward")
        assert (to_city.data.to_agency_id, to_city.data.level.value) == (CITY, "city")
        city_deadline = to_city.data.new_deadline
        assert city_deadline is not None and city_deadline > clock.now
        (task,) = await city_inbox.wait_for(mine("vn.pakn.agency.task.assigned"))
        assert task.data.role == "lead" and task.data.deadline == city_deadline
        assert any("Quá hạn" in entry.what for entry in task.data.history)
        assert any(entry.agency_id == WARD for entry in task.data.history)
        (kept,) = await ward_inbox.wait_for(
            lambda e: mine("vn.pakn.agency.task.assigned")(e) and e.data.role == "supporting"
        )
        assert kept.data.lead_agency_id == CITY, "the ward stays informed, now supporting"
        (_, again) = await assignments.wait_for(mine("vn.pakn.report.assigned"), count=2)
        assert again.data.lead_agency_id == CITY and again.data.reassignment_of == first.id

        # Warnings go on at the new level, for the new term.
        clock.now = city_deadline - timedelta(minutes=30)
        (warning,) = await deadlines.wait_for(mine("vn.pakn.deadline.warning"))
        assert (warning.data.agency_id, warning.data.deadline) == (CITY, city_deadline)

        # The city misses its deadline too: leadership leads.
        clock.now = city_deadline + timedelta(minutes=1)
        (_, to_top) = await deadlines.wait_for(mine("vn.pakn.report.escalated"), count=2)
        assert (to_top.data.agency_id, to_top.data.from_level.value) == (CITY, "city")
        assert (to_top.data.to_agency_id, to_top.data.level.value) == (LEADERSHIP, "leadership")
        top_deadline = to_top.data.new_deadline
        assert top_deadline is not None
        (top_task,) = await top_inbox.wait_for(mine("vn.pakn.agency.task.assigned"))
        assert sum("Quá hạn" in entry.what for entry in top_task.data.history) == 2

        # Leadership misses its deadline: recorded as a breach, nothing climbs further.
        clock.now = top_deadline + timedelta(minutes=1)
        breaches = await deadlines.wait_for(mine("vn.pakn.deadline.breached"), count=3)
        assert [b.data.agency_id for b in breaches] == [WARD, CITY, LEADERSHIP]

        # A breach delivered again (a lost commit) escalates nothing twice.
        await publish_events(kafka_settings, breaches[0], client_id="it-routing-ladder")
        seen: list[Event[Any]] = await deadlines.settle(3.0)

    escalations = [e for e in seen if mine("vn.pakn.report.escalated")(e)]
    assert [e.data.to_agency_id for e in escalations] == [CITY, LEADERSHIP]
    client = create_mongo_client(mongo_settings, app_name="it-routing-ladder")
    try:
        watched = await client[mongo_settings.database]["routing_deadlines"].find_one({"_id": rid})
    finally:
        await client.close()
    assert watched is not None
    assert (watched["agency_id"], watched["term"], watched["breached"]) == (LEADERSHIP, 2, True)
