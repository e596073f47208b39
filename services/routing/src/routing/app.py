"""Composition root of the routing service: ``create_app(settings)`` wires everything.

Routing reads its agencies and rules, validates them against the city's ward and
category codes (a rule set with problems is refused at start, naming each), follows the
rules topic for the rule set in force, creates every agency's inbox and updates topic,
admits to ``pakn.agency.updates.v1`` the updates each agency sends on its own topic if
they name that agency (the gate, group ``routing-gate``), and decides on reports,
admitted updates, citizens' replies and its own missed deadlines in one consumer (group
``routing``), so that the events of one report are taken in order. A timer publishes due
deadline warnings and breaches; a breach read back moves the report up the escalation
ladder.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ASSIGNMENTS_TOPIC,
    DEADLINES_TOPIC,
    REPORT_STATUS_TOPIC,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.runtime import ServiceApp, build_service

from routing.adapters.rules_feed import RulesFeed
from routing.adapters.rules_file import checked_ruleset, city_check, city_codes
from routing.adapters.store import CaseStore, DeadlineStore
from routing.domain.calendar import WorkingCalendar
from routing.domain.retention import retention_needed_days
from routing.domain.rules import RuleSet, RuleSetError, RulesInForce
from routing.handlers import CaseHandler, DeadlineWatch, Gate, subscribe
from routing.metrics import OpenCases, RoutingMetrics
from routing.settings import Settings

SERVICE = "routing"
logger = logging.getLogger("routing.app")


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> ServiceApp:
    """Build the routing service from its settings; ``clock`` (UTC now) for tests that
    let time pass."""
    now = clock or (lambda: datetime.now(UTC))
    rules = RulesInForce(checked_ruleset(settings))
    if settings.agency_topics_retention_days < (needed := retention_needed_days(rules.ruleset)):
        raise RuleSetError(
            f"PHANANH_AGENCY_TOPICS_RETENTION_DAYS={settings.agency_topics_retention_days} "
            f"is too short for {settings.routing_config}: its longest term needs the agencies' "
            f"topics to keep records {needed} days (agencies rebuild their inbox from them)"
        )
    retention_ms = settings.agency_topics_retention_days * 24 * 60 * 60 * 1000
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    cases = CaseStore(database)
    deadlines = DeadlineStore(database, query_indexes=settings.mongodb.query_indexes, clock=now)
    producer = RecordProducer(settings.kafka, client_id="phananh-routing-events")
    metrics = RoutingMetrics(service.registry)
    metrics.know_agencies(agency.id for agency in rules.ruleset.agencies)
    service.monitor("open_cases", OpenCases(deadlines, service.registry).measure)
    calendar = WorkingCalendar()
    handler = CaseHandler(
        rules, calendar, producer, metrics, cases, deadlines, clock=now, city=city_codes(settings)
    )
    watch = DeadlineWatch(rules, deadlines, producer, metrics, clock=now)
    gate = Gate(rules, producer, metrics, clock=now)

    async def create_agency_topics(ruleset: RuleSet) -> None:
        """Every configured agency's inbox and updates topic (the gate finds a new agency's
        updates topic by itself)."""
        metrics.know_agencies(agency.id for agency in ruleset.agencies)
        if settings.agency_topics_retention_days < retention_needed_days(ruleset):
            logger.warning(
                "rule set %s has terms longer than the agencies' topics keep records "
                "(%d days): raise PHANANH_AGENCY_TOPICS_RETENTION_DAYS and the topics' "
                "retention.ms",
                ruleset.version,
                settings.agency_topics_retention_days,
            )
        topics = [
            dataclasses.replace(topic, retention_ms=retention_ms)
            for agency in ruleset.agencies
            for topic in (agency_inbox_topic(agency.id), agency_updates_topic(agency.id))
        ]
        created = await ensure_topics(settings.kafka, topics)
        if created:
            logger.info("created the agencies' topics %s", ", ".join(created))

    feed = RulesFeed(
        settings.kafka,
        rules,
        city_check(settings),
        scope=settings.rules_scope,
        registry=service.registry,
        on_switch=create_agency_topics,
    )

    subscribe(service, handler, gate)

    async def before_consuming() -> None:
        await feed.start()
        await create_agency_topics(rules.ruleset)

    service.publishes += [
        *(t.name for t in (ASSIGNMENTS_TOPIC, REPORT_STATUS_TOPIC, DEADLINES_TOPIC)),
        AGENCY_UPDATES_TOPIC.name,
        AGENCY_UPDATES_REFUSED_TOPIC.name,
        "pakn.inbox.{agency_id}.v1",
    ]
    timer = Periodic(watch.check, settings.deadline_check_interval_s, "deadline check")
    service.on_startup += [deadlines.ensure_indexes, producer.start, before_consuming, timer.start]
    service.on_shutdown += [timer.stop, feed.stop, producer.stop]
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
