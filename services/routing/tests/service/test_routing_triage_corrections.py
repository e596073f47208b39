"""Triage corrections on the real servers: the triage desk re-categorises a report and it
moves to the agency the rules name; a duplicate intake linked is unlinked and gets a case
of its own.

Updates are written where each agency's principal may write (its own updates topic);
routing's gate admits them and the case consumer decides, as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    ReportReceivedEvent,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish, publish_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
TRIAGE, CSGT, WARD, MARKET = "ioc-tiep-nhan", "doi-csgt", "ubnd-chieng-sinh", "bql-cho-noong-duc"


@pytest.fixture
async def routing(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[None]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    settings = Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=3600,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",
    )
    async with create_app(settings).running():
        yield


def new_report(**changes: object) -> ReportReceivedEvent:
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4()), **changes})
    return ReportReceivedEvent.new(data, source="/services/intake")


async def send(
    kafka: KafkaSettings, agency: str, report_id: str, kind: AgencyUpdateKind, **fields: object
) -> AgencyUpdateEvent:
    data = AgencyUpdate(
        report_id=report_id,
        agency_id=agency,
        kind=kind,
        updated_at=datetime.now(UTC),
        **fields,  # type: ignore[arg-type]
    )
    event = AgencyUpdateEvent.new(data, source=f"/agencies/{agency}")
    await publish(kafka, event.to_kafka(agency_updates_topic(agency)), client_id=f"it-{agency}")
    return event


async def test_the_triage_desk_recategorising_moves_the_report_to_the_right_agency(
    routing: None, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    report = new_report(needs_triage=True, triage_reasons=("low_confidence_category",))
    rid = report.data.report_id
    mine = lambda e: e.data.report_id == rid  # noqa: E731
    async with (
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(TRIAGE).name) as triage_inbox,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(CSGT).name) as csgt_inbox,
    ):
        await publish_events(kafka_settings, report, client_id="it-routing-source")
        (first,) = await assignments.wait_for(mine)
        await triage_inbox.wait_for(lambda e: mine(e) and e.type.endswith("task.assigned"))
        await send(
            kafka_settings,
            TRIAGE,
            rid,
            AgencyUpdateKind.ACCEPTED,
        )
        await statuses.wait_for(lambda e: mine(e) and e.data.status.value == "in_progress")

        await send(
            kafka_settings,
            TRIAGE,
            rid,
            AgencyUpdateKind.RECATEGORIZED,
            category="traffic_safety",
            note="Xe tải chở đất gây bụi trên đường: an toàn giao thông",
        )
        (moved,) = await assignments.wait_for(lambda e: mine(e) and e.id != first.id)
        (withdrawn,) = await triage_inbox.wait_for(
            lambda e: mine(e) and e.type.endswith("task.withdrawn")
        )
        (task,) = await csgt_inbox.wait_for(mine)
        (back,) = await statuses.wait_for(
            lambda e: (
                mine(e)
                and e.data.status.value == "assigned"
                and e.data.previous_status.value == "in_progress"
            )
        )

    assert first.data.lead_agency_id == TRIAGE
    assert (moved.data.lead_agency_id, moved.data.category) == (CSGT, "traffic_safety")
    assert moved.data.reassignment_of == first.id
    assert "an toàn giao thông" in withdrawn.data.reason
    assert (task.data.role, task.data.category) == ("lead", "traffic_safety")
    assert task.data.history and task.data.history[-1].agency_id == TRIAGE
    assert back.data.agency_id == CSGT


async def test_unlinking_a_duplicate_gives_it_a_case_of_its_own(
    routing: None, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    original = new_report()
    duplicate = new_report(
        duplicate_of=original.data.report_id,
        tracking_code="SL-2303-4HC8WD",
        text="Hàng rong ở cổng chợ phía bắc lấn chiếm lòng đường, chợ Noong Đúc.",
    )
    oid, did = original.data.report_id, duplicate.data.report_id
    async with (
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(WARD).name) as ward_inbox,
    ):
        await publish_events(kafka_settings, original, client_id="it-routing-source")
        await assignments.wait_for(lambda e: e.data.report_id == oid)
        await publish_events(kafka_settings, duplicate, client_id="it-routing-source")
        (shown,) = await ward_inbox.wait_for(
            lambda e: e.data.report_id == did and e.type.endswith("duplicate.changed")
        )
        nothing = [e for e in await assignments.settle(1.0) if e.data.report_id == did]

        await send(
            kafka_settings,
            WARD,
            did,
            AgencyUpdateKind.UNLINKED,
            note="Cổng chợ phía bắc, không phải hành lang chợ",
        )
        (own,) = await assignments.wait_for(lambda e: e.data.report_id == did)
        (status,) = await statuses.wait_for(lambda e: e.data.report_id == did)
        tasks = await ward_inbox.wait_for(
            lambda e: e.data.report_id == did and e.type.endswith("task.assigned")
        )
        (undone,) = await ward_inbox.wait_for(
            lambda e: (
                e.data.report_id == did
                and e.type.endswith("duplicate.changed")
                and not e.data.linked
            )
        )

    assert shown.data.linked and shown.data.original_report_id == oid
    assert nothing == [], "a linked duplicate has no assignment of its own"
    assert own.data.lead_agency_id == WARD and own.data.matched["unlinked_from"] == oid
    assert (status.data.status.value, status.data.unlinked_from) == ("assigned", oid)
    assert tasks[0].data.role == "lead"
    assert undone.data.by_agency_id == WARD
