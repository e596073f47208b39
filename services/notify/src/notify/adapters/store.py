"""Notify's MongoDB store: who to tell per report, each notification's fate, opt-outs.

Every document is keyed by ``_id`` (FerretDB looks other fields up by scanning), and a
batch writes each collection with one command (``bulk_write`` / ``insert_many``) and reads
with one ``{_id: {$in: [...]}}``:

* ``notify_reports``: each report's file, as versions (``_id`` = ``<report id>#<version,
  8 digits>``, see :class:`ReportBook`): ``received`` once its receipt was seen, its
  ``tracking_code``, the ``recipients`` linked to it (the reporter and the reporters of
  its duplicates, contacts still sealed), the ``agencies`` named so far (id → Vietnamese
  name), and the ``triggers``: the events that tell its citizens something, kept so that
  events arriving before the receipt are told once it arrives; ``written_at``, when the
  version was written (what retention goes by, :mod:`notify.adapters.retention`).
* ``notify_notifications``: one claim per message (``_id`` = notification id), inserted
  before anything is sent: ``state`` ``sending`` (or ``skipped`` for a citizen who opted
  out), the ``lease_until`` of the delivery in progress, ``attempts``.
* ``notify_outcomes``: one per decided message (same ``_id``), inserted once: ``state``
  ``sent`` | ``failed`` | ``skipped`` and the outcome event (``outcome``).
* ``notify_published``: one per outcome event on Kafka (same ``_id``), inserted once it
  was acknowledged. A decided message whose batch comes back publishes its stored
  outcome only if it is not there (a crash between deciding and publishing).
* ``notify_opt_outs``: one per pseudonym: the latest ``stop_at`` and ``start_at``
  (``$max``, so replies applied in any order end the same).

Deciding and marking are inserts, not updates of the claim, and a file changes by a new
version, not an update: on FerretDB an update rewrites the whole document (~0.4–0.5 ms
of its CPU, more under load), an insert appends one (~0.05 ms); decision 0007.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from phananh_contracts import topic_by_name
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.mongo import bulk_write, duplicate_indexes
from phananh_platform.versions import VersionedDocuments
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from notify.domain.recipients import Recipient
from notify.domain.telling import (
    FileChange,
    LinkMark,
    OptOutChange,
    OptOutState,
    ReportEvent,
    ReportFile,
)

logger = logging.getLogger("notify.store")


class ClaimHeld(ConcurrentChange):
    """Another delivery of this notification is in progress and its lease is valid.

    A ``ConcurrentChange``: the delivery guard treats it as transient and tries the
    batch again later, by which time the other delivery finished or its lease expired.
    """


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


async def _upsert_all(collection: AsyncCollection[Any], updates: Sequence[UpdateOne]) -> None:
    """Upserts by ``_id`` in bulk; those that lost a race to create their document (a
    concurrent upsert inserted it first) are applied once more."""
    try:
        await bulk_write(collection, updates)
    except BulkWriteError as error:
        await bulk_write(collection, [updates[index] for index in sorted(duplicate_indexes(error))])


class ReportBook:
    """``notify_reports``: the citizens linked to each report, and its pending events.

    A report's file changes by inserting its next version (``<report id>#<8 digits>``,
    :class:`phananh_platform.versions.VersionedDocuments`), never by an update: FerretDB
    rewrites a whole document per update, and the report files were its costliest
    statements.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.reports = database["notify_reports"]
        self._files = VersionedDocuments[FileChange](
            self.reports,
            lambda key, base, items: _stamped(_merged(key, base, items)),
            key_field="report_id",
        )

    async def apply(self, changes: Iterable[FileChange]) -> dict[str, ReportFile]:
        """Write a batch's changes, one new version per changed report, in one insert;
        return the files of the reports the changes name, as written (changes already in a
        file, a redelivered batch, write nothing)."""
        written = await self._files.change((change.report_id, change) for change in changes)
        return {key: _file(key, document) for key, document in written.items()}

    async def files(self, report_ids: Iterable[str]) -> dict[str, ReportFile]:
        """The files of ``report_ids`` as stored (an empty one for a report never seen)."""
        found = await self._files.get(report_ids)
        return {key: _file(key, document) for key, document in found.items()}


