"""Composition root of the notify service: ``create_app(settings)`` wires everything.

Notify reads its configuration and templates (a broken template or an inconsistent
provider list stops the start, naming the problem), builds the providers that have
their secrets, and consumes the report, rejection, assignment, status, deadline and
reply topics, one consumer group per topic so that a slow provider on one does not hold
the others. Nothing is built at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
from aiokafka import ConsumerRecord
from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactSealer
from phananh_platform.runtime import ServiceApp, build_service

from notify.adapters.providers import build_providers
from notify.adapters.store import NotificationLog, OptOuts, ReportBook
from notify.config import NotifyConfig, load_notify_config
from notify.dispatch import Dispatcher, NotifyMetrics
from notify.handlers import NotifyHandlers
from notify.samples import sample_contexts
from notify.settings import Settings
from notify.templates import TemplateBook

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
    reports, log, opt_outs = ReportBook(database), NotificationLog(database), OptOuts(database)
    http = httpx.AsyncClient(follow_redirects=False)
    providers, without_secret = build_providers(config, settings.notify_provider_secrets, http)
    producer = RecordProducer(settings.kafka, client_id="phananh-notify-events")
    metrics = NotifyMetrics(service.registry)
    dispatcher = Dispatcher(
        config=config,
        templates=templates,
        providers=providers,
        sealer=ContactSealer([key.get_secret_value() for key in settings.contact_keys]),
        log=log,
        opt_outs=opt_outs,
        producer=producer,
        metrics=metrics,
    )
    handlers = NotifyHandlers(config, reports, opt_outs, dispatcher, metrics)

    def consumer(topic: str, group: str, handle: Callable[[bytes], Awaitable[None]]) -> None:
        async def consume(record: ConsumerRecord[bytes, bytes]) -> None:
            await handle(record.value or b"")

        service.consume(topic, group_id=f"{SERVICE}-{group}", handle=consume, name="consume")

    def about_report(topic: str) -> Callable[[bytes], Awaitable[None]]:
        async def handle(body: bytes) -> None:
            await handlers.report_event(topic, body)

        return handle

    consumer(REPORTS_TOPIC.name, "reports", handlers.report_received)
    consumer(REPORTS_REJECTED_TOPIC.name, "rejections", handlers.report_rejected)
    consumer(CITIZEN_REPLIES_TOPIC.name, "replies", handlers.citizen_replied)
    for topic, group in (
        (ASSIGNMENTS_TOPIC.name, "assignments"),
        (REPORT_STATUS_TOPIC.name, "status"),
        (DEADLINES_TOPIC.name, "deadlines"),
    ):
        consumer(topic, group, about_report(topic))

    async def close_http() -> None:
        await http.aclose()

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

    service.publishes.append(NOTIFICATIONS_TOPIC.name)
    service.on_startup += [announce_providers, producer.start]
    service.on_shutdown += [producer.stop, close_http]
    return service
