"""Who is told what, for a whole batch of events: pure decisions over report files.

A batch is decided in two steps, with the store written in between:

1. :func:`file_changes` — what each event changes in its report's file (``notify_reports``):
   a receipt marks the report received and adds its reporter (and, for a duplicate, adds
   the reporter to the original's citizens); an assignment, status change or breach that
   tells something is kept in the file, with the agencies it names.
2. :func:`receipt_notifications` / :func:`event_notifications` — once every change of the
   batch is written and the files read back, the notifications they mean: the receipt
   to its reporter, the events kept before the receipt arrived, a duplicate's reporter
   catching up with what the original's citizens were told, and an event told to every
   citizen linked to its report (or parked until the receipt).

Both sides (receipt, event) write first and read after, so whichever is second sees the
other; a notification decided by both is still sent once (its claim, keyed by its id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phananh_contracts import (
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    Event,
    ReportAssignedEvent,
    Reporter,
    ReportReceivedEvent,
    ReportRejectedEvent,
    ReportStatusChangedEvent,
)

from notify.domain.notices import (
    Notice,
    ReplyIntent,
    TemplateId,
    assignment_notice,
    breach_notice,
    receipt_notice,
    rejection_notice,
    rejection_report_id,
    reply_notice,
    status_notice,
)
from notify.domain.recipients import (
    Recipient,
    distinct_recipients,
    notification_id,
    recipient_of,
    root_report_id,
)

ReportEvent = ReportAssignedEvent | ReportStatusChangedEvent | DeadlineBreachedEvent
"""Events about a report, told to every citizen linked to it."""


@dataclass(frozen=True)
class Trigger:
    """The event a notice answers."""

    event_id: str
    event_type: str

    @classmethod
    def of(cls, event: Event[Any]) -> Trigger:
        return cls(event_id=event.id, event_type=event.type)


@dataclass(frozen=True)
class Notification:
    """One message to one citizen about one event: sent once, whatever is redelivered."""

    notice: Notice
    recipient: Recipient
    trigger: Trigger

    @property
    def id(self) -> str:
        """The idempotency key (see :func:`~notify.domain.recipients.notification_id`)."""
        return notification_id(
            self.notice.report_id,
            self.trigger.event_type,
            self.recipient.pseudonym,
            self.trigger.event_id,
        )


@dataclass(frozen=True)
class KeptEvent:
    """An event kept in a report's file, as it was written on its topic."""

    event_id: str
    topic: str
    time: str
    """The event's time (ISO 8601), the order in which kept events are told."""
    value: str
    """The record's exact value (UTF-8 JSON)."""


@dataclass(frozen=True)
class LinkMark:
    """A duplicate linked to (``linked``) or unlinked from a report by an officer, as
    routing said it (``ReportStatusChanged.duplicate_of`` / ``unlinked_from``); the latest
    mark of a duplicate decides whether its citizens follow the report."""

    report_id: str
    """The duplicate's report id."""
    linked: bool
    at: str
    """When (ISO 8601, UTC), the order marks are read in."""
    event_id: str


@dataclass(frozen=True)
class ReportFile:
    """What notify knows about one report."""

    report_id: str
    received: bool = False
    tracking_code: str | None = None
    recipients: tuple[Recipient, ...] = ()
    agencies: Mapping[str, str] = field(default_factory=dict)
    kept: tuple[ReportEvent, ...] = ()
    """The events kept in the file, in the order they happened."""
    links: tuple[LinkMark, ...] = ()
    """Duplicates linked or unlinked by hand (a duplicate intake linked has none)."""

    @property
    def citizens(self) -> tuple[Recipient, ...]:
        """Who is told the report's news: its recipients but those of a duplicate whose
        latest mark unlinked it, one per person."""
        latest: dict[str, LinkMark] = {}
        for mark in sorted(self.links, key=lambda mark: (mark.at, mark.event_id)):
            latest[mark.report_id] = mark
        return distinct_recipients(
            recipient
            for recipient in self.recipients
            if recipient.own_report_id == self.report_id
            or (last := latest.get(recipient.own_report_id)) is None
            or last.linked
        )


@dataclass(frozen=True)
class FileChange:
    """One change to one report's file; changes commute, so a batch's can be written at once."""

    report_id: str
    receipt: str | None = None
    """The tracking code, when this is the report's receipt (marks it received)."""
    recipients: tuple[Recipient, ...] = ()
    kept: KeptEvent | None = None
    agencies: Mapping[str, str] = field(default_factory=dict)
    link: LinkMark | None = None


@dataclass
class Telling:
    """What a batch comes to: the notifications, and the notices nobody is told (by reason)."""

    notifications: list[Notification] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """``anonymous``, ``silent``, ``parked`` or ``not_reporter``, once per notice nobody is
    told."""

    def tell(self, notice: Notice, recipients: Sequence[Recipient], trigger: Trigger) -> None:
        if not recipients:
            self.skipped.append("anonymous")
        for recipient in recipients:
            self.notifications.append(Notification(notice, recipient, trigger))


