"""In-memory twin of intake's Open311 read model, for tests of the Open311 front.

``ListedRequests`` answers as ``intake.adapters.store.OpenRequests`` does over MongoDB;
``services/intake/tests/adapters/test_intake_requests_contract.py`` holds both to the
same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from intake.domain.model import ServiceRequestView
from phananh_contracts import RawChannelMessageReceivedEvent


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
