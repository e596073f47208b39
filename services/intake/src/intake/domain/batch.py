"""A fetched batch of raw channel events in, what intake makes of each message out.

The normalizer decides on a whole batch at once, in three pure steps around two reads:

1. :func:`parse_batch` — each raw event parsed by its channel's parser (one message, or
   one per collaborator item; an unreadable payload is kept with its error), and
   :func:`lookups` — the channel messages and tracking codes the batch must know about:
   the messages themselves (seen before?) and what replies point at.
2. :func:`decide` — given what is stored (:class:`Known`), the messages in order: a
   message seen before (stored, or earlier in the same batch) is skipped; a message its
   adapter refused (``rejection_reason``, e.g. a webhook's sender over its rate limit) is
   rejected for that reason; a reply to an accepted report (stored, or made earlier in
   the batch) becomes the citizen's reply; any other message is interpreted into a
   report or a rejection.
3. :func:`link_duplicates` — given the near-duplicate buckets of the reports' wards and
   windows (:func:`candidate_buckets`), each new report, in order, is linked to the
   first similar earlier one (stored, or earlier in the batch) and added to its bucket.

Every outcome knows its event (ids derived from the message, the same on every
redelivery) and what intake remembers of its message (:class:`Handled`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from phananh_contracts import (
    CitizenReplied,
    CitizenRepliedEvent,
    Event,
    RawChannelMessageReceived,
    RejectionReason,
    ReportReceivedEvent,
    ReportRejected,
    ReportRejectedEvent,
)

from intake.config import CityConfig
from intake.domain.category_model import CategoryModel
from intake.domain.channels import parse_raw
from intake.domain.dedupe import (
    BUCKET_LIMIT,
    EarlierReport,
    Fingerprint,
    bucket_of,
    buckets_for,
    find_original,
    fingerprint,
    place_anchors,
)
from intake.domain.model import ChannelMessage, PayloadError
from intake.domain.normalize import (
    Keys,
    NewReport,
    Rejection,
    ReplyHint,
    as_reply,
    interpret,
    refused,
    reply_hint,
    unreadable,
)
from intake.domain.tracking import derived_event_id, report_id

SOURCE = "/services/intake"


def message_key(channel: str, channel_message_id: str) -> str:
    """The ``_id`` under which intake remembers a channel message."""
    return f"{channel}:{channel_message_id}"


@dataclass(frozen=True)
class Arrival:
    """One raw channel event of the batch."""

    event_id: str
    raw: RawChannelMessageReceived


@dataclass(frozen=True)
class Parsed:
    """A raw event parsed: the messages it carries, or why it is unreadable."""

    arrival: Arrival
    messages: tuple[tuple[ChannelMessage, ReplyHint | None], ...] = ()
    error: PayloadError | None = None


@dataclass(frozen=True)
class Handled:
    """What intake remembers of a channel message it handled."""

    outcome: str
    """``report``, ``reply`` or ``rejected:<reason>``."""
    report_id: str
    at: datetime
    tracking_code: str | None = None
    """The report's code (for replies threaded on the channel); None when unknown."""


@dataclass(frozen=True)
class CodeHolder:
    """The report a tracking code names, and whether it was rejected."""

    report_id: str
    rejected: bool


@dataclass(frozen=True)
class Known:
    """What the store holds of the messages and codes the batch asked about."""

    handled: Mapping[str, Handled] = field(default_factory=dict)
    codes: Mapping[str, CodeHolder] = field(default_factory=dict)


@dataclass(frozen=True)
class Bucket:
    """A stored near-duplicate bucket: how many reports it counts, and their entries."""

    size: int
    entries: tuple[EarlierReport, ...] = ()


# ----------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Skipped:
    """A channel message seen before: nothing is published again."""

    message: ChannelMessage


@dataclass(frozen=True)
class Replied:
    """A citizen's reply on an existing report."""

    reply: CitizenReplied

    @property
    def key(self) -> str:
        return message_key(self.reply.channel.value, self.reply.channel_message_id)

    def event(self) -> Event[CitizenReplied]:
        reply = self.reply
        fact = f"reply:{reply.channel.value}:{reply.channel_message_id}"
        return CitizenRepliedEvent.new(
            reply, source=SOURCE, id=derived_event_id(reply.report_id, fact)
        )

    def handled(self) -> Handled:
        return Handled("reply", self.reply.report_id, self.reply.received_at)


@dataclass(frozen=True)
class Rejected:
    """A message refused, with a reason and a notice."""

    rejected: ReportRejected

    @property
    def key(self) -> str:
        return message_key(self.rejected.channel.value, self.rejected.channel_message_id)

    @property
    def made_from(self) -> str:
        return report_id(self.rejected.channel.value, self.rejected.channel_message_id)

    def event(self) -> Event[ReportRejected]:
        return ReportRejectedEvent.new(
            self.rejected, source=SOURCE, id=derived_event_id(self.made_from, "rejected")
        )

    def handled(self) -> Handled:
        rejected = self.rejected
        return Handled(f"rejected:{rejected.reason.value}", self.made_from, rejected.rejected_at)


