"""Intake's MongoDB store: which channel messages were handled, and a read model of reports.

Collections (FerretDB and MongoDB alike; inserts, finds by ``_id``, and updates by
``_id`` only off the hot path or for the near-duplicate buckets):

* ``intake_messages``  ``_id = "<channel>:<channel message id>"``: written after a
  message's outcome was published (and stored), so the same channel message arriving
  again (a webhook retry, a client resending) is recognised across restarts and makes
  nothing twice.
* ``intake_reports``   ``_id = report id``: what intake made of each accepted or rejected
  message, for Open311's GET requests, as intake stored it (never updated after).
* ``intake_report_status`` the Open311 status of a report as routing's assignments and
  status changes make it (``status``, ``status_notes``, ``agency_responsible``,
  ``expected_at``, ``updated_at``), as versions ``_id = "<report id>#<8 digits>"``
  (:class:`phananh_platform.versions.VersionedDocuments`): a change is an insert, not an
  update of the report, which FerretDB would rewrite whole. Readers lay the latest
  version over the report.
* ``intake_codes``     ``_id = tracking code``: the report a code names (replies, Open311).
* ``intake_recent``    ``_id = "<ward>#<YYYYMMDDHH>"``: the near-duplicate bucket of one
  ward's reports of one hour (UTC), at most ``bucket_limit`` of them (see
  :mod:`intake.domain.dedupe`): ``size`` counts the reports, ``chunks`` lists the ids of
  the chunks that hold them (buckets written before chunks had documents hold the
  chunks' JSON itself, and are still read).
* ``intake_recent_chunks`` ``_id = "<bucket>#<digest of the entries>"``: one batch's
  entries of one bucket (report id, category, time, duplicate of, 4-gram and place
  hashes) as one compact JSON string; written once, never changed, so each process
  decodes a chunk once and reads only chunks it has not seen.

The normalizer works a batch at a time: one ``_id $in`` read per collection it must
know about, one bulk write per collection it changes. Every hot-path read and write goes
by ``_id``: FerretDB's SQLite backend answers an ``_id`` match without reading the whole
collection, while other filters scan it (measured: ~0.15 ms a document). MongoDB answers
both from its indexes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import struct
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import ReportReceived, ReportRejected
from phananh_platform.mongo import bulk_write, duplicate_indexes
from phananh_platform.versions import VersionedDocuments
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from intake.domain.batch import Bucket, CodeHolder, Handled, Known
from intake.domain.dedupe import (
    BUCKET_LIMIT,
    EarlierReport,
    PackedFingerprint,
    pack_fingerprint,
)
from intake.domain.model import ServiceRequestView
from intake.domain.readmodel import ReadModelUpdate, to_apply
from intake.domain.tracking import report_id as report_id_of

logger = logging.getLogger("intake.store")
_Update = tuple[dict[str, Any], dict[str, Any], bool]
"""An update by ``_id``: filter, update, upsert."""
STATUS_FIELDS = ("status", "status_notes", "agency_responsible", "expected_at", "updated_at")
"""What routing's decisions set on a report's Open311 view."""
DECODED_LIMIT = 8 * BUCKET_LIMIT
"""Near-duplicate entries kept decoded in memory (~1.3 KB each: their 4-gram hashes stay
packed, also once compared), the most recently read or written chunks first: the buckets
of a few busy wards."""
SEARCH_CHUNK = 200
"""Reports read at a time while a listing filters on the status."""


class IntakeStore:
    """The intake service's own documents; nothing else writes them."""

    def __init__(
        self,
        database: AsyncDatabase[Any],
        *,
        bucket_limit: int = BUCKET_LIMIT,
        query_indexes: bool = True,
        decoded_limit: int = DECODED_LIMIT,
    ) -> None:
        self.query_indexes = query_indexes
        self.messages = database["intake_messages"]
        self.reports = database["intake_reports"]
        self.codes = database["intake_codes"]
        self.recent = database["intake_recent"]
        self.chunks = database["intake_recent_chunks"]
        self.statuses = VersionedDocuments[ReadModelUpdate](
            database["intake_report_status"], _fold_status, key_field="report_id"
        )
        self.bucket_limit = bucket_limit
        self.decoded_limit = decoded_limit
        self._decoded: OrderedDict[str, tuple[EarlierReport, ...]] = OrderedDict()
        self._decoded_entries = 0

    async def ensure_indexes(self) -> None:
        if not self.query_indexes:  # see MongoSettings.query_indexes
            return
        await self.reports.create_index("tracking_code", name="tracking_code")
        await self.reports.create_index(
            [("channel", ASCENDING), ("channel_message_id", ASCENDING)], name="channel_message"
        )
        await self.reports.create_index("received_at", name="received_at")

    # ------------------------------------------------------------------ what is known
    async def known(self, message_keys: Collection[str], codes: Collection[str]) -> Known:
        """The handled messages and claimed codes among these (one ``_id $in`` each)."""
        handled, holders = await asyncio.gather(self._handled(message_keys), self._holders(codes))
        return Known(handled, holders)

    async def _handled(self, keys: Collection[str]) -> dict[str, Handled]:
        if not keys:
            return {}
        found: dict[str, Handled] = {}
        untold: dict[str, str] = {}  # remembered before codes were kept there: key -> report
        async for document in self.messages.find({"_id": {"$in": list(keys)}}):
            code = document.get("tracking_code")
            found[document["_id"]] = Handled(
                document["outcome"], document["report_id"], document["at"], code
            )
            if code is None and document["outcome"] == "report":
                untold[document["_id"]] = document["report_id"]
        if untold:
            codes = {
                report["_id"]: report["tracking_code"]
                async for report in self.reports.find(
                    {"_id": {"$in": sorted(set(untold.values()))}}, {"tracking_code": 1}
                )
            }
            for key, report in untold.items():
                if report in codes:
                    handled = found[key]
                    found[key] = Handled(handled.outcome, report, handled.at, codes[report])
        return found

    async def _holders(self, codes: Collection[str]) -> dict[str, CodeHolder]:
        if not codes:
            return {}
        return {
            document["_id"]: CodeHolder(document["report_id"], bool(document.get("rejected")))
            async for document in self.codes.find({"_id": {"$in": list(codes)}})
        }

    async def buckets(self, bucket_ids: Collection[str]) -> dict[str, Bucket]:
        """The near-duplicate buckets among these: one ``_id $in`` of the buckets (small:
        sizes and chunk ids), and one of the chunks this process has not decoded yet."""
        if not bucket_ids:
            return {}
        listed = [d async for d in self.recent.find({"_id": {"$in": sorted(bucket_ids)}})]
        missing = {
            chunk
            for document in listed
            for chunk in document.get("chunks", [])
            if not chunk.startswith("[") and chunk not in self._decoded
        }
        fetched: dict[str, str] = {}
        if missing:
            async for chunk in self.chunks.find({"_id": {"$in": sorted(missing)}}):
                fetched[chunk["_id"]] = chunk["entries"]
        found: dict[str, Bucket] = {}
        decoded: dict[str, tuple[EarlierReport, ...]] = {}
        for document in listed:
            ward = document["_id"].rsplit("#", 1)[0]
            entries: list[EarlierReport] = []
            for chunk in document.get("chunks", []):
                if chunk not in decoded:
                    decoded[chunk] = self._decode(ward, chunk, fetched)
                entries.extend(decoded[chunk])
            found[document["_id"]] = Bucket(int(document.get("size", 0)), tuple(entries))
        self._remember_decoded(decoded)
        return found

    def _decode(
        self, ward: str, chunk: str, fetched: Mapping[str, str]
    ) -> tuple[EarlierReport, ...]:
        """A bucket's chunk: its id, or the entries themselves as JSON in buckets written
        before chunks had documents. Decoded once per process: chunks never change."""
        known = self._decoded.get(chunk)
        if known is not None:
            return known
        text = chunk if chunk.startswith("[") else fetched.get(chunk)
        if text is None:  # listed, not there: cannot be (chunks are written first)
            logger.warning("near-duplicate chunk %s is missing", chunk)
            return ()
        return tuple(_earlier(ward, entry) for entry in json.loads(text))

    def _remember_decoded(self, decoded: Mapping[str, tuple[EarlierReport, ...]]) -> None:
        """Keep the chunks just read, the least recently read dropped first."""
        for chunk, entries in decoded.items():
            if chunk in self._decoded:
                self._decoded.move_to_end(chunk)
            else:
                self._decoded[chunk] = entries
                self._decoded_entries += len(entries)
        while self._decoded_entries > self.decoded_limit and len(self._decoded) > 1:
            _, dropped = self._decoded.popitem(last=False)
            self._decoded_entries -= len(dropped)

    # ------------------------------------------------------------------------- writes
    async def save(
        self,
        *,
        reports: Sequence[ReportReceived],
        rejections: Sequence[ReportRejected],
        appends: Mapping[str, Sequence[EarlierReport]],
        stored_buckets: Collection[str] = (),
    ) -> None:
        """Store a batch's reports and rejections, claim their codes, fill the buckets
        (``stored_buckets``: those that exist).

        One bulk write per collection, all idempotent: a redelivered batch changes nothing.
        """
        await asyncio.gather(
            self._save_reports(reports, rejections),
            self._claim_codes(reports, rejections),
            self._fill_buckets(appends, stored_buckets),
        )

    async def _save_reports(
        self, reports: Sequence[ReportReceived], rejections: Sequence[ReportRejected]
    ) -> None:
        """Insert every report and rejection at once (inserts are what the database does
        cheaply); a report whose view is there already (routing's decision came first,
        or the batch is redelivered) gets its own fields set, what routing set is kept."""
        documents = [_report_document(report) for report in reports]
        documents += [_rejection_document(r) for r in rejections if r.tracking_code]
        if not documents:
            return
        try:
            await self.reports.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            there = duplicate_indexes(error)
            await _update_all(
                self.reports,
                [
                    (
                        {"_id": reports[index].report_id},
                        {"$set": _report_fields(reports[index])},
                        False,
                    )
                    for index in sorted(there)
                    if index < len(reports)  # a rejection stored before stays as it is
                ],
            )

    async def _claim_codes(
        self, reports: Sequence[ReportReceived], rejections: Sequence[ReportRejected]
    ) -> None:
        claims: list[dict[str, Any]] = [
            {"_id": report.tracking_code, "report_id": report.report_id, "rejected": False}
            for report in reports
        ] + [
            {
                "_id": rejected.tracking_code,
                "report_id": report_id_of(rejected.channel.value, rejected.channel_message_id),
                "rejected": True,
            }
            for rejected in rejections
            if rejected.tracking_code
        ]
        if not claims:
            return
        try:
            await self.codes.insert_many(claims, ordered=False)
        except BulkWriteError as error:
            refused = [claims[index] for index in sorted(duplicate_indexes(error))]
            holders = await self._holders([claim["_id"] for claim in refused])
            for claim in refused:
                holder = holders.get(claim["_id"])
                if holder and holder.report_id != claim["report_id"]:
                    # 30 random bits a month: rare, but possible; the first report keeps it.
                    logger.warning(
                        "tracking code collision: %s already names another report",
                        claim["_id"],
                        extra={"report_id": claim["report_id"]},
                    )

    async def _fill_buckets(
        self, appends: Mapping[str, Sequence[EarlierReport]], stored: Collection[str]
    ) -> None:
        """Add each bucket's new entries, unless the bucket is full (one bulk write).

        A full bucket keeps its first reports: duplicates link to the earliest report,
        so later ones are not needed there, and the document stays small. (The domain
        adds no more than a bucket has room for; the filter holds when writers race.)
        """
        updates: list[_Update] = []
        chunks: list[dict[str, str]] = []
        written: dict[str, tuple[EarlierReport, ...]] = {}
        for bucket_id, entries in appends.items():
            # One chunk per batch and bucket, a document of its own that never changes:
            # the bucket only lists chunk ids, so it stays small to read and to rewrite,
            # and a redelivered batch makes the same chunk (nothing new).
            rows = [_entry(entry) for entry in entries]
            text = json.dumps(rows, separators=(",", ":"))
            digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
            chunk = f"{bucket_id}#{digest}"
            chunks.append({"_id": chunk, "entries": text})
            ward = bucket_id.rsplit("#", 1)[0]
            written[chunk] = tuple(_earlier(ward, row) for row in rows)  # as read back
            # A chunk already listed (a redelivered batch) is neither added nor counted.
            change = {"$push": {"chunks": chunk}, "$inc": {"size": len(entries)}}
            fresh = {"_id": bucket_id, "chunks": {"$ne": chunk}}
            if bucket_id in stored:
                updates.append(({**fresh, "size": {"$lt": self.bucket_limit}}, change, False))
            else:
                updates.append((fresh, change, True))
        if not chunks:
            return
        try:  # the chunks first: a bucket never lists a chunk that is not there
            await self.chunks.insert_many(chunks, ordered=False)
        except BulkWriteError as error:
            duplicate_indexes(error)  # written before (a redelivered batch)
        await _update_all(self.recent, updates)
        self._remember_decoded(written)  # the next batch need not read its own chunks

    async def remember(self, handled: Mapping[str, Handled]) -> None:
        """Remember messages as handled (once their outcome is published and stored)."""
        documents = [
            {
                "_id": key,
                "outcome": item.outcome,
                "report_id": item.report_id,
                "at": item.at,
                **({"tracking_code": item.tracking_code} if item.tracking_code else {}),
            }
            for key, item in handled.items()
        ]
        if not documents:
            return
        try:
            await self.messages.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            duplicate_indexes(error)  # remembered before (a redelivered batch)

    # ------------------------------------------------------- routing keeps it current
    async def keep_current(self, updates: Sequence[ReadModelUpdate]) -> None:
        """Apply assignments and status changes, in order: each changed report's status
        gets its next version, all in one insert (read first only for reports this
        process does not hold in memory).

        A status change older than the report's last update is left out (a redelivery
        after a newer one); changes already applied write nothing.
        """
        await self.statuses.change((update.report_id, update) for update in updates)

    async def with_status(self, documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The stored reports with their latest status laid over them (one read)."""
        if not documents:
            return []
        latest = await self.statuses.get(document["_id"] for document in documents)
        return [_with_status(document, latest[document["_id"]]) for document in documents]


def _with_status(document: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return document | {field: status[field] for field in STATUS_FIELDS if field in status}


def _fold_status(
    report_id: str, base: Mapping[str, Any], updates: Sequence[ReadModelUpdate]
) -> dict[str, Any] | None:
    """The report's next status: the batch's updates that apply (:func:`to_apply`) laid
    over the latest one; None when they change nothing (a redelivered batch)."""
    last = base.get("updated_at")
    merged = to_apply(updates, {report_id: last} if last is not None else {})
    if not merged:
        return None
    before = {field: base[field] for field in STATUS_FIELDS if field in base}
    after = before | {key: _as_stored(value) for key, value in merged[0].fields.items()}
    return None if base and after == before else after


def _as_stored(value: Any) -> Any:
    """A value as the database gives it back (BSON dates keep milliseconds), so that a
    change applied twice compares equal to the stored one."""
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


class OpenRequests:
    """Open311's view of intake's reports (implements ``ServiceRequestLookup``)."""

    def __init__(self, store: IntakeStore, service_names: dict[str, str]) -> None:
        self.store = store
        self.reports = store.reports
        self.codes = store.codes
        self.service_names = service_names

    async def by_id(self, service_request_id: str) -> ServiceRequestView | None:
        code = await self.codes.find_one({"_id": service_request_id})
        found = await self.reports.find_one({"_id": code["report_id"]}) if code else None
        return await self._one(found)

    async def by_token(self, token: str) -> ServiceRequestView | None:
        found = await self.reports.find_one({"channel": "open311", "channel_message_id": token})
        return await self._one(found)

    async def _one(self, found: dict[str, Any] | None) -> ServiceRequestView | None:
        if found is None:
            return None
        return self._view((await self.store.with_status([found]))[0])

    async def search(
        self,
        *,
        ids: Sequence[str] = (),
        service_code: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[ServiceRequestView]:
        query: dict[str, Any] = {}
        if ids:
            # Asking by tracking code (unguessable, the citizen's own): any channel.
            query["tracking_code"] = {"$in": list(ids)}
        else:
            # Listing is public: only what was submitted to the public API is listed;
            # a Zalo message or a hotline call is not published to the world.
            query["channel"] = "open311"
            if service_code:
                query["category"] = service_code
            if start or end:
                query["received_at"] = {
                    **({"$gte": start} if start else {}),
                    **({"$lte": end} if end else {}),
                }
        wanted = {part.strip() for part in status.split(",")} if status and not ids else None
        cursor = self.reports.find(query).sort("received_at", DESCENDING)
        if wanted is None:
            cursor = cursor.limit(limit)
        found: list[dict[str, Any]] = []
        chunk: list[dict[str, Any]] = []
        async for document in cursor:  # the status is laid over each report, then filtered
            chunk.append(document)
            if len(chunk) == SEARCH_CHUNK:
                found += self._matching(await self.store.with_status(chunk), wanted)
                chunk = []
                if len(found) >= limit:
                    break
        found += self._matching(await self.store.with_status(chunk), wanted)
        return [self._view(document) for document in found[:limit]]

    @staticmethod
    def _matching(documents: list[dict[str, Any]], wanted: set[str] | None) -> list[dict[str, Any]]:
        if wanted is None:
            return documents
        return [document for document in documents if document["status"] in wanted]

    def _view(self, document: dict[str, Any]) -> ServiceRequestView:
        code = document["category"]
        return ServiceRequestView(
            service_request_id=document["tracking_code"],
            token=document["channel_message_id"],
            status=document["status"],
            service_code=code,
            service_name=self.service_names.get(code, code),
            description=document.get("description", ""),
            requested_datetime=document["received_at"],
            updated_datetime=document.get("updated_at") or document["received_at"],
            status_notes=document.get("status_notes"),
            agency_responsible=document.get("agency_responsible"),
            expected_datetime=document.get("expected_at"),
            address=document.get("address"),
            lat=document.get("lat"),
            long=document.get("long"),
            media_url=document.get("media_url"),
        )


def _address(report: ReportReceived) -> str | None:
    place = report.place
    if place is None:
        return None
    parts = [place.address_text, place.residential_group, place.ward_name]
    return ", ".join(part for part in parts if part) or None


def _report_document(report: ReportReceived) -> dict[str, Any]:
    return {
        "_id": report.report_id,
        **_report_fields(report),
        "updated_at": report.received_at,
        "status": "open",
        "status_notes": None,
        "agency_responsible": None,
        "expected_at": None,
    }


def _report_fields(report: ReportReceived) -> dict[str, Any]:
    """What intake itself says of a report (routing's decisions set the rest)."""
    place = report.place
    point = place.point if place else None
    return {
        "tracking_code": report.tracking_code,
        "channel": report.channel.value,
        "channel_message_id": report.channel_message_id,
        "received_at": report.received_at,
        "category": report.category,
        "ward_code": place.ward_code if place else None,
        "address": _address(report),
        "lat": point.lat if point else None,
        "long": point.lon if point else None,
        "description": report.text,
        "media_url": report.attachments[0].url if report.attachments else None,
        "duplicate_of": report.duplicate_of,
    }


def _rejection_document(rejected: ReportRejected) -> dict[str, Any]:
    """A rejected message, findable by its tracking code, closed, with the notice."""
    return {
        "_id": report_id_of(rejected.channel.value, rejected.channel_message_id),
        "tracking_code": rejected.tracking_code,
        "channel": rejected.channel.value,
        "channel_message_id": rejected.channel_message_id,
        "received_at": rejected.rejected_at,
        "updated_at": rejected.rejected_at,
        "status": "closed",
        "status_notes": rejected.citizen_notice,
        "category": "unclassified",
        "ward_code": None,
        "description": rejected.original_excerpt or "",
        "rejected": True,
    }


async def _update_all(collection: AsyncCollection[Any], updates: Sequence[_Update]) -> None:
    """Apply updates in order, in bulk (:func:`phananh_platform.mongo.bulk_write`).

    The filters are chosen so that no update collides (an upsert only where nothing is
    stored); if one does anyway (another writer raced this one), it and the rest are
    applied one at a time and the collision changes nothing.
    """
    try:
        await bulk_write(
            collection,
            [UpdateOne(where, change, upsert=upsert) for where, change, upsert in updates],
            ordered=True,
        )
    except BulkWriteError as error:
        first = min((int(e["index"]) for e in error.details.get("writeErrors", [])), default=0)
        for where, change, upsert in updates[first:]:
            with contextlib.suppress(DuplicateKeyError):
                await collection.update_one(where, change, upsert=upsert)


def _pack(fingerprint: Iterable[int]) -> str:
    hashes = sorted(fingerprint)
    return base64.b64encode(struct.pack(f"<{len(hashes)}I", *hashes)).decode()


def _unpack(packed: str) -> frozenset[int]:
    raw = base64.b64decode(packed)
    return frozenset(struct.unpack(f"<{len(raw) // 4}I", raw))


def _entry(entry: EarlierReport) -> list[Any]:
    """``[report id, category, received at (ms since the epoch), duplicate of, 4-gram
    hashes, place hashes]``."""
    millis = round(entry.received_at.timestamp() * 1000)
    return [
        entry.report_id,
        entry.category,
        millis,
        entry.duplicate_of,
        base64.b64encode(pack_fingerprint(entry.fingerprint)).decode(),
        _pack(entry.anchors),
    ]


def _earlier(ward_code: str, entry: list[Any]) -> EarlierReport:
    report_id, category, millis, duplicate_of, packed, *places = entry
    return EarlierReport(
        report_id=report_id,
        ward_code=ward_code,
        category=category,
        fingerprint=PackedFingerprint(base64.b64decode(packed)),
        received_at=datetime.fromtimestamp(millis / 1000, UTC),
        duplicate_of=duplicate_of,
        anchors=_unpack(places[0]) if places else frozenset(),
    )
