"""Composition root of the routing service: ``create_app(settings)`` wires everything.

Routing reads its agencies and rules, validates them against the city's ward and
category codes (a rule set with problems is refused at start, naming each), and assigns
every canonical report (consumer group ``routing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from phananh_contracts import REPORT_STATUS_TOPIC, REPORTS_TOPIC
from phananh_platform.kafka import RecordProducer, durable_subscriber_options
from phananh_platform.runtime import ServiceApp, build_service

from routing.adapters import DeadlineStore
from routing.domain.calendar import WorkingCalendar
from routing.handlers import DeadlineWatch, ReportHandler, RoutingMetrics
from routing.rules import RuleSet, RuleSetError, load_ruleset, validate_ruleset
from routing.settings import Settings

SERVICE = "routing"
logger = logging.getLogger("routing.app")


def checked_ruleset(settings: Settings) -> RuleSet:
    """The rule set, validated against the city's codes; RuleSetError naming each problem."""
    ruleset = load_ruleset(settings.routing_config)
    city: dict[str, Any] = yaml.safe_load(settings.city_config.read_text(encoding="utf-8"))
    wards = {str(ward["code"]) for ward in city["places"]["wards"]}
    categories = {str(category["code"]) for category in city["categories"]}
    problems = validate_ruleset(ruleset, categories, wards)
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise RuleSetError(f"{settings.routing_config}: the rules cannot be used:\n{listed}")
    return ruleset


def create_app(settings: Settings) -> ServiceApp:
    """Build the routing service from its settings."""
    ruleset = checked_ruleset(settings)
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    deadlines = DeadlineStore(service.mongo[settings.mongodb.database])
    producer = RecordProducer(settings.kafka, client_id="phananh-routing-events")
    metrics = RoutingMetrics(service.registry)
    handler = ReportHandler(ruleset, WorkingCalendar(), producer, metrics, deadlines)
    watch = DeadlineWatch(ruleset, deadlines, producer, metrics)

    @service.broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options(SERVICE))
    async def assign(body: bytes) -> None:
        """Canonical reports -> assignments with working-day deadlines."""
        await handler(body)

    @service.broker.subscriber(
        REPORT_STATUS_TOPIC.name, **durable_subscriber_options(f"{SERVICE}-deadlines")
    )
    async def stop_the_clock(body: bytes) -> None:
        """Resolved, closed or rejected reports are no longer watched."""
        await watch.status(body)

    timer = Periodic(watch.check, settings.deadline_check_interval_s, "deadline check")
    service.on_startup += [deadlines.ensure_indexes, producer.start, timer.start]
    service.on_shutdown += [timer.stop, producer.stop]
    return service


class Periodic:
    """Runs ``action`` every ``interval_s`` while the service runs; failures are logged."""

    def __init__(self, action: Callable[[], Awaitable[object]], interval_s: float, name: str):
        self.action = action
        self.interval_s = interval_s
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.action()
            except Exception:  # the next round tries again; nothing was marked done
                logger.exception("%s failed", self.name)
            await asyncio.sleep(self.interval_s)
