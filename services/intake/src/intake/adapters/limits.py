"""The HTTP front's rate limits, counted in intake's database and shared by every instance.

Collection ``intake_rate_limits``: one small document per admitted hit,
``_id = "<scope>:<subject>:<window start>:<slot>"`` (:func:`intake.domain.limits.slot_id`,
the subject a keyed hash, never a phone number or an address in clear) and ``expires``
(the end of its window).

**Slots, not counters.** A hit claims the first free slot of its counter, 1 to the limit,
by *inserting* that slot's document: the unique ``_id`` makes each slot go to exactly one
hit, whichever instance sends it, so the instances admit at most the limit together.
When every slot is taken the hit is refused. The obvious counter (one document per
window, ``$inc`` with ``find_one_and_update``) loses increments on FerretDB 1.24, whose
updates read and write the document in two steps: 2 to 4 clients sending 400 hits
together counted 354 to 388 of them (216 with ``update_one``), and an uncontended update
cost FerretDB 2.3-5.4 ms of CPU where a slot costs 0.9-1.0 (``bench/rate_limit_store.py``,
figures in docs/intake.md; on MongoDB ``$inc`` would be right, slots are right on both).

Each instance remembers the highest slot it knows taken (``_taken``), so its next hit
tries the next one: one insert a hit when it alone serves the subject, one more for each
hit another instance admitted since. Once the limit is reached it refuses the rest of
the window without asking the database at all: a flood costs nothing. Windows that ended
are deleted by :meth:`RateLimitStore.prune`, on a timer (FerretDB has no TTL index).

**Failing open.** When the database does not answer within ``timeout_s`` (or fails), the
request is admitted and counted in ``pakn_intake_rate_limit_unchecked_total{scope}``: a
citizen's report is never lost to the limiter, whose failure only lifts the limits; for
``failure_pause_s`` afterwards the limiter does not even try, so an outage does not slow
the front down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from intake.domain.limits import (
    Limit,
    RateLimits,
    Verdict,
    api_client_identity,
    client_ip_identity,
    counter_id,
    decide,
    slot_id,
    subject_of,
)
from intake.metrics import IntakeMetrics

logger = logging.getLogger("phananh.intake.limits")

COLLECTION = "intake_rate_limits"
LINEAR_PROBES = 3
"""Taken slots tried one by one before the next free one is looked up (``_first_free``)."""
LOOKUP_SLOTS = 64
"""Slots looked up at once (one ``_id $in``) when many were taken meanwhile (a restart)."""
PRUNE_GRACE = timedelta(minutes=5)
"""A window's hits are deleted this long after it ended: clocks of instances may differ."""


class RateLimitStore:
    """The slots of the rate limits' counters (see the module's doc)."""

    def __init__(self, collection: AsyncCollection[Any], *, query_indexes: bool = True) -> None:
        self.hits = collection
        self.query_indexes = query_indexes
        self._taken: dict[str, tuple[int, datetime]] = {}
        """Counter -> the highest slot known taken, and when the counter's window ends."""

    async def ensure_indexes(self) -> None:
        if self.query_indexes:  # serves prune() on MongoDB; FerretDB scans either way
            await self.hits.create_index("expires", name="expires")

    async def claim(self, counter: str, limit: int, expires: datetime) -> int:
        """The slot this hit claimed (1 to ``limit``), or ``limit + 1`` when all are taken."""
        slot = self._known(counter) + 1
        probes = 0
        while slot <= limit:
            try:
                await self.hits.insert_one({"_id": slot_id(counter, slot), "expires": expires})
            except DuplicateKeyError:  # another hit (another instance) has it
                self._seen(counter, slot, expires)
                probes += 1
                if probes < LINEAR_PROBES:
                    slot += 1
                else:
                    slot = await self._first_free(counter, expires)
                continue
            self._seen(counter, slot, expires)
            return slot
        self._seen(counter, limit, expires)
        return limit + 1

    def _known(self, counter: str) -> int:
        known = self._taken.get(counter)
        return known[0] if known else 0

    def _seen(self, counter: str, slot: int, expires: datetime) -> None:
        if slot > self._known(counter):
            self._taken[counter] = (slot, expires)

    async def _first_free(self, counter: str, expires: datetime) -> int:
        """The first slot after those known taken that has no document (one ``$in`` read
        for every :data:`LOOKUP_SLOTS` taken ones; slots above the limit are never taken)."""
        start = self._known(counter) + 1
        while True:
            ids = {slot_id(counter, slot): slot for slot in range(start, start + LOOKUP_SLOTS)}
            found = self.hits.find({"_id": {"$in": list(ids)}}, {"_id": 1})
            taken = {ids[document["_id"]] async for document in found}
            free = [slot for slot in ids.values() if slot not in taken]
            if free:
                self._seen(counter, free[0] - 1, expires)
                return free[0]
            self._seen(counter, start + LOOKUP_SLOTS - 1, expires)
            start += LOOKUP_SLOTS

    async def prune(self, now: datetime) -> int:
        """Delete the hits of windows that ended; forget them here too. The number deleted."""
        cutoff = now - PRUNE_GRACE
        self._taken = {c: known for c, known in self._taken.items() if known[1] > now}
        deleted = await self.hits.delete_many({"expires": {"$lt": cutoff}})
        return deleted.deleted_count


