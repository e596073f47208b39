"""The MongoDB-wire database through pymongo's AsyncMongoClient, for real."""

from __future__ import annotations

from typing import Any

import pytest
from phananh_platform.mongo import (
    create_mongo_client,
    insert_once,
    server_capabilities,
    wait_for_mongo,
)
from phananh_platform.settings import MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration

TEXT = "Hộ kinh doanh bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh"


async def test_unique_index_rejects_a_duplicate_event_id(
    mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> None:
    trail = mongo_client[mongo_settings.database]["trail"]
    await trail.create_index("event_id", unique=True, name="event_id_unique")

    await trail.insert_one({"event_id": "evt-1", "text": TEXT})
    with pytest.raises(DuplicateKeyError):
        await trail.insert_one({"event_id": "evt-1", "text": "a rewrite"})

    assert await insert_once(trail, {"event_id": "evt-2", "text": TEXT}) is True
    assert await insert_once(trail, {"event_id": "evt-2", "text": TEXT}) is False

    stored = [document async for document in trail.find({}, {"_id": 0}).sort("event_id", 1)]
    assert stored == [{"event_id": "evt-1", "text": TEXT}, {"event_id": "evt-2", "text": TEXT}]
    indexes = await trail.index_information()
    assert indexes["event_id_unique"].get("unique") is True


async def test_platform_client_round_trips_vietnamese_text_and_aware_times(
    mongo_settings: MongoSettings,
) -> None:
    from datetime import UTC, datetime

    client = create_mongo_client(mongo_settings, app_name="phananh-test")
    try:
        reports = client[mongo_settings.database]["reports"]
        received_at = datetime(2023, 3, 14, 2, 30, tzinfo=UTC)
        await reports.insert_one({"_id": "r-1", "text": TEXT, "received_at": received_at})
        found = await reports.find_one({"_id": "r-1"})
        assert found is not None
        assert found["text"] == TEXT
        assert found["received_at"] == received_at
        assert found["received_at"].tzinfo is not None
        capabilities = await server_capabilities(client)
        assert capabilities.flavour in {"ferretdb", "mongodb"}
    finally:
        await client.close()


async def test_waiting_for_an_absent_database_names_the_problem() -> None:
    absent = MongoSettings(
        url=SecretStr("mongodb://127.0.0.1:1/?directConnection=true"),
        server_selection_timeout_ms=200,
    )
    with pytest.raises(TimeoutError, match="did not answer"):
        await wait_for_mongo(absent, timeout_s=0.5)


async def test_the_local_database_answers_id_lookups_from_an_index(
    servers: Any, mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> None:
    """FerretDB's own _id index is on another expression than its _id lookups use; the
    project's FerretDB adds the one they use to every collection (decision 0003)."""
    import asyncio
    import sqlite3

    from phananh_cli.stack import Paths

    if "ferretdb" not in str(servers.origin.get("database", "")):
        pytest.skip("only the local stack's FerretDB stores collections in SQLite files")
    cases = mongo_client[mongo_settings.database]["cases"]
    await cases.insert_one({"_id": "report-1", "status": "assigned"})
    path = Paths.resolve().data / "ferretdb" / f"{mongo_settings.database}.sqlite"

    def plan() -> str:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            (table,) = db.execute(
                "SELECT table_name FROM _ferretdb_collections WHERE name = 'cases'"
            ).fetchone()
            rows = db.execute(
                f'EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "{table}" '
                "WHERE _ferretdb_sjson->'$._id' = ?",
                ('"report-1"',),
            ).fetchall()
        return " ".join(str(row[-1]) for row in rows)

    for _ in range(30):  # the index is added within a few seconds of the table
        if "USING INDEX" in plan():
            break
        await asyncio.sleep(0.5)
    assert "USING INDEX" in plan(), (
        f"{plan()}: is the running FerretDB an older build? phananh down; phananh up --infra-only"
    )
    assert await cases.find_one({"_id": "report-1"}) == {"_id": "report-1", "status": "assigned"}

    # An optimistic update's filter holds more than _id ({_id, version}): the project's
    # FerretDB still narrows it by _id through that index (deploy/local/ferretdb/*.patch).
    explained = await mongo_client[mongo_settings.database].command(
        "explain", {"find": "cases", "filter": {"_id": "report-1", "status": "assigned"}}
    )
    assert explained["filterPushdown"] is True
    assert "USING INDEX" in " ".join(explained["queryPlanner"]["Plan"])
    assert await cases.find_one({"_id": "report-1", "status": "resolved"}) is None

    # A few known documents at once ({_id: {$in: [...]}}, intake's day buckets) too.
    await cases.insert_many([{"_id": f"report-{n}", "status": "open"} for n in range(2, 6)])
    wanted = {"_id": {"$in": ["report-2", "report-4", "report-9"]}}
    explained = await mongo_client[mongo_settings.database].command(
        "explain", {"find": "cases", "filter": wanted}
    )
    assert explained["filterPushdown"] is True
    assert "USING INDEX" in " ".join(explained["queryPlanner"]["Plan"])
    assert sorted([d["_id"] async for d in cases.find(wanted)]) == ["report-2", "report-4"]
    found = [d["_id"] async for d in cases.find({**wanted, "status": "open"})]
    assert sorted(found) == ["report-2", "report-4"]

    # An empty list names no document: the patched FerretDB reads no row (it read them all).
    explained = await mongo_client[mongo_settings.database].command(
        "explain", {"find": "cases", "filter": {"_id": {"$in": []}}}
    )
    assert explained["filterPushdown"] is True, explained["queryPlanner"]
    assert [d async for d in cases.find({"_id": {"$in": []}})] == []


async def test_database_time_is_measured_by_command_and_collection(
    mongo_settings: MongoSettings,
) -> None:
    """What an operator reads on /metrics to see where a service's database time goes."""
    from phananh_platform.mongo import DatabaseMetrics
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    client = create_mongo_client(
        mongo_settings, app_name="phananh-test", listeners=[DatabaseMetrics(registry)]
    )

    def sample(name: str, command: str, collection: str) -> float:
        labels = {"command": command, "collection": collection}
        return registry.get_sample_value(name, labels) or 0.0

    try:
        cases = client[mongo_settings.database]["metered_cases"]
        await cases.insert_one({"_id": "report-1", "status": "assigned"})
        with pytest.raises(DuplicateKeyError):
            await cases.insert_one({"_id": "report-1", "status": "assigned"})
        for _ in range(3):
            assert await cases.find_one({"_id": "report-1"}) is not None
        await cases.update_one({"_id": "report-1"}, {"$set": {"status": "resolved"}})
    finally:
        await client.close()

    assert sample("pakn_db_command_seconds_count", "insert", "metered_cases") == 2
    assert sample("pakn_db_command_failures_total", "insert", "metered_cases") == 1
    assert sample("pakn_db_command_seconds_count", "find", "metered_cases") == 3
    assert sample("pakn_db_command_seconds_sum", "find", "metered_cases") > 0
    assert sample("pakn_db_command_seconds_count", "update", "metered_cases") == 1
    assert sample("pakn_db_command_failures_total", "update", "metered_cases") == 0


async def test_services_write_with_majority_acknowledgement_and_the_database_accepts_it(
    mongo_settings: MongoSettings,
) -> None:
    """Every service's client asks for w=majority with the journal (a replica set then
    keeps an acknowledged write through a failover); FerretDB and a single server take it."""
    client = create_mongo_client(mongo_settings, app_name="test-write-concern")
    try:
        assert client.write_concern.document == {"w": "majority", "j": True}
        collection = client[mongo_settings.database]["acknowledged"]
        result = await collection.insert_one({"text": TEXT})
        assert result.acknowledged
        assert await collection.count_documents({}) == 1
    finally:
        await client.drop_database(mongo_settings.database)
        await client.close()
    single = mongo_settings.model_copy(update={"write_concern": "1"})
    client = create_mongo_client(single, app_name="test-write-concern")
    assert client.write_concern.document == {"w": 1, "j": True}
    await client.close()
