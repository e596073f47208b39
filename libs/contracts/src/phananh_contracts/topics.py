"""Every Kafka topic of the platform, its key, and the event types allowed on it.

Topic names are public contracts: agencies' systems subscribe to them. A breaking change
to a topic's key or events means a new topic with the next version suffix.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError

from phananh_contracts.envelope import Event, EventData
from phananh_contracts.errors import ContractViolation
from phananh_contracts.events import (
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawnEvent,
    AgencyUpdateEvent,
    AgencyUpdateRefusedEvent,
    AuditCheckpointEvent,
    CitizenRepliedEvent,
    ContactKeyDestroyedEvent,
    ContactKeyIssuedEvent,
    DeadlineBreachedEvent,
    DeadlineMovedEvent,
    DeadlineWarningEvent,
    DuplicateLinkChangedEvent,
    NotificationFailedEvent,
    NotificationSentEvent,
    RawChannelMessageReceivedEvent,
    ReportAssignedEvent,
    ReportEscalatedEvent,
    ReportReceivedEvent,
    ReportRejectedEvent,
    ReportStatusChangedEvent,
    RuleSetPublishedEvent,
)
from phananh_contracts.keys import (
    ChannelMessageKey,
    CheckpointKey,
    ContactKeyKey,
    Key,
    ReportKey,
    RuleSetKey,
)

_DAY_MS = 24 * 60 * 60 * 1000
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Topic:
    """A Kafka topic: how the broker creates it and what producers may write on it."""

    name: str
    partitions: int
    description: str
    key: type[Key] | None
    """Model of the record key; None when the key is whatever the original record had."""
    events: tuple[type[Event[Any]], ...]
    """Event classes allowed on the topic; empty for topics of raw bytes (dead letters)."""
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = None
    """Kafka ``retention.ms``: None for the broker default, -1 to keep forever."""
    max_message_bytes: int | None = None
    """Kafka ``max.message.bytes``: None for the broker default (1 MiB)."""
    configs: tuple[tuple[str, str], ...] = ()
    """Further Kafka topic configurations the topic is created with (name, value)."""

    def key_for(self, data: EventData) -> Key:
        """The record key of an event with this data: the key's fields, read from the data."""
        if self.key is None:
            raise LookupError(f"topic {self.name} has no key model")
        return self.key.model_validate(data, from_attributes=True)

    def decode(self, value: bytes) -> Event[Any]:
        """Validate a record value against the event types of this topic.

        Raises ContractViolation, with a short reason, for anything invalid.
        """
        if not self.events:
            raise LookupError(f"topic {self.name} carries raw bytes, not events")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ContractViolation(f"not UTF-8: {error}", topic=self.name) from None
        try:
            return self.value_adapter.validate_json(text)
        except ValidationError as error:
            raise self._violation(error) from None

    @cached_property
    def value_adapter(self) -> TypeAdapter[Event[Any]]:
        """Validator and JSON Schema of a record value: the union of the topic's events."""
        events: Any = Union[self.events]  # noqa: UP007 -- from a tuple at run time
        return TypeAdapter(Annotated[events, Field(discriminator="type")])

    def _violation(self, error: ValidationError) -> ContractViolation:
        first = error.errors(include_url=False)[0]
        ctx = first.get("ctx", {})
        match first["type"]:
            case "json_invalid":
                reason = f"invalid JSON: {ctx['error']}"
            case "union_tag_not_found":
                reason = "missing attribute 'type'"
            case "union_tag_invalid":
                reason = (
                    f"unknown event type {ctx['tag']!r} on topic {self.name} "
                    f"(expected {ctx['expected_tags']})"
                )
            case _:  # the location starts with the union tag, the event type
                return ContractViolation.from_validation_error(error, topic=self.name, skip_loc=1)
        return ContractViolation(reason, topic=self.name)


