"""Intake's MongoDB store: which channel messages were handled, and a read model of reports.

Collections (FerretDB and MongoDB alike; only inserts, finds and ``$set`` updates):

* ``intake_messages``  ``_id = "<channel>:<channel message id>"``: written after a
  message's outcome was published, so the same channel message arriving again (a webhook
  retry, a client resending) is recognised across restarts and makes nothing twice.
* ``intake_reports``   ``_id = report id``: what intake made of each accepted or rejected
  message, for Open311's GET requests. Routing's assignments and status changes keep its
  status current.
* ``intake_codes``     ``_id = tracking code``: the report a code names (replies, Open311).
* ``intake_recent``    ``_id = "<ward>|<category>|<local date>"``: the folded texts of a
  day's reports of one ward and category, for near-duplicate detection.

Hot-path lookups go by ``_id`` only: FerretDB's SQLite backend answers an ``_id`` match
without reading the whole collection, while other filters scan it (measured: ~0.15 ms a
document). MongoDB answers both from its indexes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from phananh_contracts import ReportAssigned, ReportReceived, ReportRejected, ReportStatusChanged
from phananh_contracts.values import ReportStatus
from phananh_platform.mongo import insert_once
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from intake.domain.dedupe import EarlierReport
from intake.domain.tracking import LOCAL_TIME
from intake.domain.tracking import report_id as report_id_of
from intake.ports import ServiceRequestView

logger = logging.getLogger("intake.store")
BUCKET_LIMIT = 500
"""Reports of one ward, category and day kept for near-duplicate detection."""
CLOSED = {ReportStatus.RESOLVED, ReportStatus.CLOSED, ReportStatus.REJECTED}


class IntakeStore:
    """The intake service's own documents; nothing else writes them."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.messages = database["intake_messages"]
        self.reports = database["intake_reports"]
        self.codes = database["intake_codes"]
        self.recent = database["intake_recent"]

    async def ensure_indexes(self) -> None:
        await self.reports.create_index("tracking_code", name="tracking_code")
        await self.reports.create_index(
            [("ward_code", ASCENDING), ("category", ASCENDING), ("received_at", DESCENDING)],
            name="ward_category_recent",
        )
        await self.reports.create_index(
            [("channel", ASCENDING), ("channel_message_id", ASCENDING)], name="channel_message"
        )
        await self.reports.create_index("received_at", name="received_at")

    # ------------------------------------------------------------- messages handled
    async def seen(self, channel: str, channel_message_id: str) -> bool:
        return await self.messages.find_one({"_id": f"{channel}:{channel_message_id}"}) is not None

    async def remember(
        self, channel: str, channel_message_id: str, *, outcome: str, report_id: str, at: datetime
    ) -> None:
        await insert_once(
            self.messages,
            {
                "_id": f"{channel}:{channel_message_id}",
                "outcome": outcome,
                "report_id": report_id,
                "at": at,
            },
        )

    # --------------------------------------------------------------------- reports
    async def save_report(self, report: ReportReceived, *, folded_text: str) -> None:
        place = report.place
        point = place.point if place else None
        # Routing's assignment or status may arrive before this (it is published first):
        # the report's own fields are set, what routing may have set already is kept.
        await self.reports.update_one(
            {"_id": report.report_id},
            {
                "$set": {
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
                    "folded_text": folded_text,
                    "media_url": report.attachments[0].url if report.attachments else None,
                    "duplicate_of": report.duplicate_of,
                },
                "$setOnInsert": {
                    "updated_at": report.received_at,
                    "status": "open",
                    "status_notes": None,
                    "agency_responsible": None,
                    "expected_at": None,
                },
            },
            upsert=True,
        )
        await self._claim_code(report.tracking_code, report.report_id)
        if place and place.ward_code:
            await self._remember_recent(report, place.ward_code, folded_text)

    async def _remember_recent(
        self, report: ReportReceived, ward_code: str, folded_text: str
    ) -> None:
        """Add the report to its day bucket, unless the bucket is full.

        A full bucket keeps its first reports: duplicates link to the earliest report,
        so later ones are not needed there, and the document stays far below 16 MB.
        """
        # A full bucket matches nothing, the upsert then collides on _id: nothing added.
        with contextlib.suppress(DuplicateKeyError):
            await self.recent.update_one(
                {
                    "_id": _bucket(ward_code, report.category, report.received_at),
                    "size": {"$lt": BUCKET_LIMIT},
                },
                {
                    "$addToSet": {
                        "entries": {
                            "report_id": report.report_id,
                            "folded_text": folded_text,
                            "received_at": report.received_at,
                            "duplicate_of": report.duplicate_of,
                        }
                    },
                    "$inc": {"size": 1},
                },
                upsert=True,
            )

    async def _claim_code(
        self, tracking_code: str, report_id: str, *, rejected: bool = False
    ) -> None:
        if await insert_once(
            self.codes, {"_id": tracking_code, "report_id": report_id, "rejected": rejected}
        ):
            return
        holder = await self.codes.find_one({"_id": tracking_code})
        if holder and holder["report_id"] != report_id:
            # 30 random bits a month: rare, but possible; the first report keeps the code.
            logger.warning(
                "tracking code collision: %s already names another report",
                tracking_code,
                extra={"report_id": report_id},
            )

    async def save_rejection(self, rejected: ReportRejected, *, category: str | None) -> None:
        """Keep a rejected message findable by its tracking code, closed, with the notice."""
        if rejected.tracking_code is None:
            return
        await insert_once(
            self.reports,
            {
                "_id": report_id_of(rejected.channel.value, rejected.channel_message_id),
                "tracking_code": rejected.tracking_code,
                "channel": rejected.channel.value,
                "channel_message_id": rejected.channel_message_id,
                "received_at": rejected.rejected_at,
                "updated_at": rejected.rejected_at,
                "status": "closed",
                "status_notes": rejected.citizen_notice,
                "category": category or "unclassified",
                "ward_code": None,
                "description": rejected.original_excerpt or "",
                "rejected": True,
            },
        )
        made_from = report_id_of(rejected.channel.value, rejected.channel_message_id)
        await self._claim_code(rejected.tracking_code, made_from, rejected=True)

    async def report_by_code(self, tracking_code: str) -> tuple[str, str] | None:
        """(report id, tracking code) of the accepted report with this code."""
        found = await self.codes.find_one({"_id": tracking_code})
        if found is None or found.get("rejected"):
            return None
        return found["report_id"], tracking_code

    async def report_by_message(
        self, channel: str, channel_message_id: str
    ) -> tuple[str, str] | None:
        """The report made from a channel message (for replies threaded on the channel)."""
        handled = await self.messages.find_one({"_id": f"{channel}:{channel_message_id}"})
        if handled is None or handled.get("outcome") != "report":
            return None
        report = await self.reports.find_one({"_id": handled["report_id"]}, {"tracking_code": 1})
        return (report["_id"], report["tracking_code"]) if report else None

    async def earlier(
        self, ward_code: str, category: str, since: datetime, until: datetime
    ) -> list[EarlierReport]:
        """Reports of a ward and category received in [since, until]."""
        days = {
            _bucket(ward_code, category, since + timedelta(days=offset))
            for offset in range((until - since).days + 2)
        }
        earlier: dict[str, EarlierReport] = {}
        async for bucket in self.recent.find({"_id": {"$in": sorted(days)}}):
            for entry in bucket.get("entries", []):
                if since <= entry["received_at"] <= until:
                    earlier[entry["report_id"]] = EarlierReport(
                        report_id=entry["report_id"],
                        ward_code=ward_code,
                        category=category,
                        folded_text=entry["folded_text"],
                        received_at=entry["received_at"],
                        duplicate_of=entry.get("duplicate_of"),
                    )
        return list(earlier.values())

    # ------------------------------------------------------- routing keeps it current
    async def apply_assignment(self, assigned: ReportAssigned) -> None:
        await self.reports.update_one(
            {"_id": assigned.report_id},
            {
                "$set": {
                    "agency_responsible": assigned.lead_agency_id,
                    "expected_at": assigned.deadline,
                    "updated_at": assigned.assigned_at,
                }
            },
            upsert=True,  # may come before intake stored the report: kept, not lost
        )

    async def apply_status(self, change: ReportStatusChanged) -> None:
        update: dict[str, Any] = {
            "status": "closed" if change.status in CLOSED else "open",
            "updated_at": change.changed_at,
        }
        if change.note:
            update["status_notes"] = change.note
        if change.agency_id:
            update["agency_responsible"] = change.agency_id
        # Status changes of one report arrive in order (one partition); an older change
        # redelivered after a newer one must not win. Upserted: it may come before intake
        # stored the report itself.
        # When the report holds a newer change, the upsert collides on _id: nothing changes.
        with contextlib.suppress(DuplicateKeyError):
            await self.reports.update_one(
                {"_id": change.report_id, "updated_at": {"$lte": change.changed_at}},
                {"$set": update},
                upsert=True,
            )


