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
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

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
