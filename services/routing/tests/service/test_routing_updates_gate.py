"""The gate on the real servers: an agency's update counts only from its own updates topic.

Each agency may write only ``pakn.updates.<agency-id>.v1``. Routing admits to
``pakn.agency.updates.v1`` the updates there that name that agency, and refuses one that
speaks for another, in the sender's inbox; a topic created after routing started (a new
agency) is read too, from its first record.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    AgencyUpdateEvent,
    ReportReceivedEvent,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_contracts.examples import AGENCY_ACCEPTED, REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish, publish_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
"""The seed report's lead and the agency that supports it."""
DISCOVERY_S = 45
"""How long a topic created while routing runs may take to be read (about 10 s + a
rebalance; generous for a loaded machine)."""


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


def new_report() -> ReportReceivedEvent:
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())})
    return ReportReceivedEvent.new(data, source="/services/intake")


def update(report_id: str, sender: str, *, speaking_for: str | None = None) -> AgencyUpdateEvent:
    """``sender``'s system accepting a report, naming ``speaking_for`` (default: itself)."""
    data = AGENCY_ACCEPTED.data.model_copy(
        update={"report_id": report_id, "agency_id": speaking_for or sender}
    )
    return AgencyUpdateEvent.new(data, source=f"/agencies/{sender}")


async def send_as(kafka: KafkaSettings, sender: str, event: AgencyUpdateEvent) -> None:
    """Write ``event`` where ``sender``'s principal may write: its own updates topic."""
    await publish(kafka, event.to_kafka(agency_updates_topic(sender)), client_id=f"it-{sender}")


async def test_an_update_counts_only_when_it_comes_from_the_agency_it_names(
    routing: None, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    report = new_report()
    rid = report.data.report_id
    mine = lambda e: e.data.report_id == rid  # noqa: E731
    forged = update(rid, MARKET, speaking_for=WARD)  # the market board: "the ward accepts"
    genuine = update(rid, WARD)
    async with (
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_TOPIC.name) as admitted,
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_REFUSED_TOPIC.name) as refusals,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(MARKET).name) as market_inbox,
        TopicWatcher(kafka_bootstrap, agency_inbox_topic(WARD).name) as ward_inbox,
    ):
        await publish_events(kafka_settings, report, client_id="it-routing-source")
        await assignments.wait_for(mine)

        await send_as(kafka_settings, MARKET, forged)
        (refused,) = await refusals.wait_for(lambda e: e.data.update_event_id == forged.id)
        (told,) = await market_inbox.wait_for(lambda e: e.id == refused.id)
        untouched = [e.data.status.value for e in await statuses.settle(1.5) if mine(e)]

        await send_as(kafka_settings, WARD, genuine)
        (forwarded,) = await admitted.wait_for(lambda e: e.id == genuine.id)
        (in_progress,) = await statuses.wait_for(
            lambda e: mine(e) and e.data.status.value == "in_progress"
        )
        seen_admitted = await admitted.settle(1.0)
        ward_saw = await ward_inbox.settle(0.5)

    assert (refused.data.agency_id, refused.data.reason.value) == (MARKET, "agency_mismatch")
    assert told.type == "vn.pakn.agency.update.refused"
    assert untouched == ["assigned"], "the forged update moved the ward's case"
    assert forged.id not in {e.id for e in seen_admitted}, "forwarded to the case"
    assert refused.id not in {e.id for e in ward_saw}, "only the sender is told"
    assert forwarded.data == genuine.data and forwarded.data.agency_id == WARD
    assert in_progress.data.agency_id == WARD


@pytest.fixture
async def deleted_after_routing(kafka_bootstrap: str) -> AsyncIterator[list[str]]:
    """Topics a test creates, deleted once routing stopped (set up before ``routing``, so
    torn down after it): deleting a topic under a running consumer is another test."""
    names: list[str] = []
    yield names
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def test_a_new_agencys_updates_topic_is_read_from_its_first_record(
    deleted_after_routing: list[str],
    routing: None,
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
) -> None:
    """An agency added while routing runs: the record written right after its topic was
    created, before routing could know of the topic, is decided too."""
    newcomer = f"test-{uuid.uuid4().hex[:8]}"
    topic = agency_updates_topic(newcomer)
    forged = update(str(uuid.uuid4()), newcomer, speaking_for=WARD)
    async with TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_REFUSED_TOPIC.name) as refusals:
        await ensure_topics(kafka_settings, [topic])
        deleted_after_routing.append(topic.name)
        await send_as(kafka_settings, newcomer, forged)
        (refused,) = await refusals.wait_for(
            lambda e: e.data.update_event_id == forged.id, timeout_s=DISCOVERY_S
        )

    assert (refused.data.agency_id, refused.data.reason.value) == (newcomer, "agency_mismatch")
