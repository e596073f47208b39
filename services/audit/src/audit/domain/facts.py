"""The oversight read model: what audit knows of each report, folded from its events.

``apply(facts, event_type, data, occurred_at)`` folds ONE event (its CloudEvents type and
its sanitized ``data``) into the facts of the report it concerns. The live consumer and a
rebuild from the trail give it the same input, since a trail record keeps ``event_type``,
``payload`` (the sanitized data) and ``occurred_at``. The read model can therefore be
dropped and rebuilt from the trail at any time.

``apply`` is pure and idempotent (folding the same event twice changes nothing). It also
tolerates events in any order, because one report's events come from several topics
(reports, assignments, agency updates, status, deadlines, replies) and are consumed
independently. So the facts keep the dated observations the figures depend on (status
changes, agency steps, escalations, ratings) as sorted sets, and derive the rest:

first response
    The earliest agency update of kind accepted, in_progress, needs_information or
    resolved, from any agency (agencies only update reports assigned to them). A
    'rejected' update hands the report back and answers nobody; 'reopened' answers
    nothing either.
resolution
    Status 'resolved' or 'closed', or an agency update 'resolved' from the current lead
    agency. The latest observation decides. A later 'reopened' (status, or update from the
    lead) or any other open status undoes a resolution, and status 'rejected' makes the
    report rejected ('closed' after 'rejected' keeps it rejected). ``resolved_at`` is
    when the final resolved stretch began.
deadline
    The deadline of the latest assignment (an escalation's reassignment gives the new
    level's term), or the one a DeadlineMoved event gave it since: routing moves the
    deadline by the working time a report waited for the citizen. While the report waits
    for the citizen (its latest status), its clock is stopped: it is not overdue.
breach
    A DeadlineBreached event, or a resolution after the deadline in force.
rejected
    A message intake refused (ReportRejected; it never became a report, so its facts are
    keyed ``rejected:<channel>:<channel message id>`` and have ward and category
    'unknown'), or a report whose latest status is 'rejected'.

Data is read by field name and leniently, because trail payloads are sanitized and would
not validate against the contract models. The fields read are: report_id,
tracking_code, channel, channel_message_id, place.ward_code, place.ward_name, category,
priority, received_at, rejected_at, lead_agency_id, deadline, assigned_at, agency_id,
kind, updated_at, status, changed_at, at, to_agency_id, level, from_level, rating. Event types that
say nothing about these figures (warnings, notifications, raw messages) leave facts
unchanged. Instants are UTC truncated to the millisecond, which is what BSON dates hold,
so facts read back from the database equal the facts written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from phananh_contracts import (
    AgencyUpdateEvent,
    AgencyUpdateKind,
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    DeadlineMovedEvent,
    ReportAssignedEvent,
    ReportEscalatedEvent,
    ReportReceivedEvent,
    ReportRejectedEvent,
    ReportStatus,
    ReportStatusChangedEvent,
)

from audit.domain.records import TrailRecord

UNKNOWN = "unknown"
"""Ward, category or channel of facts that do not tell it."""

RESPONSE_KINDS = frozenset(
    {
        AgencyUpdateKind.ACCEPTED,
        AgencyUpdateKind.IN_PROGRESS,
        AgencyUpdateKind.NEEDS_INFORMATION,
        AgencyUpdateKind.RESOLVED,
    }
)
"""Agency updates that count as the first response to a report."""

_OUTCOME_OF_STATUS: dict[str, str] = {
    ReportStatus.RESOLVED: "resolved",
    ReportStatus.CLOSED: "closed",
    ReportStatus.REJECTED: "rejected",
}
_OUTCOME_OF_LEAD_UPDATE: dict[str, str] = {
    AgencyUpdateKind.RESOLVED: "resolved",
    AgencyUpdateKind.REOPENED: "open",
}


class StatusChange(NamedTuple):
    """A status the citizen saw, and since when."""

    at: datetime
    status: str


class Link(NamedTuple):
    """The report became a duplicate of ``duplicate_of`` at ``at`` ("": unlinked)."""

    at: datetime
    duplicate_of: str


class AgencyStep(NamedTuple):
    """An agency's update on the report."""

    at: datetime
    agency_id: str
    kind: str


class Escalation(NamedTuple):
    """The report was escalated from ``from_agency_id`` (which missed its deadline, at
    ``from_level``) to ``to_agency_id`` at ``level``; '' where the event did not say."""

    at: datetime
    to_agency_id: str
    level: str
    from_agency_id: str = ""
    from_level: str = ""


