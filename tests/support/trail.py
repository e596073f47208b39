"""A real audit trail to test against: consumed records as aiokafka hands them over, the
trail writer and checkpointer on a real database, and a signing key made for the run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.adapters.trail_store import TrailStore
from audit.cli.verify import verify_store
from audit.domain.checkpoints import generate_signing_key, keyring, load_signing_key
from audit.domain.facts import FoldedEvent
from audit.domain.verify import VerificationReport
from audit.handlers import Checkpointer, Consumed, TrailWriter
from phananh_contracts import Event, KafkaRecord
from phananh_contracts import examples as ex
from phananh_platform.delivery import POISON_ERRORS, RecordRef
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings, MongoSettings
from phananh_platform.subscribers import Undecodable, decode_record
from pydantic import SecretStr

SIGNING_TEXT = generate_signing_key()
SIGNING_KEY = load_signing_key(SIGNING_TEXT)
KEYS = keyring([SIGNING_KEY.public_key()])
T0 = datetime(2023, 3, 20, 10, 0, 0, 123456, tzinfo=UTC)
DEADLINES = "pakn.deadlines.v1:2"
UPDATES = "pakn.agency.updates.v1:1"


# ---------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Raw:
    """A consumed Kafka record, as aiokafka hands it to the platform."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = -1


@dataclass
class Published:
    records: list[KafkaRecord] = field(default_factory=list)

    async def publish(self, record: KafkaRecord) -> None:
        self.records.append(record)


@dataclass
class Seen:
    """The read model, as the writer tells it of a batch's valid events."""

    events: list[FoldedEvent] = field(default_factory=list)

    async def apply_events(self, events: Sequence[FoldedEvent]) -> None:
        self.events.extend(events)


async def one(writer: TrailWriter, item: Consumed) -> bool:
    """Write one consumed record (a batch of one); True when this call wrote it."""
    (written,) = await writer.write([item])
    return written


def decoded(raw: Raw) -> Consumed:
    """What the platform hands audit's handler for a consumed record (keep_undecodable)."""
    try:
        return decode_record(raw)
    except POISON_ERRORS as error:
        return Undecodable(RecordRef.of(raw), error)


def ticking(start: datetime = T0) -> Callable[[], datetime]:
    moments = iter(start + timedelta(seconds=n, microseconds=n) for n in range(10_000))
    return lambda: next(moments)


def renamed(event: Event[Any]) -> Event[Any]:
    return event.model_copy(update={"id": str(uuid.uuid4())})


def raw(event: Event[Any], *, partition: int = 0, offset: int = 0) -> Raw:
    record = event.to_kafka()
    return Raw(
        topic=record.topic,
        partition=partition,
        offset=offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers),
        timestamp=int(event.time.timestamp() * 1000),
    )


def consumed(event: Event[Any], *, partition: int = 0, offset: int = 0) -> Consumed:
    return decoded(raw(event, partition=partition, offset=offset))


def deadline_raws(count: int, *, first_offset: int = 0) -> list[Raw]:
    cycle: list[Event[Any]] = [ex.DEADLINE_WARNING, ex.DEADLINE_BREACHED, ex.REPORT_ESCALATED]
    return [raw(renamed(cycle[n % 3]), partition=2, offset=first_offset + n) for n in range(count)]


def deadline_records(count: int, *, first_offset: int = 0) -> list[Consumed]:
    return [decoded(item) for item in deadline_raws(count, first_offset=first_offset)]


async def verify(store: TrailStore) -> VerificationReport:
    return await verify_store(store, await store.checkpoints(), KEYS)


async def populate(store: TrailStore, publisher: Any = None) -> None:
    """8 deadline records on one chain and 3 agency updates on another, checkpointed after
    the 6th and the 8th deadline record."""
    writer = TrailWriter(store, Seen(), clock=ticking())
    checkpointer = Checkpointer(
        store, publisher or Published(), SIGNING_KEY, "audit-1", clock=ticking()
    )
    records = deadline_records(8)
    for record in records[:6]:
        await one(writer, record)
    for offset, event in enumerate([ex.AGENCY_ACCEPTED, ex.AGENCY_IN_PROGRESS, ex.AGENCY_RESOLVED]):
        await one(writer, consumed(event, partition=1, offset=offset))
    await checkpointer()
    for record in records[6:]:
        await one(writer, record)
    await checkpointer()
    assert (await verify(store)).intact


@dataclass
class ToTopic:
    """Publishes checkpoints to a test topic instead of the shared one."""

    producer: RecordProducer
    topic: str

    async def publish(self, record: KafkaRecord) -> None:
        await self.producer.send(
            self.topic, key=record.key, value=record.value, headers=list(record.headers)
        )


@dataclass
class VerifyConfig:
    mongodb: MongoSettings
    kafka: KafkaSettings
    audit_signing_key: SecretStr | None = None
    audit_public_keys: list[str] = field(default_factory=list)
