"""Routing's Kafka handlers: thin — decode, ask the domain, store, publish.

Every decision about a report goes through :class:`CaseHandler`: the case is loaded, the
pure domain decides, the new case is saved together with the records to publish (its
outbox), the records are published, and only then is the message committed. Event ids
derive from the cause (the report or the update), so a redelivered message republishes
identical events, which consumers absorb.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import (
    AGENCY_UPDATES_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    DeadlineWarningEvent,
    KafkaRecord,
    ReportEscalatedEvent,
    ReportReceivedEvent,
    ReportStatus,
    decode_event,
)
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.kafka import RecordProducer
from prometheus_client import CollectorRegistry, Counter

from routing.adapters import CaseStore, DeadlineStore
from routing.domain.calendar import WorkingCalendar, warning_time
from routing.domain.case import (
    Case,
    Decision,
    Fact,
    apply_reply,
    apply_update,
    fact_id,
    open_case,
)
from routing.domain.deadlines import due
from routing.rules import RuleSet

logger = logging.getLogger("routing.handlers")
SOURCE = "/services/routing"


class RulesInForce:
    """The rule set every decision uses now; replaced whole when a new one is published."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset


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
        self.updates = Counter(
            "pakn_routing_agency_updates_total",
            "Agencies' updates decided on, by agency, kind and outcome (applied or refused).",
            ["agency", "kind", "outcome"],
            registry=self.registry,
        )
        self.rerouted = Counter(
            "pakn_routing_rerouted_total",
            "Reports sent to another lead after the lead declined them, by the decliner.",
            ["agency"],
            registry=self.registry,
        )
        self.ping_pong = Counter(
            "pakn_routing_ping_pong_escalations_total",
            "Reports escalated because agencies passed them back and forth.",
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
        self.resolved = Counter(
            "pakn_routing_resolved_total",
            "Reports resolved, by lead agency and whether before their deadline "
            "(on_time: true or false; a stopped clock counts as on time).",
            ["agency", "on_time"],
            registry=self.registry,
        )

    def know_agencies(self, agency_ids: Iterable[str]) -> None:
        """Make every agency's series exist (at 0) before its first event, so that rates,
        ratios and alerts see it from the start."""
        for agency in agency_ids:
            for counter in (self.warnings, self.breaches, self.rerouted):
                counter.labels(agency)
            for on_time in ("true", "false"):
                self.resolved.labels(agency, on_time)


def record_of(fact: Fact) -> KafkaRecord:
    """The Kafka record of a fact; a forwarded event keeps its original bytes."""
    record = fact.event.to_kafka(fact.topic)
    if fact.original is not None:
        return KafkaRecord(record.topic, record.key, fact.original, record.headers)
    return record


@dataclass
class CaseHandler:
    """Opens cases for new reports and applies agencies' updates and citizens' replies."""

    rules: RulesInForce
    calendar: WorkingCalendar
    producer: RecordProducer
    metrics: RoutingMetrics
    cases: CaseStore
    deadlines: DeadlineStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def __call__(self, topic: str, body: bytes) -> None:
        """Decide on one record of the reports, agency updates or citizen replies topic."""
        event = decode_event(topic, body)  # poison -> dead letter
        if isinstance(event, ReportReceivedEvent):
            await self.report(event)
        elif isinstance(event, AgencyUpdateEvent):
            await self.update(event)
        elif isinstance(event, CitizenRepliedEvent):
            await self.reply(event, body)
        else:  # pragma: no cover - the subscription names these three topics only
            raise AssertionError(f"routing does not subscribe to {topic}")

    async def report(self, event: ReportReceivedEvent) -> None:
        report = event.data
        ruleset = self.rules.ruleset

        def decide(case: Case | None) -> Decision | None:
            if case is not None:
                return Decision(case, changed=False)  # opened before: nothing new
            return open_case(ruleset, self.calendar, report, now=self.clock())

        decision = await self._decide(report.report_id, decide, most_likely_new=True)
        if decision is None:
            self.metrics.duplicates.inc()
        elif decision.changed and decision.case is not None:
            self.metrics.routed.labels(decision.case.lead.agency_id, decision.case.rule_id).inc()
            logger.info(
                "report assigned to %s",
                decision.case.lead.agency_id,
                extra={"event_id": event.id, "report_id": report.report_id},
            )

    async def update(self, event: AgencyUpdateEvent) -> None:
        update = event.data
        ruleset = self.rules.ruleset

        before: list[Case | None] = []

        def decide(case: Case | None) -> Decision:
            before[:] = [case]
            return apply_update(case, event.id, update, ruleset, self.calendar, now=self.clock())

        decision = await self._decide(update.report_id, decide)
        assert decision is not None
        if not decision.changed:
            return
        outcome = "refused" if decision.refused else "applied"
        self.metrics.updates.labels(update.agency_id, update.kind.value, outcome).inc()
        self._count_resolution(before[0] if before else None, decision.case)
        if decision.refused:
            logger.warning(
                "update from %s refused: %s",
                update.agency_id,
                decision.refused.value,
                extra={"event_id": event.id, "report_id": update.report_id},
            )
        elif update.kind.value == "rejected" and decision.case is not None:
            self.metrics.rerouted.labels(update.agency_id).inc()
        if decision.escalated_to:
            self.metrics.ping_pong.inc()

    def _count_resolution(self, before: Case | None, after: Case | None) -> None:
        if before is None or after is None or before.status == ReportStatus.RESOLVED:
            return
        if after.status != ReportStatus.RESOLVED:
            return
        on_time = before.deadline is None or self.clock() <= before.deadline
        self.metrics.resolved.labels(after.lead.agency_id, str(on_time).lower()).inc()

    async def reply(self, event: CitizenRepliedEvent, body: bytes) -> None:
        ruleset = self.rules.ruleset

        def decide(case: Case | None) -> Decision | None:
            return apply_reply(case, event, body, ruleset, self.calendar, now=self.clock())

        await self._decide(event.data.report_id, decide)

    async def _decide(
        self,
        report_id: str,
        decide: Callable[[Case | None], Decision | None],
        *,
        most_likely_new: bool = False,
    ) -> Decision | None:
        if most_likely_new:
            # A report is almost always new: decide on no case and insert it, without
            # reading first; if the case exists (a redelivery), the insert says so and
            # the decision is taken again on what is stored.
            decision = decide(None)
            if decision is None or decision.case is None or not decision.changed:
                return decision
            records = [record_of(fact) for fact in decision.facts]
            try:
                version = await self.cases.save(decision.case, records, expected_version=None)
            except ConcurrentChange:
                pass
            else:
                await self._publish(records)
                await self.cases.clear_outbox(report_id, version)
                await self.deadlines.follow(
                    decision.case, self._warn_at(decision.case), opened=True
                )
                return decision
        stored = await self.cases.get(report_id)
        if stored is not None and stored.outbox:  # a decision whose publishing was cut short
            await self._publish(list(stored.outbox))
            await self.cases.clear_outbox(report_id, stored.version)
        decision = decide(stored.case if stored is not None else None)
        if decision is None:
            return None
        records = [record_of(fact) for fact in decision.facts]
        case = decision.case
        if case is None:  # nothing to keep (an update about an unknown report)
            await self._publish(records)
            return decision
        if decision.changed:
            version = await self.cases.save(
                case, records, expected_version=stored.version if stored else None
            )
            await self._publish(records)
            await self.cases.clear_outbox(report_id, version)
        await self.deadlines.follow(case, self._warn_at(case))
        return decision

    def _warn_at(self, case: Case) -> datetime | None:
        if case.deadline is None:
            return None
        calendar = self.rules.ruleset.calendar_of(case.lead.agency_id)
        return warning_time(calendar, case.term_start, case.deadline)

    async def _publish(self, records: list[KafkaRecord]) -> None:
        await self.producer.publish_all(records)


@dataclass
class DeadlineWatch:
    """Emits due warnings and breaches (with escalation) once per term."""

    rules: RulesInForce
    deadlines: DeadlineStore
    producer: RecordProducer
    metrics: RoutingMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def check(self) -> int:
        """Publish what is due now; the number of deadlines that moved."""
        now = self.clock()
        moved = 0
        for tracked in await self.deadlines.due(now):
            facts = due(tracked, self.rules.ruleset, now=now)
            rid = tracked.report_id
            if facts.warning is not None:
                event: Any = DeadlineWarningEvent.new(
                    facts.warning, source=SOURCE, id=fact_id(rid, tracked.fact("deadline:warning"))
                )
                await self.producer.publish(event.to_kafka())
                await self.deadlines.mark(rid, tracked.term, warned=True)
                self.metrics.warnings.labels(tracked.agency_id).inc()
                moved += 1
            if facts.breach is not None:
                event = DeadlineBreachedEvent.new(
                    facts.breach, source=SOURCE, id=fact_id(rid, tracked.fact("deadline:breached"))
                )
                await self.producer.publish(event.to_kafka())
                if facts.escalation is not None:
                    event = ReportEscalatedEvent.new(
                        facts.escalation,
                        source=SOURCE,
                        id=fact_id(rid, tracked.fact("escalated:1")),
                    )
                    await self.producer.publish(event.to_kafka())
                await self.deadlines.mark(rid, tracked.term, warned=True, breached=True)
                self.metrics.breaches.labels(tracked.agency_id).inc()
                moved += 1
        return moved


TOPICS = (REPORTS_TOPIC, AGENCY_UPDATES_TOPIC, CITIZEN_REPLIES_TOPIC)
"""What routing decides on, in one consumer so that each report's events come in order."""