class Rating(NamedTuple):
    """A satisfaction rating (1–5) the citizen gave in a reply."""

    at: datetime
    rating: int


@dataclass(frozen=True)
class ReportFacts:
    """What oversight figures need to know about one report (or one refused message)."""

    report_id: str
    tracking_code: str | None = None
    channel: str = UNKNOWN
    ward_code: str = UNKNOWN
    ward_name: str | None = None
    category: str = UNKNOWN
    """The category routing assigned on, else the one intake gave."""
    priority: str | None = None
    received_at: datetime | None = None
    """None while only later events of the report were folded (they may come first)."""
    refused_at_intake: bool = False
    lead_agency_id: str | None = None
    """Lead agency (chủ trì) of the latest assignment."""
    assigned_at: datetime | None = None
    deadline: datetime | None = None
    """Deadline in force: of the latest assignment, or as a wait for the citizen moved it
    since (DeadlineMoved)."""
    deadline_moved_at: datetime | None = None
    """When the deadline was last moved after a wait for the citizen (None: never)."""
    breach_detected_at: datetime | None = None
    """Earliest DeadlineBreached event."""
    status_changes: tuple[StatusChange, ...] = ()
    agency_steps: tuple[AgencyStep, ...] = ()
    escalation_events: tuple[Escalation, ...] = ()
    rating_events: tuple[Rating, ...] = ()
    link_events: tuple[Link, ...] = ()
    """Links to an earlier report of the same incident, and unlinks: intake's on arrival
    (``duplicate_of`` of the report), an officer's by hand (a status change naming
    ``duplicate_of``, or ``unlinked_from``)."""

    @property
    def duplicate_of(self) -> str | None:
        """The report this one is a duplicate of now (the latest link or unlink decides)."""
        return (self.link_events[-1].duplicate_of or None) if self.link_events else None

    @property
    def linked_duplicate(self) -> bool:
        """A duplicate handled with its original (its citizens told that report's news),
        and not refused. Counted as such, not as still being handled nor as resolved."""
        return self.duplicate_of is not None and not self.rejected

    @property
    def first_response_at(self) -> datetime | None:
        return min((s.at for s in self.agency_steps if s.kind in RESPONSE_KINDS), default=None)

    @property
    def resolved_at(self) -> datetime | None:
        outcome, since = self._outcome()
        return since if outcome == "resolved" else None

    @property
    def rejected(self) -> bool:
        return self.refused_at_intake or self._outcome()[0] == "rejected"

    @property
    def reopened(self) -> bool:
        return any(s.status == ReportStatus.REOPENED for s in self.status_changes) or any(
            s.kind == AgencyUpdateKind.REOPENED for s in self.agency_steps
        )

    @property
    def breached(self) -> bool:
        resolved_at = self.resolved_at
        late = resolved_at is not None and self.deadline is not None and resolved_at > self.deadline
        return self.breach_detected_at is not None or late

    @property
    def escalations(self) -> int:
        return len(self.escalation_events)

    @property
    def clock_stopped(self) -> bool:
        """Waiting for the citizen: the deadline does not run (routing's clock is stopped,
        and the deadline is moved once the citizen answers)."""
        return self.last_status == ReportStatus.WAITING_FOR_CITIZEN.value

    @property
    def ratings(self) -> tuple[int, ...]:
        return tuple(r.rating for r in self.rating_events)

    @property
    def last_status(self) -> str | None:
        if self.status_changes:
            return self.status_changes[-1].status
        if self.refused_at_intake:
            return ReportStatus.REJECTED.value
        return ReportStatus.RECEIVED.value if self.received_at is not None else None

    def _outcome(self) -> tuple[str, datetime | None]:
        """('open' | 'resolved' | 'rejected', when that outcome began)."""
        marks = [(s.at, _OUTCOME_OF_STATUS.get(s.status, "open")) for s in self.status_changes]
        marks += [
            (s.at, _OUTCOME_OF_LEAD_UPDATE[s.kind])
            for s in self.agency_steps
            if s.agency_id == self.lead_agency_id and s.kind in _OUTCOME_OF_LEAD_UPDATE
        ]
        outcome, since = "open", self.received_at
        for at, mark in sorted(marks):
            if mark == "closed":
                mark = "rejected" if outcome == "rejected" else "resolved"
            if mark != outcome:
                outcome, since = mark, at
        return outcome, since