def _now() -> datetime:
    return datetime.now(UTC)


class RateLimiter:
    """The front's checks: one per limit a request meets, each a verdict (see the module)."""

    def __init__(
        self,
        store: RateLimitStore,
        limits: RateLimits,
        *,
        secret: bytes,
        metrics: IntakeMetrics,
        clock: Callable[[], datetime] = _now,
        timeout_s: float = 1.0,
        failure_pause_s: float = 5.0,
    ) -> None:
        self.store = store
        self.limits = limits
        self.secret = secret
        self.metrics = metrics
        self.clock = clock
        self.timeout_s = timeout_s
        self.failure_pause_s = failure_pause_s
        self._paused_until = 0.0
        self._warned_at = 0.0

    async def api_client(self, client: str) -> Verdict:
        """A request of the API client ``client`` (e.g. ``app:sonla-smart``)."""
        return await self.hit(self.limits.for_api_client(client), api_client_identity(client))

    async def sender(self, channel: str, identity: str) -> Verdict:
        """A message from ``identity`` (see ``normalize.sender_identity``) on ``channel``."""
        return await self.hit(self.limits.for_sender(channel), identity)

    async def client_ip(self, host: str) -> Verdict:
        """A request without a key from the client address ``host``."""
        return await self.hit(self.limits.client_ip, client_ip_identity(host))

    async def hit(self, limit: Limit, identity: str) -> Verdict:
        """Count one hit of ``identity`` under ``limit``; admitted unchecked on failure."""
        if not limit.enforced:
            return Verdict(limit, allowed=True)
        now = self.clock()
        if time.monotonic() < self._paused_until:
            return self._unchecked(limit, None)
        counter = counter_id(
            limit.scope, subject_of(self.secret, identity), limit.window_start(now)
        )
        claim = self.store.claim(counter, limit.requests, limit.window_end(now))
        try:
            count = await asyncio.wait_for(claim, self.timeout_s)
        except Exception as error:  # the database is away or slow: admit, count, go on
            self._paused_until = time.monotonic() + self.failure_pause_s
            return self._unchecked(limit, error)
        verdict = decide(count, limit, now)
        if not verdict.allowed:
            self.metrics.rate_limited.labels(limit.scope.value).inc()
        return verdict

    def _unchecked(self, limit: Limit, error: Exception | None) -> Verdict:
        self.metrics.rate_limit_unchecked.labels(limit.scope.value).inc()
        if error is not None and time.monotonic() - self._warned_at > 60:  # once a minute
            self._warned_at = time.monotonic()
            logger.warning(
                "rate limits unchecked for %.0f s: the database failed (%s); requests are "
                "admitted meanwhile",
                self.failure_pause_s,
                type(error).__name__,
            )
        return Verdict(limit, allowed=True)

    async def prune(self) -> None:
        """Delete past windows' hits (run on a timer by the service)."""
        deleted = await self.store.prune(self.clock())
        if deleted:
            logger.info("rate limits: %d hits of past windows deleted", deleted)
