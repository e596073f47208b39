"""Fixtures shared by every test in the repository (tests/, libs/*, services/*).

Servers are real (see tests/support/servers.py): a test asks for
``kafka_bootstrap`` or ``mongodb_url`` and gets a running Kafka broker or
MongoDB-wire database, or fails under CI.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.servers import Servers, resolve_servers, unavailable

_resolved: list[Servers] = []


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with resolve_servers() as found:
        _resolved.append(found)
        yield found


@pytest.fixture(scope="session")
def kafka_bootstrap(servers: Servers) -> str:
    if not servers.kafka_bootstrap:
        unavailable("Kafka broker", servers)
    assert servers.kafka_bootstrap
    return servers.kafka_bootstrap


@pytest.fixture(scope="session")
def mongodb_url(servers: Servers) -> str:
    if not servers.mongodb_url:
        unavailable("MongoDB-wire database", servers)
    assert servers.mongodb_url
    return servers.mongodb_url


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def mongo_settings(mongodb_url: str) -> MongoSettings:
    return MongoSettings(url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def mongo_client(mongodb_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongodb_url, serverSelectionTimeoutMS=10_000, tz_aware=True
    )
    yield client
    await client.close()


@pytest.fixture
async def database(
    mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> AsyncIterator[AsyncDatabase[Any]]:
    """A database of its own for the test (``mongo_settings.database``), dropped after it."""
    yield mongo_client[mongo_settings.database]
    await mongo_client.drop_database(mongo_settings.database)


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Create uniquely named topics for one test; they are deleted afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def create(prefix: str = "test", partitions: int = 3, name: str | None = None) -> str:
        topic = name or f"{prefix}.{uuid.uuid4().hex[:10]}"
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        created.append(topic)
        return topic

    yield create
    if created:
        await admin.delete_topics(created)
    await admin.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for found in _resolved:
        for server, origin in found.origin.items():
            terminalreporter.write_line(f"{server} server: {origin}")
