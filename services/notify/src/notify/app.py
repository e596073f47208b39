"""Composition root of the notify service: ``create_app(settings)`` wires everything.

Notify reads its configuration and templates (a broken template or an inconsistent
provider list stops the start, naming the problem), builds the providers that have
their secrets, and subscribes to the report, rejection, assignment, status, deadline and
reply topics (:mod:`notify.handlers`). Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import logging

from phananh_contracts import NOTIFICATIONS_TOPIC
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactSealer
from phananh_platform.runtime import ServiceApp, build_service

from notify.adapters.courier import Courier
from notify.adapters.keys import ContactKeyStore
from notify.adapters.providers import HttpClient, SmtpMail, build_providers
from notify.adapters.retention import Retention
from notify.adapters.store import NotificationLog, OptOuts, ReportBook
from notify.adapters.templates import TemplateBook
from notify.config import NotifyConfig, load_notify_config
from notify.domain.samples import sample_contexts
from notify.handlers import NotifyHandlers, subscribe
from notify.metrics import NotifyMetrics
from notify.settings import Settings

SERVICE = "notify"
logger = logging.getLogger("notify.app")


def checked_templates(config: NotifyConfig) -> TemplateBook:
    """The templates, each rendered once for every channel with sample facts."""
    book = TemplateBook(config.templates_dir, config.zone)
    book.check(sample_contexts())
    return book


def create_app(settings: Settings) -> ServiceApp:
    """Build the notify service from its settings."""
    config = load_notify_config(settings.notify_config)
    templates = checked_templates(config)
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    http = HttpClient()
    providers, without_secret = build_providers(config, settings.notify_provider_secrets, http)
    producer = RecordProducer(settings.kafka, client_id="phananh-notify-events")
    metrics = NotifyMetrics(service.registry)
    keys = ContactKeyStore(database)
    courier = Courier(
        config=config,
        templates=templates,
        providers=providers,
        sealer=ContactSealer([key.get_secret_value() for key in settings.contact_keys]),
        keys=keys,
        log=NotificationLog(database),
        producer=producer,
        metrics=metrics,
        concurrency=settings.notify_send_concurrency,
        key_wait_s=settings.notify_contact_key_wait_s,
    )
    opt_outs = OptOuts(database)
    subscribe(
        service, NotifyHandlers(config, ReportBook(database), opt_outs, courier, metrics, keys)
    )

    async def close_connections() -> None:
        await http.close()
        for provider in providers.values():
            if isinstance(provider, SmtpMail):  # the SMTP sessions kept open
                await asyncio.to_thread(provider.close)

    async def announce_providers() -> None:
        for provider_id in without_secret:
            logger.warning(
                "provider %s is disabled: no secret in PHANANH_NOTIFY_PROVIDER_SECRETS",
                provider_id,
                extra={"service": SERVICE},
            )
        logger.info(
            "providers in use: %s", ", ".join(providers) or "none", extra={"service": SERVICE}
        )

    retention = Retention(database, settings.notify_retention_days)

    async def prune() -> None:
        pruned = await retention.prune()
        metrics.pruned.labels("notifications").inc(pruned.notifications)
        metrics.pruned.labels("reports").inc(pruned.reports)

    service.monitor("notify_retention", prune, interval_s=settings.notify_prune_every_s)
    service.publishes.append(NOTIFICATIONS_TOPIC.name)
    service.on_startup += [announce_providers, producer.start]
    service.on_shutdown += [producer.stop, close_connections]
    return service
