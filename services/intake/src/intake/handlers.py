"""Intake's subscriptions and handlers: thin — a batch in, the domain decides, publish, store.

Two subscriptions:

* ``pakn.channel.raw.v1`` (group ``intake``) -> :meth:`Normalizer.normalize`: raw channel
  messages become reports, replies and rejections (:mod:`intake.domain.batch`);
* ``pakn.assignments.v1`` and ``pakn.report.status.v1`` (group ``intake-read-model``) ->
  :meth:`ReadModel.keep_current`: the Open311 view follows routing's decisions
  (:mod:`intake.domain.readmodel`).

The normalizer takes a whole fetched batch: it parses it, reads what the store knows of
its messages and codes (one ``_id $in`` each), decides in order, reads the near-duplicate
buckets of the new reports' wards (one ``_id $in``) and links duplicates, then

1. **publishes** the keys of the contacts it sealed (``pakn.contact.keys.v1``,
   :mod:`intake.adapters.keys`) while it **stores** reports, rejections, codes and
   buckets (one bulk write per collection; the store's writes are idempotent and need no
   event on Kafka),
2. **publishes** every outcome at once (acknowledgements awaited together: no event
   names a key that is not on Kafka),
3. **remembers** the messages as handled (one insert),

and the platform commits. Ordering makes it idempotent: a message is remembered only
after its outcome was published and stored, so a crash anywhere redelivers the raw
events; ids derived from the channel message make the republished events identical,
consumers deduplicate on event id, and every write is keyed by ``_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    REPORT_STATUS_TOPIC,
    RawChannelMessageReceivedEvent,
    ReportAssignedEvent,
    ReportStatusChangedEvent,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactSealer
from phananh_platform.runtime import ServiceApp
from phananh_platform.subscribers import Delivery

from intake.adapters.keys import KeyFiling
from intake.adapters.store import IntakeStore
from intake.config import CityConfig
from intake.domain.batch import (
    Accepted,
    Arrival,
    Rejected,
    Skipped,
    candidate_buckets,
    decide,
    link_duplicates,
    lookups,
    parse_batch,
)
from intake.domain.category_model import CategoryModel
from intake.domain.normalize import Keys
from intake.domain.readmodel import updates_of
from intake.metrics import IntakeMetrics

logger = logging.getLogger("intake.handlers")


RAW_BATCH_RECORDS = 200
"""Raw messages normalized between two commits at most (the platform's default is 500).

Intake's peak memory is the allocators' high-water mark of a full batch (each raw
message passes through bytes, JSON, the event, its text forms, fingerprints and the
canonical report): 20,000 reports at once, two alternating pairs, peak RSS 158.5 MB with
500 a batch, 135.5 MB with 200, for ~1.1x intake's CPU per report; intake alone then
normalizes ~0.85x as many reports a second, still more than audit records, so the
pipeline's rate is unchanged (docs/benchmark.md)."""


def subscribe(service: ServiceApp, normalizer: Normalizer, read_model: ReadModel) -> None:
    """Raw channel messages -> the normalizer; routing's decisions -> the read model."""
    service.subscribe(
        CHANNEL_RAW_TOPIC,
        group_id="intake",
        handle=normalizer.normalize,
        max_records=RAW_BATCH_RECORDS,
        description="Raw channel messages -> canonical reports, replies and rejections.",
    )
    service.subscribe(
        ASSIGNMENTS_TOPIC,
        REPORT_STATUS_TOPIC,
        group_id="intake-read-model",
        handle=read_model.keep_current,
        description="Keep the Open311 view's agency, expected date and status current.",
    )


@dataclass
class Normalizer:
    """Turns raw channel events into reports, replies and rejections, a batch at a time."""

    config: CityConfig
    keys: Keys
    sealer: ContactSealer
    store: IntakeStore
    producer: RecordProducer
    metrics: IntakeMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    model: CategoryModel | None = None
    """The city's trained category model (loaded once at start), if it has one."""

    async def normalize(self, batch: Sequence[Delivery[RawChannelMessageReceivedEvent]]) -> None:
        """Raw channel messages -> canonical reports, replies and rejections."""
        parsed = parse_batch((Arrival(d.event.id, d.event.data) for d in batch), self.config)
        known = await self.store.known(*lookups(parsed))
        now = self.clock()
        filing = KeyFiling(self.sealer, now)
        keys = replace(self.keys, seal=filing.seal)
        outcomes = decide(parsed, known, config=self.config, keys=keys, now=now, model=self.model)
        buckets = await self.store.buckets(candidate_buckets(outcomes, self.config))
        linked = link_duplicates(
            outcomes, buckets, self.config, bucket_limit=self.store.bucket_limit
        )
        decided = [outcome for outcome in linked.outcomes if not isinstance(outcome, Skipped)]
        if decided:
            # The keys and the store's writes together (neither needs the other), then
            # the events (none names a key not on Kafka), then the messages remembered.
            await asyncio.gather(
                self.producer.publish_all(filing.records()),
                self.store.save(
                    reports=[o.new.report for o in decided if isinstance(o, Accepted)],
                    rejections=[o.rejected for o in decided if isinstance(o, Rejected)],
                    appends=linked.appends,
                    stored_buckets=buckets.keys(),
                ),
            )
            await self.producer.publish_all([outcome.event().to_kafka() for outcome in decided])
            await self.store.remember({outcome.key: outcome.handled() for outcome in decided})
        self.metrics.count(linked.outcomes)
        refs = {delivery.event.id: delivery.ref for delivery in batch}
        for outcome in linked.outcomes:
            if isinstance(outcome, Accepted) and (ref := refs.get(outcome.raw_event_id)):
                logger.info(
                    "report received",
                    extra={
                        "event_id": outcome.raw_event_id,
                        "report_id": outcome.new.report.report_id,
                        "topic": ref.topic,
                        "partition": ref.partition,
                        "offset": ref.offset,
                    },
                )
            else:
                logger.debug("message handled: %s", type(outcome).__name__.lower())
        logger.info(
            "raw batch handled: %d messages, %d seen before",
            len(linked.outcomes),
            len(linked.outcomes) - len(decided),
        )


@dataclass
class ReadModel:
    """Keeps the Open311 view of reports current with routing's decisions."""

    store: IntakeStore

    async def keep_current(
        self, batch: Sequence[Delivery[ReportAssignedEvent | ReportStatusChangedEvent]]
    ) -> None:
        """Keep the Open311 view's agency, expected date and status current."""
        await self.store.keep_current(updates_of(delivery.event.data for delivery in batch))
