"""The trail in MongoDB (FerretDB locally): append-only records and signed checkpoints.

Collections:

* ``audit_trail``: one document per event (see ``audit.domain.chain.to_document``),
  ``_id`` = its place (``<chain>#<sequence>``, so the hot path finds a chain's end by
  ``_id``: FerretDB scans a collection for any other filter), unique on ``event_id`` (a
  redelivered event writes nothing twice) and on (``chain_id``, ``sequence``) (two
  writers can never fork a chain);
* ``audit_chains``: one document per chain (``_id`` = chain id), inserted by the first
  writer of the chain, so the checkpointer lists the chains without reading the trail;
* ``audit_checkpoints``: one document per signed checkpoint, ``_id`` = checkpoint id
  (also unique on ``checkpoint_id``), holding the exact signed bytes and the signature.

Only ``insert_one``, ``insert_many``, ``find``, ``find_one`` and ``create_index`` are
used: this code never updates or deletes, and runs on FerretDB (no transactions, no
``$lookup``) as on MongoDB.
In production the service's database role grants ``insert`` and ``find`` only.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from phananh_contracts import AuditCheckpoint, ChainHead
from phananh_platform.mongo import ORDERED_INSERT_LIMIT, duplicate_indexes, insert_once
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from audit.domain.chain import (
    EventFacts,
    SourcePosition,
    chain_records,
    head_of,
    next_record,
    record_id,
    to_document,
)
from audit.domain.checkpoints import SignedCheckpoint, UnreadableCheckpoint, read_signed
from audit.domain.records import in_report_order, owner_of_code

TRAIL = "audit_trail"
CHECKPOINTS = "audit_checkpoints"
_CHAIN_ORDER = [("chain_id", ASCENDING), ("sequence", ASCENDING)]
CHAINS = "audit_chains"
FOLLOW_WINDOW = 64
"""Next places of a chain looked up together when following it past another writer."""
_LISTED = "#listed"
"""The ``audit_chains`` document saying every chain of the trail is listed there (chain
ids are ``<topic>:<partition>``; a Kafka topic name cannot hold ``#``)."""


class ChainContention(RuntimeError):
    """Other writers kept taking the next sequence of a chain; the event was not written.

    Raised after many attempts only; the consumer retries the message later.
    """


class CorruptChainHead(RuntimeError):
    """The last record of a chain is not a well-formed record: the trail was tampered with.

    The writer refuses to chain new records onto it; run ``verify``.
    """


def _chain_head(chain_id: str, document: dict[str, Any]) -> ChainHead:
    try:
        return ChainHead(
            chain_id=chain_id, sequence=document["sequence"], record_hash=document["hash"]
        )
    except (KeyError, ValueError) as error:
        raise CorruptChainHead(f"chain {chain_id}: malformed last record ({error})") from None


class TrailStore:
    """The audit service's documents; nothing else writes them, and nothing rewrites them."""

    def __init__(
        self,
        database: AsyncDatabase[Any],
        *,
        max_append_attempts: int = 50,
        query_indexes: bool = True,
    ) -> None:
        self.trail = database[TRAIL]
        self.query_indexes = query_indexes
        self.checkpoint_documents = database[CHECKPOINTS]
        self.chain_documents = database[CHAINS]
        self._max_append_attempts = max_append_attempts
        self._heads: dict[str, ChainHead] = {}
        """The newest head this instance knows of each chain (it wrote or read it). From
        there a chain's newer records are found by ``_id``; a stale one (another writer
        appended since) costs a refused insert or a few more lookups, never a wrong link."""
        self._listed: set[str] = set()
        """Chains this instance made sure are in ``audit_chains``."""
        self._unnamed: set[str] = set()
        """Chains whose last record, when read, had a server ``_id`` (an older version's)."""
        self._signed_heads: dict[str, int] | None = None
        """Each chain's sequence in the latest stored checkpoint (read once, when needed)."""

    async def ensure_indexes(self) -> None:
        await self.trail.create_index("event_id", unique=True, name="event_id")
        await self.trail.create_index(_CHAIN_ORDER, unique=True, name="chain_sequence")
        await self.checkpoint_documents.create_index(
            "checkpoint_id", unique=True, name="checkpoint_id"
        )
        if self.query_indexes:  # see MongoSettings.query_indexes
            await self.trail.create_index("report_id", name="report_id")
            await self.trail.create_index("tracking_code", name="tracking_code")
            await self.checkpoint_documents.create_index("created_at", name="created_at")

    # ----------------------------------------------------------------------- writing

    async def append(
        self, facts: EventFacts, position: SourcePosition, *, recorded_at: datetime
    ) -> bool:
        """Append the record of one event to the chain of its source partition.

        Returns True when this call wrote it, False when the event was recorded before
        (redelivery). When another writer took the next sequence first (two instances
        during a rebalance), the newer head is read and the record rebuilt on it.
        """
        chain_id = position.chain_id
        for attempt in range(1, self._max_append_attempts + 1):
            head = self._heads.get(chain_id) or await self.head(chain_id)
            record = next_record(head, facts, position, recorded_at=recorded_at)
            try:
                await self.trail.insert_one(to_document(record))
            except DuplicateKeyError:
                if await self._refused_as_recorded(record.chain_id, record.sequence, facts):
                    return False
                newer = await self._follow(head) if head is not None else None
                if newer is None or newer == head:
                    # Not found by _id (records written before _id named their place):
                    # the next attempt reads the chain's end by sequence.
                    self._heads.pop(chain_id, None)
                else:
                    self._heads[chain_id] = newer
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                continue
            self._heads[chain_id] = head_of(record)
            await self._list(chain_id)
            return True
        raise ChainContention(
            f"chain {chain_id}: no free sequence after {self._max_append_attempts} attempts"
        )

    async def append_many(
        self,
        items: Sequence[tuple[EventFacts, SourcePosition]],
        *,
        recorded_at: datetime,
    ) -> list[bool]:
        """:meth:`append` for a batch of events, in order per chain: the heads it needs
        are read once (:meth:`heads_of`), the records of every chain are built on one
        another (``chain_records``) and inserted with ordered ``insert_many`` commands of
        at most ``ORDERED_INSERT_LIMIT`` documents (the most FerretDB stops within).

        When the database refuses one (a redelivered event, or another writer took the
        sequence), those before it are in; it and the rest of its chain go through
        :meth:`append` one by one, which tells the two cases apart; the other chains'
        records after it are inserted again together. Returns, per event, whether this
        call wrote it.
        """
        written = [False] * len(items)
        if not items:
            return written
        indexes: dict[str, list[int]] = {}
        for index, (_, position) in enumerate(items):
            indexes.setdefault(position.chain_id, []).append(index)
        heads = await self.heads_of(list(indexes))
        chains = chain_records(heads, items, recorded_at=recorded_at)
        # chain by chain, each chain's records in order: (chain, position in the chain)
        pending = [(chain_id, n) for chain_id, built in chains.items() for n in range(len(built))]
        refused: set[str] = set()
        while pending:
            part = pending[:ORDERED_INSERT_LIMIT]
            documents = [to_document(chains[chain_id][n]) for chain_id, n in part]
            try:
                await self.trail.insert_many(documents, ordered=True)
                inserted = len(part)
            except BulkWriteError as error:
                inserted = min(duplicate_indexes(error))  # not nInserted
            for chain_id, n in part[:inserted]:
                written[indexes[chain_id][n]] = True
                self._heads[chain_id] = head_of(chains[chain_id][n])
            if inserted == len(part):
                pending = pending[inserted:]
                continue
            refused.add(part[inserted][0])
            pending = [(c, n) for c, n in pending[inserted + 1 :] if c not in refused]
        for chain_id in chains:
            if any(written[index] for index in indexes[chain_id]):
                await self._list(chain_id)
        for chain_id in refused:
            for index in indexes[chain_id]:
                if not written[index]:
                    facts, position = items[index]
                    written[index] = await self.append(facts, position, recorded_at=recorded_at)
        return written

    async def heads_of(self, chain_ids: Sequence[str]) -> dict[str, ChainHead | None]:
        """The heads of some chains as this instance knows them (None: empty chain).

        Heads it wrote or read before are taken as known, without a read: a stale one (another
        writer appended since) makes the insert built on it refused, and :meth:`append`
        then follows the chain. A chain it never saw is read once (:meth:`head`)."""
        return {
            chain_id: self._heads.get(chain_id) or await self.head(chain_id)
            for chain_id in chain_ids
        }

    async def _refused_as_recorded(self, chain_id: str, sequence: int, facts: EventFacts) -> bool:
        """Whether a refused insert means the event is on the trail already.

        FerretDB does not say which unique index refused it. The record's place tells by
        ``_id``: empty, the refusal was for the event id (recorded before: a redelivery
        or the same event published again); holding this event, it is ours; holding
        another, another writer took the sequence. Where records older than named places
        were seen, the place cannot tell, and the event id is looked up (a scan on
        FerretDB)."""
        taken = await self.trail.find_one(
            {"_id": record_id(chain_id, sequence)}, projection={"event_id": 1}
        )
        if taken is not None:
            return bool(taken.get("event_id") == facts.event_id)
        if chain_id in self._unnamed:
            return await self.is_recorded(facts.event_id)
        return True

    async def is_recorded(self, event_id: str) -> bool:
        return await self.trail.find_one({"event_id": event_id}, projection={"_id": 1}) is not None

    async def store_checkpoint(self, checkpoint: AuditCheckpoint) -> bool:
        """Keep a signed checkpoint; False when it was stored before."""
        return await insert_once(
            self.checkpoint_documents,
            {
                "_id": checkpoint.checkpoint_id,
                "checkpoint_id": checkpoint.checkpoint_id,
                "writer_id": checkpoint.writer_id,
                "created_at": checkpoint.created_at,
                "algorithm": checkpoint.algorithm,
                "public_key_id": checkpoint.public_key_id,
                "heads": [head.model_dump() for head in checkpoint.heads],
                # What verification trusts: the exact signed bytes and the signature.
                "signed": checkpoint.signed_bytes().decode("utf-8"),
                "signature": checkpoint.signature,
            },
        )

    # ----------------------------------------------------------------------- reading

    async def head(self, chain_id: str) -> ChainHead | None:
        """The last record of a chain, or None for a chain without records.

        From the head this instance knows, newer records are looked up by ``_id`` (their
        place). A chain it never saw starts from the head the latest stored checkpoint
        signed for it, else from its first place; only a chain written before records
        were named by place is read by sequence (a scan on FerretDB)."""
        known = self._heads.get(chain_id) or await self._start_of(chain_id)
        if known is None:
            return None
        newest = await self._follow(known)
        self._heads[chain_id] = newest
        return newest

    async def _start_of(self, chain_id: str) -> ChainHead | None:
        """A record of a chain this instance never saw, found by ``_id`` where it can be."""
        if self._signed_heads is None:
            self._signed_heads = await self._latest_checkpoint_heads()
        places = [record_id(chain_id, 1)]
        if (signed := self._signed_heads.get(chain_id)) is not None:
            places.insert(0, record_id(chain_id, signed))
        for place in places:
            document = await self.trail.find_one(
                {"_id": place}, projection={"sequence": 1, "hash": 1}
            )
            if document is not None:
                return _chain_head(chain_id, document)
        if chain_id in await self._chains_listed():
            return await self._last_by_sequence(chain_id)  # records without named places
        return None

    async def _latest_checkpoint_heads(self) -> dict[str, int]:
        """Chain id -> sequence, as the latest stored checkpoint signed them (a hint only:
        the record at that place is read, and the chain followed from it)."""
        cursor = self.checkpoint_documents.find({}, sort=[("created_at", DESCENDING)]).limit(1)
        async for document in cursor:
            return {
                head["chain_id"]: int(head["sequence"])
                for head in document.get("heads", [])
                if isinstance(head, dict) and "chain_id" in head and "sequence" in head
            }
        return {}

    async def _chains_listed(self) -> set[str]:
        """The chains ``audit_chains`` names, after listing, once, those of a trail written
        before the collection existed (a scan per chain, then never again)."""
        listed = {document["_id"] async for document in self.chain_documents.find({})}
        if _LISTED not in listed:
            for chain_id in await self.chain_ids():
                await self._list(chain_id)
            await insert_once(self.chain_documents, {"_id": _LISTED})
            listed = {document["_id"] async for document in self.chain_documents.find({})}
        listed.discard(_LISTED)
        return listed

    async def _follow(self, head: ChainHead) -> ChainHead:
        """The newest head reachable from ``head`` by looking up the next places, a window
        of ``FOLLOW_WINDOW`` of them with each ``_id $in`` (one read for a chain another
        writer moved on by fewer than that)."""
        while True:
            places = [
                record_id(head.chain_id, head.sequence + n) for n in range(1, FOLLOW_WINDOW + 1)
            ]
            found = {
                document["_id"]: document
                async for document in self.trail.find(
                    {"_id": {"$in": places}}, projection={"sequence": 1, "hash": 1}
                )
            }
            for place in places:
                if place not in found:
                    return head
                head = _chain_head(head.chain_id, found[place])

    async def _last_by_sequence(self, chain_id: str) -> ChainHead | None:
        document = await self.trail.find_one(
            {"chain_id": chain_id},
            sort=[("sequence", DESCENDING)],
            projection={"sequence": 1, "hash": 1},
        )
        if document is None:
            return None
        head = _chain_head(chain_id, document)
        if document["_id"] != record_id(chain_id, head.sequence):
            self._unnamed.add(chain_id)  # written before records were named by place
        return head

    async def chain_ids(self) -> list[str]:
        """Every chain id of the trail, in order, read from the trail itself (``distinct``:
        MongoDB answers it from the chain_sequence index, FerretDB with one pass)."""
        return sorted(str(chain_id) for chain_id in await self.trail.distinct("chain_id"))

    async def _list(self, chain_id: str) -> None:
        """Make sure ``audit_chains`` names the chain (once per chain and process)."""
        if chain_id not in self._listed:
            await insert_once(self.chain_documents, {"_id": chain_id})
            self._listed.add(chain_id)

    async def heads(self) -> list[ChainHead]:
        """The head of every chain, sorted by chain id.

        The chains are those ``audit_chains`` names (every writer lists a chain as it
        writes to it: one small read, however long the trail). A trail
        written before that collection existed is listed once, from the trail itself
        (a scan per chain on FerretDB)."""
        listed = await self._chains_listed()
        heads: list[ChainHead] = []
        for chain_id in sorted(listed):
            head = await self.head(chain_id)
            if head is not None:
                heads.append(head)
        return heads

    async def read_chain(self, chain_id: str) -> AsyncIterator[dict[str, Any]]:
        """A chain's documents as stored, in sequence order (for verification)."""
        cursor = self.trail.find({"chain_id": chain_id}, sort=[("sequence", ASCENDING)])
        async for document in cursor:
            yield document

    async def records_of_report(self, ref: str) -> list[dict[str, Any]]:
        """Every record about one report (by report id or tracking code), oldest first.

        A report's events come from several topics, so its records sit in several chains;
        they are ordered by the events' own times, then by chain position.
        """
        report_id = ref
        coded = await self.trail.find_one({"tracking_code": ref}, projection={"report_id": 1})
        if coded is not None and coded.get("report_id"):
            report_id = coded["report_id"]
        cursor = self.trail.find({"report_id": report_id}, projection={"_id": 0})
        return in_report_order([document async for document in cursor])

    async def records_of_tracking_code(self, code: str) -> list[dict[str, Any]]:
        """Every record about the report with this tracking code, oldest first (never
        looked up by report id: this serves the citizens' public page).

        Two reports may share a code (see intake's tracking codes); the first one
        received keeps it, so only its records are returned. A message refused at intake
        has no report: its own record is returned.
        """
        coded = [d async for d in self.trail.find({"tracking_code": code}, projection={"_id": 0})]
        if not coded:
            return []
        report_id = owner_of_code(coded)
        records = {d["event_id"]: d for d in coded if d.get("report_id") == report_id}
        if report_id is not None:
            async for document in self.trail.find({"report_id": report_id}, projection={"_id": 0}):
                records[document["event_id"]] = document
        return in_report_order(records.values())

    async def chain_segment(
        self, chain_id: str, first: int, last: int | None = None, *, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Stored documents of a chain from sequence ``first`` to ``last`` (inclusive; to
        the head when None), in sequence order, at most ``limit`` of them."""
        bounds: dict[str, int] = {"$gte": first}
        if last is not None:
            bounds["$lte"] = last
        cursor = self.trail.find(
            {"chain_id": chain_id, "sequence": bounds}, sort=[("sequence", ASCENDING)]
        ).limit(limit)
        return [document async for document in cursor]

    async def checkpoints_since(
        self, moment: datetime, *, limit: int = 20
    ) -> list[SignedCheckpoint | UnreadableCheckpoint]:
        """The first stored checkpoints created at or after ``moment``, oldest first."""
        cursor = self.checkpoint_documents.find(
            {"created_at": {"$gte": moment}}, sort=[("created_at", ASCENDING)]
        ).limit(limit)
        return [_stored_checkpoint(document) async for document in cursor]

    async def checkpoints(self) -> list[SignedCheckpoint | UnreadableCheckpoint]:
        """The stored checkpoints, oldest first, as verification reads them."""
        found: list[SignedCheckpoint | UnreadableCheckpoint] = []
        cursor = self.checkpoint_documents.find({}, sort=[("created_at", ASCENDING)])
        async for document in cursor:
            found.append(_stored_checkpoint(document))
        return found


def _stored_checkpoint(document: dict[str, Any]) -> SignedCheckpoint | UnreadableCheckpoint:
    name = document.get("checkpoint_id")
    checkpoint_id = name if isinstance(name, str) else str(document.get("_id"))
    signed, signature = document.get("signed"), document.get("signature")
    if not isinstance(signed, str) or not isinstance(signature, str):
        return UnreadableCheckpoint(checkpoint_id, "database", "no signed bytes or signature")
    try:
        return read_signed(signed.encode("utf-8"), signature, origin="database")
    except ValueError as error:
        return UnreadableCheckpoint(checkpoint_id, "database", str(error))
