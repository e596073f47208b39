"""Routing's MongoDB store: the deadlines it watches (``routing_deadlines``).

One document per open report (``_id`` = report id), inserted once at assignment;
``warned`` and ``breached`` are set after the facts were published, and ``closed`` when
the report is resolved. They survive restarts: a breach due while routing was down is
emitted at the next check, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from phananh_platform.mongo import insert_once
from pymongo.asynchronous.database import AsyncDatabase

from routing.domain.deadlines import TrackedDeadline


class DeadlineStore:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.deadlines = database["routing_deadlines"]

    async def ensure_indexes(self) -> None:
        await self.deadlines.create_index([("closed", 1), ("warn_at", 1)], name="open_by_warning")

    async def track(self, tracked: TrackedDeadline) -> None:
        await insert_once(
            self.deadlines,
            {
                "_id": tracked.report_id,
                "agency_id": tracked.agency_id,
                "deadline": tracked.deadline,
                "warn_at": tracked.warn_at,
                "warned": False,
                "breached": False,
                "closed": False,
            },
        )

    async def due(self, now: datetime) -> list[TrackedDeadline]:
        """Open deadlines with a warning or a breach due at ``now``."""
        cursor = self.deadlines.find({"closed": False, "breached": False, "warn_at": {"$lte": now}})
        return [
            TrackedDeadline(
                report_id=document["_id"],
                agency_id=document["agency_id"],
                deadline=document["deadline"],
                warn_at=document["warn_at"],
                warned=document["warned"],
                breached=document["breached"],
            )
            async for document in cursor
        ]

    async def mark(self, report_id: str, **flags: bool) -> None:
        await self.deadlines.update_one({"_id": report_id}, {"$set": flags})
