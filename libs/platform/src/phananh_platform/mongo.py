"""MongoDB-wire database wiring (MongoDB in production, FerretDB locally).

Only features both servers have are used unconditionally: inserts, finds,
unique indexes and the simple aggregation stages. Anything only MongoDB can
do goes behind :func:`server_capabilities`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from phananh_platform.settings import MongoSettings


def create_mongo_client(settings: MongoSettings, *, app_name: str) -> AsyncMongoClient[Any]:
    """A client that connects lazily; the first operation waits for a server."""
    return AsyncMongoClient(
        settings.url.get_secret_value(),
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
    )


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