@dataclass(frozen=True)
class Accepted:
    """A message accepted as a report (linked to its original once deduplicated)."""

    new: NewReport
    fingerprint: Fingerprint
    raw_event_id: str = ""
    """The raw channel event the report was made from (for the log)."""
    anchors: frozenset[int] = frozenset()
    """The named places its text mentions (``dedupe.place_anchors``)."""

    @property
    def key(self) -> str:
        report = self.new.report
        return message_key(report.channel.value, report.channel_message_id)

    @property
    def ward_code(self) -> str | None:
        place = self.new.report.place
        return place.ward_code if place else None

    def event(self) -> ReportReceivedEvent:
        report = self.new.report
        return ReportReceivedEvent.new(
            report, source=SOURCE, id=derived_event_id(report.report_id, "received")
        )

    def handled(self) -> Handled:
        report = self.new.report
        return Handled("report", report.report_id, report.received_at, report.tracking_code)

    def as_earlier(self) -> EarlierReport:
        report = self.new.report
        return EarlierReport(
            report_id=report.report_id,
            ward_code=self.ward_code,
            category=report.category,
            fingerprint=self.fingerprint,
            received_at=report.received_at,
            duplicate_of=report.duplicate_of,
            anchors=self.anchors,
        )


Outcome: TypeAlias = Skipped | Replied | Rejected | Accepted
Decided: TypeAlias = Replied | Rejected | Accepted
"""An outcome that is published and remembered."""


# ------------------------------------------------------------------------------- steps
def parse_batch(arrivals: Iterable[Arrival], config: CityConfig) -> list[Parsed]:
    """Each raw event parsed by its channel's parser, with the messages' reply hints."""
    parsed = []
    for arrival in arrivals:
        try:
            messages = parse_raw(arrival.raw)
        except PayloadError as error:
            parsed.append(Parsed(arrival, error=error))
            continue
        hinted = tuple((message, reply_hint(message, config)) for message in messages)
        parsed.append(Parsed(arrival, messages=hinted))
    return parsed


def lookups(parsed: Iterable[Parsed]) -> tuple[set[str], set[str]]:
    """The message keys (the messages, and those replies answer) and codes to read."""
    keys: set[str] = set()
    codes: set[str] = set()
    for item in parsed:
        raw = item.arrival.raw
        if item.error is not None:
            keys.add(message_key(raw.channel.value, raw.channel_message_id))
        for message, hint in item.messages:
            keys.add(message_key(message.channel.value, message.channel_message_id))
            if hint and hint.tracking_code:
                codes.add(hint.tracking_code)
            if hint and hint.reply_to_channel_message_id:
                keys.add(message_key(message.channel.value, hint.reply_to_channel_message_id))
    return keys, codes


@dataclass
class _Decider:
    """Walks the batch in order, knowing what the store holds and the batch made so far."""

    known: Known
    config: CityConfig
    keys: Keys
    now: datetime
    model: CategoryModel | None = None
    handled: dict[str, Handled] = field(default_factory=dict)
    codes: dict[str, CodeHolder] = field(default_factory=dict)

    def seen(self, key: str) -> bool:
        return key in self.handled or key in self.known.handled

    def record(self, outcome: Decided) -> Decided:
        handled = outcome.handled()
        self.handled[outcome.key] = handled
        if isinstance(outcome, Accepted | Rejected):
            code = (
                outcome.new.report.tracking_code
                if isinstance(outcome, Accepted)
                else outcome.rejected.tracking_code
            )
            if code is not None and code not in self.codes:  # the first keeps the code
                rejected = isinstance(outcome, Rejected)
                self.codes[code] = CodeHolder(handled.report_id, rejected)
        return outcome

    def by_code(self, code: str) -> tuple[str, str] | None:
        holder = self.known.codes.get(code) or self.codes.get(code)
        if holder is None or holder.rejected:
            return None
        return holder.report_id, code

    def by_message(self, channel: str, channel_message_id: str) -> tuple[str, str] | None:
        key = message_key(channel, channel_message_id)
        handled = self.known.handled.get(key) or self.handled.get(key)
        if handled is None or handled.outcome != "report" or handled.tracking_code is None:
            return None
        return handled.report_id, handled.tracking_code

    def reply(self, message: ChannelMessage, hint: ReplyHint | None) -> Replied | None:
        if hint is None:
            return None
        target = self.by_code(hint.tracking_code) if hint.tracking_code else None
        if target is None and hint.reply_to_channel_message_id:
            target = self.by_message(message.channel.value, hint.reply_to_channel_message_id)
        if target is None:
            return None  # no such report: the message is a new report
        target_id, target_code = target
        reply = as_reply(
            message, target_report_id=target_id, target_code=target_code, keys=self.keys
        )
        return Replied(reply) if reply is not None else None

    def refused(
        self, message: ChannelMessage, reason: RejectionReason, raw_event_id: str
    ) -> Outcome:
        """A message its adapter refused (``rejection_reason``): rejected, never read."""
        if self.seen(message_key(message.channel.value, message.channel_message_id)):
            return Skipped(message)
        rejected = refused(message, reason=reason, raw_event_id=raw_event_id, keys=self.keys)
        return self.record(Rejected(rejected))

    def message(
        self, message: ChannelMessage, hint: ReplyHint | None, raw_event_id: str
    ) -> Outcome:
        if self.seen(message_key(message.channel.value, message.channel_message_id)):
            return Skipped(message)
        replied = self.reply(message, hint)
        if replied is not None:
            return self.record(replied)
        outcome = interpret(
            message,
            raw_event_id=raw_event_id,
            config=self.config,
            keys=self.keys,
            now=self.now,
            model=self.model,
        )
        if isinstance(outcome, Rejection):
            return self.record(Rejected(outcome.rejected))
        report = outcome.report
        return self.record(
            Accepted(
                outcome,
                fingerprint(outcome.folded_text),
                raw_event_id,
                place_anchors(f"{report.title or ''} {report.text}"),
            )
        )


