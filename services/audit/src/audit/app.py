"""Composition root of the audit service: ``create_app(settings)`` wires everything.

Audit consumes every domain topic (consumer group ``audit``), appends one hash-chained
record per event to the trail, folds each event into the oversight read model, signs the
chain heads at intervals, and serves the oversight API under ``/oversight/v1``, the
leadership board under ``/board`` and the citizens' lookup page ``/tra-cuu``.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from phananh_citydata import CityData, load_city_data
from phananh_contracts import AUDIT_CHECKPOINTS_TOPIC
from phananh_platform.runtime import ServiceApp, build_service

from audit.adapters.facts_store import FactsStore
from audit.adapters.oversight_http import OversightContext, oversight_routes
from audit.adapters.trail_store import TrailStore
from audit.adapters.web import WebContext, web_routes
from audit.adapters.web_guard import BoardSessions, RateLimiter
from audit.cli.verify import public_keys_of
from audit.domain.checkpoints import load_signing_key
from audit.handlers import (
    AUDITED_TOPICS,
    SERVICE,
    Checkpointer,
    CheckpointTimer,
    TrailWriter,
    subscribe,
)
from audit.metrics import CHAIN_REMEASURE_S, MeasuredTrail
from audit.settings import Settings

__all__ = ["AUDITED_TOPICS", "SERVICE", "create_app"]

logger = logging.getLogger("audit.app")


def city_data(settings: Settings) -> CityData | None:
    """The city's reference data that names wards, categories and agencies on the pages.

    Read with :func:`phananh_citydata.load_city_data` from ``PHANANH_CITY_CONFIG`` and, when
    set, the agencies of ``PHANANH_ROUTING_CONFIG``; None without a city file (the pages
    then show codes, or the names the reports carry).
    """
    if settings.city_config is None:
        return None
    return load_city_data(settings.city_config, agencies=settings.routing_config)


def create_app(settings: Settings) -> ServiceApp:
    """Build the audit service from its settings."""
    city = city_data(settings)
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    trail = TrailStore(database, query_indexes=settings.mongodb.query_indexes)
    facts = FactsStore(database, query_indexes=settings.mongodb.query_indexes)
    measured = MeasuredTrail(trail, service.registry)
    interval = max(settings.metrics_refresh_s, CHAIN_REMEASURE_S)
    service.monitor("audit_chains", measured.measure_chains, interval_s=interval)
    subscribe(service, TrailWriter(measured, facts), group_id=settings.audit_group_id)

    service.publishes.append(AUDIT_CHECKPOINTS_TOPIC.name)
    service.on_startup += [trail.ensure_indexes, facts.ensure_indexes]
    if settings.audit_signing_key is not None:
        checkpointer = Checkpointer(
            trail,
            service.dead_letters,
            load_signing_key(settings.audit_signing_key.get_secret_value()),
            writer_id=service.instance,
        )
        timer = CheckpointTimer(checkpointer, settings.audit_checkpoint_interval_s)
        service.on_startup.append(timer.start)
        service.on_shutdown.append(timer.stop)
    else:
        logger.warning("PHANANH_AUDIT_SIGNING_KEY is not set: no checkpoints are signed")

    role_keys = {key.get_secret_value(): role for role, key in settings.oversight_keys.items()}
    wards = city.ward_names() if city else {}
    service.routes.extend(
        oversight_routes(
            OversightContext(facts=facts, trail=trail, role_keys=role_keys, ward_names=wards)
        )
    )
    service.routes.extend(
        web_routes(
            WebContext(
                facts=facts,
                trail=trail,
                role_keys=role_keys,
                sessions=BoardSessions(role_keys, settings.web_session_ttl_s),
                lookups=RateLimiter(
                    settings.web_lookups_per_minute / 60, settings.web_lookup_burst
                ),
                logins=RateLimiter(5 / 60, 5),
                public_keys=_trusted_keys(settings),
                ward_names=wards,
                agency_names=city.agency_names() if city else {},
                category_names=city.category_names() if city else {},
                reply_url=settings.web_reply_url,
                cookie_secure=settings.web_cookie_secure,
            )
        )
    )
    return service


def _trusted_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The keys the board checks checkpoints with; none (with a warning) if malformed."""
    try:
        return public_keys_of(settings)
    except ValueError as error:
        logger.warning(
            "a configured audit public key is malformed (%s): the board "
            "shows no checkpoint as verified",
            error,
        )
        return {}
