"""Audit's handler over a batch, with the trail and read model in memory: every record at
its place (the undecodable ones as invalid records), the valid events folded in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from audit.domain.chain import EventFacts, SourcePosition
from audit.domain.facts import FoldedEvent
from audit.handlers import AUDITED_TOPICS, TrailWriter, subscribe
from audit.settings import Settings
from phananh_contracts import REPORT_STATUS_TOPIC, REPORTS_TOPIC, ContractViolation
from phananh_contracts import examples as ex
from phananh_platform.delivery import RecordRef
from phananh_platform.runtime import build_service
from phananh_platform.subscribers import Delivery, Undecodable

from tests.support.delivery import under_test_broker

pytestmark = pytest.mark.unit

NOW = datetime(2023, 3, 20, 10, 0, tzinfo=UTC)


@dataclass
class MemoryTrail:
    appended: list[tuple[EventFacts, SourcePosition]] = field(default_factory=list)

    async def append_many(
        self, items: Sequence[tuple[EventFacts, SourcePosition]], *, recorded_at: datetime
    ) -> list[bool]:
        recorded = {facts.event_id for facts, _ in self.appended}
        written = [facts.event_id not in recorded for facts, _ in items]
        self.appended.extend(item for item, new in zip(items, written, strict=True) if new)
        return written


@dataclass
class MemoryReadModel:
    folded: list[FoldedEvent] = field(default_factory=list)

    async def apply_events(self, events: Sequence[FoldedEvent]) -> None:
        self.folded.extend(events)


def ref(offset: int, value: bytes | None, timestamp_ms: int | None = None) -> RecordRef:
    return RecordRef(REPORTS_TOPIC.name, 0, offset, b"k", value, (), timestamp_ms)


async def test_a_batch_keeps_every_record_at_its_place_and_folds_the_valid_ones() -> None:
    trail, facts = MemoryTrail(), MemoryReadModel()
    writer = TrailWriter(trail, facts, clock=lambda: NOW)
    poison = Undecodable(
        ref(1, b'{"id": "x"}', 1_679_306_400_000), ContractViolation("missing attribute 'type'")
    )
    batch: list[Any] = [
        Delivery(ex.REPORT_RECEIVED, ref(0, ex.REPORT_RECEIVED.to_kafka().value)),
        poison,
        Delivery(ex.STATUS_ASSIGNED, ref(2, ex.STATUS_ASSIGNED.to_kafka().value)),
        Undecodable(ref(3, None), ContractViolation("invalid JSON")),
    ]

    assert await writer.write(batch) == [True] * 4
    assert [(f.event_type, p.offset) for f, p in trail.appended] == [
        (ex.REPORT_RECEIVED.type, 0),
        ("invalid", 1),
        (ex.STATUS_ASSIGNED.type, 2),
        ("invalid", 3),
    ]
    invalid = trail.appended[1][0]
    assert invalid.event_id == "invalid:pakn.reports.v1:0:1"
    assert invalid.invalid_reason == "missing attribute 'type'"
    assert invalid.occurred_at == datetime(2023, 3, 20, 10, 0, tzinfo=UTC)  # Kafka's time
    assert invalid.payload["dead_letter"]["topic"] == "pakn.dlq.audit.v1"
    assert trail.appended[3][0].invalid_reason == "the record has no value"
    assert [event_type for event_type, _, _ in facts.folded] == [
        ex.REPORT_RECEIVED.type,
        ex.STATUS_ASSIGNED.type,
    ]

    # redelivered: nothing is written twice, the read model hears of it again (idempotent)
    assert await writer.write(batch) == [False] * 4
    assert len(trail.appended) == 4 and len(facts.folded) == 4


def test_audit_reads_every_domain_topic_but_the_raw_channel() -> None:
    names = {topic.name for topic in AUDITED_TOPICS}
    assert "pakn.channel.raw.v1" not in names
    assert {"pakn.reports.v1", "pakn.deadlines.v1", "pakn.routing.rules.v1"} <= names


async def test_records_published_on_audited_topics_reach_the_trail_through_the_subscriber() -> None:
    """Topic -> subscriber -> handler -> domain, under FastStream's test broker."""
    service = build_service("audit", Settings(), uses_database=False)
    trail, facts = MemoryTrail(), MemoryReadModel()
    subscribe(service, TrailWriter(trail, facts, clock=lambda: NOW))
    received, assigned = ex.REPORT_RECEIVED.to_kafka(), ex.STATUS_ASSIGNED.to_kafka()

    async with under_test_broker(service) as (broker, dead_letters):
        await broker.publish(received.value, topic=REPORTS_TOPIC.name, key=received.key)
        await broker.publish(b"{not json", topic=REPORTS_TOPIC.name, key=b"k")
        await broker.publish(assigned.value, topic=REPORT_STATUS_TOPIC.name, key=assigned.key)

    assert [facts.event_type for facts, _ in trail.appended] == [
        ex.REPORT_RECEIVED.type,
        "invalid",
        ex.STATUS_ASSIGNED.type,
    ]
    assert [event_type for event_type, _, _ in facts.folded] == [
        ex.REPORT_RECEIVED.type,
        ex.STATUS_ASSIGNED.type,
    ]
    (dead,) = dead_letters.records
    assert dead["topic"] == "pakn.dlq.audit.v1" and dead["value"] == b"{not json"
