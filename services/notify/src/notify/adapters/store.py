"""Notify's MongoDB store: who to tell per report, each notification's fate, opt-outs.

Every document is keyed by ``_id`` (FerretDB looks other fields up by scanning):

* ``notify_reports``: one per report (``_id`` = report id): ``received`` once its receipt
  was seen, its ``tracking_code``, the ``recipients`` linked to it (the reporter and the
  reporters of its duplicates, contacts still sealed), the ``agencies`` named so far
  (id → Vietnamese name), and the ``triggers``: the events that tell its citizens
  something, kept so that events arriving before the receipt are told once it arrives.
* ``notify_notifications``: one per message (``_id`` = notification id): ``state``
  ``sending`` → ``sent`` | ``failed`` | ``skipped``, the ``lease_until`` of the delivery in
  progress, ``attempts``, the outcome event (``outcome``) and whether it is ``published``.
* ``notify_opt_outs``: one per pseudonym: the latest ``stop_at`` and ``start_at``
  (``$max``, so replies applied in any order end the same).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from phananh_platform.delivery import ConcurrentChange
from phananh_platform.mongo import insert_once
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from notify.domain.recipients import Recipient

logger = logging.getLogger("notify.store")


class ClaimHeld(ConcurrentChange):
    """Another delivery of this notification is in progress and its lease is valid.

    A ``ConcurrentChange``: the delivery guard treats it as transient and tries the
    message again later, by which time the other delivery finished or its lease expired.
    """


@dataclass(frozen=True)
class ReportFile:
    """What notify knows about one report."""

    report_id: str
    received: bool
    tracking_code: str | None
    recipients: tuple[Recipient, ...]
    agencies: dict[str, str]
    triggers: tuple[dict[str, Any], ...]


def _recipient_doc(recipient: Recipient) -> dict[str, Any]:
    return {
        "pseudonym": recipient.pseudonym,
        "contact": recipient.contact_ciphertext,
        "tracking_code": recipient.tracking_code,
        "report_id": recipient.own_report_id,
    }


def _recipient(doc: dict[str, Any]) -> Recipient:
    return Recipient(
        pseudonym=doc["pseudonym"],
        contact_ciphertext=doc["contact"],
        tracking_code=doc.get("tracking_code"),
        own_report_id=doc["report_id"],
    )


async def _upsert(collection: AsyncCollection[Any], key: str, update: dict[str, Any]) -> None:
    """``update_one(upsert=True)``, once more if a concurrent upsert created the document."""
    try:
        await collection.update_one({"_id": key}, update, upsert=True)
    except DuplicateKeyError:
        await collection.update_one({"_id": key}, update, upsert=True)


async def _upsert_and_read(
    collection: AsyncCollection[Any], key: str, update: dict[str, Any]
) -> dict[str, Any]:
    """:func:`_upsert` that answers the document as it is after the update (one round trip)."""
    try:
        document = await collection.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    except DuplicateKeyError:
        document = await collection.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    return document or {}  # an upsert always answers a document


class ReportBook:
    """``notify_reports``: the citizens linked to each report, and its pending events."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.reports = database["notify_reports"]

    async def register_receipt(
        self, report_id: str, tracking_code: str, recipient: Recipient | None
    ) -> ReportFile:
        """The report's receipt arrived: it is known, with its reporter (if any)."""
        update: dict[str, Any] = {"$set": {"received": True, "tracking_code": tracking_code}}
        if recipient is not None:
            update["$addToSet"] = {"recipients": _recipient_doc(recipient)}
        return _file(report_id, await _upsert_and_read(self.reports, report_id, update))

    async def link(self, root_report_id: str, recipient: Recipient) -> None:
        """A duplicate's reporter will hear about ``root_report_id`` from now on."""
        await _upsert(
            self.reports,
            root_report_id,
            {
                "$addToSet": {"recipients": _recipient_doc(recipient)},
                "$setOnInsert": {"received": False},
            },
        )

    async def record_trigger(
        self, report_id: str, trigger: dict[str, Any], agencies: dict[str, str]
    ) -> ReportFile:
        """Keep an event that tells the report's citizens something; the file after it."""
        add: dict[str, Any] = {"triggers": trigger}
        if agencies:
            add["agencies"] = {
                "$each": [{"id": agency, "name": name} for agency, name in agencies.items()]
            }
        update = {"$addToSet": add, "$setOnInsert": {"received": False}}
        return _file(report_id, await _upsert_and_read(self.reports, report_id, update))

    async def file(self, report_id: str) -> ReportFile:
        return _file(report_id, await self.reports.find_one({"_id": report_id}) or {})


