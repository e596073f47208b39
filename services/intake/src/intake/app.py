"""Composition root of the intake service: ``create_app(settings)`` wires everything.

Nothing is built at import time, so tests can create as many instances as they need,
each with its own settings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import (
    CHANNEL_RAW_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    CONTACT_KEYS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactSealer
from phananh_platform.runtime import ServiceApp, build_service
from pymongo.asynchronous.database import AsyncDatabase

from intake.adapters.category_model import load_category_model
from intake.adapters.http import build_routes
from intake.adapters.http.context import (
    FrontContext,
    FrontLimiter,
    Open311Service,
    RawPublisher,
    ServiceRequestLookup,
)
from intake.adapters.kafka import KafkaRawPublisher
from intake.adapters.limits import COLLECTION as LIMITS_COLLECTION
from intake.adapters.limits import RateLimiter, RateLimitStore
from intake.adapters.store import IntakeStore, OpenRequests
from intake.config import CityConfig, load_city_config
from intake.domain.normalize import Keys
from intake.handlers import Normalizer, ReadModel, subscribe
from intake.metrics import IntakeMetrics
from intake.settings import Settings

SERVICE = "intake"


def _now() -> datetime:
    return datetime.now(UTC)


def open311_services(config: CityConfig) -> tuple[Open311Service, ...]:
    """The city's categories as Open311 services (the triage bucket is not offered)."""
    return tuple(
        Open311Service(
            service_code=category.code,
            service_name=category.name,
            description=f"{category.name} ({category.name_en})",
            group=category.group,
            keywords=tuple(category.keyword_phrases()[:10]),
        )
        for category in config.categories
        if category.code != "unclassified"
    )


def rate_limiter(
    settings: Settings,
    database: AsyncDatabase[Any],
    metrics: IntakeMetrics,
    *,
    clock: Callable[[], datetime] = _now,
) -> RateLimiter:
    """The front's rate limits, counted in ``database`` (shared by every instance)."""
    store = RateLimitStore(
        database[LIMITS_COLLECTION], query_indexes=settings.mongodb.query_indexes
    )
    return RateLimiter(
        store,
        settings.rate_limits.limits(),
        secret=settings.pseudonym_key.get_secret_value().encode(),
        metrics=metrics,
        clock=clock,
        timeout_s=settings.rate_limits.timeout_s,
    )


def front_context(
    settings: Settings,
    config: CityConfig,
    *,
    publisher: RawPublisher,
    requests: ServiceRequestLookup | None,
    limiter: FrontLimiter | None,
    clock: Callable[[], datetime] = _now,
) -> FrontContext:
    """What the HTTP front's routes need, from the settings and the city's configuration."""
    zalo, facebook = settings.zalo, settings.facebook
    return FrontContext(
        publisher=publisher,
        tracking_secret=settings.tracking_secret.get_secret_value().encode(),
        city_prefix=config.city.tracking_prefix,
        api_keys={key.get_secret_value(): name for name, key in settings.api_keys.items()},
        zalo_app_id=zalo.app_id,
        zalo_oa_secret=zalo.oa_secret.get_secret_value() if zalo.oa_secret else None,
        facebook_app_secret=(
            facebook.app_secret.get_secret_value() if facebook.app_secret else None
        ),
        facebook_verify_token=(
            facebook.verify_token.get_secret_value() if facebook.verify_token else None
        ),
        max_body_bytes=settings.max_body_bytes,
        requests=requests,
        open311_services=open311_services(config),
        clock=clock,
        limiter=limiter,
    )


def create_app(settings: Settings) -> ServiceApp:
    """Build the intake service from its settings."""
    config = load_city_config(settings.city_config)
    model_path = config.classification.model_path(settings.city_config)
    model = load_category_model(model_path, config) if model_path else None
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    store = IntakeStore(database, query_indexes=settings.mongodb.query_indexes)
    producer = RecordProducer(settings.kafka, client_id="phananh-intake-events")
    sealer = ContactSealer([key.get_secret_value() for key in settings.contact_keys])
    keys = Keys(
        tracking_secret=settings.tracking_secret.get_secret_value().encode(),
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
    )
    metrics = IntakeMetrics(service.registry)
    normalizer = Normalizer(config, keys, sealer, store, producer, metrics, model=model)
    subscribe(service, normalizer, ReadModel(store))

    published = (
        CHANNEL_RAW_TOPIC,
        REPORTS_TOPIC,
        REPORTS_REJECTED_TOPIC,
        CITIZEN_REPLIES_TOPIC,
        CONTACT_KEYS_TOPIC,
    )
    service.publishes += [topic.name for topic in published]
    limiter = rate_limiter(settings, database, metrics)
    service.on_startup += [store.ensure_indexes, limiter.store.ensure_indexes, producer.start]
    service.on_shutdown.append(producer.stop)
    service.monitor(
        "rate_limit_prune", limiter.prune, interval_s=settings.rate_limits.prune_every_s
    )

    services = open311_services(config)
    front = front_context(
        settings,
        config,
        publisher=KafkaRawPublisher(producer),
        requests=OpenRequests(store, {s.service_code: s.service_name for s in services}),
        limiter=limiter,
    )
    service.routes.extend(build_routes(front))
    return service
