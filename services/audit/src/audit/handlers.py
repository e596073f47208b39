"""Audit's handlers: thin — decode, keep the record in the trail, tell the read model.

``TrailWriter`` takes every consumed record of every topic audit reads. A valid event
gets a record with its sanitized payload. A record that fails validation is *data*, not
an error: its original bytes go to audit's dead-letter topic and the trail gets an
``invalid`` record with the reason, the SHA-256 and size of the bytes and where they
were dead-lettered. Nothing raises for bad input, so a poison message never blocks a
partition and is never lost.

Idempotent: the trail is unique on the event id (an invalid record's id is derived from
its topic, partition and offset), so a redelivery writes nothing twice; an invalid
record already in the trail is not dead-lettered again.

``Checkpointer`` signs the heads of all chains, publishes the checkpoint (acks=all) and
stores it; the composition root calls it on a timer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from phananh_contracts import (
    AuditCheckpoint,
    AuditCheckpointEvent,
    ChainHead,
    ContractViolation,
    KafkaRecord,
    dead_letter_topic,
    decode_event,
)
from phananh_platform.delivery import DeadLetterSink, RecordRef, dead_letter_headers

from audit.domain.chain import (
    DeadLetterCoordinates,
    EventFacts,
    SourcePosition,
    event_facts,
    invalid_event_id,
    invalid_facts,
)
from audit.domain.checkpoints import build_checkpoint

logger = logging.getLogger("audit.handlers")

SERVICE = "audit"
SOURCE = "/services/audit"
DEAD_LETTER_TOPIC = dead_letter_topic(SERVICE)
_CHECKPOINT_EVENT_NAMESPACE = uuid.UUID("0b6f1c2e-4a57-4f0e-9c39-7d2b5e8a1f64")

OnEvent = Callable[[str, dict[str, Any], datetime], Awaitable[None]]
"""Called after a valid event is in the trail: (event type, sanitized data, occurred at)."""


class Trail(Protocol):
    """What the writer needs of the trail store."""

    async def append(
        self, facts: EventFacts, position: SourcePosition, *, recorded_at: datetime
    ) -> bool: ...

    async def is_recorded(self, event_id: str) -> bool: ...

    async def append_many(
        self, items: Sequence[tuple[EventFacts, SourcePosition]], *, recorded_at: datetime
    ) -> list[bool]: ...


async def ignore_event(event_type: str, data: dict[str, Any], occurred_at: datetime) -> None:
    """The default ``on_event``: nothing."""


@dataclass(frozen=True)
class ConsumedRecord:
    """One Kafka record as consumed, with its coordinates."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: datetime | None = None
    """The record's Kafka timestamp, when it has one."""
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> SourcePosition:
        return SourcePosition(self.topic, self.partition, self.offset)

    @classmethod
    def from_kafka(cls, record: Any) -> ConsumedRecord:
        """From aiokafka's ``ConsumerRecord`` (FastStream: ``message.raw_message``)."""
        timestamp = getattr(record, "timestamp", None)
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp=(
                datetime.fromtimestamp(timestamp / 1000, UTC)
                if isinstance(timestamp, int) and timestamp >= 0
                else None
            ),
            headers=tuple(record.headers or ()),
        )