# --- reports ---------------------------------------------------------------------------


def receipt_changes(event: ReportReceivedEvent) -> list[FileChange]:
    """The report is received, with its reporter; a duplicate's reporter joins the original."""
    report = event.data
    recipient = _reporter(event)
    mine = (recipient,) if recipient is not None else ()
    changes = [FileChange(report.report_id, receipt=report.tracking_code, recipients=mine)]
    root = root_report_id(report.report_id, report.duplicate_of)
    if recipient is not None and root != report.report_id:
        changes.append(FileChange(root, recipients=mine))
    return changes


def receipt_files(event: ReportReceivedEvent) -> tuple[str, ...]:
    """The files a receipt's notifications depend on: its own, and the original's."""
    report = event.data
    return tuple({report.report_id, root_report_id(report.report_id, report.duplicate_of)})


def receipt_notifications(
    event: ReportReceivedEvent, files: Mapping[str, ReportFile], telling: Telling
) -> None:
    """The receipt to its reporter, then what was kept for the report before it arrived;
    a duplicate's reporter also catches up with what the original's citizens were told."""
    report = event.data
    recipient = _reporter(event)
    telling.tell(receipt_notice(report), (recipient,) if recipient else (), Trigger.of(event))
    own = files.get(report.report_id)
    if own is not None and own.received:
        for kept in own.kept:
            _tell_event(kept, own, None, telling)
    root = root_report_id(report.report_id, report.duplicate_of)
    original = files.get(root)
    if recipient is not None and original is not None and root != report.report_id:
        for kept in original.kept if original.received else ():
            _tell_event(kept, original, recipient, telling)


def _reporter(event: ReportReceivedEvent) -> Recipient | None:
    report = event.data
    return recipient_of(
        report.reporter, tracking_code=report.tracking_code, own_report_id=report.report_id
    )


# --- assignments, statuses, deadlines --------------------------------------------------


def event_notice(event: ReportEvent, agencies: Mapping[str, str]) -> Notice | None:
    """The message an event about a report means, or None when it tells nothing."""
    match event:
        case ReportAssignedEvent():
            return assignment_notice(event.data)
        case ReportStatusChangedEvent():
            return status_notice(event.data)
        case DeadlineBreachedEvent():
            return breach_notice(event.data, agencies.get(event.data.agency_id))


def agencies_named(event: ReportEvent) -> dict[str, str]:
    """Agency id → name as the event names them (a breach carries only the id)."""
    named: dict[str, str] = {}
    if isinstance(event, ReportAssignedEvent) and event.data.lead_agency_name:
        named[event.data.lead_agency_id] = event.data.lead_agency_name
    if isinstance(event, ReportStatusChangedEvent) and event.data.agency_id:
        named[event.data.agency_id] = event.data.agency_name or ""
    return {agency: name for agency, name in named.items() if name}


def event_change(event: ReportEvent, topic: str, value: bytes) -> FileChange | None:
    """Keep an event that tells the citizens something in its report's file (None if not)."""
    if event_notice(event, {}) is None:
        return None
    kept = KeptEvent(event.id, topic, event.time.isoformat(), value.decode("utf-8"))
    return FileChange(event.data.report_id, kept=kept, agencies=agencies_named(event))


def linked_elsewhere(event: ReportEvent) -> str | None:
    """The report a status change links its report to, or unlinks it from (None: none)."""
    if isinstance(event, ReportStatusChangedEvent):
        return event.data.duplicate_of or event.data.unlinked_from
    return None


def link_change(event: ReportEvent, own: ReportFile | None) -> FileChange | None:
    """An officer linked the event's report to another as its duplicate (its citizens join
    that report's file and hear its news from now on) or unlinked it (they stop); None
    when the event does neither."""
    if not isinstance(event, ReportStatusChangedEvent):
        return None
    changed = event.data
    target = changed.duplicate_of or changed.unlinked_from
    if target is None:
        return None
    mark = LinkMark(
        changed.report_id, changed.duplicate_of is not None, event.time.isoformat(), event.id
    )
    citizens = tuple(
        recipient
        for recipient in (own.recipients if own is not None else ())
        if recipient.own_report_id == changed.report_id
    )
    return FileChange(target, recipients=citizens if mark.linked else (), link=mark)


def event_notifications(event: ReportEvent, file: ReportFile, telling: Telling) -> None:
    """An event told to every citizen linked to its report, once the receipt is known."""
    if event_notice(event, {}) is None:
        return
    if not file.received:
        telling.skipped.append("parked")  # told when the receipt arrives
        return
    _tell_event(event, file, None, telling)


def _tell_event(
    event: ReportEvent, file: ReportFile, only: Recipient | None, telling: Telling
) -> None:
    notice = event_notice(event, file.agencies)
    if notice is None:
        return
    recipients = (only,) if only is not None else file.citizens
    telling.tell(notice, recipients, Trigger.of(event))


# --- rejections and replies ------------------------------------------------------------


