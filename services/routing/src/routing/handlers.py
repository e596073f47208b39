"""Routing's Kafka handlers: thin — decode, ask the domain, publish.

Event ids derive from the report, so a redelivered report republishes identical events
(consumers deduplicate on the id); the offset is committed only after both are on Kafka.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from phananh_contracts import (
    REPORTS_TOPIC,
    ReportAssignedEvent,
    ReportReceivedEvent,
    ReportStatusChangedEvent,
    decode_event,
)
from phananh_platform.kafka import RecordProducer
from prometheus_client import CollectorRegistry, Counter

from routing.domain.assignment import assign
from routing.domain.calendar import WorkingCalendar
from routing.rules import RuleSet

logger = logging.getLogger("routing.handlers")
SOURCE = "/services/routing"


def derived_id(report_id: str, fact: str) -> str:
    """The id of a fact about a report: the same on every redelivery."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pakn:routing:{report_id}:{fact}"))


@dataclass
class RoutingMetrics:
    registry: CollectorRegistry

    def __post_init__(self) -> None:
        self.routed = Counter(
            "pakn_routing_routed_total",
            "Reports assigned, by lead agency and rule.",
            ["agency", "rule"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "pakn_routing_duplicates_total",
            "Reports not assigned again because they duplicate an earlier one.",
            registry=self.registry,
        )


@dataclass
class ReportHandler:
    """Assigns every new report to its agencies with a deadline."""

    ruleset: RuleSet
    calendar: WorkingCalendar
    producer: RecordProducer
    metrics: RoutingMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def __call__(self, body: bytes) -> None:
        event = decode_event(REPORTS_TOPIC.name, body)  # poison -> dead letter
        assert isinstance(event, ReportReceivedEvent)
        report = event.data
        assignment = assign(self.ruleset, self.calendar, report, now=self.clock())
        if assignment is None:
            self.metrics.duplicates.inc()
            return
        assigned = ReportAssignedEvent.new(
            assignment.assigned, source=SOURCE, id=derived_id(report.report_id, "assigned")
        )
        status = ReportStatusChangedEvent.new(
            assignment.status, source=SOURCE, id=derived_id(report.report_id, "status:assigned")
        )
        await self.producer.publish(assigned.to_kafka())
        await self.producer.publish(status.to_kafka())
        self.metrics.routed.labels(
            assignment.assigned.lead_agency_id, assignment.assigned.rule_id
        ).inc()
        logger.info(
            "report assigned to %s",
            assignment.assigned.lead_agency_id,
            extra={"event_id": assigned.id, "report_id": report.report_id},
        )
