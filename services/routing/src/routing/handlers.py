"""Routing's subscriptions and handlers: thin — a batch in, the domain decides, store, publish.

The gate (group ``routing-gate``) reads every agency's own updates topic,
``pakn.updates.<agency-id>.v1``, and :meth:`Gate.admit` forwards to
``pakn.agency.updates.v1`` the updates that name the topic's agency and refuses the others
(:mod:`routing.domain.gate`); it stores nothing: the forwarded update keeps its event id,
so a redelivered batch forwards the same events again, which the case and audit absorb.

One subscription (group ``routing``) takes new reports, admitted agencies' updates,
citizens' replies and the deadlines routing found missed together, so that each report's
events are decided in the order they were written. :meth:`CaseHandler.decide` takes a
whole fetched batch:

1. groups the events by report (in order within a report) and decides each report's
   events with the pure domain (:func:`routing.domain.decisions.decide_report`); a report
   that arrives is decided on no case and inserted without reading (a redelivery finds
   its case there: it is decided again on the stored case); the others' cases are read
   with one ``_id $in`` query;
2. stores every changed case with the records it must publish (its outbox): new cases in
   one insert, the others in one bulk write, each only at the version it was decided on;
3. publishes every record of the batch at once (acknowledgements awaited together);
4. clears the outboxes and brings the watched deadlines up to date (one bulk write each).

The platform commits the batch after that. Event ids derive from the cause (the report
or the update), so a redelivered batch republishes identical events, which consumers
absorb; a decision whose publishing was cut short stays in its case's outbox and is
published by the next batch that touches the report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import (
    AGENCY_UPDATES_PATTERN,
    AGENCY_UPDATES_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    DEADLINES_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    DeadlineBreachedEvent,
    DeadlineWarningEvent,
    KafkaRecord,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.runtime import ServiceApp
from phananh_platform.subscribers import Delivery

from routing.adapters.store import (
    CaseStore,
    CaseWrite,
    DeadlineFollow,
    DeadlineMark,
    DeadlineStore,
    StoredCase,
)
from routing.domain.calendar import WorkingCalendar, warning_time
from routing.domain.case import Case, Fact, fact_id
from routing.domain.corrections import CityCodes
from routing.domain.deadlines import due
from routing.domain.decisions import (
    CaseEvent,
    Context,
    DeadlineNotice,
    Incoming,
    ReportOutcome,
    acts_on,
    decide_report,
    group_by_report,
    opens_a_case,
    other_report,
)
from routing.domain.gate import admit
from routing.domain.rules import RulesInForce
from routing.metrics import RoutingMetrics

logger = logging.getLogger("routing.handlers")
SOURCE = "/services/routing"
GROUP_ID = "routing"
TOPICS = (REPORTS_TOPIC, AGENCY_UPDATES_TOPIC, CITIZEN_REPLIES_TOPIC, DEADLINES_TOPIC)
"""What routing decides on, in one consumer so that each report's events come in order
(of the deadlines topic, the breaches: a breach moves the report up the escalation
ladder)."""
GATE_GROUP_ID = "routing-gate"
"""The gate's consumer group: every agency's updates topic (``AGENCY_UPDATES_PATTERN``)."""
DEADLINES_PER_PUBLISH = 500
"""Due deadlines published (and marked) together by the deadline watch."""


def subscribe(service: ServiceApp, cases: CaseHandler, gate: Gate) -> None:
    """Every agency's updates topic -> :meth:`Gate.admit`; reports, admitted updates and
    citizens' replies -> :meth:`CaseHandler.decide`."""
    service.subscribe(
        pattern=AGENCY_UPDATES_PATTERN,
        group_id=GATE_GROUP_ID,
        handle=gate.admit,
        description=(
            "Each agency's own updates -> pakn.agency.updates.v1 if they name that agency, "
            "else refused (pakn.agency.updates.refused.v1 and the sender's inbox)."
        ),
    )
    service.subscribe(
        *TOPICS,
        group_id=GROUP_ID,
        handle=cases.decide,
        description=(
            "Reports, agencies' updates, citizens' replies and missed deadlines -> the case "
            "and its facts (a missed deadline moves the report up the escalation ladder)."
        ),
    )


