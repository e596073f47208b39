"""Search what the platform keeps for citizens' contacts in clear.

Scanned: every database and collection of the platform's MongoDB-wire server, every
record of every topic except the two that carry raw channel messages by design (the raw
topic, kept 7 days, and intake's dead letters, kept 30), and the services' logs.
"""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from phananh_contracts import CHANNEL_RAW_TOPIC, dead_letter_topic
from pymongo import AsyncMongoClient

from tests.support.platform import Platform

RAW_BY_DESIGN = {CHANNEL_RAW_TOPIC.name, dead_letter_topic("intake")}


async def find_contacts(platform: Platform, needles: list[str]) -> list[str]:
    """Where any of ``needles`` appears: 'db.collection', 'topic', 'log:<service>'."""
    found: list[str] = []
    client: AsyncMongoClient[Any] = AsyncMongoClient(platform.stack.database_url, tz_aware=True)
    try:
        for name in await client.list_database_names():
            if name in {"admin", "local", "config"}:
                continue
            database = client[name]
            for collection in await database.list_collection_names():
                async for document in database[collection].find({}):
                    text = json.dumps(document, default=str, ensure_ascii=False)
                    if any(needle in text for needle in needles):
                        found.append(f"{name}.{collection}")
                        break
    finally:
        await client.close()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=platform.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith("pakn."))
        for topic in topics:
            if topic in RAW_BY_DESIGN:
                continue
            partitions = [
                TopicPartition(topic, n) for n in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                continue
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            hit = False
            while not hit and [p for p in partitions if await consumer.position(p) < ends[p]]:
                batch = await consumer.getmany(*partitions, timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        text = (record.value or b"").decode("utf-8", "replace")
                        if any(needle in text for needle in needles):
                            hit = True
            if hit:
                found.append(topic)
    finally:
        await consumer.stop()

    for service, text in platform.logs().items():
        if service in {"kafka", "database"}:
            continue
        if any(needle in text for needle in needles):
            found.append(f"log:{service}")
    return found