CHANNEL_RAW_TOPIC = Topic(
    name="pakn.channel.raw.v1",
    partitions=6,
    description=(
        "Messages as channel adapters received them, before normalization. Bodies may hold "
        "contacts in clear, so records are kept 7 days; bodies up to 1,000,000 characters."
    ),
    key=ChannelMessageKey,
    events=(RawChannelMessageReceivedEvent,),
    retention_ms=7 * _DAY_MS,
    max_message_bytes=4 * _MIB,
)
REPORTS_TOPIC = Topic(
    name="pakn.reports.v1",
    partitions=6,
    description="Normalized reports accepted by intake.",
    key=ReportKey,
    events=(ReportReceivedEvent,),
)
REPORTS_REJECTED_TOPIC = Topic(
    name="pakn.reports.rejected.v1",
    partitions=3,
    description="Channel messages intake refused (invalid, spam, duplicate …), with the reason.",
    key=ChannelMessageKey,
    events=(ReportRejectedEvent,),
)
CITIZEN_REPLIES_TOPIC = Topic(
    name="pakn.citizen.replies.v1",
    partitions=6,
    description="Citizens' replies on existing reports (more information, ratings).",
    key=ReportKey,
    events=(CitizenRepliedEvent,),
)
ASSIGNMENTS_TOPIC = Topic(
    name="pakn.assignments.v1",
    partitions=6,
    description="Reports assigned to a lead agency and supporting agencies, with a deadline.",
    key=ReportKey,
    events=(ReportAssignedEvent,),
)
AGENCY_UPDATES_TOPIC = Topic(
    name="pakn.agency.updates.v1",
    partitions=6,
    description=(
        "Agencies' updates routing admitted: each came from the agency's own updates topic "
        "(pakn.updates.<agency-id>.v1) and names that agency; forwarded unchanged. Only "
        "routing writes here."
    ),
    key=ReportKey,
    events=(AgencyUpdateEvent,),
)
AGENCY_UPDATES_REFUSED_TOPIC = Topic(
    name="pakn.agency.updates.refused.v1",
    partitions=3,
    description=(
        "Agency updates routing refused (the agency does not hold the report, the update "
        "does not fit its state …), with the reason; each also reaches the agency's inbox."
    ),
    key=ReportKey,
    events=(AgencyUpdateRefusedEvent,),
)
RULES_TOPIC = Topic(
    name="pakn.routing.rules.v1",
    partitions=1,
    description=(
        "The routing rule set in force (compacted: the newest per scope is kept). Every "
        "routing instance switches when a new one is published; audit records each."
    ),
    key=RuleSetKey,
    events=(RuleSetPublishedEvent,),
    cleanup_policy="compact",
    retention_ms=-1,
)
CONTACT_KEY_ERASED_WITHIN_MS = _DAY_MS
"""A destroyed contact key leaves the broker's disks within a day (``max.compaction.lag.ms``
and ``segment.ms``), once the log cleaner has run."""

