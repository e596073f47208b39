"""The rate limits' slots on the real database, shared by several instances of the front.

Each ``RateLimitStore`` here has a database client of its own, as two intake processes
would; they count one limit together.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intake.adapters.limits import COLLECTION, LOOKUP_SLOTS, PRUNE_GRACE, RateLimitStore
from intake.domain.limits import slot_id
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2026, 3, 14, 1, 31, tzinfo=UTC)
COUNTER = "api_key:0123456789abcdef01234567:20260314T013000Z"


class Commands(monitoring.CommandListener):
    """The database commands a client sent, by name."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


class Instance:
    """One instance of the front: its own client, its own store, one shared database."""

    def __init__(self, url: str, database: str) -> None:
        self.commands = Commands()
        self.client: AsyncMongoClient[Any] = AsyncMongoClient(
            url, tz_aware=True, event_listeners=[self.commands]
        )
        self.store = RateLimitStore(self.client[database][COLLECTION])


@pytest.fixture
async def instances(
    mongodb_url: str, mongo_settings: MongoSettings, database: AsyncDatabase[Any]
) -> AsyncIterator[tuple[Instance, Instance]]:
    pair = (
        Instance(mongodb_url, mongo_settings.database),
        Instance(mongodb_url, mongo_settings.database),
    )
    await pair[0].store.ensure_indexes()
    yield pair
    for instance in pair:
        await instance.client.close()


async def test_two_instances_taking_turns_admit_the_limit_together(
    instances: tuple[Instance, Instance],
) -> None:
    first, second = instances
    stores = [first.store, second.store, first.store, first.store, second.store, second.store]

    slots = [await store.claim(COUNTER, 5, WINDOW_END) for store in stores]

    assert slots == [1, 2, 3, 4, 5, 6], "the sixth hit, on either instance, is over the limit"


async def test_concurrent_hits_from_two_instances_never_pass_the_limit(
    instances: tuple[Instance, Instance],
) -> None:
    # A counter updated with $inc loses increments on FerretDB under exactly this load
    # (bench/rate_limit_store.py); an inserted slot goes to one hit only.
    first, second = instances
    hits = [(first if n % 2 else second).store.claim(COUNTER, 10, WINDOW_END) for n in range(40)]

    slots = await asyncio.gather(*hits)

    assert sorted(slot for slot in slots if slot <= 10) == list(range(1, 11))
    assert slots.count(11) == 30


async def test_a_full_window_refuses_without_asking_the_database(
    instances: tuple[Instance, Instance],
) -> None:
    first, _ = instances
    for _ in range(3):
        await first.store.claim(COUNTER, 3, WINDOW_END)
    assert await first.store.claim(COUNTER, 3, WINDOW_END) == 4
    sent = sum(first.commands.sent.values())

    flood = [await first.store.claim(COUNTER, 3, WINDOW_END) for _ in range(500)]

    assert set(flood) == {4}
    assert sum(first.commands.sent.values()) == sent, "a flood over the limit costs nothing"


async def test_another_subject_and_the_next_window_have_slots_of_their_own(
    instances: tuple[Instance, Instance],
) -> None:
    first, second = instances
    for _ in range(2):
        await first.store.claim(COUNTER, 2, WINDOW_END)

    assert await second.store.claim(COUNTER, 2, WINDOW_END) == 3
    assert await second.store.claim(COUNTER.replace("0123", "9999"), 2, WINDOW_END) == 1
    next_window = COUNTER.replace("013000Z", "013100Z")
    assert await second.store.claim(next_window, 2, WINDOW_END + timedelta(minutes=1)) == 1


async def test_an_instance_that_starts_late_finds_the_next_slot_in_a_few_commands(
    instances: tuple[Instance, Instance],
) -> None:
    first, second = instances
    for _ in range(200):
        await first.store.claim(COUNTER, 600, WINDOW_END)
    second.commands.sent.clear()

    assert await second.store.claim(COUNTER, 600, WINDOW_END) == 201
    # A few inserts, then one read of LOOKUP_SLOTS ids per LOOKUP_SLOTS slots taken.
    assert second.commands.sent["insert"] <= 4
    assert second.commands.sent["find"] <= 200 // LOOKUP_SLOTS + 1
    assert await first.store.claim(COUNTER, 600, WINDOW_END) == 202


async def test_prune_deletes_the_hits_of_windows_that_ended_only(
    instances: tuple[Instance, Instance], database: AsyncDatabase[Any]
) -> None:
    first, _ = instances
    old = "sender:aaaaaaaaaaaaaaaaaaaaaaaa:20260314T000000Z"
    await first.store.claim(old, 5, WINDOW_END - timedelta(hours=1))
    await first.store.claim(COUNTER, 5, WINDOW_END)

    # Within the grace after the window ended (instances' clocks differ), nothing goes.
    assert await first.store.prune(WINDOW_END - timedelta(hours=1) + PRUNE_GRACE / 2) == 0
    assert await first.store.prune(WINDOW_END) == 1

    left = [document["_id"] async for document in database[COLLECTION].find({})]
    assert left == [slot_id(COUNTER, 1)]
    # The pruned counter is forgotten here too: a new hit would start from its first slot.
    assert await first.store.claim(old, 5, WINDOW_END) == 1
