"""Routing's MongoDB store: cases (``routing_cases``) and watched deadlines (``routing_deadlines``).

**Cases.** One document per report (``_id`` = report id): the case (as JSON text: it is
only ever read whole, and FerretDB stores no nested arrays), a ``version`` for
optimistic concurrency, and an ``outbox`` of the records its last decision must publish.
A decision is saved with its outbox first, then published, then the outbox is cleared:
a crash in between leaves the outbox, and whoever next touches the case publishes it
again (the records' event ids are fixed, so consumers absorb the repeat). A save that
finds another version raises ``ConcurrentChange``: the message is retried on fresh state.

**Deadlines.** One document per open report, derived from its case after every
decision: the lead agency, the ward code (for the open-cases figures), the deadline and
the warning time of the current term; ``paused`` while waiting for the citizen,
``closed`` once resolved. ``warned`` and ``breached`` are set by the deadline watch
after it published the facts, and start again with each new term (a reopened report).
They survive restarts: a breach due while routing was down is emitted at the next check,
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from phananh_contracts import KafkaRecord
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.mongo import insert_once
from pymongo.asynchronous.database import AsyncDatabase

from routing.domain.case import Case
from routing.domain.deadlines import TrackedDeadline


@dataclass(frozen=True)
class StoredCase:
    case: Case
    version: int
    outbox: tuple[KafkaRecord, ...]


def _record_document(record: KafkaRecord) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "key": record.key.decode("utf-8"),
        "value": record.value.decode("utf-8"),
        "headers": [{"name": name, "value": value.decode()} for name, value in record.headers],
    }


def _record(document: dict[str, Any]) -> KafkaRecord:
    return KafkaRecord(
        topic=document["topic"],
        key=document["key"].encode("utf-8"),
        value=document["value"].encode("utf-8"),
        headers=[(header["name"], header["value"].encode()) for header in document["headers"]],
    )


class CaseStore:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.cases = database["routing_cases"]

    async def get(self, report_id: str) -> StoredCase | None:
        document = await self.cases.find_one({"_id": report_id})
        if document is None:
            return None
        return StoredCase(
            case=Case.model_validate_json(document["case"]),
            version=document["version"],
            outbox=tuple(_record(record) for record in document["outbox"]),
        )

    async def save(
        self, case: Case, records: list[KafkaRecord], *, expected_version: int | None
    ) -> int:
        """Store ``case`` with its outbox; the new version. ConcurrentChange if outrun."""
        fields = {
            "case": case.model_dump_json(),
            "outbox": [_record_document(record) for record in records],
        }
        if expected_version is None:
            if not await insert_once(self.cases, {"_id": case.report_id, "version": 1, **fields}):
                raise ConcurrentChange(f"case {case.report_id} was opened by another writer")
            return 1
        result = await self.cases.update_one(
            {"_id": case.report_id, "version": expected_version},
            {"$set": {**fields, "version": expected_version + 1}},
        )
        if result.matched_count != 1:
            raise ConcurrentChange(
                f"case {case.report_id} changed since version {expected_version}"
            )
        return expected_version + 1

    async def clear_outbox(self, report_id: str, version: int) -> None:
        await self.cases.update_one(
            {"_id": report_id, "version": version}, {"$set": {"outbox": []}}
        )


class DeadlineStore:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.deadlines = database["routing_deadlines"]

    async def ensure_indexes(self) -> None:
        await self.deadlines.create_index([("closed", 1), ("warn_at", 1)], name="open_by_warning")

    async def follow(self, case: Case, warn_at: datetime | None, *, opened: bool = False) -> None:
        """Make the watched deadline what ``case`` says (idempotent).

        ``opened``: the case was just created, so no deadline of it is stored yet."""
        current = (
            None if opened else await self.deadlines.find_one({"_id": case.report_id}, {"term": 1})
        )
        place = case.report.place
        fields: dict[str, Any] = {
            "agency_id": case.lead.agency_id,
            "ward_code": place.ward_code if place is not None else None,
            "term": case.term,
            "paused": case.is_open and case.deadline is None,
            "closed": not case.is_open,
        }
        if case.deadline is not None and warn_at is not None:
            fields |= {"deadline": case.deadline, "warn_at": warn_at}
        if current is None or current.get("term", 0) != case.term:
            if case.deadline is None or warn_at is None:
                return  # nothing to watch in this term (yet)
            await self.deadlines.replace_one(
                {"_id": case.report_id},
                {**fields, "warned": False, "breached": False},
                upsert=True,
            )
            return
        await self.deadlines.update_one({"_id": case.report_id}, {"$set": fields})

    async def due(self, now: datetime) -> list[TrackedDeadline]:
        """Open, running deadlines with a warning or a breach due at ``now``."""
        cursor = self.deadlines.find(
            {
                "closed": False,
                "breached": False,
                "paused": {"$ne": True},
                "warn_at": {"$lte": now},
            }
        )
        return [
            TrackedDeadline(
                report_id=document["_id"],
                agency_id=document["agency_id"],
                deadline=document["deadline"],
                warn_at=document["warn_at"],
                warned=document["warned"],
                breached=document["breached"],
                term=document.get("term", 0),
            )
            async for document in cursor
        ]

    async def open_counts(self, now: datetime) -> dict[tuple[str, str, bool], int]:
        """Open reports by lead agency, ward code ("" when unknown) and whether overdue
        (deadline passed with the clock running) — for the metrics. A scan (FerretDB)."""
        counts: dict[tuple[str, str, bool], int] = {}
        cursor = self.deadlines.find(
            {"closed": False},
            {"agency_id": 1, "ward_code": 1, "deadline": 1, "paused": 1},
        )
        async for document in cursor:
            deadline = document.get("deadline")
            overdue = not document.get("paused", False) and deadline is not None and deadline <= now
            key = (document["agency_id"], document.get("ward_code") or "", overdue)
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def mark(self, report_id: str, term: int, **flags: bool) -> None:
        await self.deadlines.update_one({"_id": report_id, "term": term}, {"$set": flags})
