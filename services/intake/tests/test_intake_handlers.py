"""The normalizer's batch path on the real Kafka broker and database.

The batches are handed to the handler as the platform would (decoded deliveries), or
published on the raw topic for the running service: a poison record in the middle, a
batch delivered twice, the database failing half-way, one report's messages in order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from intake.adapters.store import IntakeStore
from intake.app import create_app
from intake.config import load_city_config
from intake.domain.normalize import Keys
from intake.domain.tracking import report_id, tracking_code
from intake.handlers import Normalizer
from intake.metrics import IntakeMetrics
from intake.settings import Settings
from phananh_contracts import (
    ALL_TOPICS,
    CHANNEL_RAW_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    Channel,
    KafkaRecord,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
    dead_letter_topic,
)
from phananh_platform.delivery import RecordRef
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.privacy import ContactSealer, new_contact_key
from phananh_platform.settings import KafkaSettings, MongoSettings
from phananh_platform.subscribers import Delivery
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from tests.support.kafka import TopicWatcher

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_city_config(ROOT / "config/son-la/city.yaml")
KEYS = Keys(b"t" * 32, b"p" * 32)
SEALER = ContactSealer([new_contact_key()])
MARKET = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh"
LAMP = "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối"


def raw_event(message_id: str, text: str, **fields: Any) -> RawChannelMessageReceivedEvent:
    body = {"text": text, "anonymous": True, "consent": False, **fields}
    return RawChannelMessageReceivedEvent.new(
        RawChannelMessageReceived(
            channel=Channel.APP,
            channel_message_id=message_id,
            received_at=datetime.now(UTC),
            content_type="application/json",
            body=json.dumps(body, ensure_ascii=False),
            body_encoding="utf-8",
            authenticated_as="api-key:app:test",
        ),
        source="/channels/app",
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, message_id)),
    )


def delivery(event: RawChannelMessageReceivedEvent, offset: int) -> Delivery[Any]:
    record = event.to_kafka()
    ref = RecordRef(record.topic, 0, offset, record.key, record.value, tuple(record.headers))
    return Delivery(event, ref)


def code_of(event: RawChannelMessageReceivedEvent) -> str:
    data = event.data
    return tracking_code(b"t" * 32, "SL", "app", data.channel_message_id, data.received_at)


class FlakyStore(IntakeStore):
    """The real store, whose database goes away once, after the batch was published."""

    fail_next_save = False

    async def save(self, **batch: Any) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise AutoReconnect("the database went away")
        await super().save(**batch)


@dataclass
class Handler:
    normalizer: Normalizer
    store: FlakyStore


@pytest.fixture
async def handler(
    kafka_settings: KafkaSettings,
    mongo_client: AsyncMongoClient[Any],
    mongo_settings: MongoSettings,
) -> AsyncIterator[Handler]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    store = FlakyStore(mongo_client[mongo_settings.database])
    producer = RecordProducer(kafka_settings, client_id="it-intake-handler")
    await producer.start()
    metrics = IntakeMetrics(CollectorRegistry())
    yield Handler(Normalizer(CONFIG, KEYS, SEALER, store, producer, metrics), store)
    await producer.stop()


def mine(events: list[RawChannelMessageReceivedEvent]) -> Any:
    ids = {e.data.channel_message_id for e in events}
    return lambda event: event.data.channel_message_id in ids


async def test_a_batch_delivered_twice_publishes_and_stores_each_outcome_once(
    handler: Handler, kafka_bootstrap: str
) -> None:
    marker = uuid.uuid4().hex[:8]
    events = [
        raw_event(f"{marker}-1", MARKET),
        raw_event(f"{marker}-2", "ngắn"),
        raw_event(f"{marker}-1", MARKET),  # the same message again, in the same batch
        raw_event(f"{marker}-3", LAMP),
    ]
    batch = [delivery(event, offset) for offset, event in enumerate(events)]
    async with (
        TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports,
        TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejected,
    ):
        await handler.normalizer.normalize(batch)
        await handler.normalizer.normalize(batch)  # redelivered after a lost commit
        got = await reports.wait_for(mine(events), count=2)
        (refused,) = await rejected.wait_for(mine(events))
        await reports.settle(1.5)
        await rejected.settle(0.5)
        assert len([e for _, e in reports.seen if mine(events)(e)]) == 2
        assert len([e for _, e in rejected.seen if mine(events)(e)]) == 1
    assert [e.data.channel_message_id for e in got] == [f"{marker}-1", f"{marker}-3"]
    assert refused.data.reason.value == "too_short"
    assert (
        await handler.store.reports.count_documents(
            {"_id": {"$in": [report_id("app", f"{marker}-{n}") for n in (1, 2, 3)]}}
        )
        == 3
    )
    assert await handler.store.messages.count_documents({}) == 3


async def test_the_database_failing_while_a_batch_is_stored_loses_nothing_and_repeats_nothing(
    handler: Handler, kafka_bootstrap: str
) -> None:
    marker = uuid.uuid4().hex[:8]
    first = raw_event(f"{marker}-1", MARKET)
    reply = raw_event(f"{marker}-2", f"Cảm ơn, {code_of(first)} đã xử lý xong. 5/5")
    similar = raw_event(f"{marker}-3", MARKET + " từ sáng")
    events = [first, reply, similar]
    batch = [delivery(event, offset) for offset, event in enumerate(events)]
    handler.store.fail_next_save = True
    async with (
        TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports,
        TopicWatcher(kafka_bootstrap, CITIZEN_REPLIES_TOPIC.name) as replies,
    ):
        with pytest.raises(AutoReconnect):  # the platform pauses and redelivers the batch
            await handler.normalizer.normalize(batch)
        await handler.normalizer.normalize(batch)
        await handler.normalizer.normalize(batch)  # and once more after the commit is lost
        await reports.wait_for(mine(events), count=2)
        await replies.wait_for(mine(events))
        await reports.settle(1.5)
        published = [e for _, e in reports.seen if mine(events)(e)]
        answered = [e for _, e in replies.seen if mine(events)(e)]
    # The failed write stopped the batch before its events (the store's writes go with
    # the contact keys, the events after both): the redelivery published them, once.
    assert len({e.id for e in published}) == 2 and len(published) == 2
    assert len({e.id for e in answered}) == 1
    by_message = {e.data.channel_message_id: e for e in published}
    report, linked = by_message[f"{marker}-1"], by_message[f"{marker}-3"]
    assert linked.data.duplicate_of == report.data.report_id, "decided in the batch's order"
    for event in published:  # the redelivery republished the same decisions
        assert event.data == by_message[event.data.channel_message_id].data
    assert answered[0].data.report_id == report.data.report_id
    assert answered[0].data.rating == 5
    assert await handler.store.messages.count_documents({}) == 3


async def test_a_poison_record_in_the_middle_of_a_batch_is_dead_lettered_the_rest_handled(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    marker = uuid.uuid4().hex[:8]
    before, after = raw_event(f"{marker}-1", MARKET), raw_event(f"{marker}-2", LAMP)
    poison = b"\x00not a cloudevent " + marker.encode()
    settings = Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        city_config=ROOT / "config/son-la/city.yaml",
        tracking_secret=SecretStr("tracking-secret-for-tests-0123456789"),
        contact_keys=[SecretStr(new_contact_key())],
        pseudonym_key=SecretStr("pseudonym-key-for-tests-0123456789"),
        retry_backoff_max_s=1.0,
    )
    service = create_app(settings)
    producer = RecordProducer(kafka_settings, client_id="it-raw-adapter")
    await producer.start()
    async with (
        service.running(),
        TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports,
        DeadLetters(kafka_bootstrap) as dead,
    ):
        key = before.to_kafka().key  # one partition: the three records in this order
        await producer.publish_all(
            [
                before.to_kafka(),
                KafkaRecord(CHANNEL_RAW_TOPIC.name, key, poison, []),
                after.to_kafka(),
            ]
        )
        await producer.stop()
        got = await reports.wait_for(mine([before, after]), count=2)
        record = await dead.wait_for_value(poison)
    assert {e.data.channel_message_id for e in got} == {f"{marker}-1", f"{marker}-2"}
    assert dict(record.headers)["x-dlq-source-topic"] == CHANNEL_RAW_TOPIC.name.encode()


class DeadLetters(TopicWatcher):
    """Watches intake's dead-letter topic (raw records, not events)."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, dead_letter_topic("intake"))

    async def wait_for_value(self, value: bytes, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.value == value:
                        return record
        raise AssertionError("the poison record never reached the dead-letter topic")