def record_of(fact: Fact) -> KafkaRecord:
    """The Kafka record of a fact; a forwarded event keeps its original bytes."""
    record = fact.event.to_kafka(fact.topic)
    if fact.original is not None:
        return KafkaRecord(record.topic, record.key, fact.original, record.headers)
    return record


def records_of(facts: Iterable[Fact]) -> list[KafkaRecord]:
    return [record_of(fact) for fact in facts]


@dataclass
class Gate:
    """Admits the updates each agency sends on its own topic; refuses one that speaks for
    another agency."""

    rules: RulesInForce
    producer: RecordProducer
    metrics: RoutingMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def admit(self, batch: Sequence[Delivery[AgencyUpdateEvent]]) -> None:
        """Each agency's own updates -> pakn.agency.updates.v1, or refused."""
        now = self.clock()
        passages = [
            admit(delivery.topic, delivery.event, delivery.body, self.rules.ruleset, now=now)
            for delivery in batch
        ]
        await self.producer.publish_all(
            records_of(fact for passage in passages for fact in passage.facts)
        )
        for passage in passages:
            self.metrics.count_passage(passage)


@dataclass
class _Effects:
    """What a batch's decisions make routing do, in order."""

    writes: list[CaseWrite]
    publish: list[KafkaRecord]
    published: list[tuple[str, int]]
    """(report id, version) whose outbox is in ``publish``: cleared once published."""
    follows: list[DeadlineFollow]
    outcomes: list[ReportOutcome]


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
    city: CityCodes = field(default_factory=CityCodes)
    """The city's category and ward codes corrections are checked against."""

    async def decide(self, batch: Sequence[Delivery[CaseEvent | DeadlineNotice]]) -> None:
        """Reports, agencies' updates, citizens' replies and missed deadlines -> the case
        and its facts."""
        now = self.clock()
        groups = group_by_report(
            Incoming(delivery.event, delivery.body) for delivery in batch if acts_on(delivery.event)
        )
        # The other reports arriving duplicates and links name: read first (rarely any).
        named = {
            other
            for events in groups.values()
            for incoming in events
            if (other := other_report(None, incoming.event)) is not None
        }
        others = {
            report_id: stored.case
            for report_id, stored in (await self.cases.get_many(named) if named else {}).items()
        }
        arriving: dict[str, ReportOutcome] = {}
        # Originals first, so that a duplicate arriving with its original finds it.
        for report_id, events in sorted(
            ((rid, events) for rid, events in groups.items() if opens_a_case(events)),
            key=lambda item: other_report(None, item[1][0].event) is not None,
        ):
            outcome = self._decide(None, events, now, others)
            arriving[report_id] = outcome
            if outcome.case is not None:
                others.setdefault(report_id, outcome.case)
        new = [
            CaseWrite(outcome.case, records_of(outcome.facts), expected_version=None)
            for outcome in arriving.values()
            if outcome.case is not None and outcome.changed
        ]
        opened_before, stored = await asyncio.gather(
            self.cases.open_new(new),
            self.cases.get_many([report_id for report_id in groups if report_id not in arriving]),
        )
        if opened_before:  # redelivered reports: decided again on what is stored
            stored |= await self.cases.get_many(opened_before)
        originals = {  # the originals the duplicates to unlink are linked to
            original
            for report_id, events in groups.items()
            if (found := stored.get(report_id)) is not None
            and (original := found.case.duplicate_of) is not None
            and original not in others
            and any(_unlinks(incoming) for incoming in events)
        }
        if originals:
            others |= {rid: got.case for rid, got in (await self.cases.get_many(originals)).items()}
        effects = _Effects([], [], [], [], [])
        for write in new:
            if write.case.report_id not in opened_before:
                effects.publish += write.outbox
                effects.published.append((write.case.report_id, write.version))
                effects.follows.append(
                    DeadlineFollow(write.case, self._warn_at(write.case), known_term=None)
                )
                effects.outcomes.append(arriving[write.case.report_id])
        for report_id, events in groups.items():
            arrived = arriving.get(report_id)
            if arrived is not None and arrived.case is None:  # a duplicate: no case
                effects.publish += records_of(arrived.facts)
                effects.outcomes.append(arrived)
            elif arrived is None or report_id in opened_before:
                self._decide_stored(stored.get(report_id), events, now, effects, others)

        await self.cases.save_all(effects.writes)
        await self.producer.publish_all(effects.publish)
        await asyncio.gather(
            self.cases.clear_outboxes(effects.published),
            self.deadlines.follow_all(effects.follows),
        )
        for outcome in effects.outcomes:
            for step in outcome.steps:
                self.metrics.count(step, now)

    def _decide(
        self,
        case: Case | None,
        events: list[Incoming],
        now: datetime,
        others: Mapping[str, Case],
    ) -> ReportOutcome:
        context = Context(self.city, others)
        return decide_report(
            case, events, self.rules.ruleset, self.calendar, now=now, context=context
        )

    def _decide_stored(
        self,
        stored: StoredCase | None,
        events: list[Incoming],
        now: datetime,
        effects: _Effects,
        others: Mapping[str, Case],
    ) -> None:
        """Decide on a report's stored case; its outbox (a decision whose publishing was
        cut short) is published first and kept until it is."""
        outcome = self._decide(stored.case if stored else None, events, now, others)
        effects.outcomes.append(outcome)
        pending = list(stored.outbox) if stored else []
        if outcome.changed and outcome.case is not None:
            write = CaseWrite(
                outcome.case,
                pending + records_of(outcome.facts),
                expected_version=stored.version if stored else None,
            )
            effects.writes.append(write)
            effects.publish += write.outbox
            effects.published.append((outcome.report_id, write.version))
        else:
            effects.publish += pending + records_of(outcome.facts)
            if stored is not None and pending:
                effects.published.append((outcome.report_id, stored.version))
        if outcome.case is not None:
            known_term = stored.case.term if stored else None
            effects.follows.append(
                DeadlineFollow(outcome.case, self._warn_at(outcome.case), known_term)
            )

    def _warn_at(self, case: Case) -> datetime | None:
        if case.deadline is None:
            return None
        calendar = self.rules.ruleset.calendar_of(case.lead.agency_id)
        return warning_time(calendar, case.term_start, case.deadline)


