"""Search what the platform keeps for citizens' contacts in clear.

Scanned: every database and collection of the platform's MongoDB-wire server, every
record of every topic except the two that carry raw channel messages by design (the raw
topic, kept 7 days, and intake's dead letters, kept 30), and the services' logs.
"""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer
from phananh_contracts import CHANNEL_RAW_TOPIC, ContactKeyIssued, dead_letter_topic
from phananh_platform.contact_keys import as_key, filed_contact_keys
from phananh_platform.kafka import read_topic
from phananh_platform.privacy import ContactSealer, SealedContact, key_id_of
from phananh_platform.settings import KafkaSettings
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

    for topic in sorted(await _topics(platform)):
        if topic in RAW_BY_DESIGN:
            continue
        records = await read_topic(platform.kafka, topic, client_id="privacy-scan")
        texts = ((record.value or b"").decode("utf-8", "replace") for record in records)
        if any(needle in text for text in texts for needle in needles):
            found.append(topic)

    for service, text in platform.logs().items():
        if service in {"kafka", "database"}:
            continue
        if any(needle in text for needle in needles):
            found.append(f"log:{service}")
    return found


async def _topics(platform: Platform) -> set[str]:
    consumer = AIOKafkaConsumer(**platform.kafka.client_options(), group_id=None)
    await consumer.start()
    try:
        return {topic for topic in await consumer.topics() if topic.startswith("pakn.")}
    finally:
        await consumer.stop()


async def open_contact(kafka: KafkaSettings, master_key: str, sealed: str) -> SealedContact:
    """A sealed contact, opened as notify would: with its key, read from the keys topic.

    ``ContactKeyUnknown`` if its key is not filed (or was destroyed)."""
    filed = await filed_contact_keys(kafka, client_id="test-open-contact")
    data = filed.get(key_id_of(sealed) or "")
    key = as_key(data) if isinstance(data, ContactKeyIssued) else None
    return ContactSealer([master_key]).open(sealed, key)
