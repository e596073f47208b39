"""Watching contract topics from a test, as an agency system or auditor would, and
publishing records on them as another service would; a producer that keeps, in memory,
what a service published (:class:`KeptRecords`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from phananh_contracts import ContractViolation, Event, KafkaRecord, Topic, decode_event
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings


class TopicWatcher:
    """Reads a topic from the moment it started; decodes every record as a contract event.

    Start it *before* the action under test, then wait for the events the action causes.
    """

    def __init__(self, kafka: str | KafkaSettings, topic: str) -> None:
        """``kafka``: a bootstrap address, or settings that may sign in."""
        settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            **settings.client_options(), enable_auto_commit=False, group_id=None
        )
        self.seen: list[tuple[Any, Event[Any]]] = []
        self.undecodable: list[Any] = []
        """Records that are not contract events (kept apart, as a consumer would)."""

    async def __aenter__(self) -> TopicWatcher:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        if partitions is None:
            await self.consumer._client.force_metadata_update()  # new topic
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        assigned = [TopicPartition(self.topic, number) for number in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for partition in assigned:  # resolve the end positions now, before the action
            await self.consumer.position(partition)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def wait_for(
        self, predicate: Callable[[Event[Any]], bool], *, count: int = 1, timeout_s: float = 30
    ) -> list[Event[Any]]:
        """The first ``count`` events (since start) matching ``predicate``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [event for _, event in self.seen if predicate(event)]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                types = [event.type for _, event in self.seen]
                raise AssertionError(
                    f"{self.topic}: {len(found)} of {count} matching events after "
                    f"{timeout_s}s; saw {types}"
                )
            batch = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            self._take(batch)

    async def settle(self, seconds: float = 1.0) -> list[Event[Any]]:
        """Everything that arrived since start, after waiting ``seconds`` more."""
        await asyncio.sleep(seconds)
        batch = await self.consumer.getmany(timeout_ms=200)
        self._take(batch)
        return [event for _, event in self.seen]

    def _take(self, batch: dict[Any, list[Any]]) -> None:
        for records in batch.values():
            for record in records:
                try:
                    self.seen.append((record, decode_event(self.topic, record.value)))
                except ContractViolation:
                    self.undecodable.append(record)  # a hostile test's poison, say


class KeptRecords:
    """``RecordProducer`` in memory: the records a service published, in order, as they
    were handed over; ``down`` makes it raise as an unreachable Kafka does."""

    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []
        self.down = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, record: KafkaRecord) -> None:
        await self.publish_all([record])

    async def publish_all(self, records: Sequence[KafkaRecord]) -> None:
        if self.down:
            raise ConnectionError("Kafka is unreachable")
        self.records.extend(records)

    def events(self, topic: Topic | str) -> list[Event[Any]]:
        """The events published on ``topic`` (an agency's inbox too), decoded as a
        consumer of that topic would."""
        name = topic if isinstance(topic, str) else topic.name
        return [decode_event(name, r.value) for r in self.records if r.topic == name]


async def publish(
    kafka: KafkaSettings, *records: KafkaRecord, client_id: str = "it-publisher"
) -> None:
    """Put ``records`` on their topics as they are, in order; returns once the broker has them."""
    producer = RecordProducer(kafka, client_id=client_id)
    await producer.start()
    try:
        for record in records:
            await producer.publish(record)
    finally:
        await producer.stop()


async def publish_events(
    kafka: KafkaSettings, *events: Event[Any], client_id: str = "it-publisher"
) -> None:
    """Put ``events`` on their own topics, in order, as the services would publish them."""
    await publish(kafka, *(event.to_kafka() for event in events), client_id=client_id)
