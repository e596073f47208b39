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
    REPORT_STATUS_TOPIC,
    REPORTS_TOPIC,
    DeadlineBreachedEvent,
    DeadlineWarningEvent,
    ReportAssignedEvent,
    ReportEscalatedEvent,
    ReportReceivedEvent,
    ReportStatusChangedEvent,
    decode_event,
)
from phananh_platform.kafka import RecordProducer
from prometheus_client import CollectorRegistry, Counter

from routing.adapters import DeadlineStore
from routing.domain.assignment import assign
from routing.domain.calendar import WorkingCalendar, warning_time
from routing.domain.deadlines import TrackedDeadline, due
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
        self.warnings = Counter(
            "pakn_routing_deadline_warnings_total",
            "Deadline warnings sent, by the agency holding the report.",
            ["agency"],
            registry=self.registry,
        )
        self.breaches = Counter(
            "pakn_routing_deadline_breaches_total",
            "Deadlines breached (and escalated), by the agency that missed them.",
            ["agency"],
            registry=self.registry,
        )


@dataclass
class ReportHandler:
    """Assigns every new report to its agencies with a deadline."""

    ruleset: RuleSet
    calendar: WorkingCalendar
    producer: RecordProducer
    metrics: RoutingMetrics
    deadlines: DeadlineStore
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
        term = assignment.assigned
        await self.deadlines.track(
            TrackedDeadline(
                report_id=report.report_id,
                agency_id=term.lead_agency_id,
                deadline=term.deadline,
                warn_at=warning_time(self.calendar, report.received_at, term.deadline),
            )
        )
        self.metrics.routed.labels(
            assignment.assigned.lead_agency_id, assignment.assigned.rule_id
        ).inc()
        logger.info(
            "report assigned to %s",
            assignment.assigned.lead_agency_id,
            extra={"event_id": assigned.id, "report_id": report.report_id},
        )


CLOSING = {"resolved", "closed", "rejected"}


@dataclass
class DeadlineWatch:
    """Emits due warnings and breaches (with escalation) once; stops at resolution."""

    ruleset: RuleSet
    deadlines: DeadlineStore
    producer: RecordProducer
    metrics: RoutingMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def check(self) -> int:
        """Publish what is due now; the number of deadlines that moved."""
        now = self.clock()
        moved = 0
        for tracked in await self.deadlines.due(now):
            facts = due(tracked, self.ruleset, now=now)
            rid = tracked.report_id
            if facts.warning is not None:
                event = DeadlineWarningEvent.new(
                    facts.warning, source=SOURCE, id=derived_id(rid, "deadline:warning")
                )
                await self.producer.publish(event.to_kafka())
                await self.deadlines.mark(rid, warned=True)
                self.metrics.warnings.labels(tracked.agency_id).inc()
                moved += 1
            if facts.breach is not None:
                breach = DeadlineBreachedEvent.new(
                    facts.breach, source=SOURCE, id=derived_id(rid, "deadline:breached")
                )
                await self.producer.publish(breach.to_kafka())
                if facts.escalation is not None:
                    escalated = ReportEscalatedEvent.new(
                        facts.escalation, source=SOURCE, id=derived_id(rid, "escalated:1")
                    )
                    await self.producer.publish(escalated.to_kafka())
                await self.deadlines.mark(rid, warned=True, breached=True)
                self.metrics.breaches.labels(tracked.agency_id).inc()
                moved += 1
        return moved

    async def status(self, body: bytes) -> None:
        """A resolved, closed or rejected report's deadline stops."""
        event = decode_event(REPORT_STATUS_TOPIC.name, body)
        assert isinstance(event, ReportStatusChangedEvent)
        if event.data.status.value in CLOSING:
            await self.deadlines.mark(event.data.report_id, closed=True)
