"""Audit's subscription and the trail writer it feeds.

One subscription (consumer group ``audit``) takes every audited topic. A chain is the
records of one topic partition (``domain/chain.py``), and every subscription, one or many,
hands a partition's records over in their order, so splitting the topics into several
subscriptions would keep each chain's order too; one keeps the batches large (more
records per database command) and the consumer group single.

``TrailWriter.record`` takes a whole fetched batch, valid events and undecodable records
alike, in their place (``keep_undecodable``):

1. what the trail keeps of each record (``event_facts`` / ``invalid_facts``, pure);
2. the chained records, appended with one ``insert_many`` (``TrailStore.append_many``:
   heads from memory or read once, a refused record sorted out as a redelivery or a
   taken sequence);
3. every valid event folded into the read model (``FactsStore.apply_events``: one
   ``insert_many`` of new versions, one bulk write of the pointers);
4. then the platform dead-letters the undecodable records and commits the batch.

An undecodable record is *data*, not an error: the trail gets an ``invalid`` record with
the reason, the SHA-256 and size of the bytes and where they were dead-lettered; the
platform sends its original bytes to audit's dead-letter topic after the handler
returned. Nothing raises for bad input, so a poison message never blocks a partition.

Idempotent: the trail is unique on the event id (an invalid record's id is derived from
its topic, partition and offset) and on its place, so a redelivered batch writes nothing
twice; the read model is told of every valid event again, and folding an event twice
changes nothing.

``Checkpointer`` signs the heads of all chains, publishes the checkpoint (acks=all) and
stores it; ``CheckpointTimer`` runs it off the hot path, every
``PHANANH_AUDIT_CHECKPOINT_INTERVAL_S`` and once at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ASSIGNMENTS_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    RULES_TOPIC,
    AuditCheckpoint,
    AuditCheckpointEvent,
    ChainHead,
    ContractViolation,
    Event,
    KafkaRecord,
    Topic,
    dead_letter_topic,
)
from phananh_platform.delivery import PoisonMessage, RecordRef
from phananh_platform.runtime import ServiceApp
from phananh_platform.subscribers import Delivery, Undecodable

from audit.domain.chain import (
    DeadLetterCoordinates,
    EventFacts,
    SourcePosition,
    event_facts,
    invalid_facts,
)
from audit.domain.checkpoints import build_checkpoint
from audit.domain.facts import FoldedEvent

logger = logging.getLogger("audit.handlers")

SERVICE = "audit"
SOURCE = "/services/audit"
DEAD_LETTER_TOPIC = dead_letter_topic(SERVICE)
_CHECKPOINT_EVENT_NAMESPACE = uuid.UUID("0b6f1c2e-4a57-4f0e-9c39-7d2b5e8a1f64")

AUDITED_TOPICS: tuple[Topic, ...] = (
    REPORTS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    ASSIGNMENTS_TOPIC,
    AGENCY_UPDATES_TOPIC,
    AGENCY_UPDATES_REFUSED_TOPIC,
    REPORT_STATUS_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    RULES_TOPIC,
)
"""Every domain topic, and the routing rule sets put in force. The raw channel topic is not
audited: it carries contacts in clear; what the citizen wrote reaches the trail as
``original_text``, masked."""

Consumed: TypeAlias = Delivery[Event[Any]] | Undecodable
"""One record of a batch: a decoded event, or a record that does not decode."""


def subscribe(service: ServiceApp, writer: TrailWriter, *, group_id: str = SERVICE) -> None:
    """Audit's one subscription: every audited topic -> ``TrailWriter.record``."""
    service.subscribe(
        *AUDITED_TOPICS,
        group_id=group_id,
        handle=writer.record,
        keep_undecodable=True,
        description=(
            "Append every domain event to the trail (an undecodable record as an invalid "
            "record at its place), then fold the batch into the read model."
        ),
    )


class Trail(Protocol):
    """What the writer needs of the trail store."""

    async def append_many(
        self, items: Sequence[tuple[EventFacts, SourcePosition]], *, recorded_at: datetime
    ) -> list[bool]: ...


class ReadModel(Protocol):
    """What the writer needs of the read model."""

    async def apply_events(self, events: Sequence[FoldedEvent]) -> None: ...


@dataclass
class TrailWriter:
    """Writes every consumed record into the trail, valid or not, then the read model."""

    trail: Trail
    facts: ReadModel
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def record(self, batch: Sequence[Consumed]) -> None:
        """Record a fetched batch in the trail and fold it into the read model."""
        await self.write(batch)

    async def write(self, batch: Sequence[Consumed]) -> list[bool]:
        """:meth:`record`, returning per record whether this call wrote it (False: it was
        on the trail before, a redelivery)."""
        now = self.clock()
        items = [(facts_of(item, now), position_of(item.ref)) for item in batch]
        written = await self.trail.append_many(items, recorded_at=now)
        for item, (facts, _), wrote in zip(batch, items, written, strict=True):
            if wrote and not facts.valid:
                logger.warning(
                    "invalid event recorded (dead-lettered once recorded): %s",
                    facts.invalid_reason,
                    extra={**item.ref.log_context(), "dead_letter_topic": DEAD_LETTER_TOPIC},
                )
        await self.facts.apply_events(
            [
                (facts.event_type, facts.payload, facts.occurred_at)
                for facts, _ in items
                if facts.valid
            ]
        )
        return written


def position_of(ref: RecordRef) -> SourcePosition:
    return SourcePosition(ref.topic, ref.partition, ref.offset)


def facts_of(item: Consumed, now: datetime) -> EventFacts:
    """What the trail keeps of one consumed record (pure)."""
    if isinstance(item, Delivery):
        return event_facts(item.event)
    ref = item.ref
    timestamp = ref.timestamp_ms
    return invalid_facts(
        position=position_of(ref),
        raw=ref.value,
        reason=invalid_reason(item),
        occurred_at=(
            datetime.fromtimestamp(timestamp / 1000, UTC) if timestamp is not None else now
        ),
        # The platform's producer does not report where the dead letter went.
        dead_letter=DeadLetterCoordinates(DEAD_LETTER_TOPIC),
    )


def invalid_reason(item: Undecodable) -> str:
    """Why a record does not decode, as its dead letter's ``x-dlq-reason`` says it."""
    if item.ref.value is None:
        return "the record has no value"
    error = item.error
    if isinstance(error, ContractViolation | PoisonMessage):
        return str(error)
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


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


class CheckpointTimer:
    """Signs the chain heads every ``interval_s``, and once more on the way out."""

    def __init__(self, checkpointer: Checkpointer, interval_s: float) -> None:
        self.checkpointer = checkpointer
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._checkpoint()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        try:
            made = await self.checkpointer()
        except Exception:  # the next tick tries again; the trail itself is unaffected
            logger.exception("signing a checkpoint failed")
            return
        if made is not None:
            logger.info("checkpoint %s signed", made.checkpoint_id)
