"""Audit's writer throughput against a no-logic Kafka pass-through, in one run.

    uv run phananh up --infra-only
    uv run python -m bench.audit_throughput --reports 2000

Publishes N canonical reports on ``pakn.reports.v1``, runs the audit service in this
process (trail append, read-model fold), and measures the time until N trail records
exist. The baseline is the same no-logic aiokafka pass-through as in
``intake_throughput.py``, on the same broker in the same run. Prints JSON; speed is never
asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from audit.app import create_app
from audit.domain.checkpoints import generate_signing_key
from audit.settings import Settings
from phananh_contracts import ALL_TOPICS, REPORTS_TOPIC, ReportReceivedEvent
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from bench.intake_throughput import baseline, bench_arguments, publish


def reports(count: int) -> list[tuple[bytes, bytes]]:
    records = []
    start = datetime.now(UTC)
    for number in range(count):
        data = REPORT_RECEIVED.data.model_copy(
            update={
                "report_id": str(uuid.uuid4()),
                "channel_message_id": f"bench-{number}",
                "received_at": start + timedelta(milliseconds=number),
            }
        )
        record = ReportReceivedEvent.new(data, source="/services/intake").to_kafka()
        records.append((record.key, record.value))
    return records


async def audit_run(bootstrap: str, mongo_url: str, records: list[tuple[bytes, bytes]]) -> float:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    await ensure_topics(kafka, ALL_TOPICS)
    database = f"bench_audit_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka=kafka,
        mongodb=MongoSettings(url=SecretStr(mongo_url), database=database),
        audit_signing_key=SecretStr(generate_signing_key()),
        audit_checkpoint_interval_s=3600,
    )
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    trail = client[database]["audit_trail"]
    service = create_app(settings)
    async with service.running():
        await asyncio.sleep(3)  # the consumer group has joined (and read any backlog)
        before = await trail.count_documents({})
        start = time.perf_counter()
        await publish(bootstrap, REPORTS_TOPIC.name, records)
        while await trail.count_documents({}) < before + len(records):  # noqa: ASYNC110 (polling the database)
            await asyncio.sleep(0.5)
        elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def main() -> None:
    args = bench_arguments(__doc__)
    base_s = asyncio.run(baseline(args.bootstrap, reports(args.reports)))
    audit_s = asyncio.run(audit_run(args.bootstrap, args.mongodb, reports(args.reports)))
    print(
        json.dumps(
            {
                "reports": args.reports,
                "machine": {"cores": os.cpu_count(), "memory_gib": 24},
                "baseline_pass_through_per_s": round(args.reports / base_s, 1),
                "audit_events_per_s": round(args.reports / audit_s, 1),
                "audit_vs_baseline": round(base_s / audit_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
