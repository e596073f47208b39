"""Delivery guarantees on a real Kafka broker and a real MongoDB-wire database.

A consumer built like every service is killed mid-stream, twice, and
restarted: every event still gets its effect exactly once, the redelivered
duplicates are absorbed by the event-id dedupe, and poison records land in the
dead-letter topic with their original bytes and headers without blocking
their partition.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from phananh_contracts import ReportReceivedEvent, dead_letter_topic
from phananh_contracts.events import ReportReceived
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings, MongoSettings
from pymongo import AsyncMongoClient

from tests.support.reports import sample_report

pytestmark = pytest.mark.integration

PROGRAM = Path(__file__).parent / "programs" / "durable_consumer.py"
ROOT = Path(__file__).resolve().parents[2]


def report_event(number: int) -> ReportReceivedEvent:
    data: ReportReceived = sample_report(number)
    return ReportReceivedEvent.new(data=data, source="/tests/delivery")


class ConsumerProcess:
    """One run of the durable consumer program as a separate OS process."""

    def __init__(self, env: dict[str, str], args: list[str], log: Path) -> None:
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(PROGRAM), *args],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


async def wait_until(predicate: Any, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def test_killed_consumer_loses_nothing_and_absorbs_redeliveries(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Any],
    new_topic: Any,
    tmp_path: Path,
) -> None:
    service = f"it-{uuid.uuid4().hex[:8]}"
    topic = await new_topic("it.reports", partitions=3)
    dlq = await new_topic(name=dead_letter_topic(service), partitions=1)
    collection = "effects"

    events = [report_event(number) for number in range(300)]
    poison = [
        (b"not json at all \xff\xfe", [("origin", b"\x00binary-header")]),
        (b'{"specversion": "1.0", "id": "x"}', [("origin", b"half-an-event")]),
    ]
    poison_keys: dict[bytes, bytes] = {}
    producer = RecordProducer(kafka_settings, client_id="it-producer")
    await producer.start()
    try:
        for index, event in enumerate(events):
            record = event.to_kafka()
            await producer.send(
                topic, key=record.key, value=record.value, headers=list(record.headers)
            )
            if index in (40, 170):
                value, headers = poison[0 if index == 40 else 1]
                await producer.send(topic, key=record.key, value=value, headers=headers)
                poison_keys[value] = record.key
    finally:
        await producer.stop()

    env = {
        **os.environ,
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "PHANANH_MONGODB__URL": mongo_settings.url.get_secret_value(),
        "PHANANH_MONGODB__DATABASE": mongo_settings.database,
    }
    args = ["--topic", topic, "--group", f"{service}-group", "--service", service]
    args += ["--collection", collection]
    effects = mongo_client[mongo_settings.database][collection]
    deliveries = mongo_client[mongo_settings.database][f"{collection}_deliveries"]

    async def effects_at_least(count: int) -> Any:
        async def check() -> bool:
            return await effects.count_documents({}) >= count

        return check

    # 1. The consumer crashes right after its 60th effect, before committing it.
    first = ConsumerProcess(env, [*args, "--crash-after", "60"], tmp_path / "run1.log")
    first.process.wait(timeout=120)
    assert first.process.returncode == 70, (tmp_path / "run1.log").read_text()[-3000:]
    first.log.close()
    assert await effects.count_documents({}) == 60

    # 2. Restarted, it is SIGKILLed at an arbitrary point mid-stream.
    second = ConsumerProcess(env, args, tmp_path / "run2.log")
    await wait_until(await effects_at_least(150), timeout_s=120, what="150 effects")
    second.kill()

    # 3. Restarted again, it finishes the stream and stops cleanly.
    third = ConsumerProcess(env, args, tmp_path / "run3.log")
    await wait_until(await effects_at_least(len(events)), timeout_s=120, what="all effects")
    await asyncio.sleep(1.0)  # anything still in flight would show up now
    assert third.terminate() == 0

    written = {document["_id"] async for document in effects.find({}, {"_id": 1})}
    assert written == {event.id for event in events}, "an event was lost or invented"
    assert await effects.count_documents({}) == len(events), "an effect was written twice"
    delivered = await deliveries.count_documents({})
    assert delivered > len(events), "the crash after an uncommitted effect caused no redelivery"

    dead = await read_all(kafka_settings.bootstrap_servers, dlq, expected=len(poison))
    assert sorted(record.value for record in dead) == sorted(value for value, _ in poison)
    for record in dead:
        headers = dict(record.headers)
        assert headers["x-dlq-source-topic"] == topic.encode()
        assert headers["x-dlq-service"] == service.encode()
        assert headers["x-dlq-reason"]
        original = dict(next(h for v, h in poison if v == record.value))
        assert headers["origin"] == original["origin"], "original headers were not kept"
        assert record.key == poison_keys[record.value], "the original key was not kept"