def rejection_notifications(
    event: ReportRejectedEvent, silent_reasons: Iterable[Any], telling: Telling
) -> None:
    """Why intake refused the message, to its sender, unless the reason is silent."""
    rejected = event.data
    notice = rejection_notice(rejected, silent_reasons)
    if notice is None:
        telling.skipped.append("silent")
        return
    recipient = recipient_of(
        rejected.reporter,
        tracking_code=rejected.tracking_code,
        own_report_id=rejection_report_id(rejected),
    )
    telling.tell(notice, (recipient,) if recipient else (), Trigger.of(event))


def reply_notifications(
    event: CitizenRepliedEvent,
    intent: ReplyIntent | None,
    telling: Telling,
    file: ReportFile | None,
) -> None:
    """The confirmation of an opt-out or opt-in, or thanks for a rating, to who replied.

    A rating is thanked only when it comes from the report's own reporter (as ``file``,
    the report's file, knows them): routing lets nobody else's rating close or reopen the
    report, so thanking them ("… chuyển đến cơ quan xử lý") would mislead; it is skipped
    (``not_reporter``).
    """
    replied = event.data
    notice = reply_notice(replied, intent)
    if notice is None:
        return
    if notice.template_id == TemplateId.RATING_THANKS and not reported_by(file, replied.reporter):
        telling.skipped.append("not_reporter")
        return
    recipient = recipient_of(
        replied.reporter, tracking_code=replied.tracking_code, own_report_id=replied.report_id
    )
    telling.tell(notice, (recipient,) if recipient else (), Trigger.of(event))


# --- opt-outs --------------------------------------------------------------------------


@dataclass(frozen=True)
class OptOutState:
    """A citizen's latest opt-out and opt-in (either may be missing)."""

    stop_at: datetime | None = None
    start_at: datetime | None = None

    @property
    def opted_out(self) -> bool:
        if self.stop_at is None:
            return False
        return self.start_at is None or self.stop_at > self.start_at

    def after(self, intent: ReplyIntent, at: datetime) -> OptOutState:
        """The state once a reply at ``at`` is applied (the latest of each wins)."""
        if intent == "opt_out":
            latest = at if self.stop_at is None else max(self.stop_at, at)
            return OptOutState(latest, self.start_at)
        latest = at if self.start_at is None else max(self.start_at, at)
        return OptOutState(self.stop_at, latest)


@dataclass(frozen=True)
class OptOutChange:
    """A reply that opts its citizen out (``opt_out``) or back in (``opt_in``)."""

    pseudonym: str
    intent: ReplyIntent
    at: datetime


@dataclass
class Replies:
    """What a batch of replies comes to."""

    telling: Telling = field(default_factory=Telling)
    changes: list[OptOutChange] = field(default_factory=list)
    silenced: set[str] = field(default_factory=set)
    """Notifications not to send: their citizen had opted out when they replied."""


def replies_told(
    replies: Sequence[tuple[CitizenRepliedEvent, ReplyIntent | None]],
    states: Mapping[str, OptOutState],
    files: Mapping[str, ReportFile],
) -> Replies:
    """Replies in order: each opt-out or opt-in applies from its place in the batch on, so
    a rating after an opt-out in the same batch is not answered (as one at a time).
    ``files``: the files of the reports rated (:func:`rated_reports`)."""
    result = Replies()
    current = dict(states)
    for event, intent in replies:
        pseudonym = event.data.reporter.pseudonym
        if intent is not None and pseudonym is not None:
            result.changes.append(OptOutChange(pseudonym, intent, event.data.received_at))
            current[pseudonym] = current.get(pseudonym, OptOutState()).after(
                intent, event.data.received_at
            )
        before = len(result.telling.notifications)
        reply_notifications(event, intent, result.telling, files.get(event.data.report_id))
        result.silenced |= silenced(result.telling.notifications[before:], current)
    return result


def rated_reports(
    replies: Iterable[tuple[CitizenRepliedEvent, ReplyIntent | None]],
) -> set[str]:
    """The reports whose file :func:`replies_told` needs: those a reply rates."""
    return {event.data.report_id for event, _ in replies if event.data.rating is not None}


def reported_by(file: ReportFile | None, reporter: Reporter) -> bool:
    """Whether ``reporter`` sent the report of ``file`` themselves (not a duplicate of it,
    and not anonymously)."""
    if file is None or reporter.anonymous or reporter.pseudonym is None:
        return False
    return any(
        citizen.pseudonym == reporter.pseudonym and citizen.own_report_id == file.report_id
        for citizen in file.recipients
    )


def silenced(
    notifications: Iterable[Notification], states: Mapping[str, OptOutState]
) -> frozenset[str]:
    """The notifications not to send: their citizen opted out (not the opt-out's own
    confirmation, the last message they get)."""
    return frozenset(
        item.id
        for item in notifications
        if not item.notice.ignores_opt_out
        and states.get(item.recipient.pseudonym, OptOutState()).opted_out
    )