CONTACT_KEYS_TOPIC = Topic(
    name="pakn.contact.keys.v1",
    partitions=6,
    description=(
        "The keys that open citizens' sealed contacts, one per sealed contact, wrapped under "
        "the contact master keys (compacted: the newest record per key id is kept). "
        "Forgetting a citizen writes a destroyed record over each of their keys; the log "
        "cleaner then removes the key within a day, and every copy of the contact, on topics, "
        "in the trail and in notify's store, is unreadable. Intake writes keys, notify reads "
        "them, operators destroy them."
    ),
    key=ContactKeyKey,
    events=(ContactKeyIssuedEvent, ContactKeyDestroyedEvent),
    cleanup_policy="compact",
    retention_ms=-1,
    configs=(
        ("max.compaction.lag.ms", str(CONTACT_KEY_ERASED_WITHIN_MS)),
        ("segment.ms", str(CONTACT_KEY_ERASED_WITHIN_MS // 4)),
        ("min.cleanable.dirty.ratio", "0.1"),
        ("delete.retention.ms", str(_DAY_MS)),
    ),
)
REPORT_STATUS_TOPIC = Topic(
    name="pakn.report.status.v1",
    partitions=6,
    description="Changes of the status citizens see.",
    key=ReportKey,
    events=(ReportStatusChangedEvent,),
)
DEADLINES_TOPIC = Topic(
    name="pakn.deadlines.v1",
    partitions=6,
    description="Deadlines close, deadlines missed, escalations, and deadlines moved by a pause.",
    key=ReportKey,
    events=(
        DeadlineWarningEvent,
        DeadlineBreachedEvent,
        ReportEscalatedEvent,
        DeadlineMovedEvent,
    ),
)
NOTIFICATIONS_TOPIC = Topic(
    name="pakn.notifications.v1",
    partitions=6,
    description="Notifications to citizens, delivered or failed.",
    key=ReportKey,
    events=(NotificationSentEvent, NotificationFailedEvent),
)
AUDIT_CHECKPOINTS_TOPIC = Topic(
    name="pakn.audit.checkpoints.v1",
    partitions=1,
    description="Signed heads of the audit hash chains, kept forever.",
    key=CheckpointKey,
    events=(AuditCheckpointEvent,),
    retention_ms=-1,
)


INBOX_EVENTS = (
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawnEvent,
    CitizenRepliedEvent,
    AgencyUpdateRefusedEvent,
    DuplicateLinkChangedEvent,
)
"""What an agency finds in its inbox: reports given to it, reports taken from it, the
citizen's answers on reports it holds, its own updates routing refused, and the duplicates
linked to (or unlinked from) reports it holds."""


_AGENCY_ID = r"[a-z0-9][a-z0-9._-]{0,63}"
"""What an agency id looks like in a topic name."""


@functools.lru_cache(maxsize=1024)
def agency_inbox_topic(agency_id: str) -> Topic:
    """The inbox of one agency, e.g. ``pakn.inbox.ubnd-chieng-sinh.v1``.

    Each agency reads only its own inbox (grant it READ on this topic alone); routing
    creates one per configured agency.
    """
    check_agency_id(agency_id)
    return Topic(
        name=f"pakn.inbox.{agency_id}.v1",
        partitions=1,
        description=f"Inbox of agency {agency_id}: its reports, withdrawals, citizens' answers.",
        key=ReportKey,
        events=INBOX_EVENTS,
    )


def is_agency_inbox(name: str) -> bool:
    """True for the name of an agency's inbox topic."""
    return re.fullmatch(rf"pakn\.inbox\.{_AGENCY_ID}\.v1", name) is not None


AGENCY_UPDATES_PATTERN = re.compile(rf"pakn\.updates\.(?P<agency_id>{_AGENCY_ID})\.v1")
"""The names of every agency's updates topic (:func:`agency_updates_topic`); a name is one
when the whole of it matches (``fullmatch``)."""


@functools.lru_cache(maxsize=1024)
def agency_updates_topic(agency_id: str) -> Topic:
    """The topic one agency writes its updates on, e.g. ``pakn.updates.ubnd-chieng-sinh.v1``.

    Each agency writes only here (grant it WRITE on this topic alone): Kafka cannot check
    what a record says, but it can check who may write a topic, so the topic names the
    sender. Routing creates one per configured agency and admits to
    ``pakn.agency.updates.v1`` only the updates that name the topic's agency; it refuses
    the others (``agency_mismatch``, in the sender's inbox). One partition, like the
    inbox: an agency's updates are few, and all of them keep their order.
    """
    check_agency_id(agency_id)
    return Topic(
        name=f"pakn.updates.{agency_id}.v1",
        partitions=1,
        description=(
            f"Updates agency {agency_id} sends about reports assigned to it; only it writes "
            "here, and routing admits those that name it."
        ),
        key=ReportKey,
        events=(AgencyUpdateEvent,),
    )


def is_agency_updates(name: str) -> bool:
    """True for the name of an agency's updates topic."""
    return AGENCY_UPDATES_PATTERN.fullmatch(name) is not None


def agency_of_updates_topic(name: str) -> str:
    """The agency whose updates topic ``name`` is: the only one that may write it.

    ValueError if ``name`` is not an agency's updates topic.
    """
    found = AGENCY_UPDATES_PATTERN.fullmatch(name)
    if found is None:
        raise ValueError(f"not an agency's updates topic: {name!r}")
    return found["agency_id"]


def check_agency_id(agency_id: str) -> None:
    """ValueError unless ``agency_id`` can name an agency's topics (and principal)."""
    if not re.fullmatch(_AGENCY_ID, agency_id):
        raise ValueError(f"not an agency id: {agency_id!r}")


def dead_letter_topic(service: str) -> str:
    """Name of a service's dead-letter topic, e.g. ``pakn.dlq.intake.v1``."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", service):
        raise ValueError(f"not a service name: {service!r}")
    return f"pakn.dlq.{service}.v1"


class DeadLetterHeader(StrEnum):
    """Headers a dead-letter record adds to the original record's headers."""

    REASON = "x-dlq-reason"
    ERROR_CLASS = "x-dlq-error-class"
    SOURCE_TOPIC = "x-dlq-source-topic"
    SOURCE_PARTITION = "x-dlq-source-partition"
    SOURCE_OFFSET = "x-dlq-source-offset"
    FAILED_AT = "x-dlq-failed-at"
    SERVICE = "x-dlq-service"


DEAD_LETTER_HEADERS: Mapping[DeadLetterHeader, str] = MappingProxyType(
    {
        DeadLetterHeader.REASON: "Short human-readable reason (ContractViolation.reason).",
        DeadLetterHeader.ERROR_CLASS: "Qualified name of the exception class.",
        DeadLetterHeader.SOURCE_TOPIC: "Topic the record was read from.",
        DeadLetterHeader.SOURCE_PARTITION: "Its partition, in decimal.",
        DeadLetterHeader.SOURCE_OFFSET: "Its offset, in decimal.",
        DeadLetterHeader.FAILED_AT: "When processing failed, RFC 3339 in UTC.",
        DeadLetterHeader.SERVICE: "The service that gave up on it.",
    }
)
"""Every dead-letter header and what it holds; all values are UTF-8 text.

A dead-letter record keeps the original key, value bytes and headers unchanged and adds
these headers.
"""

SERVICES = ("intake", "routing", "notify", "audit")
"""Services that own a dead-letter topic."""

DEAD_LETTER_RETENTION_MS: Mapping[str, int] = MappingProxyType({"intake": 30 * _DAY_MS})
"""Intake's dead letters are raw channel messages, with contacts in clear: they are kept
30 days (time to fix and replay), not forever like the other services' events."""

DEAD_LETTER_TOPICS = tuple(
    Topic(
        name=dead_letter_topic(service),
        partitions=1,
        description=(
            f"Records {service} could not process: original key, value and headers "
            "unchanged, plus the x-dlq-* headers. "
            + (
                "Kept 30 days: raw channel messages hold contacts in clear."
                if service in DEAD_LETTER_RETENTION_MS
                else "Kept forever."
            )
        ),
        key=None,
        events=(),
        retention_ms=DEAD_LETTER_RETENTION_MS.get(service, -1),
        max_message_bytes=5 * _MIB,
    )
    for service in SERVICES
)

ALL_TOPICS: tuple[Topic, ...] = (
    CHANNEL_RAW_TOPIC,
    REPORTS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    ASSIGNMENTS_TOPIC,
    AGENCY_UPDATES_TOPIC,
    AGENCY_UPDATES_REFUSED_TOPIC,
    REPORT_STATUS_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    AUDIT_CHECKPOINTS_TOPIC,
    RULES_TOPIC,
    CONTACT_KEYS_TOPIC,
    *DEAD_LETTER_TOPICS,
)

_BY_NAME = {topic.name: topic for topic in ALL_TOPICS}
_BY_EVENT = {event: topic for topic in ALL_TOPICS for event in topic.events}


def topic_by_name(name: str) -> Topic:
    """The topic called ``name`` (an agency's inbox or updates topic too); KeyError if
    there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        if is_agency_inbox(name):
            return agency_inbox_topic(name.removeprefix("pakn.inbox.").removesuffix(".v1"))
        if is_agency_updates(name):
            return agency_updates_topic(agency_of_updates_topic(name))
        raise KeyError(f"unknown topic {name!r}") from None


def topic_for_event(event_class: type[Event[Any]]) -> Topic:
    """The topic events of ``event_class`` are written on."""
    try:
        return _BY_EVENT[event_class]
    except KeyError:
        if event_class in INBOX_EVENTS:
            raise KeyError(
                f"{event_class.__name__} goes to an agency's inbox: "
                "to_kafka(agency_inbox_topic(agency_id))"
            ) from None
        raise KeyError(f"{event_class.__name__} is on no topic") from None


def decode_event(topic: str, value: bytes) -> Event[Any]:
    """Decode a record value read from ``topic`` into its event class.

    Raises ContractViolation for bytes that are not UTF-8, not JSON, miss an attribute,
    carry a type not allowed on the topic, or hold data that fails validation.
    """
    return topic_by_name(topic).decode(value)