class OpenRequests:
    """Open311's view of intake's reports (implements ``ServiceRequestLookup``)."""

    def __init__(self, store: IntakeStore, service_names: dict[str, str]) -> None:
        self.reports = store.reports
        self.codes = store.codes
        self.service_names = service_names

    async def by_id(self, service_request_id: str) -> ServiceRequestView | None:
        code = await self.codes.find_one({"_id": service_request_id})
        found = await self.reports.find_one({"_id": code["report_id"]}) if code else None
        return self._view(found) if found else None

    async def by_token(self, token: str) -> ServiceRequestView | None:
        found = await self.reports.find_one({"channel": "open311", "channel_message_id": token})
        return self._view(found) if found else None

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
            if status:
                query["status"] = {"$in": [part.strip() for part in status.split(",")]}
        cursor = self.reports.find(query).sort("received_at", DESCENDING).limit(limit)
        return [self._view(document) async for document in cursor]

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


def _bucket(ward_code: str, category: str, at: datetime) -> str:
    return f"{ward_code}|{category}|{at.astimezone(LOCAL_TIME).date().isoformat()}"


def _address(report: ReportReceived) -> str | None:
    place = report.place
    if place is None:
        return None
    parts = [place.address_text, place.residential_group, place.ward_name]
    return ", ".join(part for part in parts if part) or None