def _unlinks(incoming: Incoming) -> bool:
    event = incoming.event
    return isinstance(event, AgencyUpdateEvent) and event.data.kind == AgencyUpdateKind.UNLINKED


@dataclass
class DeadlineWatch:
    """Emits due warnings and breaches once per term (routing's case consumer reads the
    breaches back and moves the reports up the escalation ladder)."""

    rules: RulesInForce
    deadlines: DeadlineStore
    producer: RecordProducer
    metrics: RoutingMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def check(self) -> int:
        """Publish what is due now, a few hundred at a time (published together, then
        marked in one write); the number of deadlines that moved."""
        now = self.clock()
        tracked = await self.deadlines.due(now)
        moved = 0
        for start in range(0, len(tracked), DEADLINES_PER_PUBLISH):
            records: list[KafkaRecord] = []
            marks: list[DeadlineMark] = []
            warned: list[str] = []
            breached: list[str] = []
            for deadline in tracked[start : start + DEADLINES_PER_PUBLISH]:
                facts = due(deadline, now=now)
                rid = deadline.report_id
                if facts.warning is not None:
                    event: Any = DeadlineWarningEvent.new(
                        facts.warning,
                        source=SOURCE,
                        id=fact_id(rid, deadline.fact("deadline:warning")),
                    )
                    records.append(event.to_kafka())
                    marks.append(DeadlineMark(rid, deadline.term, {"warned": True}))
                    warned.append(deadline.agency_id)
                if facts.breach is not None:
                    event = DeadlineBreachedEvent.new(
                        facts.breach,
                        source=SOURCE,
                        id=fact_id(rid, deadline.fact("deadline:breached")),
                    )
                    records.append(event.to_kafka())
                    marks.append(
                        DeadlineMark(rid, deadline.term, {"warned": True, "breached": True})
                    )
                    breached.append(deadline.agency_id)
            await self.producer.publish_all(records)
            await self.deadlines.mark_all(marks)
            for agency in warned:
                self.metrics.warnings.labels(agency).inc()
            for agency in breached:
                self.metrics.breaches.labels(agency).inc()
            moved += len(warned) + len(breached)
        return moved
