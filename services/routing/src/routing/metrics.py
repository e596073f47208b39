"""Routing's Prometheus metrics: what it decided (counters) and what is open (gauges).

:class:`RoutingMetrics` counts decisions as they are taken. :class:`OpenCases` measures
open and overdue reports by lead agency and ward from the store, every
``metrics_refresh_s`` (not on every scrape: FerretDB answers the query by a scan). Every
routing instance reports the same figures, so dashboards take ``max``. An overdue report
is an open one whose deadline passed while its clock runs; a ward whose reports are all
on time is reported with 0 overdue, so ratios see it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from phananh_contracts import (
    AgencyUpdateEvent,
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    ReportReceivedEvent,
    ReportStatus,
)
from phananh_platform.metrics import LabelValues, SnapshotGauge
from prometheus_client import CollectorRegistry, Counter

from routing.adapters.store import DeadlineStore
from routing.domain.case import Case, Decision, ReplyKind
from routing.domain.decisions import Step
from routing.domain.gate import Passage

logger = logging.getLogger("routing.handlers")


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
        self.escalations = Counter(
            "pakn_routing_escalations_total",
            "Reports moved up the escalation ladder by a missed deadline, by the level "
            "reached; at_top: missed at the top of the ladder (recorded, nothing climbs).",
            ["level"],
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
        self.replies_not_from_reporter = Counter(
            "pakn_routing_replies_not_from_reporter_total",
            "Citizens' replies that did not come from the report's reporter (or came on an "
            "anonymous report), so changed neither status nor clock, by what they would have "
            "done: rating (close or reopen), answer (end a wait for the citizen), message.",
            ["kind"],
            registry=self.registry,
        )
        for kind in ReplyKind:
            self.replies_not_from_reporter.labels(kind.value)

    def know_agencies(self, agency_ids: Iterable[str]) -> None:
        """Make every agency's series exist (at 0) before its first event, so that rates,
        ratios and alerts see it from the start."""
        for agency in agency_ids:
            for counter in (self.warnings, self.breaches, self.rerouted):
                counter.labels(agency)
            for on_time in ("true", "false"):
                self.resolved.labels(agency, on_time)

    def count(self, step: Step, now: datetime) -> None:
        """Count (and log) what one event did."""
        event, decision = step.incoming.event, step.decision
        if isinstance(event, ReportReceivedEvent):
            if decision is None or (decision.case is not None and decision.case.is_linked):
                if decision is None or decision.changed:
                    self.duplicates.inc()
            elif decision.changed and decision.case is not None:
                lead = decision.case.lead.agency_id
                self.routed.labels(lead, decision.case.rule_id).inc()
                logger.info(
                    "report assigned to %s",
                    lead,
                    extra={"event_id": event.id, "report_id": event.data.report_id},
                )
            return
        if isinstance(event, CitizenRepliedEvent):
            if decision is not None and decision.changed and decision.not_from_reporter:
                self.replies_not_from_reporter.labels(decision.not_from_reporter.value).inc()
                logger.info(
                    "reply not from the reporter: %s changed nothing",
                    decision.not_from_reporter.value,
                    extra={"event_id": event.id, "report_id": event.data.report_id},
                )
            return
        if isinstance(event, DeadlineBreachedEvent):
            self._count_escalation(event, decision)
            return
        if not isinstance(event, AgencyUpdateEvent) or decision is None or not decision.changed:
            return
        update = event.data
        outcome = "refused" if decision.refused else "applied"
        self.updates.labels(update.agency_id, update.kind.value, outcome).inc()
        self._count_resolution(step.before, decision)
        if decision.refused:
            logger.warning(
                "update from %s refused: %s",
                update.agency_id,
                decision.refused.value,
                extra={"event_id": event.id, "report_id": update.report_id},
            )
        elif update.kind.value == "rejected" and decision.case is not None:
            self.rerouted.labels(update.agency_id).inc()
        if decision.escalated_to:
            self.ping_pong.inc()

    def count_passage(self, passage: Passage) -> None:
        """Count (and log) an update the gate refused; an admitted one is counted when
        its case is decided on."""
        if passage.admitted:
            return
        update = passage.update
        self.updates.labels(passage.sender, update.data.kind.value, "refused").inc()
        logger.warning(
            "update on the topic of %s speaking for %s refused: %s",
            passage.sender,
            update.data.agency_id,
            passage.refused,
            extra={"event_id": update.id, "report_id": update.data.report_id},
        )

    def _count_escalation(self, event: DeadlineBreachedEvent, decision: Decision | None) -> None:
        if decision is None or not decision.changed:
            return
        extra = {"event_id": event.id, "report_id": event.data.report_id}
        if decision.escalation is not None:
            step = decision.escalation
            self.escalations.labels(step.level.value).inc()
            logger.info(
                "deadline missed by %s: escalated to %s (%s)",
                step.from_agency_id,
                step.to_agency_id,
                step.level.value,
                extra=extra,
            )
        elif decision.breach_at_top:
            self.escalations.labels("at_top").inc()
            logger.warning(
                "deadline missed by %s at the top of the ladder", event.data.agency_id, extra=extra
            )

    def _count_resolution(self, before: Case | None, decision: Decision) -> None:
        after = decision.case
        if before is None or after is None or before.status == ReportStatus.RESOLVED:
            return
        if after.status != ReportStatus.RESOLVED or decision.resolved_on_time is None:
            return
        on_time = str(decision.resolved_on_time).lower()
        self.resolved.labels(after.lead.agency_id, on_time).inc()


UNKNOWN_WARD = "unknown"
"""The ward label of reports intake could not place."""


@dataclass
class OpenCases:
    deadlines: DeadlineStore
    registry: CollectorRegistry
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    open: SnapshotGauge = field(init=False)
    overdue: SnapshotGauge = field(init=False)

    def __post_init__(self) -> None:
        self.open = SnapshotGauge(
            "pakn_routing_open_cases",
            "Reports not yet resolved, by lead agency and ward code.",
            ["agency", "ward"],
            registry=self.registry,
        )
        self.overdue = SnapshotGauge(
            "pakn_routing_overdue_cases",
            "Reports not yet resolved whose deadline passed, by lead agency and ward code.",
            ["agency", "ward"],
            registry=self.registry,
        )

    async def measure(self) -> None:
        counts = await self.deadlines.open_counts(self.clock())
        open_: dict[LabelValues, float] = {}
        overdue: dict[LabelValues, float] = {}
        for (agency, ward, is_overdue), count in counts.items():
            labels = (agency, ward or UNKNOWN_WARD)
            open_[labels] = open_.get(labels, 0) + count
            overdue[labels] = overdue.get(labels, 0) + (count if is_overdue else 0)
        self.open.replace(open_)
        self.overdue.replace(overdue)
