"""Bulk writes on the real database: small commands, one refusal report, no stalled pool."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from phananh_platform.mongo import STATEMENTS_PER_COMMAND, bulk_write
from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

pytestmark = pytest.mark.integration


def _collection(client: AsyncMongoClient[Any]) -> Any:
    return client["pakn_platform_tests"][f"bulk_{uuid.uuid4().hex[:10]}"]


async def test_every_kind_of_statement_is_written_and_counted(
    mongo_client: AsyncMongoClient[Any],
) -> None:
    collection = _collection(mongo_client)
    await collection.insert_many([{"_id": f"d{i}", "n": 0} for i in range(20)])
    operations = [InsertOne({"_id": f"new{i}", "n": 1}) for i in range(30)]
    operations += [UpdateOne({"_id": f"d{i}"}, {"$set": {"n": 2}}) for i in range(20)]
    operations += [ReplaceOne({"_id": "r"}, {"n": 3}, upsert=True)]

    outcome = await bulk_write(collection, operations)

    assert (outcome.inserted_count, outcome.matched_count, outcome.upserted_count) == (30, 20, 1)
    assert await collection.count_documents({"n": 2}) == 20
    assert await collection.count_documents({}) == 51
    await collection.drop()


async def test_refusals_name_the_callers_indexes_after_every_statement_was_tried(
    mongo_client: AsyncMongoClient[Any],
) -> None:
    collection = _collection(mongo_client)
    await collection.insert_many([{"_id": "taken-1"}, {"_id": "taken-2"}])
    operations: list[Any] = [
        UpdateOne({"_id": f"u{i}"}, {"$set": {"n": i}}, upsert=True)
        for i in range(3 * STATEMENTS_PER_COMMAND)
    ]
    operations.insert(2, InsertOne({"_id": "taken-1"}))
    operations.append(InsertOne({"_id": "taken-2"}))
    operations.append(InsertOne({"_id": "fresh"}))

    with pytest.raises(BulkWriteError) as refused:
        await bulk_write(collection, operations)

    indexes = sorted(item["index"] for item in refused.value.details["writeErrors"])
    assert indexes == [2, len(operations) - 2]
    assert all(item["code"] == 11000 for item in refused.value.details["writeErrors"])
    assert await collection.count_documents({}) == 2 + 3 * STATEMENTS_PER_COMMAND + 1
    await collection.drop()


async def test_concurrent_bulk_updates_of_hundreds_of_statements_all_finish(
    mongo_client: AsyncMongoClient[Any],
) -> None:
    # One FerretDB update command holds a connection per statement until it returns, of a
    # pool of 100: four writers of 60 statements each in single commands stall the server.
    collections = [_collection(mongo_client) for _ in range(4)]
    for collection in collections:
        await collection.insert_many([{"_id": i, "n": 0} for i in range(60)])

    async def update_all(collection: Any) -> int:
        operations = [UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(60)]
        return (await bulk_write(collection, operations)).matched_count

    matched = await asyncio.wait_for(
        asyncio.gather(*(update_all(c) for c in collections)), timeout=120
    )

    assert matched == [60, 60, 60, 60]
    for collection in collections:
        assert await collection.count_documents({"n": 1}) == 60
        await collection.drop()


async def test_ordered_writes_stop_at_the_first_refusal_and_name_it(
    mongo_client: AsyncMongoClient[Any],
) -> None:
    collection = _collection(mongo_client)
    await collection.create_index("k", unique=True)
    await collection.insert_one({"_id": "holder", "k": 12})
    operations = [UpdateOne({"_id": f"u{i}"}, {"$set": {"k": i}}, upsert=True) for i in range(20)]

    with pytest.raises(BulkWriteError) as refused:
        await bulk_write(collection, operations, ordered=True)

    assert [item["index"] for item in refused.value.details["writeErrors"]] == [12]
    written = [d["k"] async for d in collection.find({"_id": {"$ne": "holder"}})]
    assert sorted(written) == list(range(12))
    await collection.drop()
