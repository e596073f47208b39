"""Micro-benchmark: which shared rate-limit counter is cheaper on the MongoDB-wire database.

    uv run python -m bench.rate_limit_store --calls 400

Ways to count hits of one key in a fixed window, in a fresh database:

* ``inc``    one counter document per key and window, ``find_one_and_update`` with
  ``$inc`` and ``upsert=True`` (one command a hit);
* ``insert`` one small document per hit, ``_id = "<key>:<window>:<hit>"``, inserted, then
  the window's hits counted by ``_id`` range (two commands a hit, but no update);
* ``insert-capped`` as ``insert``, but the count reads at most ``limit + 1`` ids;
* ``slots``  what intake does (``intake.adapters.limits.RateLimitStore``): a hit inserts
  the next free slot ``_id = "<key>:<window>:<slot>"``; each concurrent client is an
  instance with its own memory of the slots it saw taken.

Each runs ``--calls`` hits one after the other, then the same number from ``--clients``
concurrent clients, spread over ``--keys`` keys, with ``--filler`` other documents in the
collection (older windows not pruned yet). It prints the client's mean and p95 latency
per hit, when the database is a local process (FerretDB) that process's CPU
milliseconds per hit, and the hits the database counted at the end (fewer than the hits
sent: increments were lost). The database is shared with whatever else runs on the
machine: compare figures of one run, and run it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from intake.adapters.limits import RateLimitStore
from phananh_platform.settings import LOCAL_MONGODB
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from bench.intake_throughput import cpu_s, pid_of

Hit = Callable[[AsyncCollection[Any], str, int], Awaitable[int]]
WINDOW = "29000000"
LIMIT = 600
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)
_INSTANCES: dict[tuple[int, int], RateLimitStore] = {}


async def by_inc(collection: AsyncCollection[Any], key: str, worker: int) -> int:
    for attempt in range(3):  # two first hits upserting at once: one insert wins, retry
        try:
            found = await collection.find_one_and_update(
                {"_id": f"{key}:{WINDOW}"},
                {"$inc": {"n": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            return int(found["n"])
        except DuplicateKeyError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def by_insert(collection: AsyncCollection[Any], key: str, worker: int) -> int:
    prefix = f"{key}:{WINDOW}:"
    await collection.insert_one({"_id": prefix + uuid.uuid4().hex})
    return await collection.count_documents({"_id": {"$gte": prefix, "$lt": prefix + "~"}})


async def by_insert_capped(collection: AsyncCollection[Any], key: str, worker: int) -> int:
    prefix = f"{key}:{WINDOW}:"
    await collection.insert_one({"_id": prefix + uuid.uuid4().hex})
    cursor = collection.find(
        {"_id": {"$gte": prefix, "$lt": prefix + "~"}}, {"_id": 1}, limit=LIMIT + 1
    )
    return len(await cursor.to_list())


async def counted_hits(collection: AsyncCollection[Any], mode: str) -> int:
    """The hits the database holds for one mode's keys (lost updates show here)."""
    total = 0
    async for document in collection.find({"_id": {"$regex": f"^k[0-9]+{mode}:"}}):
        total += int(document.get("n", 1))
    return total


async def by_slot(collection: AsyncCollection[Any], key: str, worker: int) -> int:
    store = _INSTANCES.setdefault((id(collection), worker), RateLimitStore(collection))
    return await store.claim(f"{key}:{WINDOW}", 10 * LIMIT, EXPIRES)


HITS: dict[str, Hit] = {
    "inc": by_inc,
    "insert": by_insert,
    "insert-capped": by_insert_capped,
    "slots": by_slot,
}


async def run(
    name: str, url: str, calls: int, clients: int, keys: int, filler: int, db_pid: int | None
) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(url, tz_aware=True)
    database = f"bench_limits_{uuid.uuid4().hex[:8]}"
    collection = client[database]["limits"]
    hit = HITS[name]
    try:
        if filler:
            await collection.insert_many(
                [{"_id": f"old:{n:06d}:{uuid.uuid4().hex}", "n": 1} for n in range(filler)]
            )
        for mode, parallel in (("sequential", 1), (f"{clients} clients", clients)):
            latencies: list[float] = []

            async def worker(
                worker_id: int, share: int, latencies: list[float] = latencies, tag: str = mode
            ) -> None:
                for number in range(share):
                    key = f"k{(worker_id + number) % keys}-{tag[0]}"
                    started = time.perf_counter()
                    await hit(collection, key, worker_id)
                    latencies.append(time.perf_counter() - started)

            cpu_before = cpu_s(db_pid) if db_pid else 0.0
            started = time.perf_counter()
            await asyncio.gather(*(worker(w, calls // parallel) for w in range(parallel)))
            elapsed = time.perf_counter() - started
            counted = await counted_hits(collection, f"-{mode[0]}")
            cpu = (cpu_s(db_pid) - cpu_before) if db_pid else float("nan")
            done = len(latencies)
            p95 = statistics.quantiles(latencies, n=20)[18] * 1000
            print(
                f"{name:14s} {mode:12s} {done:5d} hits  {done / elapsed:7.0f} hits/s  "
                f"mean {statistics.fmean(latencies) * 1000:6.2f} ms  p95 {p95:6.2f} ms  "
                f"db CPU {cpu * 1000 / done:5.2f} ms/hit  counted {counted}"
            )
    finally:
        await client.drop_database(database)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=LOCAL_MONGODB)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--filler", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default=",".join(HITS), help="e.g. inc,slots")
    args = parser.parse_args()
    port = args.url.rsplit(":", 1)[-1].split("/")[0]
    db_pid = pid_of(lambda comm, cmd: "ferretdb" in comm and f":{port}" in cmd)
    with contextlib.suppress(KeyboardInterrupt):
        for _ in range(args.rounds):
            for name in args.only.split(","):
                asyncio.run(
                    run(name, args.url, args.calls, args.clients, args.keys, args.filler, db_pid)
                )


if __name__ == "__main__":
    main()