def _stamped(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A new version of a file, with when it was written (what retention goes by)."""
    return None if document is None else document | {"written_at": datetime.now(UTC)}


def _merged(
    report_id: str, base: Mapping[str, Any], changes: Sequence[FileChange]
) -> dict[str, Any] | None:
    """The file ``base`` with ``changes`` folded in (changes commute; each element is kept
    once, as ``$addToSet`` would); None when they change nothing."""
    received = bool(base.get("received", False))
    tracking_code = base.get("tracking_code")
    recipients = list(base.get("recipients", []))
    triggers = list(base.get("triggers", []))
    agencies = list(base.get("agencies", []))
    links = list(base.get("links", []))
    changed = not base
    for change in changes:
        if change.receipt is not None and not received:
            received, tracking_code, changed = True, change.receipt, True
        for recipient in change.recipients:
            document = _recipient_doc(recipient)
            if document not in recipients:
                recipients.append(document)
                changed = True
        if (kept := change.kept) is not None:
            document = {
                "event_id": kept.event_id,
                "topic": kept.topic,
                "time": kept.time,
                "value": kept.value,
            }
            if document not in triggers:
                triggers.append(document)
                changed = True
        for agency, name in change.agencies.items():
            document = {"id": agency, "name": name}
            if document not in agencies:
                agencies.append(document)
                changed = True
        if (mark := change.link) is not None:
            document = {
                "report_id": mark.report_id,
                "linked": mark.linked,
                "at": mark.at,
                "event_id": mark.event_id,
            }
            if document not in links:
                links.append(document)
                changed = True
    if not changed:
        return None
    return {
        "report_id": report_id,
        "received": received,
        "tracking_code": tracking_code,
        "recipients": recipients,
        "triggers": triggers,
        "agencies": agencies,
        "links": links,
    }


def _file(report_id: str, doc: Mapping[str, Any]) -> ReportFile:
    agencies: dict[str, str] = {}
    for agency in doc.get("agencies", []):
        agencies[agency["id"]] = agency["name"]
    triggers = sorted(doc.get("triggers", []), key=lambda kept: str(kept["time"]))
    return ReportFile(
        report_id=report_id,
        received=bool(doc.get("received", False)),
        tracking_code=doc.get("tracking_code"),
        recipients=tuple(_recipient(item) for item in doc.get("recipients", [])),
        agencies=agencies,
        kept=tuple(_kept_event(kept) for kept in triggers),
        links=tuple(
            LinkMark(mark["report_id"], bool(mark["linked"]), mark["at"], mark["event_id"])
            for mark in doc.get("links", [])
        ),
    )


def _kept_event(kept: Mapping[str, Any]) -> ReportEvent:
    event = topic_by_name(kept["topic"]).decode(kept["value"].encode("utf-8"))
    return event  # type: ignore[return-value]


@dataclass(frozen=True)
class Claim:
    """The right to deliver one notification, or what became of it already."""

    notification_id: str
    attempts_before: int = 0
    """Attempts an interrupted delivery had already made (0 for a fresh one)."""
    done: dict[str, Any] | None = None
    """The document of a notification already decided (sent, failed or skipped)."""
    held: bool = False
    """Another delivery holds it (its lease runs): the batch is tried again later."""
    taken_over: bool = False
    """It was left ``sending`` by a delivery that crashed, and is this delivery's now."""

    @property
    def resumed(self) -> bool:
        return self.done is None and self.attempts_before > 0


@dataclass(frozen=True)
class NewClaim:
    """A notification to claim: its document's facts and the provider tried first."""

    notification_id: str
    facts: Mapping[str, Any]
    first_provider: str | None
    """Its first attempt is counted with the claim (before it is made); None: no provider."""
    state: str = "sending"
    """``skipped`` for a citizen who opted out: decided with the claim, nothing to send."""


class NotificationLog:
    """``notify_notifications``: one document per message, claimed before any send."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.notifications = database["notify_notifications"]
        self.outcomes = database["notify_outcomes"]
        self.publications = database["notify_published"]

    async def claim_all(
        self, claims: Sequence[NewClaim], *, now: datetime, lease_s: float
    ) -> dict[str, Claim]:
        """Claim a batch's notifications with one ``insert_many``.

        A fresh notification is claimed at once (its first attempt counted). One already
        decided comes back as ``done``, unless its outcome event is not marked published
        while its lease still runs: its delivery is publishing it, so it comes back
        ``held`` (republished only once the lease expired, after a crash). One left
        ``sending`` by a delivery that crashed is taken over once its lease expired
        (continuing its attempt count); while the lease runs it comes back ``held``.
        """
        lease_until = now + timedelta(seconds=lease_s)
        documents = [_claim_document(claim, now, lease_until) for claim in claims]
        if not documents:
            return {}
        taken: list[str] = []
        try:
            await self.notifications.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            taken = [claims[index].notification_id for index in duplicate_indexes(error)]
        result = {claim.notification_id: Claim(claim.notification_id) for claim in claims}
        if not taken:
            return result
        first = {claim.notification_id: claim.first_provider for claim in claims}
        for nid in taken:  # until read: held (nothing in this design removes a document)
            result[nid] = Claim(nid, held=True)
        decided = await self._outcomes(taken)
        published = {
            doc["_id"] async for doc in self.publications.find({"_id": {"$in": sorted(decided)}})
        }
        async for existing in self.notifications.find({"_id": {"$in": taken}}):
            nid = existing["_id"]
            if existing["state"] != "sending":  # decided with its claim (opted out)
                result[nid] = Claim(nid, done=existing | {"published": True})
            elif nid in decided:
                unpublished = decided[nid].get("outcome") and nid not in published
                if unpublished and existing["lease_until"] > now:
                    continue  # held: its delivery is publishing it right now
                done = existing | decided[nid] | {"published": nid in published}
                result[nid] = Claim(nid, done=done)
            else:
                result[nid] = await self._existing(existing, first[nid], now, lease_until)
        return result

    async def _outcomes(self, notification_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {
            doc["_id"]: doc
            async for doc in self.outcomes.find({"_id": {"$in": sorted(set(notification_ids))}})
        }

    async def _existing(
        self,
        existing: dict[str, Any],
        first_provider: str | None,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        nid = existing["_id"]
        if existing["state"] != "sending":
            return Claim(nid, done=existing)
        if existing["lease_until"] > now:
            return Claim(nid, held=True)
        update: dict[str, Any] = {"$set": {"lease_until": lease_until}, "$inc": {"takeovers": 1}}
        if first_provider is not None:
            update["$set"] |= {"last_provider": first_provider, "last_at": now}
            update["$inc"]["attempts"] = 1
        taken = await self.notifications.update_one(
            {"_id": nid, "state": "sending", "lease_until": existing["lease_until"]}, update
        )
        if taken.modified_count != 1:
            return Claim(nid, held=True)  # taken over by another delivery meanwhile
        logger.warning(
            "taking over an interrupted delivery",
            extra={"notification_id": nid, "attempts": existing["attempts"]},
        )
        return Claim(nid, attempts_before=int(existing["attempts"]), taken_over=True)

    async def attempt(self, notification_id: str, provider_id: str, *, now: datetime) -> None:
        """Count a retry or fallback attempt before it is made (a crash mid-attempt still
        counts it); the first attempt is counted with the claim."""
        await self.notifications.update_one(
            {"_id": notification_id},
            {"$inc": {"attempts": 1}, "$set": {"last_provider": provider_id, "last_at": now}},
        )

    async def renew(self, notification_ids: Iterable[str], *, until: datetime) -> None:
        """Extend the lease of deliveries still in progress (a long batch under an outage)."""
        await self.notifications.update_many(
            {"_id": {"$in": sorted(notification_ids)}, "state": "sending"},
            {"$set": {"lease_until": until}},
        )

    async def decide_all(self, decisions: Sequence[Decision], *, now: datetime) -> list[Decision]:
        """Record the fates of a batch's notifications and the events telling them, with
        one ``insert_many``; return the decisions as recorded.

        A notification decided already (two deliveries of it finished, one after its
        lease had expired) keeps its first outcome: that one is returned, to be published.
        """
        if not decisions:
            return []
        documents = [
            {
                "_id": decision.notification_id,
                **decision.details,
                "state": decision.state,
                "outcome": decision.outcome,
                "decided_at": now,
            }
            for decision in decisions
        ]
        try:
            await self.outcomes.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            refused = {decisions[index].notification_id for index in duplicate_indexes(error)}
            earlier = await self._outcomes(list(refused))
            return [
                _decision(earlier[d.notification_id]) if d.notification_id in earlier else d
                for d in decisions
            ]
        return list(decisions)

    async def published(self, notification_ids: Iterable[str]) -> None:
        """The outcome events of these notifications are on Kafka (one ``insert_many``;
        those marked already are left as they are)."""
        wanted = sorted(set(notification_ids))
        if not wanted:
            return
        try:
            await self.publications.insert_many([{"_id": nid} for nid in wanted], ordered=False)
        except BulkWriteError as error:
            duplicate_indexes(error)  # marked by an earlier delivery: fine; anything else raised

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        """The notification as it stands: its claim, and its outcome once decided."""
        claim: dict[str, Any] | None = await self.notifications.find_one({"_id": notification_id})
        if claim is None:
            return None
        decided = (await self._outcomes([notification_id])).get(notification_id, {})
        published = await self.publications.find_one({"_id": notification_id}) is not None
        return claim | decided | {"published": published}


@dataclass(frozen=True)
class Decision:
    """What became of one notification, and the event that tells it (None: nothing to
    publish, e.g. skipped)."""

    notification_id: str
    state: str
    outcome: dict[str, Any] | None
    details: Mapping[str, Any]


def _decision(document: Mapping[str, Any]) -> Decision:
    details = {
        key: value
        for key, value in document.items()
        if key not in {"_id", "state", "outcome", "decided_at"}
    }
    return Decision(document["_id"], document["state"], document["outcome"], details)


def _claim_document(claim: NewClaim, now: datetime, lease_until: datetime) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": claim.notification_id,
        **claim.facts,
        "state": claim.state,
        "attempts": 0,
        "lease_until": lease_until,
        "created_at": now,
    }
    if claim.state != "sending":
        document |= {"outcome": None, "decided_at": now}
    elif claim.first_provider is not None:
        document |= {"attempts": 1, "last_provider": claim.first_provider, "last_at": now}
    return document


class OptOuts:
    """``notify_opt_outs``: the citizens who asked for no more messages."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.opt_outs = database["notify_opt_outs"]

    async def record_all(self, changes: Iterable[OptOutChange]) -> None:
        """Apply a batch's opt-outs and opt-ins (``$max``: the latest of each wins)."""
        merged: dict[str, dict[str, datetime]] = {}
        for change in changes:
            field = "stop_at" if change.intent == "opt_out" else "start_at"
            latest = merged.setdefault(change.pseudonym, {})
            latest[field] = max(latest.get(field, change.at), change.at)
        await _upsert_all(
            self.opt_outs,
            [
                UpdateOne({"_id": key}, {"$max": fields}, upsert=True)
                for key, fields in merged.items()
            ],
        )

    async def states(self, pseudonyms: Iterable[str]) -> dict[str, OptOutState]:
        """The opt-out state of each citizen who has one, in one read."""
        wanted = sorted(set(pseudonyms))
        if not wanted:
            return {}
        return {
            doc["_id"]: OptOutState(doc.get("stop_at"), doc.get("start_at"))
            async for doc in self.opt_outs.find({"_id": {"$in": wanted}})
        }
