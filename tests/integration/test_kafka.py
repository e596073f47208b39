"""The platform's Kafka wiring against a real broker."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from phananh_contracts import ALL_TOPICS, REPORTS_TOPIC, ReportReceivedEvent, decode_event
from phananh_platform.kafka import RecordProducer, create_broker, ensure_topics, publish_record
from phananh_platform.settings import KafkaSettings

from tests.integration.test_delivery import read_all
from tests.support.reports import sample_report

pytestmark = pytest.mark.integration


async def test_contract_topics_exist_with_their_partition_counts(
    kafka_settings: KafkaSettings,
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    assert await ensure_topics(kafka_settings, ALL_TOPICS) == [], "a second run created topics"

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic.name for topic in ALL_TOPICS])
    finally:
        await admin.close()
    partitions = {entry["topic"]: len(entry["partitions"]) for entry in described}
    assert partitions == {topic.name: topic.partitions for topic in ALL_TOPICS}


async def test_idempotent_producer_keeps_every_event_once_and_in_order_per_report(
    kafka_settings: KafkaSettings, new_topic: Any
) -> None:
    topic = await new_topic("it.producer", partitions=3)
    report = sample_report(7)
    events = [ReportReceivedEvent.new(data=report, source="/tests/kafka") for _ in range(50)]
    producer = RecordProducer(kafka_settings, client_id="it-idempotent")
    await producer.start()
    try:
        # Sent concurrently: the idempotent producer must still keep the order.
        await asyncio.gather(
            *(producer.publish(replace(event.to_kafka(), topic=topic)) for event in events)
        )
    finally:
        await producer.stop()

    records = await read_all(kafka_settings.bootstrap_servers, topic, expected=len(events))
    assert len({record.partition for record in records}) == 1, "one report spread over partitions"
    ids = [decode_event(REPORTS_TOPIC.name, record.value).id for record in records]
    assert ids == [event.id for event in events], "lost, duplicated or reordered"


async def test_broker_publishes_contract_records_that_decode_back(
    kafka_settings: KafkaSettings, new_topic: Any
) -> None:
    topic = await new_topic("it.broker", partitions=1)
    event = ReportReceivedEvent.new(data=sample_report(1), source="/tests/kafka")
    broker = create_broker(kafka_settings, client_id="it-broker")
    await broker.connect()
    try:
        await publish_record(broker, replace(event.to_kafka(), topic=topic))
    finally:
        await broker.stop()

    (received,) = await read_all(kafka_settings.bootstrap_servers, topic, expected=1)
    assert decode_event(REPORTS_TOPIC.name, received.value) == event
    assert dict(received.headers)["content-type"].startswith(b"application/cloudevents+json")
    assert received.key == b"rpt-000001"
