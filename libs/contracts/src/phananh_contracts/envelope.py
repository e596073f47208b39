"""CloudEvents 1.0 envelope (structured mode, JSON) and its Kafka protocol binding.

Every record value on a ``pakn.*`` event topic is one CloudEvent in JSON with the content
type ``application/cloudevents+json``, so that systems in any language can read it with
standard CloudEvents tooling. Two extension attributes are always present:
``schemaversion`` (version of the ``data`` model) and ``partitionkey`` (the CloudEvents
Partitioning extension: the Kafka key as text).

Forward compatibility: models ignore unknown fields (``extra="ignore"``) because events
grow additively; an old consumer must keep reading events that carry new optional fields.
A breaking change to a ``data`` model bumps its ``SCHEMA_VERSION``, and consumers reject
versions they do not know. Adding a member to an enum is a breaking change: old consumers
reject the new value. A service that forwards an event it did not produce forwards the
original bytes, not a re-serialization (which would drop the fields it does not know).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from phananh_contracts.values import Identifier, UtcDatetime

if TYPE_CHECKING:
    from phananh_contracts.topics import Topic

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
"""Value of the ``content-type`` header of every event record (structured mode)."""


class EventData(BaseModel):
    """Base of the ``data`` of events: immutable, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ReportEventData(EventData):
    """Base of the ``data`` of events about one report."""

    report_id: Identifier = Field(
        description="Id of the report; also the event's subject and partition key."
    )


DataT = TypeVar("DataT", bound=EventData)


@dataclass(frozen=True)
class KafkaRecord:
    """A record ready for a Kafka producer (CloudEvents Kafka binding, structured mode)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class Event(BaseModel, Generic[DataT]):
    """A CloudEvent carrying ``data`` of one event type.

    Every event type is a subclass that fixes ``type`` to a ``Literal`` and ``data`` to its
    model, e.g. ``ReportReceivedEvent(Event[ReportReceived])``. Build events with
    ``new()``, send them with ``to_kafka()``, read them with ``decode_event()``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    SCHEMA_VERSION: ClassVar[int] = 1
    """Version of this event type's data model; bump it on a breaking change."""

    specversion: Literal["1.0"] = Field(description="CloudEvents version.")
    id: Identifier = Field(
        description="Unique id of the event (a UUID); consumers deduplicate on it."
    )
    source: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^\S+$",
        description=(
            "URI-reference of the producer, e.g. '/services/intake', '/channels/zalo', "
            "'/agencies/ubnd-chieng-sinh'."
        ),
    )
    type: str = Field(description="Event type, reverse-DNS under 'vn.pakn.'.")
    time: UtcDatetime = Field(
        description="When the fact happened, RFC 3339 with a timezone; normalized to UTC."
    )
    subject: Identifier | None = Field(
        default=None,
        description="The report id when the event concerns a report (then required), else absent.",
    )
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Media type of 'data'."
    )
    dataschema: str | None = Field(
        default=None,
        min_length=1,
        description="URI naming the data schema, e.g. 'urn:pakn:schema:report.received:1'.",
    )
    schemaversion: int = Field(
        ge=1,
        description=(
            "Extension: version of the data model (1 for every type today). Additive "
            "changes keep it; breaking changes bump it, and consumers reject unknown versions."
        ),
    )
    partitionkey: str = Field(
        min_length=1,
        description="Extension (CloudEvents Partitioning): the Kafka record key as text.",
    )
    data: DataT = Field(description="The event's payload.")

    @classmethod
    def event_type(cls) -> str:
        """The ``type`` attribute of this event class, e.g. ``"vn.pakn.report.received"``."""
        (event_type,) = get_args(cls.model_fields["type"].annotation)
        return str(event_type)

    @classmethod
    def dataschema_uri(cls) -> str:
        """The ``dataschema`` this class writes, e.g. ``"urn:pakn:schema:report.received:1"``."""
        name = cls.event_type().removeprefix("vn.pakn.")
        return f"urn:pakn:schema:{name}:{cls.SCHEMA_VERSION}"

    @classmethod
    def new(
        cls,
        data: DataT,
        *,
        source: str,
        id: str | None = None,
        time: datetime | None = None,
    ) -> Self:
        """Wrap ``data`` in an envelope with every attribute filled.

        ``id`` defaults to a new UUID and ``time`` to now; ``subject`` is the report id
        for data about a report; ``partitionkey`` follows the key rule of the event's topic.
        """
        return cls(
            specversion="1.0",
            id=id if id is not None else str(uuid.uuid4()),
            source=source,
            type=cls.event_type(),
            time=time if time is not None else datetime.now(UTC),
            subject=data.report_id if isinstance(data, ReportEventData) else None,
            dataschema=cls.dataschema_uri(),
            schemaversion=cls.SCHEMA_VERSION,
            partitionkey=_topic_of(cls, keyed_like=True).key_for(data).to_text(),
            data=data,
        )

    def to_kafka(self, topic: "Topic | None" = None) -> KafkaRecord:
        """This event as a structured-mode Kafka record on its topic.

        ``topic`` names another topic that carries this event type, e.g. an agency's
        inbox (``agency_inbox_topic``); ValueError if that topic does not carry it.
        """
        if topic is None:
            topic = _topic_of(type(self))
        elif type(self) not in topic.events:
            raise ValueError(f"{type(self).__name__} is not carried by topic {topic.name}")
        return KafkaRecord(
            topic=topic.name,
            key=self.partitionkey.encode("utf-8"),
            value=self.model_dump_json(exclude_none=True).encode("utf-8"),
            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode("ascii"))],
        )

    @model_validator(mode="after")
    def _check_version_and_subject(self) -> Self:
        if self.schemaversion != self.SCHEMA_VERSION:
            raise ValueError(
                f"schemaversion {self.schemaversion} of {self.type} is not supported "
                f"(this consumer knows version {self.SCHEMA_VERSION})"
            )
        if isinstance(self.data, ReportEventData) and self.subject != self.data.report_id:
            raise ValueError(f"subject must be the report id {self.data.report_id!r}")
        return self


def _topic_of(event_class: type[Event[Any]], *, keyed_like: bool = False) -> "Topic":
    """The topic of ``event_class``; with ``keyed_like``, an inbox for inbox-only events."""
    # Imported here: the topics module imports every event class, which import this module.
    from phananh_contracts.topics import INBOX_EVENTS, agency_inbox_topic, topic_for_event

    try:
        return topic_for_event(event_class)
    except KeyError:
        if keyed_like and event_class in INBOX_EVENTS:
            return agency_inbox_topic("any-agency")  # every inbox has the same key
        raise
