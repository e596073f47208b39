"""How long notify keeps what it knows of citizens: ``PHANANH_NOTIFY_RETENTION_DAYS``.

Notify's store holds, per report, the citizens linked to it (pseudonyms and their sealed
contacts) and, per message, its claim, outcome and publication. None of it is needed once
a report is long closed, and personal data is kept no longer than needed (Decree
13/2023/NĐ-CP). Every ``PHANANH_NOTIFY_PRUNE_EVERY_S`` seconds notify deletes:

* the claims (``notify_notifications``) made before the cutoff, with their outcomes
  (``notify_outcomes``) and publication marks (``notify_published``);
* the report files (``notify_reports``, every version) last written before the cutoff: a
  report with a version written since is kept whole.

Opt-outs stay (a citizen who said stop is not written to again), and so do contact keys
until their citizen is forgotten (``phananh forget``): a key whose contact is pruned opens
nothing any more. The retention must cover the longest life of a report (its terms,
pauses and reopenings): notify refuses less than :data:`MIN_DAYS`. Filters on dates scan
the collections on FerretDB: this is a periodic job, off the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

logger = logging.getLogger("notify.retention")

MIN_DAYS = 90
"""Below this, a report could still be open when its citizens are forgotten by notify."""
CHUNK = 500
"""Ids per ``$in`` when deleting."""


@dataclass(frozen=True)
class Pruned:
    notifications: int
    reports: int


@dataclass
class Retention:
    database: AsyncDatabase[Any]
    days: int
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        if self.days < MIN_DAYS:
            raise ValueError(f"notify keeps its store at least {MIN_DAYS} days, not {self.days}")

    async def prune(self) -> Pruned:
        """Delete what is older than the retention; return how many of each went."""
        cutoff = self.clock() - timedelta(days=self.days)
        notifications = await self._prune_notifications(cutoff)
        reports = await self._prune_reports(cutoff)
        if notifications or reports:
            logger.info(
                "retention: %d notification(s) and %d report file(s) older than %d days deleted",
                notifications,
                reports,
                self.days,
            )
        return Pruned(notifications, reports)

    async def _prune_notifications(self, cutoff: datetime) -> int:
        claims = self.database["notify_notifications"]
        old = [doc["_id"] async for doc in claims.find({"created_at": {"$lt": cutoff}}, {"_id": 1})]
        for chunk in _chunks(old):
            # outcome and mark first: a claim without them is one being delivered
            await self.database["notify_published"].delete_many({"_id": {"$in": chunk}})
            await self.database["notify_outcomes"].delete_many({"_id": {"$in": chunk}})
            await claims.delete_many({"_id": {"$in": chunk}})
        return len(old)

    async def _prune_reports(self, cutoff: datetime) -> int:
        files = self.database["notify_reports"]
        old = {
            doc["report_id"]
            async for doc in files.find({"written_at": {"$lt": cutoff}}, {"report_id": 1})
        }
        if not old:
            return 0
        recent = {
            doc["report_id"]
            async for doc in files.find(
                {"report_id": {"$in": sorted(old)}, "written_at": {"$gte": cutoff}},
                {"report_id": 1},
            )
        }
        stale = sorted(old - recent)
        for chunk in _chunks(stale):
            await files.delete_many({"report_id": {"$in": chunk}})
        return len(stale)


def _chunks(ids: Sequence[Any]) -> list[Sequence[Any]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]
