"""Everything the HTTP front's routes need, built once by ``app.create_app``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from intake.ports import RawPublisher, ServiceRequestLookup


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


@dataclass(frozen=True)
class Open311Service:
    """One Open311 service: a category of the city's taxonomy."""

    service_code: str
    service_name: str
    description: str
    group: str
    keywords: tuple[str, ...] = ()
