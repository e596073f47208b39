"""Routing's MongoDB store: cases (``routing_cases``) and watched deadlines
(``routing_deadlines``).

**Cases.** One document per report (``_id`` = report id): the case (as JSON text: it is
only ever read whole, and FerretDB stores no nested arrays), a ``version`` for
optimistic concurrency, and an ``outbox`` of the records its last decision must publish.
A batch's decisions are saved with their outboxes first (new cases in one
``insert_many``, the others in one bulk write), then published, then the outboxes are
marked published (one ``insert_many`` into ``routing_published``): a crash in between
leaves the outbox unmarked, and whoever next touches the case publishes it again (the
records' event ids are fixed, so consumers absorb the repeat). A save that finds another
version raises ``ConcurrentChange``: the batch is decided again on fresh state. Every
read and write is by ``_id``.

**Deadlines.** One document per open report, derived from its case after every decision
(one bulk write per batch, without reading): the lead agency, the ward code (for the
open-cases figures), the deadline and the warning time of the current term; ``paused``
while waiting for the citizen, ``closed`` once resolved. ``warned`` and ``breached`` are
set by the deadline watch after it published the facts, and start again with each new
term (a reopened report). They survive restarts: a breach due while routing was down is
emitted at the next check, once.

**When deadlines fall due** (``routing_due``): one small document per minute
(``_id`` = ``YYYY-MM-DDTHH:MM``, UTC) holding, for each routing process that followed a
deadline falling in it, how many chunks that process wrote for the minute
(``{"writers": {"<writer>": n}}``). The chunks (``routing_due_chunks``, ``_id`` =
``<minute>#<writer>.<k>``, k = 1..n, written once per batch and never changed) name the
reports whose warning or deadline falls in the minute. A batch so writes its chunk and
raises one counter: the minute's document keeps its size however many batches name it
(minutes written by earlier versions, listing their chunks or their reports, are still
read).
The watch reads every open deadline once when the process starts; after that only the
minutes since its last check (and a few before, for clocks that differ between
instances), then those reports' deadlines by ``_id``.
FerretDB answers no filter but ``_id`` from an index: a query on the warning time read
every open deadline every check (12.5 s each at 200,000 open reports).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from phananh_contracts import KafkaRecord
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.mongo import bulk_write, duplicate_indexes
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

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


@dataclass(frozen=True)
class CaseWrite:
    """A decided case to store with its outbox: a new case (``expected_version`` None) or
    the next version of a stored one."""

    case: Case
    outbox: list[KafkaRecord]
    expected_version: int | None

    @property
    def version(self) -> int:
        """The version once written."""
        return 1 if self.expected_version is None else self.expected_version + 1

    def document(self) -> dict[str, Any]:
        return {
            "_id": self.case.report_id,
            "version": self.version,
            "case": self.case.model_dump_json(),
            "outbox": [_record_document(record) for record in self.outbox],
        }


class CaseStore:
    """One document per report: the case, its version and its outbox (written in bulk).

    An outbox once published is marked by inserting ``<report id>#<version>`` into
    ``routing_published``, not by emptying it: on FerretDB an update rewrites the whole
    case (~10 × an insert's cost). A case read back carries an empty outbox once marked.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.cases = database["routing_cases"]
        self.publications = database["routing_published"]

    async def get_many(self, report_ids: Collection[str]) -> dict[str, StoredCase]:
        """The stored cases of ``report_ids`` (one ``_id $in`` query)."""
        if not report_ids:
            return {}
        found: dict[str, StoredCase] = {}
        async for document in self.cases.find({"_id": {"$in": list(report_ids)}}):
            found[document["_id"]] = StoredCase(
                case=Case.model_validate_json(document["case"]),
                version=document["version"],
                outbox=tuple(_record(record) for record in document["outbox"]),
            )
        marks = [_mark(key, stored.version) for key, stored in found.items() if stored.outbox]
        if marks:
            async for mark in self.publications.find({"_id": {"$in": marks}}):
                report_id = mark["_id"].rpartition("#")[0]
                found[report_id] = replace(found[report_id], outbox=())
        return found

    async def get(self, report_id: str) -> StoredCase | None:
        return (await self.get_many([report_id])).get(report_id)

    async def open_new(self, writes: Sequence[CaseWrite]) -> set[str]:
        """Insert new cases at once, without reading first; the report ids whose case was
        there already (a redelivery, another instance): they were not written."""
        if not writes:
            return set()
        try:
            await self.cases.insert_many([w.document() for w in writes], ordered=False)
        except BulkWriteError as error:
            return {writes[index].case.report_id for index in duplicate_indexes(error)}
        return set()

    async def save_all(self, writes: Sequence[CaseWrite]) -> None:
        """Store every decided case with its outbox in one bulk write, each only if it is
        still at the version it was decided on; ConcurrentChange if any was outrun (the
        batch is decided again on fresh state: what was written meanwhile keeps its
        outbox, published then)."""
        if not writes:
            return
        operations: list[InsertOne[Any] | UpdateOne] = []
        for write in writes:
            document = write.document()
            if write.expected_version is None:
                operations.append(InsertOne(document))
            else:
                del document["_id"]
                operations.append(
                    UpdateOne(
                        {"_id": write.case.report_id, "version": write.expected_version},
                        {"$set": document},
                    )
                )
        updates = sum(1 for write in writes if write.expected_version is not None)
        try:
            result = await bulk_write(self.cases, operations)
        except BulkWriteError as error:
            refused = duplicate_indexes(error)
            ids = ", ".join(writes[index].case.report_id for index in sorted(refused))
            raise ConcurrentChange(f"cases {ids} were opened by another writer") from None
        if result.matched_count != updates:
            raise ConcurrentChange(
                f"{updates - result.matched_count} of {updates} cases changed since decided"
            )

    async def clear_outboxes(self, published: Sequence[tuple[str, int]]) -> None:
        """Mark the outboxes of (report id, version) whose records were published (one
        ``insert_many``; those marked already are left as they are)."""
        marks = sorted({_mark(report_id, version) for report_id, version in published})
        if marks:
            try:
                await self.publications.insert_many([{"_id": m} for m in marks], ordered=False)
            except BulkWriteError as error:
                duplicate_indexes(error)  # marked by an earlier delivery; else raised


def _mark(report_id: str, version: int) -> str:
    return f"{report_id}#{version}"


@dataclass(frozen=True)
class DeadlineFollow:
    """A case's watched deadline to keep up to date."""

    case: Case
    warn_at: datetime | None
    known_term: int | None
    """The case's term before the decision (None: the case is new)."""


@dataclass(frozen=True)
class DeadlineMark:
    """Facts of a term the deadline watch published (``warned``, ``breached``)."""

    report_id: str
    term: int
    flags: dict[str, bool]


def _deadline_fields(case: Case, warn_at: datetime | None) -> dict[str, Any]:
    place = case.report.place
    fields: dict[str, Any] = {
        "agency_id": case.lead.agency_id if case.parts else None,
        "ward_code": place.ward_code if place is not None else None,
        "term": case.term,
        "paused": case.is_open and case.deadline is None,
        "closed": not case.is_open,
    }
    if case.deadline is not None and warn_at is not None:
        fields |= {"deadline": case.deadline, "warn_at": warn_at}
    return fields


DUE_OVERLAP = timedelta(minutes=5)
"""Minutes read again at every check: a deadline followed by an instance whose clock is
behind the watch's by less than this is still seen."""
DUE_RESCAN = timedelta(hours=6)
"""A watch that did not check for longer reads every open deadline again."""
WRITTEN_KEPT = 2_000
"""Minutes a process remembers its chunk counters of before it forgets the past ones."""


def _minute(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M}"


def _minutes(start: datetime, end: datetime) -> list[str]:
    first = start.astimezone(UTC).replace(second=0, microsecond=0)
    return [
        _minute(first + timedelta(minutes=n))
        for n in range(int((end - first) / timedelta(minutes=1)) + 1)
    ]


def _due(document: dict[str, Any], now: datetime) -> bool:
    """The filter of :meth:`DeadlineStore.due`, for deadlines read by ``_id``."""
    return (
        not document.get("closed", False)
        and not document.get("breached", False)
        and document.get("paused") is not True
        and document.get("warn_at") is not None
        and document["warn_at"] <= now
    )


class DeadlineStore:
    def __init__(
        self,
        database: AsyncDatabase[Any],
        *,
        query_indexes: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.deadlines = database["routing_deadlines"]
        self.due_minutes = database["routing_due"]
        self.due_chunks = database["routing_due_chunks"]
        self.query_indexes = query_indexes
        self.clock = clock
        self.writer = secrets.token_hex(6)
        """This process's name in the minutes it writes (a new one per process)."""
        self._written: dict[str, int] = {}
        """Chunks this process wrote per minute (its counter in the minute's document)."""
        self._checked: datetime | None = None
        """When :meth:`due` last looked (None: never, in this process)."""
        self._pending: set[str] = set()
        """Reports :meth:`due` last returned: asked for again until no longer due."""

    async def ensure_indexes(self) -> None:
        if not self.query_indexes:  # see MongoSettings.query_indexes
            return
        await self.deadlines.create_index([("closed", 1), ("warn_at", 1)], name="open_by_warning")

    async def follow_all(self, follows: Sequence[DeadlineFollow]) -> None:
        """Make each watched deadline what its case says (idempotent): new ones inserted
        together, the rest in one bulk write.

        A new term (or a new case) starts unwarned; within a term the watch's own marks
        are kept. A new case's deadline is inserted (on FerretDB an insert costs a tenth of
        an update); one found there already (a redelivery, or a decision stored before a
        crash that came before its deadline) is replaced, as is one found holding another
        term than its case knew."""
        inserts: list[dict[str, Any]] = []
        operations: list[ReplaceOne[Any] | UpdateOne] = []
        replace_if_other_term: dict[int, ReplaceOne[Any]] = {}
        for follow in follows:
            case, report_id = follow.case, follow.case.report_id
            fields = _deadline_fields(case, follow.warn_at)
            watched = case.deadline is not None and follow.warn_at is not None
            started = {**fields, "warned": False, "breached": False}
            fresh = ReplaceOne({"_id": report_id}, started, upsert=True)
            if follow.known_term != case.term:
                if not watched:
                    continue  # nothing to watch in this term (yet)
                if follow.known_term is None:
                    inserts.append({"_id": report_id, **started})
                else:
                    operations.append(fresh)
                continue
            del fields["term"]
            if watched:
                replace_if_other_term[len(operations)] = fresh
                operations.append(
                    UpdateOne(
                        {"_id": report_id, "term": case.term},
                        {"$set": fields, "$setOnInsert": {"warned": False, "breached": False}},
                        upsert=True,
                    )
                )
            else:
                operations.append(
                    UpdateOne({"_id": report_id, "term": case.term}, {"$set": fields})
                )
        await self._note_due(follows)
        operations += await self._insert_new(inserts)
        if not operations:
            return
        try:
            await bulk_write(self.deadlines, operations)
        except BulkWriteError as error:
            refused = duplicate_indexes(error)
            if not refused <= replace_if_other_term.keys():
                raise
            await bulk_write(
                self.deadlines, [replace_if_other_term[index] for index in sorted(refused)]
            )

    async def _note_due(self, follows: Iterable[DeadlineFollow]) -> None:
        """Name each watched deadline in the minutes its warning and its deadline fall in
        (never a minute already past: a late one is noted now), one upsert per minute."""
        now = self.clock()
        minutes: dict[str, set[str]] = {}
        for follow in follows:
            case = follow.case
            if not case.is_open or case.deadline is None or follow.warn_at is None:
                continue
            for at in (follow.warn_at, case.deadline):
                minutes.setdefault(_minute(max(at, now)), set()).add(case.report_id)
        if not minutes:
            return
        # Each minute's reports of this batch are a chunk of their own, written once; the
        # minute only counts, per process, the chunks written for it. All of a day's
        # reports share a deadline minute (17:00): a minute that listed its reports, or
        # even its chunks, grew with every batch and was rewritten by every batch.
        if len(self._written) > WRITTEN_KEPT:  # minutes now past are not written again
            current = _minute(now)
            self._written = {m: n for m, n in self._written.items() if m >= current}
        chunks: dict[str, tuple[str, list[str]]] = {}
        for minute, reports in sorted(minutes.items()):
            number = self._written.get(minute, 0) + 1
            self._written[minute] = number
            chunks[minute] = (f"{minute}#{self.writer}.{number}", sorted(reports))
        try:  # the chunks first: a minute never counts a chunk that is not there
            await self.due_chunks.insert_many(
                [{"_id": chunk, "reports": named} for chunk, named in chunks.values()],
                ordered=False,
            )
        except BulkWriteError as error:
            duplicate_indexes(error)  # written before (a retried write)
        await bulk_write(
            self.due_minutes,
            [
                UpdateOne(
                    {"_id": minute},
                    {"$max": {f"writers.{self.writer}": self._written[minute]}},
                    upsert=True,
                )
                for minute in chunks
            ],
            ordered=False,
        )

    async def _insert_new(self, documents: Sequence[dict[str, Any]]) -> list[ReplaceOne[Any]]:
        """Insert new cases' deadlines at once; replacements for those found there."""
        if not documents:
            return []
        try:
            await self.deadlines.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            return [
                ReplaceOne({"_id": there.pop("_id")}, there, upsert=True)
                for there in (dict(documents[index]) for index in sorted(duplicate_indexes(error)))
            ]
        return []

    async def due(self, now: datetime) -> list[TrackedDeadline]:
        """Open, running deadlines with a warning or a breach due at ``now``.

        The first check of a process (or one after a long pause) reads every open
        deadline; later ones read the minutes since the last check, then those reports'
        deadlines by ``_id``, with the ones returned last time (until no longer due)."""
        if self._checked is None or now - self._checked > DUE_RESCAN:
            query: dict[str, Any] = {
                "closed": False,
                "breached": False,
                "paused": {"$ne": True},
                "warn_at": {"$lte": now},
            }
        else:
            named = set(self._pending)
            minutes = _minutes(self._checked - DUE_OVERLAP, now)
            chunk_ids: list[str] = []
            async for document in self.due_minutes.find({"_id": {"$in": minutes}}):
                named.update(document.get("reports", []))  # minutes written before chunks
                chunk_ids.extend(document.get("chunks", []))  # before counters
                chunk_ids.extend(
                    f"{document['_id']}#{writer}.{number}"
                    for writer, written in document.get("writers", {}).items()
                    for number in range(1, int(written) + 1)
                )
            if chunk_ids:
                async for chunk in self.due_chunks.find({"_id": {"$in": sorted(chunk_ids)}}):
                    named.update(chunk["reports"])
            if not named:  # nothing to look up: spare the round trip
                self._checked, self._pending = now, set()
                return []
            query = {"_id": {"$in": sorted(named)}}
        tracked = [
            TrackedDeadline(
                report_id=document["_id"],
                agency_id=document["agency_id"],
                deadline=document["deadline"],
                warn_at=document["warn_at"],
                warned=document["warned"],
                breached=document["breached"],
                term=document.get("term", 0),
            )
            async for document in self.deadlines.find(query)
            if _due(document, now)
        ]
        self._checked = now
        self._pending = {deadline.report_id for deadline in tracked}
        return tracked

    async def open_counts(self, now: datetime) -> dict[tuple[str, str, bool], int]:
        """Open reports by lead agency, ward code ("" when unknown) and whether overdue
        (deadline passed with the clock running) — for the metrics. Counted by the
        database (two ``$group`` aggregations): the documents stay there."""
        by_place = {"_id": {"agency": "$agency_id", "ward": "$ward_code"}, "n": {"$sum": 1}}
        overdue_now = {"closed": False, "paused": {"$ne": True}, "deadline": {"$lte": now}}
        opened = await self._grouped([{"$match": {"closed": False}}, {"$group": by_place}])
        overdue = await self._grouped([{"$match": overdue_now}, {"$group": by_place}])
        counts: dict[tuple[str, str, bool], int] = {}
        for place, n in opened.items():
            late = overdue.get(place, 0)
            if late:
                counts[(*place, True)] = late
            if n - late:
                counts[(*place, False)] = n - late
        return counts

    async def _grouped(self, pipeline: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        cursor = await self.deadlines.aggregate(pipeline)
        return {
            (row["_id"]["agency"], row["_id"].get("ward") or ""): int(row["n"])
            async for row in cursor
        }

    async def mark_all(self, marks: Sequence[DeadlineMark]) -> None:
        """Record, in one bulk write, which facts of each term were published."""
        if marks:
            await bulk_write(
                self.deadlines,
                [
                    UpdateOne({"_id": mark.report_id, "term": mark.term}, {"$set": mark.flags})
                    for mark in marks
                ],
            )