def decide(
    parsed: Sequence[Parsed],
    known: Known,
    *,
    config: CityConfig,
    keys: Keys,
    now: datetime,
    model: CategoryModel | None = None,
) -> list[Outcome]:
    """What each message of the batch becomes, in order (before near duplicates);
    ``model``: the city's trained category model, if any."""
    decider = _Decider(known, config, keys, now, model)
    outcomes: list[Outcome] = []
    for item in parsed:
        arrival = item.arrival
        if item.error is not None:
            raw = arrival.raw
            if decider.seen(message_key(raw.channel.value, raw.channel_message_id)):
                continue
            rejected = unreadable(raw, raw_event_id=arrival.event_id, error=item.error, now=now)
            outcomes.append(decider.record(Rejected(rejected)))
            continue
        refusal = arrival.raw.rejection_reason
        for message, hint in item.messages:
            if refusal is not None:
                outcomes.append(decider.refused(message, refusal, arrival.event_id))
            else:
                outcomes.append(decider.message(message, hint, arrival.event_id))
    return outcomes


def candidate_buckets(outcomes: Iterable[Outcome], config: CityConfig) -> set[str]:
    """The buckets holding the candidates of the batch's new reports (their wards)."""
    window = timedelta(hours=config.dedupe.window_hours)
    hours = {
        (outcome.ward_code, bucket_of(outcome.ward_code, outcome.new.report.received_at))
        for outcome in outcomes
        if isinstance(outcome, Accepted) and outcome.ward_code
    }
    wanted: set[str] = set()
    for ward_code, hour in hours:  # reports of one ward and hour share their window
        at = datetime.strptime(hour.rsplit("#", 1)[1], "%Y%m%d%H").replace(tzinfo=UTC)
        wanted.update(buckets_for(ward_code, at, window))
    return wanted


@dataclass(frozen=True)
class Linked:
    """The outcomes with near duplicates linked, and the entries to add to each bucket."""

    outcomes: list[Outcome]
    appends: dict[str, list[EarlierReport]]


def link_duplicates(
    outcomes: Sequence[Outcome],
    buckets: Mapping[str, Bucket],
    config: CityConfig,
    *,
    bucket_limit: int = BUCKET_LIMIT,
) -> Linked:
    """Each new report, in order, linked to the first similar earlier one of its ward.

    Candidates are the stored buckets' entries and the batch's earlier reports that
    their bucket kept (a full bucket keeps its first reports, as a stored one does).
    """
    window = timedelta(hours=config.dedupe.window_hours)
    thresholds = config.dedupe.thresholds()
    candidates: dict[str | None, dict[str, EarlierReport]] = {}
    for bucket in buckets.values():
        for entry in bucket.entries:
            candidates.setdefault(entry.ward_code, {})[entry.report_id] = entry
    sizes = {bucket_id: bucket.size for bucket_id, bucket in buckets.items()}
    appends: dict[str, list[EarlierReport]] = {}
    linked: list[Outcome] = []
    for outcome in outcomes:
        ward_code = outcome.ward_code if isinstance(outcome, Accepted) else None
        if not isinstance(outcome, Accepted) or ward_code is None:
            linked.append(outcome)
            continue
        report = outcome.new.report
        pool = candidates.setdefault(ward_code, {})
        original = find_original(
            fingerprint_of=outcome.fingerprint,
            anchors=outcome.anchors,
            ward_code=ward_code,
            category=report.category,
            received_at=report.received_at,
            earlier=(entry for entry in pool.values() if entry.report_id != report.report_id),
            window=window,
            thresholds=thresholds,
        )
        if original is not None:
            report = report.model_copy(update={"duplicate_of": original})
            outcome = replace(outcome, new=replace(outcome.new, report=report))
        linked.append(outcome)
        bucket_id = bucket_of(ward_code, report.received_at)
        if sizes.get(bucket_id, 0) < bucket_limit:
            sizes[bucket_id] = sizes.get(bucket_id, 0) + 1
            entry = outcome.as_earlier()
            appends.setdefault(bucket_id, []).append(entry)
            pool.setdefault(entry.report_id, entry)
    return Linked(linked, appends)
