"""MongoDB-wire database wiring (MongoDB in production, FerretDB locally).

Only features both servers have are used unconditionally: inserts, finds,
unique indexes and the simple aggregation stages. Anything only MongoDB can
do goes behind :func:`server_capabilities`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from pymongo import (
    AsyncMongoClient,
    DeleteMany,
    DeleteOne,
    InsertOne,
    ReplaceOne,
    UpdateMany,
    UpdateOne,
    monitoring,
)
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError, WriteError

from phananh_platform.settings import MongoSettings


def create_mongo_client(
    settings: MongoSettings,
    *,
    app_name: str,
    listeners: Sequence[monitoring.CommandListener] = (),
) -> AsyncMongoClient[Any]:
    """A client that connects lazily; the first operation waits for a server."""
    return AsyncMongoClient(
        settings.url.get_secret_value(),
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
        event_listeners=list(listeners),
        w="majority" if settings.write_concern == "majority" else 1,
        journal=True,
    )


# Commands whose first field names the collection they work on.
_COLLECTION_COMMANDS = frozenset(
    {
        "find", "insert", "update", "delete", "findAndModify", "aggregate", "count",
        "distinct", "createIndexes", "listIndexes", "drop",
    }
)  # fmt: skip
# Seconds; a FerretDB scan of a large collection takes hundreds of milliseconds.
_SECONDS_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0
)  # fmt: skip


class DatabaseMetrics(monitoring.CommandListener):
    """Time of every database command a service sends, by command and collection.

    * ``pakn_db_command_seconds{command,collection}`` (histogram): from the request
      leaving to the reply arriving, as the driver sees it (queueing in the server
      included, waiting for a pooled connection not);
    * ``pakn_db_command_failures_total{command,collection}``: commands the server refused
      (a duplicate key, an unreachable server…).

    Where a service's database time goes, per collection: ``rate(…_sum) / rate(…_count)``
    is the mean time of a command, ``rate(…_sum)`` the share of a second spent in it.
    Commands without a collection (``ping``, ``hello``, ``getMore``…) are labelled
    with ``-``; a ``getMore`` continues a ``find``, whose first batch is timed as ``find``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "pakn_db_command_seconds",
            "Database commands' time as the driver measures it",
            ["command", "collection"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "pakn_db_command_failures_total",
            "Database commands that ended in an error",
            ["command", "collection"],
            registry=registry,
        )
        self._collections: dict[tuple[int, object], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _COLLECTION_COMMANDS:
            target = event.command.get(name)
            if isinstance(target, str):
                self._collections[(event.request_id, event.connection_id)] = target

    def _collection(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent
    ) -> str:
        return self._collections.pop((event.request_id, event.connection_id), "-")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        collection = self._collection(event)
        self.seconds.labels(event.command_name, collection).observe(event.duration_micros / 1e6)
        if event.reply.get("writeErrors"):
            self.failures.labels(event.command_name, collection).inc()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        collection = self._collection(event)
        self.seconds.labels(event.command_name, collection).observe(event.duration_micros / 1e6)
        self.failures.labels(event.command_name, collection).inc()


DUPLICATE_KEY = 11000
"""The server's code for a write refused by a unique index."""


def duplicate_indexes(error: BulkWriteError) -> set[int]:
    """The indexes of the operations a bulk write refused on a unique key (a redelivery,
    or another writer first); any other failure is raised again."""
    errors = error.details.get("writeErrors") or []
    if not errors or any(item.get("code") != DUPLICATE_KEY for item in errors):
        raise error
    return {int(item["index"]) for item in errors}


async def insert_once(collection: AsyncCollection[Any], document: dict[str, Any]) -> bool:
    """Insert ``document`` unless a unique index already holds its key.

    Returns True when this call wrote it, False when it was there already:
    the building block of idempotent handlers (a redelivered event writes
    nothing twice).
    """
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


STATEMENTS_PER_COMMAND = 8
"""Update, replace and delete statements sent in one command by :func:`bulk_write`.

FerretDB 1.24 (SQLite) keeps the query of every statement of an ``update`` command open
until the whole command returns, each holding one of the 100 SQLite connections its pool
shares among all clients: a few services sending bulk updates of dozens of statements at
once exhaust the pool, and every writer then waits forever (seen as a pipeline that
stops dead under load). With at most 8 statements per command, sent one command at a
time per call, a deployment's processes together stay far below the pool. MongoDB is
indifferent: it runs a small command in about the time of a large one's share."""


ORDERED_INSERT_LIMIT = 100
"""Documents per ``insert_many(..., ordered=True)`` where order matters.

FerretDB 1.24 inserts in batches of 100 and, after a refused document, skips the rest of
that batch but goes on with the next ones, reporting them in ``nInserted``: only within
100 documents does an ordered insert stop at the first refusal, as MongoDB's always does.
Read the first ``writeErrors`` index, never ``nInserted``, as the count written."""


@dataclass
class BulkOutcome:
    """What :func:`bulk_write` did, summed over its commands."""

    inserted_count: int = 0
    matched_count: int = 0
    modified_count: int = 0
    upserted_count: int = 0
    deleted_count: int = 0


async def bulk_write(
    collection: AsyncCollection[Any], operations: Sequence[Any], *, ordered: bool = False
) -> BulkOutcome:
    """``operations`` written in commands of at most :data:`STATEMENTS_PER_COMMAND`
    statements, one after the other (unordered: the inserts all in one command).

    As ``collection.bulk_write(operations, ordered=...)`` does, unordered tries every
    operation and ordered stops at the first refusal; either way a refusal is raised as
    one ``BulkWriteError`` whose ``writeErrors`` carry the indexes of ``operations`` (so
    callers read it the same way whether it came in the first command or the last).
    """
    outcome = BulkOutcome()
    errors: list[dict[str, Any]] = []
    for part in _parts(operations, ordered=ordered):
        if errors and ordered:
            break
        try:
            result = await collection.bulk_write([operations[i] for i in part], ordered=ordered)
        except KeyError:
            # FerretDB answers an update command with a write error without 'nModified',
            # which pymongo cannot merge: the part again, a statement at a time.
            errors += await _one_at_a_time(collection, operations, part, outcome, ordered)
            continue
        except BulkWriteError as error:
            details = error.details
            errors += [{**item, "index": part[item["index"]]} for item in details["writeErrors"]]
            outcome.inserted_count += details.get("nInserted", 0)
            outcome.matched_count += details.get("nMatched", 0)
            outcome.modified_count += details.get("nModified", 0)
            outcome.upserted_count += details.get("nUpserted", 0)
            outcome.deleted_count += details.get("nRemoved", 0)
            continue
        outcome.inserted_count += result.inserted_count
        outcome.matched_count += result.matched_count
        outcome.modified_count += result.modified_count
        outcome.upserted_count += result.upserted_count
        outcome.deleted_count += result.deleted_count
    if errors:
        raise BulkWriteError(
            {
                "writeErrors": errors,
                "writeConcernErrors": [],
                "nInserted": outcome.inserted_count,
                "nMatched": outcome.matched_count,
                "nModified": outcome.modified_count,
                "nUpserted": outcome.upserted_count,
                "nRemoved": outcome.deleted_count,
                "upserted": [],
            }
        )
    return outcome


def _parts(operations: Sequence[Any], *, ordered: bool) -> list[list[int]]:
    """The indexes of ``operations`` per command."""
    if ordered:
        indexes = list(range(len(operations)))
        inserts: list[int] = []
    else:
        inserts = [i for i, op in enumerate(operations) if isinstance(op, InsertOne)]
        indexes = [i for i, op in enumerate(operations) if not isinstance(op, InsertOne)]
    parts = [inserts] if inserts else []
    step = STATEMENTS_PER_COMMAND
    return parts + [indexes[i : i + step] for i in range(0, len(indexes), step)]


async def _one_at_a_time(
    collection: AsyncCollection[Any],
    operations: Sequence[Any],
    part: list[int],
    outcome: BulkOutcome,
    ordered: bool,
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for index in part:
        operation = operations[index]
        try:
            await _write_one(collection, operation, outcome)
        except WriteError as error:  # DuplicateKeyError included
            errors.append({"index": index, "code": error.code, "errmsg": str(error)})
            if ordered:
                break
    return errors


async def _write_one(
    collection: AsyncCollection[Any], operation: Any, outcome: BulkOutcome
) -> None:
    # pymongo's bulk operations keep their arguments in these attributes.
    match operation:
        case InsertOne():
            await collection.insert_one(operation._doc)
            outcome.inserted_count += 1
            return
        case UpdateOne() | UpdateMany() | ReplaceOne():
            where, change, upsert = operation._filter, operation._doc, bool(operation._upsert)
            if isinstance(operation, UpdateOne):
                result = await collection.update_one(where, change, upsert=upsert)
            elif isinstance(operation, UpdateMany):
                result = await collection.update_many(where, change, upsert=upsert)
            else:
                result = await collection.replace_one(where, operation._doc, upsert=upsert)
            outcome.matched_count += result.matched_count
            outcome.modified_count += result.modified_count
            outcome.upserted_count += result.upserted_id is not None
            return
        case DeleteOne() | DeleteMany():
            delete = (
                collection.delete_one
                if isinstance(operation, DeleteOne)
                else collection.delete_many
            )
            outcome.deleted_count += (await delete(operation._filter)).deleted_count
            return
    raise TypeError(f"not a bulk write operation: {operation!r}")


@dataclass(frozen=True)
class ServerCapabilities:
    """What the connected server supports beyond the common subset."""

    flavour: str
    version: str
    transactions: bool
    change_streams: bool


async def server_capabilities(client: AsyncMongoClient[Any]) -> ServerCapabilities:
    """Tell FerretDB from MongoDB, and what each can do."""
    info = await client.admin.command("buildInfo")
    if "ferretdbVersion" in info or "ferretdbFeatures" in info:
        return ServerCapabilities("ferretdb", str(info.get("version")), False, False)
    hello = await client.admin.command("hello")
    replicated = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
    return ServerCapabilities("mongodb", str(info.get("version")), replicated, replicated)


async def ping(client: AsyncMongoClient[Any]) -> None:
    """Raise if the database does not answer."""
    await client.admin.command("ping")


async def wait_for_mongo(settings: MongoSettings, *, timeout_s: float) -> None:
    """Wait until the database answers a ping, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    client = create_mongo_client(settings, app_name="phananh-probe")
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            try:
                await ping(client)
                return
            except PyMongoError as error:
                last_error = error
        raise TimeoutError(f"the database did not answer: {last_error}")
    finally:
        await client.close()