def rejected_report_id(channel: str, channel_message_id: str) -> str:
    """Key of the facts of a message intake refused (it has no report id)."""
    return f"rejected:{channel}:{channel_message_id}"


def report_key(event_type: str, data: Mapping[str, Any]) -> str | None:
    """Key of the facts an event folds into, or None when ``apply`` ignores the event."""
    if event_type not in _FOLDS:
        return None
    if event_type == _REJECTED:
        channel, message_id = data.get("channel"), data.get("channel_message_id")
        return rejected_report_id(str(channel), str(message_id)) if channel and message_id else None
    report_id = data.get("report_id")
    return str(report_id) if report_id else None


def apply(
    facts: ReportFacts | None, event_type: str, data: Mapping[str, Any], occurred_at: datetime
) -> ReportFacts | None:
    """``facts`` with one event folded in; ``facts`` itself when the event does not count.

    ``facts`` must be the facts of the event's report (see ``report_key``) or None.
    """
    key = report_key(event_type, data)
    if key is None:
        return facts
    if facts is not None and facts.report_id != key:
        raise ValueError(f"an event of {key} cannot be folded into the facts of {facts.report_id}")
    current = facts if facts is not None else ReportFacts(report_id=key)
    return _FOLDS[event_type](current, data, _instant(occurred_at))


FoldedEvent = tuple[str, Mapping[str, Any], datetime]
"""``(event_type, sanitized data, occurred_at)``: what ``apply`` folds."""


def fold_events(
    latest: Mapping[str, ReportFacts | None], events: Iterable[FoldedEvent]
) -> dict[str, ReportFacts]:
    """The facts of every report the events tell of, each folded from its ``latest`` facts
    (None or absent: none stored yet) through its events, in their order. Events ``apply``
    ignores are left out; a report's facts are returned even when they did not change."""
    folded: dict[str, ReportFacts] = {}
    for event_type, data, occurred_at in events:
        key = report_key(event_type, data)
        if key is None:
            continue
        before = folded[key] if key in folded else latest.get(key)
        after = apply(before, event_type, data, occurred_at)
        if after is not None:
            folded[key] = after
    return folded


def event_of_record(
    record: Mapping[str, Any] | TrailRecord,
) -> tuple[str, Mapping[str, Any], datetime] | None:
    """``(event_type, payload, occurred_at)`` of a valid trail record (a TrailRecord or
    its document), the arguments of ``apply``; None for a record of an invalid event."""
    if isinstance(record, TrailRecord):
        valid, fields = record.valid, (record.event_type, record.payload, record.occurred_at)
    else:
        valid = record.get("valid", True)
        fields = (record["event_type"], record.get("payload") or {}, record["occurred_at"])
    return fields if valid else None


def fold(records: Iterable[Mapping[str, Any] | TrailRecord]) -> dict[str, ReportFacts]:
    """The facts of every report that trail records tell of, keyed like ``report_key``."""
    folded: dict[str, ReportFacts] = {}
    for record in records:
        fold_record(folded, record)
    return folded


def fold_record(folded: dict[str, ReportFacts], record: Mapping[str, Any] | TrailRecord) -> None:
    """Fold one trail record into ``folded`` (facts keyed like ``report_key``), in place."""
    event = event_of_record(record)
    key = report_key(event[0], event[1]) if event else None
    if event is not None and key is not None:
        found = apply(folded.get(key), *event)
        if found is not None:
            folded[key] = found


# --------------------------------------------------------------------------- folds

Fold = Callable[[ReportFacts, Mapping[str, Any], datetime], ReportFacts]


