"""Everything the HTTP front's routes need, built once by ``app.create_app``.

The routes depend on the protocols here (:class:`RawPublisher`,
:class:`ServiceRequestLookup`, :class:`FrontLimiter`), not on Kafka or MongoDB, so their
tests can use in-memory versions while the integration tests use the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from phananh_contracts import RawChannelMessageReceivedEvent

from intake.domain.limits import Verdict
from intake.domain.model import ServiceRequestView


class RawPublisher(Protocol):
    """Publishes a raw channel event; returns only after Kafka acknowledged it (acks=all)."""

    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None: ...


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


class FrontLimiter(Protocol):
    """The front's rate limits, shared by every instance (intake.adapters.limits)."""

    async def api_client(self, client: str) -> Verdict: ...

    async def sender(self, channel: str, identity: str) -> Verdict: ...

    async def client_ip(self, host: str) -> Verdict: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FrontContext:
    """Secrets, keys and collaborators of the HTTP front."""

    publisher: RawPublisher
    tracking_secret: bytes
    """Key of the tracking-code hash (see intake.domain.tracking)."""
    city_prefix: str
    """First part of tracking codes, e.g. 'SL'."""
    api_keys: Mapping[str, str]
    """API key -> client name, e.g. {'k3y…': 'app:sonla-smart'}; the name is recorded as
    ``authenticated_as`` with the channel, e.g. 'api-key:app:sonla-smart'."""
    zalo_app_id: str | None = None
    zalo_oa_secret: str | None = None
    facebook_app_secret: str | None = None
    facebook_verify_token: str | None = None
    max_body_bytes: int = 1_000_000
    requests: ServiceRequestLookup | None = None
    """Read model for Open311 GET requests; None disables those endpoints (503)."""
    open311_services: tuple[Open311Service, ...] = ()
    clock: Callable[[], datetime] = field(default=_now)
    limiter: FrontLimiter | None = None
    """Rate limits of API clients, senders and Open311 readers; None: no limits."""


@dataclass(frozen=True)
class Open311Service:
    """One Open311 service: a category of the city's taxonomy."""

    service_code: str
    service_name: str
    description: str
    group: str
    keywords: tuple[str, ...] = ()
