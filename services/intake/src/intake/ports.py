"""What intake's HTTP front needs from the outside world, as protocols.

The HTTP adapters depend on these, not on Kafka or MongoDB, so their tests can use
in-memory versions while the integration tests use the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from phananh_contracts import RawChannelMessageReceivedEvent


class RawPublisher(Protocol):
    """Publishes a raw channel event; returns only after Kafka acknowledged it (acks=all)."""

    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None: ...


@dataclass(frozen=True)
class ServiceRequestView:
    """What intake knows of one report, as Open311's GET requests answers it."""

    service_request_id: str
    """The tracking code (mã tra cứu)."""
    token: str
    status: str
    """'open' or 'closed'."""
    service_code: str
    service_name: str
    description: str
    requested_datetime: datetime
    updated_datetime: datetime
    status_notes: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    expected_datetime: datetime | None = None
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class ServiceRequestLookup(Protocol):
    """Read access to intake's reports for Open311 clients (a read model in MongoDB)."""

    async def by_id(self, service_request_id: str) -> ServiceRequestView | None: ...

    async def by_token(self, token: str) -> ServiceRequestView | None: ...

    async def search(
        self,
        *,
        ids: Sequence[str] = (),
        service_code: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[ServiceRequestView]: ...
