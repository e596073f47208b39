"""Intake's normalizer throughput against a no-logic Kafka pass-through, in one run.

    uv run phananh up --infra-only
    uv run python -m bench.intake_throughput --reports 2000

Publishes N raw app messages (Vietnamese, varied wards and categories) to
``pakn.channel.raw.v1``, runs the intake service in this process, and measures the time
until N canonical reports are on ``pakn.reports.v1``. The baseline is an aiokafka
consumer that forwards the same records to another topic one by one with acks=all (the
same hop, no logic), measured on the same broker in the same run. Prints JSON: both
rates, their ratio, and the machine's size. Speed is never asserted; this is a
measurement for the notes (the full benchmark is bench's future pipeline benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from intake.app import create_app
from intake.domain.tracking import report_id
from intake.settings import Settings
from phananh_contracts import (
    ALL_TOPICS,
    CHANNEL_RAW_TOPIC,
    REPORTS_TOPIC,
    Channel,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
)
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.settings import LOCAL_KAFKA, LOCAL_MONGODB, KafkaSettings, MongoSettings
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh",
    "Rác thải ùn ứ bốc mùi ở tổ 5 phường Chiềng Lề, xin cho xe thu gom",
    "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối",
    "Mất nước sinh hoạt 3 ngày nay ở bản Hụm, phường Chiềng An",
    "Xe tải chở đất rơi vãi trên đường qua phường Chiềng Cơi, nguy hiểm cho xe máy",
]


def raw_records(count: int) -> list[tuple[bytes, bytes]]:
    records = []
    for number in range(count):
        message_id = f"bench-{uuid.uuid4().hex}"
        body = {
            "text": f"{TEXTS[number % len(TEXTS)]} (lần {number})",
            "anonymous": False,
            "consent": True,
            "contact": {"phone": f"09{number:08d}"[:10]},
        }
        event = RawChannelMessageReceivedEvent.new(
            RawChannelMessageReceived(
                channel=Channel.APP,
                channel_message_id=message_id,
                received_at=datetime.now(UTC),
                content_type="application/json",
                body=json.dumps(body, ensure_ascii=False),
                body_encoding="utf-8",
                authenticated_as="api-key:app:bench",
            ),
            source="/channels/app",
        )
        record = event.to_kafka()
        records.append((record.key, record.value))
    return records


async def publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await asyncio.gather(*(producer.send(topic, value, key=key) for key, value in records))
        await producer.flush()
    finally:
        await producer.stop()


async def done_at(bootstrap: str, topic: str, wanted: set[bytes]) -> float:
    """The moment every wanted key has appeared on the topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    try:
        while wanted:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    wanted.discard(record.key)
        return time.perf_counter()
    finally:
        await consumer.stop()


async def baseline(bootstrap: str, records: list[tuple[bytes, bytes]]) -> float:
    """No-logic pass-through: consume one by one, forward with acks=all, commit."""
    source, target = f"bench.in.{uuid.uuid4().hex[:6]}", f"bench.out.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(source, 6, 1), NewTopic(target, 6, 1)])
    await admin.close()
    await publish(bootstrap, source, records)
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    start = time.perf_counter()
    forwarded = 0
    try:
        while forwarded < len(records):
            record = await consumer.getone()
            await producer.send_and_wait(target, record.value, key=record.key)
            await consumer.commit()
            forwarded += 1
        return time.perf_counter() - start
    finally:
        await consumer.stop()
        await producer.stop()


async def intake_run(bootstrap: str, mongo_url: str, records: list[tuple[bytes, bytes]]) -> float:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    await ensure_topics(kafka, ALL_TOPICS)
    settings = Settings(
        kafka=kafka,
        mongodb=MongoSettings(url=SecretStr(mongo_url), database=f"bench_{uuid.uuid4().hex[:8]}"),
        city_config=ROOT / "config" / "son-la" / "city.yaml",
        tracking_secret=SecretStr("bench-tracking-secret-0123456789abcdef"),
        contact_keys=[SecretStr(new_contact_key())],
        pseudonym_key=SecretStr("bench-pseudonym-key-0123456789abcdef"),
    )
    service = create_app(settings)
    async with service.running():
        await asyncio.sleep(3)  # the consumer group has joined
        wanted = set()
        for key, _ in records:
            channel, _, message_id = key.decode().partition(":")
            wanted.add(report_id(channel, message_id).encode())
        watcher = asyncio.create_task(done_at(bootstrap, REPORTS_TOPIC.name, wanted))
        await asyncio.sleep(1)  # the watcher is positioned at the end
        start = time.perf_counter()
        await publish(bootstrap, CHANNEL_RAW_TOPIC.name, records)
        return await watcher - start


def bench_arguments(description: str | None) -> argparse.Namespace:
    """--reports, and where Kafka and the database are (the local stack by default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("PHANANH_KAFKA__BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    )
    parser.add_argument("--mongodb", default=os.environ.get("PHANANH_MONGODB__URL", LOCAL_MONGODB))
    return parser.parse_args()


def main() -> None:
    args = bench_arguments(__doc__)
    records = raw_records(args.reports)
    base_s = asyncio.run(baseline(args.bootstrap, records))
    intake_s = asyncio.run(intake_run(args.bootstrap, args.mongodb, raw_records(args.reports)))
    result = {
        "reports": args.reports,
        "machine": {"cores": os.cpu_count(), "memory_gib": 24},
        "baseline_pass_through_per_s": round(args.reports / base_s, 1),
        "intake_reports_per_s": round(args.reports / intake_s, 1),
        "intake_vs_baseline": round(base_s / intake_s, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
