"""The oversight read model in MongoDB: collection ``audit_report_facts``.

The trail is append-only. This collection is DERIVED and REBUILDABLE: ``rebuild``
drops it. Each report's facts are the fold
(``audit.domain.facts``) of the report's events, which the trail keeps in full.
``rebuild`` drops the collection and folds it again from the trail.

The facts of a report change by inserting a new version and not by updating in place.
A version is a document with ``_id = "<report id>#<version, 8 digits>"``, plus
``report_id``, ``version`` and the facts. Several audit instances may fold events of one
report at the same time, because the report's events arrive on different topics.
FerretDB cannot be trusted to apply a conditional update (filter on a version, then
write) atomically: concurrent replaces with the same filter were seen to match more than
once. It does refuse a duplicate ``_id`` atomically, so the unique ``_id`` decides which
writer makes version n+1. A writer reads the latest version, folds its event and inserts
the next version, then repeats until the latest version already holds its event.
Readers take the highest version of each report.

The hot path (``apply_events``) folds a batch: each report's events of the batch into one
new version, all versions with one ``insert_many``, the pointers with one bulk write; a
report whose version another writer took goes through ``apply_event``, event by event.

Versions are kept (a report has as many as batches that changed it, a handful), so they are
contiguous and the latest is found by ``_id`` lookups alone: from a hint (this
process's last known version, else ``audit_report_versions``, a pointer moved forward
with ``$max``) probe ``n+1``, ``n+2`` … until one is missing. FerretDB answers ``_id``
lookups without reading the collection, while any other filter scans it; measured
before this design, folding slowed to ~7 events/s at 2 000 reports. MongoDB and
FerretDB need no capability check for any of this. An instance keeps the latest version
of the reports it folded recently, so the usual event costs one insert and no read.

A document also carries the derived values (``derived``) for people reading the
database. They are never read back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from phananh_platform.mongo import bulk_write, duplicate_indexes, insert_once
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from audit.domain.facts import (
    AgencyStep,
    Escalation,
    FoldedEvent,
    Link,
    Rating,
    ReportFacts,
    StatusChange,
    apply,
    fold_events,
    fold_record,
    report_key,
)
from audit.domain.records import TrailRecord

COLLECTION = "audit_report_facts"
POINTERS = "audit_report_versions"
MAX_ATTEMPTS = 20
POINTER_EVERY = 4
"""The version pointer moves every this many versions (a report has a handful)."""
RECENT_REPORTS = 5_000
"""Reports whose latest version an instance keeps in memory (a few MB); the others are
read back in batches when their events come."""
BATCH_ROUNDS = 3
"""Rounds of batched reads and inserts before a contended report goes event by event."""
"""Rounds of one update while other writers keep changing the same report."""
REBUILD_BATCH = 500

_OBSERVATIONS: dict[str, type[StatusChange | AgencyStep | Escalation | Rating | Link]] = {
    "status_changes": StatusChange,
    "agency_steps": AgencyStep,
    "escalation_events": Escalation,
    "rating_events": Rating,
    "link_events": Link,
}


class FactsContention(TimeoutError):
    """Other writers kept changing the report. Transient: the delivery guard retries."""


class FactsStore:
    """Facts of every report, queried by period for the figures."""

    def __init__(self, database: AsyncDatabase[Any], *, query_indexes: bool = True) -> None:
        self.query_indexes = query_indexes
        # Aware UTC datetimes whatever the client's options; BSON dates hold milliseconds,
        # and facts are already truncated to them.
        self.collection = database.get_collection(
            COLLECTION, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC)
        )
        # Where each report's latest version is, so the hot path reads by ``_id`` only
        # (FerretDB scans a collection for any other filter). A hint, never the truth:
        # versions newer than it are found by probing their ``_id``. It is moved forward
        # every POINTER_EVERY versions only: a restart probes at most that many more.
        self.pointers = database[POINTERS]
        self._recent: OrderedDict[str, tuple[int, dict[str, Any] | None]] = OrderedDict()
        """The latest version this instance wrote or read of recent reports (and its
        document when known), at most RECENT_REPORTS of them. Another writer's newer
        version makes the next insert collide; the report is then read again."""

    async def ensure_indexes(self) -> None:
        if not self.query_indexes:  # see MongoSettings.query_indexes
            return
        await self.collection.create_index(
            [("report_id", ASCENDING), ("version", DESCENDING)], name="report_version"
        )
        await self.collection.create_index(
            [("received_at", ASCENDING), ("report_id", ASCENDING)], name="received_at"
        )
        await self.collection.create_index("tracking_code", name="tracking_code")

    async def apply_event(
        self, event_type: str, data: Mapping[str, Any], occurred_at: datetime
    ) -> None:
        """Fold one event (type, sanitized data, time) into its report's facts.

        Idempotent: call it for every valid event, a redelivered one too, even when its
        trail record existed (it fits ``TrailWriter.on_event``)."""
        key = report_key(event_type, data)
        if key is None:
            return
        # A report this instance has not seen is most likely new (its first event): its
        # first version is written without reading; if one exists, the insert says so.
        unseen = key not in self._recent
        for _ in range(MAX_ATTEMPTS):
            known, document = self._recent.get(key, (0, None))
            if document is not None:
                latest = document
            elif unseen:
                latest = None
            else:
                latest = await self._latest_of(key, known)
            before = facts_of(latest) if latest else None
            after = apply(before, event_type, data, occurred_at)
            if after is None and unseen:
                unseen = False  # nothing to start a report with: read what is stored
                continue
            if after is None or after == before:
                return  # the latest version holds the event
            version = latest["version"] + 1 if latest else 1
            written = document_of(after, version=version)
            if await insert_once(self.collection, written):
                self._remember(key, version, written)
                if version % POINTER_EVERY == 0:
                    await self.pointers.update_one(
                        {"_id": key}, {"$max": {"version": version}}, upsert=True
                    )
                return
            if unseen:
                unseen = False  # not new after all: read it (from the pointer)
                continue
            self._remember(key, version, None)  # another writer made it: read it
        raise FactsContention(f"the facts of {key} changed {MAX_ATTEMPTS} times under an update")

    async def apply_events(self, events: Sequence[FoldedEvent]) -> None:
        """Fold a batch's events (type, sanitized data, time), in order, into their reports'
        facts: one new version per report that changed, all inserted with one
        ``insert_many``, and the version pointers that move with one bulk write.

        The latest version of a report comes from this instance's memory; a report it has
        not seen is taken as new (version 1, no read: if one exists, the insert is refused).
        The reports whose insert was refused, and those this instance knows were moved on
        by another writer, are read together (``_id $in`` lookups, :meth:`_latest_many`)
        and folded again, a few rounds at most; one still contended after that goes
        through :meth:`apply_event`, event by event. Idempotent like it."""
        keyed: dict[str, list[FoldedEvent]] = {}
        for event in events:
            key = report_key(event[0], event[1])
            if key is not None:
                keyed.setdefault(key, []).append(event)
        known: dict[str, dict[str, Any] | None] = {}
        to_read: list[str] = []
        for key in keyed:
            if key not in self._recent:
                known[key] = None  # most likely new: written without reading
            elif (document := self._recent[key][1]) is not None:
                known[key] = document
            else:
                to_read.append(key)  # another writer moved it on: read it
        pointers: list[UpdateOne] = []
        for _ in range(BATCH_ROUNDS):
            known |= await self._latest_many(to_read)
            refused = await self._fold_and_insert(known, keyed, pointers)
            known = {}
            to_read = sorted(refused)
            if not to_read:
                break
        if pointers:
            await bulk_write(self.pointers, pointers)
        for key in to_read:  # contended round after round: one event at a time
            for event_type, data, occurred_at in keyed[key]:
                await self.apply_event(event_type, data, occurred_at)

    async def _fold_and_insert(
        self,
        known: Mapping[str, dict[str, Any] | None],
        keyed: Mapping[str, Sequence[FoldedEvent]],
        pointers: list[UpdateOne],
    ) -> set[str]:
        """Fold each report's events onto its ``known`` latest version and insert the new
        versions; the reports whose version another writer took first."""
        latest = {key: facts_of(document) if document else None for key, document in known.items()}
        folded = fold_events(latest, (event for key in known for event in keyed[key]))
        versions: list[dict[str, Any]] = []
        for key, after in folded.items():
            if after == latest[key]:
                continue  # the latest version holds the events (a redelivery)
            document = known[key]
            versions.append(document_of(after, version=document["version"] + 1 if document else 1))
        refused = await self._insert_versions(versions)
        for written in versions:
            key, version = written["report_id"], written["version"]
            if key in refused:
                self._remember(key, version, None)
                continue
            self._remember(key, version, written)
            if version % POINTER_EVERY == 0:
                pointers.append(
                    UpdateOne({"_id": key}, {"$max": {"version": version}}, upsert=True)
                )
        return refused

    async def _latest_many(self, report_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The latest versions of several reports, with ``_id $in`` lookups only: their
        pointers, then the versions from each pointer (or from this instance's hint) up to
        ``POINTER_EVERY`` past it; a report whose newest probed version exists is followed
        on by :meth:`_latest_of`."""
        if not report_ids:
            return {}
        hints = {key: self._recent.get(key, (0, None))[0] for key in report_ids}
        async for pointer in self.pointers.find({"_id": {"$in": list(report_ids)}}):
            key = pointer["_id"]
            hints[key] = max(hints[key], int(pointer.get("version", 0)))
        probes = {
            key: range(max(1, hint), max(1, hint) + POINTER_EVERY + 1)
            for key, hint in hints.items()
        }
        wanted = [version_id(key, n) for key, numbers in probes.items() for n in numbers]
        found: dict[str, dict[str, Any]] = {}
        async for document in self.collection.find({"_id": {"$in": wanted}}):
            key = document["report_id"]
            if key not in found or document["version"] > found[key]["version"]:
                found[key] = document
        latest: dict[str, dict[str, Any] | None] = {}
        for key, numbers in probes.items():
            document = found.get(key)
            if document is not None and document["version"] == numbers[-1]:
                latest[key] = await self._latest_of(key, document["version"])  # moved far on
            elif document is None and hints[key] > 1:
                latest[key] = await self._latest_of(key)  # a hint older than a rebuild
            else:
                latest[key] = document
                if document is not None:
                    self._remember(key, document["version"], document)
        return latest

    async def _insert_versions(self, versions: Sequence[dict[str, Any]]) -> set[str]:
        """Insert new versions; the reports whose version another writer made first."""
        if not versions:
            return set()
        try:
            await self.collection.insert_many(versions, ordered=False)
        except BulkWriteError as error:
            return {versions[index]["report_id"] for index in duplicate_indexes(error)}
        return set()

    def _remember(self, key: str, version: int, document: dict[str, Any] | None) -> None:
        self._recent[key] = (version, document)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_REPORTS:
            self._recent.popitem(last=False)

    async def _latest_of(self, report_id: str, known: int = 0) -> dict[str, Any] | None:
        """The latest version of a report's facts, found by ``_id`` lookups from a hint."""
        version = known
        if version == 0:
            # Versions start at 1 and are contiguous: without a first, there is none.
            latest = await self.collection.find_one({"_id": version_id(report_id, 1)})
            if latest is None:
                return None
            pointer = await self.pointers.find_one({"_id": report_id})
            version = max(1, pointer["version"] if pointer else 1)
            if version > 1:
                latest = await self.collection.find_one({"_id": version_id(report_id, version)})
        else:
            latest = await self.collection.find_one({"_id": version_id(report_id, version)})
        while newer := await self.collection.find_one({"_id": version_id(report_id, version + 1)}):
            latest, version = newer, version + 1  # another writer moved on
        if latest is None:
            # The hint outlived a rebuild (which starts every report at version 1).
            latest = await self._latest({"report_id": report_id})
        if latest is not None:
            self._remember(report_id, latest["version"], latest)
        return latest

    async def get(self, ref: str) -> ReportFacts | None:
        """Facts of the report with this id or tracking code."""
        latest = await self._latest({"$or": [{"report_id": ref}, {"tracking_code": ref}]})
        return facts_of(latest) if latest else None

    async def facts_received_between(
        self,
        start: datetime,
        end: datetime,
        *,
        lead_agency_id: str | None = None,
        ward_code: str | None = None,
    ) -> list[ReportFacts]:
        """Facts of the reports received in ``[start, end)``, optionally of one lead agency
        or one ward, in order of reception."""
        query: dict[str, Any] = {"received_at": {"$gte": start, "$lt": end}}
        if ward_code is not None:
            query["ward_code"] = ward_code  # set once, by the report itself
        cursor = self.collection.find(query).sort(
            [("received_at", ASCENDING), ("report_id", ASCENDING), ("version", DESCENDING)]
        )
        found: dict[str, ReportFacts] = {}
        async for document in cursor:
            if document["report_id"] not in found:
                found[document["report_id"]] = facts_of(document)
        # The lead agency changes with reassignments: filtered on the latest version only.
        return [
            facts
            for facts in found.values()
            if lead_agency_id is None or facts.lead_agency_id == lead_agency_id
        ]

    async def rebuild(self, records: AsyncIterable[Mapping[str, Any] | TrailRecord]) -> int:
        """Drop the read model and fold it again from trail records (dicts or
        TrailRecords, in any order). Returns the number of reports. It holds one small
        ``ReportFacts`` per report while folding. Run it while audit's consumers are
        stopped: an event folded live during a rebuild is lost with the dropped
        collection, until the next rebuild."""
        folded: dict[str, ReportFacts] = {}
        async for record in records:
            fold_record(folded, record)
        await self.collection.drop()
        await self.pointers.drop()
        self._recent.clear()
        await self.ensure_indexes()
        documents = [document_of(facts, version=1) for facts in folded.values()]
        for offset in range(0, len(documents), REBUILD_BATCH):
            await self.collection.insert_many(documents[offset : offset + REBUILD_BATCH])
        return len(documents)

    async def _latest(self, query: Mapping[str, Any]) -> dict[str, Any] | None:
        cursor = self.collection.find(query).sort("version", DESCENDING).limit(1)
        return next(iter(await cursor.to_list()), None)


def version_id(report_id: str, version: int) -> str:
    return f"{report_id}#{version:08d}"


def document_of(facts: ReportFacts, *, version: int) -> dict[str, Any]:
    """The stored document of one version of ``facts``."""
    document: dict[str, Any] = {"_id": version_id(facts.report_id, version), "version": version}
    for field in fields(ReportFacts):
        value = getattr(facts, field.name)
        is_observations = field.name in _OBSERVATIONS
        document[field.name] = [item._asdict() for item in value] if is_observations else value
    document["derived"] = {
        "first_response_at": facts.first_response_at,
        "resolved_at": facts.resolved_at,
        "rejected": facts.rejected,
        "reopened": facts.reopened,
        "breached": facts.breached,
        "escalations": facts.escalations,
        "last_status": facts.last_status,
    }
    return document


def facts_of(document: Mapping[str, Any]) -> ReportFacts:
    """The facts a stored document holds."""
    values: dict[str, Any] = {}
    for field in fields(ReportFacts):
        if field.name in document:
            value = document[field.name]
            kind = _OBSERVATIONS.get(field.name)
            values[field.name] = tuple(kind(**item) for item in value) if kind else value
    return ReportFacts(**values)
