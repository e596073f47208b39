"""A batch of events about reports, decided per report in order (pure).

Routing reads new reports, agencies' updates, citizens' replies and its own missed
deadlines in one consumer, so a fetched batch holds the events of many reports, each
report's in the order they were written. :func:`group_by_report` keeps that order per
report; :func:`decide_report` folds one report's events over its case (or none) with the
rules of the case
(:mod:`routing.domain.case`), and says what each event did, the case after all of them
and every fact to publish, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias, TypeGuard

from phananh_contracts import (
    AgencyUpdateEvent,
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    DeadlineMovedEvent,
    DeadlineWarningEvent,
    ReportEscalatedEvent,
    ReportReceivedEvent,
)
from phananh_contracts.values import CORRECTION_KINDS

from routing.domain.calendar import WorkingCalendar
from routing.domain.case import Case, Decision, Fact, apply_reply, apply_update, open_case
from routing.domain.corrections import CityCodes, correct, names_other_report
from routing.domain.escalation import escalate
from routing.domain.rules import RuleSet

CaseEvent: TypeAlias = (
    ReportReceivedEvent | AgencyUpdateEvent | CitizenRepliedEvent | DeadlineBreachedEvent
)
"""What routing decides on: a new report, an agency's update, a citizen's reply, a missed
deadline (which moves the report up the escalation ladder)."""
DeadlineNotice: TypeAlias = DeadlineWarningEvent | ReportEscalatedEvent | DeadlineMovedEvent
"""The other facts of the deadlines topic, which routing published and does not act on."""


def acts_on(event: CaseEvent | DeadlineNotice) -> TypeGuard[CaseEvent]:
    """Whether routing decides anything on ``event`` (the deadlines topic also carries
    warnings, escalations and moved deadlines, which it leaves alone)."""
    return not isinstance(event, DeadlineWarningEvent | ReportEscalatedEvent | DeadlineMovedEvent)


@dataclass(frozen=True)
class Incoming:
    """One event about a report, with the exact bytes it came in (a citizen's reply is
    forwarded to the agencies' inboxes unchanged)."""

    event: CaseEvent
    body: bytes

    @property
    def report_id(self) -> str:
        return self.event.data.report_id


@dataclass(frozen=True)
class Context:
    """What deciding on a report may need besides its own case: the city's codes (for
    corrections) and the cases of other reports its events name (a duplicate's original,
    a link's target), read with the batch."""

    city: CityCodes = field(default_factory=CityCodes)
    others: Mapping[str, Case] = field(default_factory=dict)


def other_report(case: Case | None, event: CaseEvent) -> str | None:
    """The other report whose case deciding on ``event`` needs (None: none): the original
    of an arriving duplicate, a link's target, an unlink's original."""
    if isinstance(event, ReportReceivedEvent):
        return event.data.duplicate_of
    if isinstance(event, AgencyUpdateEvent):
        return names_other_report(case, event.data)
    return None


@dataclass(frozen=True)
class Step:
    """What one event did: the case before it and the decision (None: nothing to act on,
    e.g. a duplicate report, or a reply about a report routing never assigned)."""

    incoming: Incoming
    before: Case | None
    decision: Decision | None


@dataclass(frozen=True)
class ReportOutcome:
    """A report's events decided in order, over the case it had (``before``)."""

    report_id: str
    before: Case | None
    case: Case | None
    steps: tuple[Step, ...]
    facts: tuple[Fact, ...]
    changed: bool
    """Whether the case must be stored again (some event changed it)."""


def group_by_report(incoming: Iterable[Incoming]) -> dict[str, list[Incoming]]:
    """The events of each report, in the order they came (first report seen first)."""
    groups: dict[str, list[Incoming]] = {}
    for item in incoming:
        groups.setdefault(item.report_id, []).append(item)
    return groups


def opens_a_case(events: Sequence[Incoming]) -> bool:
    """Whether a report's events start with its arrival: almost always a case to open
    (a redelivery finds it stored)."""
    return isinstance(events[0].event, ReportReceivedEvent)


def decide(
    case: Case | None,
    incoming: Incoming,
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    *,
    now: datetime,
    context: Context | None = None,
) -> Decision | None:
    """What one event does to the case (None: there is nothing to act on)."""
    event = incoming.event
    context = context or Context()
    other = other_report(case, event)
    original = context.others.get(other) if other is not None else None
    if isinstance(event, ReportReceivedEvent):
        if case is not None:
            return Decision(case, changed=False)  # opened before: nothing new
        return open_case(ruleset, calendar, event.data, now=now, original=original)
    if isinstance(event, AgencyUpdateEvent):
        if event.data.kind in CORRECTION_KINDS:
            return correct(
                case,
                event.id,
                event.data,
                ruleset,
                calendar,
                now=now,
                city=context.city,
                others=context.others,
            )
        return apply_update(case, event.id, event.data, ruleset, calendar, now=now)
    if isinstance(event, DeadlineBreachedEvent):
        return escalate(case, event, ruleset, now=now)
    return apply_reply(case, event, incoming.body, ruleset, calendar, now=now)


def decide_report(
    case: Case | None,
    events: Sequence[Incoming],
    ruleset: RuleSet,
    calendar: WorkingCalendar,
    *,
    now: datetime,
    context: Context | None = None,
) -> ReportOutcome:
    """A report's events, in order, over its stored case (or none)."""
    before = case
    steps: list[Step] = []
    facts: list[Fact] = []
    changed = False
    for incoming in events:
        decision = decide(case, incoming, ruleset, calendar, now=now, context=context)
        steps.append(Step(incoming, case, decision))
        if decision is None:
            continue
        facts.extend(decision.facts)
        if decision.case is not None and decision.changed:
            case, changed = decision.case, True
    return ReportOutcome(events[0].report_id, before, case, tuple(steps), tuple(facts), changed)
