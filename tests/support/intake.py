"""In-memory twins of intake's adapters, for tests of its fronts and handlers.

``ListedRequests`` answers as ``intake.adapters.store.OpenRequests`` does over MongoDB;
``services/intake/tests/adapters/test_intake_requests_contract.py`` holds both to the
same answers. ``MemoryIntakeStore`` keeps what the normalizer and the read model write
(``intake.adapters.store.IntakeStore``), ``KeptPublisher`` what the HTTP fronts publish.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from intake.adapters.store import _fold_status, _with_status
from intake.domain.batch import Bucket, CodeHolder, Handled, Known
from intake.domain.dedupe import BUCKET_LIMIT, EarlierReport
from intake.domain.model import ServiceRequestView
from intake.domain.readmodel import ReadModelUpdate
from intake.domain.tracking import report_id as report_id_of
from phananh_contracts import RawChannelMessageReceivedEvent, ReportReceived, ReportRejected


class ListedRequests:
    """``ServiceRequestLookup`` over views: ``listed`` ones were submitted through Open311
    (the public listing shows them), ``unlisted`` ones came by another channel (found by
    their tracking code only)."""

    def __init__(
        self, *listed: ServiceRequestView, unlisted: Sequence[ServiceRequestView] = ()
    ) -> None:
        self.listed = list(listed)
        self.unlisted = list(unlisted)

    async def by_id(self, service_request_id: str) -> ServiceRequestView | None:
        every = [*self.listed, *self.unlisted]
        return next((v for v in every if v.service_request_id == service_request_id), None)

    async def by_token(self, token: str) -> ServiceRequestView | None:
        return next((v for v in self.listed if v.token == token), None)

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
        if ids:
            found = [v for v in [*self.listed, *self.unlisted] if v.service_request_id in ids]
        else:
            statuses = {part.strip() for part in status.split(",")} if status else None
            found = [
                v
                for v in self.listed
                if service_code in (None, "", v.service_code)
                and (statuses is None or v.status in statuses)
                and (start is None or v.requested_datetime >= start)
                and (end is None or v.requested_datetime <= end)
            ]
        return sorted(found, key=lambda v: v.requested_datetime, reverse=True)[:limit]


class KeptPublisher:
    """``RawPublisher`` keeping what it published; ``down`` makes it raise as an
    unreachable Kafka does (intake's fronts then answer 503 and keep nothing)."""

    def __init__(self) -> None:
        self.events: list[RawChannelMessageReceivedEvent] = []
        self.down = False

    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None:
        if self.down:
            raise ConnectionError("Kafka is unreachable")
        self.events.append(event)


class MemoryIntakeStore:
    """``IntakeStore`` in memory, as the normalizer and the read model use it: the channel
    messages handled (``handled``), the reports and rejections stored, the tracking codes
    claimed (the first claim keeps a code), the near-duplicate buckets (a chunk of entries
    per batch, a full bucket takes no more) and routing's decisions (``decisions``, as
    given) folded into each report's status (``statuses``) by the store's own fold.

    ``services/intake/tests/adapters/test_intake_store_contracts.py`` holds it to the
    store's answers."""

    def __init__(self, *, bucket_limit: int = BUCKET_LIMIT) -> None:
        self.bucket_limit = bucket_limit
        self.handled: dict[str, Handled] = {}
        self.reports: dict[str, ReportReceived] = {}
        self.rejections: dict[str, ReportRejected] = {}
        self.codes: dict[str, CodeHolder] = {}
        self.chunks: dict[str, list[tuple[EarlierReport, ...]]] = {}
        self.sizes: dict[str, int] = {}
        self.decisions: list[ReadModelUpdate] = []
        self.statuses: dict[str, dict[str, Any]] = {}

    async def known(self, message_keys: Collection[str], codes: Collection[str]) -> Known:
        return Known(
            {key: self._told(self.handled[key]) for key in message_keys if key in self.handled},
            {code: self.codes[code] for code in codes if code in self.codes},
        )

    def _told(self, handled: Handled) -> Handled:
        """A report remembered without its code (before codes were kept with the messages)
        is told its stored report's code, as the store does."""
        report = self.reports.get(handled.report_id)
        if handled.outcome != "report" or handled.tracking_code or report is None:
            return handled
        return Handled(handled.outcome, handled.report_id, handled.at, report.tracking_code)

    async def buckets(self, bucket_ids: Collection[str]) -> dict[str, Bucket]:
        return {
            bucket_id: Bucket(
                self.sizes[bucket_id],
                tuple(entry for chunk in self.chunks[bucket_id] for entry in chunk),
            )
            for bucket_id in bucket_ids
            if bucket_id in self.sizes
        }

    async def save(
        self,
        *,
        reports: Sequence[ReportReceived],
        rejections: Sequence[ReportRejected],
        appends: Mapping[str, Sequence[EarlierReport]],
        stored_buckets: Collection[str] = (),
    ) -> None:
        for report in reports:
            self.reports[report.report_id] = report
            self.codes.setdefault(report.tracking_code, CodeHolder(report.report_id, False))
        for rejected in rejections:
            if rejected.tracking_code:  # only those the citizen can look up are kept
                made_from = report_id_of(rejected.channel.value, rejected.channel_message_id)
                self.rejections.setdefault(made_from, rejected)
                self.codes.setdefault(rejected.tracking_code, CodeHolder(made_from, True))
        for bucket_id, entries in appends.items():
            size = self.sizes.get(bucket_id, 0)
            if bucket_id in stored_buckets and size >= self.bucket_limit:
                continue
            chunk = tuple(entries)
            chunks = self.chunks.setdefault(bucket_id, [])
            if chunk not in chunks:  # a redelivered batch's chunk: neither added nor counted
                chunks.append(chunk)
                self.sizes[bucket_id] = size + len(entries)

    async def remember(self, handled: Mapping[str, Handled]) -> None:
        for key, item in handled.items():
            self.handled.setdefault(key, item)

    async def keep_current(self, updates: Sequence[ReadModelUpdate]) -> None:
        """Each report's updates folded into its next status, in order, as the store folds
        them: an older status change than the last update is left out."""
        self.decisions.extend(updates)
        pending: dict[str, list[ReadModelUpdate]] = {}
        for update in updates:
            pending.setdefault(update.report_id, []).append(update)
        for report_id, items in pending.items():
            folded = _fold_status(report_id, self.statuses.get(report_id, {}), items)
            if folded is not None:
                self.statuses[report_id] = dict(folded)

    async def with_status(self, documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The reports' documents with their latest status laid over them."""
        return [_with_status(d, self.statuses.get(d["_id"], {})) for d in documents]