def _file(report_id: str, doc: dict[str, Any]) -> ReportFile:
    agencies: dict[str, str] = {}
    for agency in doc.get("agencies", []):
        agencies[agency["id"]] = agency["name"]
    return ReportFile(
        report_id=report_id,
        received=bool(doc.get("received", False)),
        tracking_code=doc.get("tracking_code"),
        recipients=tuple(_recipient(item) for item in doc.get("recipients", [])),
        agencies=agencies,
        triggers=tuple(doc.get("triggers", [])),
    )


@dataclass(frozen=True)
class Claim:
    """The right to deliver one notification, or what became of it already."""

    notification_id: str
    attempts_before: int = 0
    """Attempts an interrupted delivery had already made (0 for a fresh one)."""
    done: dict[str, Any] | None = None
    """The document of a notification already decided (sent, failed or skipped)."""

    @property
    def resumed(self) -> bool:
        return self.done is None and self.attempts_before > 0


class NotificationLog:
    """``notify_notifications``: one document per message, claimed before any send."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.notifications = database["notify_notifications"]

    async def claim(
        self, notification_id: str, facts: dict[str, Any], *, now: datetime, lease_s: float
    ) -> Claim:
        """Claim the notification for one delivery.

        A fresh notification is claimed at once. One already decided comes back as
        ``done``. One left ``sending`` by a delivery that crashed is taken over once its
        lease expired; while the lease runs, :class:`ClaimHeld` is raised.
        """
        lease_until = now + timedelta(seconds=lease_s)
        document = {
            "_id": notification_id,
            **facts,
            "state": "sending",
            "attempts": 0,
            "lease_until": lease_until,
            "created_at": now,
            "published": False,
        }
        if await insert_once(self.notifications, document):
            return Claim(notification_id)
        existing = await self.notifications.find_one({"_id": notification_id})
        if existing is None:  # removed in between: nothing in this design removes one
            raise ClaimHeld(f"notification {notification_id} vanished while claimed")
        if existing["state"] != "sending":
            return Claim(notification_id, done=existing)
        if existing["lease_until"] > now:
            raise ClaimHeld(f"notification {notification_id} is being delivered")
        taken = await self.notifications.update_one(
            {"_id": notification_id, "state": "sending", "lease_until": existing["lease_until"]},
            {"$set": {"lease_until": lease_until}, "$inc": {"takeovers": 1}},
        )
        if taken.modified_count != 1:
            raise ClaimHeld(f"notification {notification_id} was taken over by another delivery")
        logger.warning(
            "taking over an interrupted delivery",
            extra={"notification_id": notification_id, "attempts": existing["attempts"]},
        )
        return Claim(notification_id, attempts_before=int(existing["attempts"]))

    async def attempt(self, notification_id: str, provider_id: str, *, now: datetime) -> None:
        """Count an attempt before it is made (a crash mid-attempt still counts it)."""
        await self.notifications.update_one(
            {"_id": notification_id},
            {"$inc": {"attempts": 1}, "$set": {"last_provider": provider_id, "last_at": now}},
        )

    async def decide(
        self,
        notification_id: str,
        state: str,
        *,
        outcome: dict[str, Any] | None,
        details: dict[str, Any],
        now: datetime,
    ) -> None:
        """Record the fate of a notification and the event that tells it (not yet sent)."""
        await self.notifications.update_one(
            {"_id": notification_id},
            {
                "$set": {
                    "state": state,
                    "outcome": outcome,
                    "decided_at": now,
                    "published": outcome is None,
                    **details,
                }
            },
        )

    async def published(self, notification_id: str) -> None:
        await self.notifications.update_one({"_id": notification_id}, {"$set": {"published": True}})

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        return await self.notifications.find_one({"_id": notification_id})


class OptOuts:
    """``notify_opt_outs``: the citizens who asked for no more messages."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.opt_outs = database["notify_opt_outs"]

    async def record(self, pseudonym: str, *, stop: bool, at: datetime) -> None:
        field = "stop_at" if stop else "start_at"
        await _upsert(self.opt_outs, pseudonym, {"$max": {field: at}})

    async def opted_out(self, pseudonym: str) -> bool:
        doc = await self.opt_outs.find_one({"_id": pseudonym})
        if doc is None or doc.get("stop_at") is None:
            return False
        start = doc.get("start_at")
        return start is None or bool(doc["stop_at"] > start)
