"""Helpers for routing's tests: batches of deliveries as the platform hands them over, and
in-memory twins of routing's stores (:class:`MemoryCases`, :class:`MemoryDeadlines`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from phananh_contracts import Event
from phananh_platform.delivery import ConcurrentChange, RecordRef
from phananh_platform.subscribers import Delivery
from routing.adapters.store import CaseWrite, DeadlineFollow, DeadlineMark, StoredCase
from routing.domain.deadlines import TrackedDeadline


def delivered(*events: Event[Any], first_offset: int = 0) -> list[Delivery[Any]]:
    """A batch of ``events`` as consumed records (partition 0, offsets from ``first_offset``)."""
    batch = []
    for number, event in enumerate(events):
        record = event.to_kafka()
        ref = RecordRef(
            topic=record.topic,
            partition=0,
            offset=first_offset + number,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
        )
        batch.append(Delivery(event, ref))
    return batch


class MemoryCases:
    """``routing.adapters.store.CaseStore`` in memory: one case per report with its
    version and outbox; an outbox once marked published reads back empty."""

    def __init__(self) -> None:
        self.cases: dict[str, StoredCase] = {}
        self.published: set[tuple[str, int]] = set()

    async def get_many(self, report_ids: Collection[str]) -> dict[str, StoredCase]:
        found = {key: self.cases[key] for key in report_ids if key in self.cases}
        return {
            key: replace(stored, outbox=()) if (key, stored.version) in self.published else stored
            for key, stored in found.items()
        }

    async def get(self, report_id: str) -> StoredCase | None:
        return (await self.get_many([report_id])).get(report_id)

    async def open_new(self, writes: Sequence[CaseWrite]) -> set[str]:
        """Insert the new cases; the report ids whose case was there already (not written)."""
        there = {w.case.report_id for w in writes if w.case.report_id in self.cases}
        for write in writes:
            if write.case.report_id not in there:
                self._put(write)
        return there

    async def save_all(self, writes: Sequence[CaseWrite]) -> None:
        """Each write applied if its case is still at the version it was decided on;
        ConcurrentChange (after the others were applied) if any was outrun."""
        outrun = []
        for write in writes:
            stored = self.cases.get(write.case.report_id)
            at = stored.version if stored is not None else None
            if at == write.expected_version:
                self._put(write)
            else:
                outrun.append(write.case.report_id)
        if outrun:
            raise ConcurrentChange(f"cases {', '.join(outrun)} changed since decided")

    async def clear_outboxes(self, published: Sequence[tuple[str, int]]) -> None:
        self.published.update(published)

    def _put(self, write: CaseWrite) -> None:
        self.cases[write.case.report_id] = StoredCase(
            write.case, write.version, tuple(write.outbox)
        )


class MemoryDeadlines:
    """``routing.adapters.store.DeadlineStore`` in memory: one watched deadline per open
    report and term, ``warned`` and ``breached`` as the deadline watch marked them."""

    def __init__(self) -> None:
        self.watched: dict[str, dict[str, Any]] = {}

    async def follow_all(self, follows: Sequence[DeadlineFollow]) -> None:
        """Each watched deadline made what its case says: a new term (or case) starts
        unwarned, within a term the watch's marks are kept."""
        for follow in follows:
            case, report_id = follow.case, follow.case.report_id
            running = case.deadline is not None and follow.warn_at is not None
            fields: dict[str, Any] = {
                "agency_id": case.lead.agency_id,
                "ward_code": case.report.place.ward_code if case.report.place else None,
                "term": case.term,
                "paused": case.is_open and case.deadline is None,
                "closed": not case.is_open,
            }
            if running:
                fields |= {"deadline": case.deadline, "warn_at": follow.warn_at}
            current = self.watched.get(report_id)
            same_term = current is not None and current["term"] == case.term
            if follow.known_term == case.term and same_term:
                assert current is not None
                current.update(fields)
            elif running:
                self.watched[report_id] = {**fields, "warned": False, "breached": False}

    async def due(self, now: datetime) -> list[TrackedDeadline]:
        return [
            TrackedDeadline(
                report_id=report_id,
                agency_id=doc["agency_id"],
                deadline=doc["deadline"],
                warn_at=doc["warn_at"],
                warned=doc["warned"],
                breached=doc["breached"],
                term=doc["term"],
            )
            for report_id, doc in self.watched.items()
            if not doc["closed"]
            and not doc["breached"]
            and not doc["paused"]
            and "warn_at" in doc
            and doc["warn_at"] <= now
        ]

    async def mark_all(self, marks: Sequence[DeadlineMark]) -> None:
        for mark in marks:
            doc = self.watched.get(mark.report_id)
            if doc is not None and doc["term"] == mark.term:
                doc.update(mark.flags)
