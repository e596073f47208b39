"""Consumer lag and dead letters measured on the real broker, as every service exports them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from phananh_platform.metrics import ConsumerGroup, KafkaPositions
from phananh_platform.settings import KafkaSettings
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.integration


async def produce(bootstrap: str, topic: str, count: int, partition: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for number in range(count):
            await producer.send_and_wait(topic, f"record {number}".encode(), partition=partition)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, topic: str, partition: int, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        where = TopicPartition(topic, partition)
        consumer.assign([where])
        await consumer.commit({where: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def test_lag_per_partition_and_dead_letters_are_what_the_broker_holds(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    topic = await new_topic("ops-lag", partitions=2)
    dead_letters = await new_topic("ops-dlq", partitions=1)
    group = f"ops-{uuid.uuid4().hex[:8]}"
    await produce(kafka_bootstrap, topic, 5, partition=0)
    await produce(kafka_bootstrap, topic, 2, partition=1)
    await produce(kafka_bootstrap, dead_letters, 3)
    await commit(kafka_bootstrap, group, topic, partition=0, offset=2)

    registry = CollectorRegistry()
    positions = KafkaPositions(
        kafka_settings,
        client_id="ops-test",
        groups=lambda: [ConsumerGroup(group, (topic,))],
        dead_letter_topic=dead_letters,
        registry=registry,
    )
    try:
        await positions.measure()
        lag = {
            partition: registry.get_sample_value(
                "pakn_kafka_consumer_lag",
                {"group": group, "topic": topic, "partition": partition},
            )
            for partition in ("0", "1")
        }
        # partition 0: 5 records, 2 handled; partition 1: never committed, read from start
        assert lag == {"0": 3, "1": 2}
        assert registry.get_sample_value("pakn_dlq_records", {"topic": dead_letters}) == 3

        await commit(kafka_bootstrap, group, topic, partition=1, offset=2)
        await produce(kafka_bootstrap, dead_letters, 1)
        await positions.measure()  # the same clients, asked again
        assert (
            registry.get_sample_value(
                "pakn_kafka_consumer_lag", {"group": group, "topic": topic, "partition": "1"}
            )
            == 0
        )
        assert registry.get_sample_value("pakn_dlq_records", {"topic": dead_letters}) == 4
    finally:
        await positions.close()


async def test_a_pattern_groups_lag_counts_every_topic_it_matches_those_created_later_too(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    prefix = f"ops-pattern-{uuid.uuid4().hex[:8]}"
    first = await new_topic(name=f"{prefix}.a")
    dead_letters = await new_topic("ops-dlq", partitions=1)
    group = f"ops-{uuid.uuid4().hex[:8]}"
    await produce(kafka_bootstrap, first, 4)
    registry = CollectorRegistry()
    positions = KafkaPositions(
        kafka_settings,
        client_id="ops-test",
        groups=lambda: [ConsumerGroup(group, (), pattern=rf"{prefix}\.[a-z]+")],
        dead_letter_topic=dead_letters,
        registry=registry,
    )

    def lag(topic: str) -> float | None:
        labels = {"group": group, "topic": topic, "partition": "0"}
        return registry.get_sample_value("pakn_kafka_consumer_lag", labels)

    try:
        await positions.measure()
        assert lag(first) == 4
        later = await new_topic(name=f"{prefix}.b")
        await produce(kafka_bootstrap, later, 2)
        await positions.measure()
        assert (lag(first), lag(later)) == (4, 2)
    finally:
        await positions.close()