@dataclass
class TrailWriter:
    """Writes every consumed record into the trail, valid or not."""

    trail: Trail
    dead_letters: DeadLetterSink
    on_event: OnEvent = ignore_event
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def __call__(self, record: ConsumedRecord) -> bool:
        """Record one consumed record; True when this call wrote it, False if it was there.

        ``on_event`` is called for every valid event, also on redelivery (it must be
        idempotent): a crash between the trail write and the read model then loses nothing.
        """
        try:
            if record.value is None:
                raise ContractViolation("the record has no value", topic=record.topic)
            event = decode_event(record.topic, record.value)
        except ContractViolation as violation:
            return await self._invalid(record, violation, violation.reason)
        except LookupError as error:  # a topic without event contracts
            return await self._invalid(record, error, str(error.args[0] if error.args else error))
        facts = event_facts(event)
        written = await self.trail.append(facts, record.position, recorded_at=self.clock())
        await self.on_event(facts.event_type, facts.payload, facts.occurred_at)
        return written

    async def write_batch(self, records: Sequence[ConsumedRecord]) -> list[bool]:
        """Record a batch of consumed records, in order; per record, whether it was written.

        The valid events between two invalid records are appended together
        (:meth:`TrailStore.append_many`: one insert per chain instead of one per event);
        an invalid record is recorded and dead-lettered at its place, as one at a time
        would. Then every valid event is folded into the read model, in order."""
        written: list[bool] = []
        run: list[tuple[EventFacts, SourcePosition]] = []
        folded: list[EventFacts] = []

        async def flush() -> None:
            if run:
                written.extend(await self.trail.append_many(run, recorded_at=self.clock()))
                run.clear()

        for record in records:
            try:
                if record.value is None:
                    raise ContractViolation("the record has no value", topic=record.topic)
                event = decode_event(record.topic, record.value)
            except (ContractViolation, LookupError) as error:
                await flush()
                reason = (
                    error.reason
                    if isinstance(error, ContractViolation)
                    else str(error.args[0] if error.args else error)
                )
                written.append(await self._invalid(record, error, reason))
                continue
            facts = event_facts(event)
            run.append((facts, record.position))
            folded.append(facts)
        await flush()
        for facts in folded:
            await self.on_event(facts.event_type, facts.payload, facts.occurred_at)
        return written

    async def _invalid(self, record: ConsumedRecord, error: Exception, reason: str) -> bool:
        position = record.position
        if await self.trail.is_recorded(
            invalid_event_id(position.topic, position.partition, position.offset)
        ):
            return False  # recorded and dead-lettered before this redelivery
        now = self.clock()
        ref = RecordRef(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        metadata = await self.dead_letters.send(
            DEAD_LETTER_TOPIC,
            key=record.key,
            value=record.value,
            headers=dead_letter_headers(ref, service=SERVICE, reason=reason, error=error, now=now),
        )
        facts = invalid_facts(
            position=position,
            raw=record.value,
            reason=reason,
            occurred_at=record.timestamp or now,
            dead_letter=DeadLetterCoordinates(
                DEAD_LETTER_TOPIC,
                partition=_int_attribute(metadata, "partition"),
                offset=_int_attribute(metadata, "offset"),
            ),
        )
        logger.warning(
            "invalid event recorded and dead-lettered: %s",
            reason,
            extra={**ref.log_context(), "dead_letter_topic": DEAD_LETTER_TOPIC},
        )
        return await self.trail.append(facts, position, recorded_at=now)


def _int_attribute(value: object, name: str) -> int | None:
    found = getattr(value, name, None)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


# -------------------------------------------------------------------- checkpoints


class ChainHeads(Protocol):
    """What the checkpointer needs of the trail store."""

    async def heads(self) -> list[ChainHead]: ...

    async def store_checkpoint(self, checkpoint: AuditCheckpoint) -> bool: ...


class CheckpointPublisher(Protocol):
    """Publishes a record and returns once the broker has it (``RecordProducer``)."""

    async def publish(self, record: KafkaRecord) -> object: ...


@dataclass
class Checkpointer:
    """Signs the heads of every chain, publishes the checkpoint, then stores it.

    Published first: the copy on Kafka, kept forever, is the one the trail is checked
    against; a crash before storing loses nothing. Nothing is signed when no chain moved
    since this instance's previous checkpoint, or when the trail is empty.
    """

    store: ChainHeads
    publisher: CheckpointPublisher
    signing_key: Ed25519PrivateKey
    writer_id: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _last_heads: tuple[ChainHead, ...] | None = None

    async def __call__(self) -> AuditCheckpoint | None:
        heads = tuple(await self.store.heads())
        if not heads or heads == self._last_heads:
            return None
        checkpoint = build_checkpoint(
            heads, signing_key=self.signing_key, writer_id=self.writer_id, created_at=self.clock()
        )
        event = AuditCheckpointEvent.new(
            checkpoint,
            source=SOURCE,
            id=str(uuid.uuid5(_CHECKPOINT_EVENT_NAMESPACE, checkpoint.checkpoint_id)),
            time=checkpoint.created_at,
        )
        await self.publisher.publish(event.to_kafka())
        await self.store.store_checkpoint(checkpoint)
        self._last_heads = heads
        logger.info(
            "checkpoint %s signed: %d chains",
            checkpoint.checkpoint_id,
            len(heads),
            extra={"event_id": event.id},
        )
        return checkpoint