def _received(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    place = data.get("place") or {}
    assigned = facts.assigned_at is not None
    return replace(
        facts,
        tracking_code=_text(data.get("tracking_code")) or facts.tracking_code,
        channel=_text(data.get("channel")) or UNKNOWN,
        ward_code=_text(place.get("ward_code")) or UNKNOWN,
        ward_name=_text(place.get("ward_name")),
        category=facts.category if assigned else _text(data.get("category")) or UNKNOWN,
        priority=facts.priority if assigned else _text(data.get("priority")),
        received_at=_instant(data.get("received_at") or at),
        link_events=_linked(facts, _instant(data.get("received_at") or at), data, "duplicate_of"),
    )


def _refused(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    return replace(
        facts,
        tracking_code=_text(data.get("tracking_code")),
        channel=str(data["channel"]),
        received_at=_instant(data.get("rejected_at") or at),
        refused_at_intake=True,
    )


def _assigned(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    assigned_at = _instant(data.get("assigned_at") or at)
    if facts.assigned_at is not None and assigned_at < facts.assigned_at:
        return facts  # an older assignment folded after a reassignment
    deadline: datetime | None = _instant(data["deadline"]) if data.get("deadline") else None
    moved_at = facts.deadline_moved_at
    if moved_at is not None and assigned_at < moved_at:
        deadline = facts.deadline  # moved after this assignment (folded out of order)
    return replace(
        facts,
        tracking_code=facts.tracking_code or _text(data.get("tracking_code")),
        lead_agency_id=_text(data.get("lead_agency_id")),
        assigned_at=assigned_at,
        deadline=deadline,
        category=_text(data.get("category")) or facts.category,
        priority=_text(data.get("priority")) or facts.priority,
    )


def _agency_update(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    at = _instant(data.get("updated_at") or at)
    step = AgencyStep(at, str(data["agency_id"]), str(data["kind"]))
    return replace(facts, agency_steps=_with(facts.agency_steps, step))


def _status_changed(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    change = StatusChange(_instant(data.get("changed_at") or at), str(data["status"]))
    links = _linked(facts, change.at, data, "duplicate_of")
    if data.get("unlinked_from"):
        links = _with(links, Link(change.at, ""))
    return replace(
        facts,
        tracking_code=facts.tracking_code or _text(data.get("tracking_code")),
        status_changes=_with(facts.status_changes, change),
        link_events=links,
    )


def _linked(
    facts: ReportFacts, at: datetime, data: Mapping[str, Any], field: str
) -> tuple[Link, ...]:
    """The report's links, with the one ``data[field]`` names (if any) added."""
    original = _text(data.get(field))
    return facts.link_events if original is None else _with(facts.link_events, Link(at, original))


def _breached(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    detected = _instant(data.get("at") or at)
    earliest = min(detected, facts.breach_detected_at or detected)
    return replace(facts, breach_detected_at=earliest)


def _escalated(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    at = _instant(data.get("at") or at)
    escalation = Escalation(
        at,
        str(data["to_agency_id"]),
        str(data["level"]),
        _text(data.get("agency_id")) or "",
        _text(data.get("from_level")) or "",
    )
    return replace(facts, escalation_events=_with(facts.escalation_events, escalation))


def _deadline_moved(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    moved_at = _instant(data.get("at") or at)
    if facts.assigned_at is not None and moved_at < facts.assigned_at:
        return facts  # a later assignment set the deadline in force since
    if facts.deadline_moved_at is not None and moved_at < facts.deadline_moved_at:
        return facts
    return replace(facts, deadline=_instant(data["deadline"]), deadline_moved_at=moved_at)


def _replied(facts: ReportFacts, data: Mapping[str, Any], at: datetime) -> ReportFacts:
    facts = replace(facts, tracking_code=facts.tracking_code or _text(data.get("tracking_code")))
    if data.get("rating") is None:
        return facts
    rating = Rating(_instant(data.get("received_at") or at), int(data["rating"]))
    return replace(facts, rating_events=_with(facts.rating_events, rating))


_REJECTED = ReportRejectedEvent.event_type()
_FOLDS: dict[str, Fold] = {
    ReportReceivedEvent.event_type(): _received,
    _REJECTED: _refused,
    ReportAssignedEvent.event_type(): _assigned,
    AgencyUpdateEvent.event_type(): _agency_update,
    ReportStatusChangedEvent.event_type(): _status_changed,
    DeadlineBreachedEvent.event_type(): _breached,
    ReportEscalatedEvent.event_type(): _escalated,
    DeadlineMovedEvent.event_type(): _deadline_moved,
    CitizenRepliedEvent.event_type(): _replied,
}


Observation = TypeVar("Observation", bound=tuple[Any, ...])


def _with(items: tuple[Observation, ...], item: Observation) -> tuple[Observation, ...]:
    return items if item in items else tuple(sorted((*items, item)))


def _text(value: Any) -> str | None:
    """A string field as plain ``str`` (enum members included), None when absent."""
    return None if value is None else str(value)


def _instant(value: object) -> datetime:
    """An aware UTC datetime to the millisecond, from a datetime or an ISO 8601 string."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(instant, datetime):
        raise ValueError(f"not an instant: {value!r}")
    instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
