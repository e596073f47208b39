"""Composition root of the routing service: ``create_app(settings)`` wires everything.

Routing reads its agencies and rules, validates them against the city's ward and
category codes (a rule set with problems is refused at start, naming each), and assigns
every canonical report (consumer group ``routing``).
"""

from __future__ import annotations

from typing import Any

import yaml
from phananh_contracts import REPORTS_TOPIC
from phananh_platform.kafka import RecordProducer, durable_subscriber_options
from phananh_platform.runtime import ServiceApp, build_service

from routing.domain.calendar import WorkingCalendar
from routing.handlers import ReportHandler, RoutingMetrics
from routing.rules import RuleSet, RuleSetError, load_ruleset, validate_ruleset
from routing.settings import Settings

SERVICE = "routing"


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
    service = build_service(SERVICE, settings, uses_database=False)
    producer = RecordProducer(settings.kafka, client_id="phananh-routing-events")
    handler = ReportHandler(ruleset, WorkingCalendar(), producer, RoutingMetrics(service.registry))

    @service.broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options(SERVICE))
    async def assign(body: bytes) -> None:
        """Canonical reports -> assignments with working-day deadlines."""
        await handler(body)

    service.on_startup.append(producer.start)
    service.on_shutdown.append(producer.stop)
    return service
