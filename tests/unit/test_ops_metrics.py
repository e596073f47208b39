"""What every service exposes at /metrics, without a server: FastStream's message counts
and durations, the gauges refreshed on a timer, and the consumer groups they measure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from phananh_contracts import AGENCY_UPDATES_PATTERN, REPORTS_TOPIC, ChainHead, ReportReceivedEvent
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import durable_subscriber_options, publish_record
from phananh_platform.metrics import (
    ConsumerGroup,
    Periodic,
    RefreshFailures,
    SnapshotGauge,
    consumer_groups,
)
from phananh_platform.runtime import build_service
from phananh_platform.settings import ServiceSettings
from prometheus_client import CollectorRegistry, generate_latest

pytestmark = pytest.mark.unit


def test_a_snapshot_gauge_shows_the_latest_measurement_whole() -> None:
    registry = CollectorRegistry()
    gauge = SnapshotGauge("pakn_test_open", "Open things.", ["agency", "ward"], registry=registry)
    gauge.replace({("ubnd-chieng-sinh", "03679"): 3, ("cong-an", "unknown"): 1})
    assert registry.get_sample_value("pakn_test_open", {"agency": "cong-an", "ward": "unknown"})

    gauge.replace({("ubnd-chieng-sinh", "03679"): 2})  # the other case was closed

    assert registry.get_sample_value(
        "pakn_test_open", {"agency": "ubnd-chieng-sinh", "ward": "03679"}
    ) == pytest.approx(2)
    assert (
        registry.get_sample_value("pakn_test_open", {"agency": "cong-an", "ward": "unknown"})
        is None
    ), "a label set no longer measured must leave the scrape"
    with pytest.raises(ValueError, match="does not match"):
        gauge.replace({("only-one-label",): 1})


async def test_a_failing_measurement_is_counted_and_the_next_round_runs() -> None:
    registry = CollectorRegistry()
    failures = RefreshFailures(registry)
    rounds: list[int] = []

    async def measure() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise ConnectionError("broker unreachable")

    periodic = Periodic("kafka_positions", measure, 0.01, failures=failures)
    name = {"measurement": "kafka_positions"}
    assert registry.get_sample_value("pakn_metrics_refresh_failures_total", name) == 0
    await periodic.start()
    for _ in range(200):
        if len(rounds) >= 3:
            break
        await asyncio.sleep(0.01)
    await periodic.stop()

    assert len(rounds) >= 3
    assert registry.get_sample_value("pakn_metrics_refresh_failures_total", name) == 1


def test_consumer_groups_are_read_from_the_subscribers() -> None:
    service = build_service("unit", ServiceSettings(), uses_database=False)

    @service.broker.subscriber("pakn.reports.v1", "pakn.citizen.replies.v1", group_id="unit")
    async def first(body: bytes) -> None: ...

    @service.broker.subscriber("pakn.assignments.v1", group_id="unit-read-model")
    async def second(body: bytes) -> None: ...

    @service.broker.subscriber("pakn.report.status.v1", group_id="unit-read-model")
    async def third(body: bytes) -> None: ...

    assert consumer_groups(service.broker.subscribers) == [
        ConsumerGroup("unit", ("pakn.citizen.replies.v1", "pakn.reports.v1")),
        ConsumerGroup("unit-read-model", ("pakn.assignments.v1", "pakn.report.status.v1")),
    ]


def test_a_pattern_subscriptions_group_reads_every_topic_the_pattern_names() -> None:
    service = build_service("unit", ServiceSettings(), uses_database=False)

    async def admit(batch: Any) -> None: ...

    service.subscribe(pattern=AGENCY_UPDATES_PATTERN, group_id="unit-gate", handle=admit)

    (group,) = consumer_groups(service.broker.subscribers)
    assert (group.group_id, group.topics) == ("unit-gate", ())
    assert group.reads("pakn.updates.ubnd-chieng-sinh.v1")
    assert group.reads("pakn.updates.an-agency-created-tomorrow.v1")
    assert not group.reads("pakn.agency.updates.v1")
    assert not group.reads("pakn.updates.ubnd-chieng-sinh.v1.old")


async def test_metrics_count_handled_messages_with_faststream_and_the_service_name() -> None:
    service = build_service("unit", ServiceSettings(), uses_database=False)
    handled: list[bytes] = []

    @service.broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options("unit"))
    async def handle(body: bytes) -> None:
        handled.append(body)

    event = ReportReceivedEvent.new(data=REPORT_RECEIVED.data, source="/tests")
    async with TestKafkaBroker(service.broker) as broker:
        await publish_record(broker, event.to_kafka())
        await broker.publish(b"\xff not an event", topic=REPORTS_TOPIC.name, key=b"k")

    transport = httpx.ASGITransport(app=service.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as client:
        response = await client.get("/metrics/")
    text = response.text

    assert response.status_code == 200
    assert len(handled) == 2
    assert 'faststream_received_messages_total{app_name="unit"' in text
    assert "faststream_received_processed_messages_duration_seconds_bucket" in text
    assert 'handler="pakn.reports.v1"' in text
    for name in (
        "pakn_kafka_consumer_lag",
        "pakn_dlq_records",
        "pakn_metrics_refresh_failures_total",
    ):
        assert f"# TYPE {name}" in text, f"{name} is not exposed"
    assert generate_latest(service.registry).decode() == text


class FakeTrail:
    def __init__(self, heads: dict[str, int]) -> None:
        self.lengths = dict(heads)

    async def append(self, facts: Any, position: Any, *, recorded_at: datetime) -> bool:
        if facts.event_id == "seen-before":
            return False
        self.lengths[position.chain_id] = self.lengths.get(position.chain_id, 0) + 1
        return True

    async def is_recorded(self, event_id: str) -> bool:
        return event_id == "seen-before"

    async def heads(self) -> list[ChainHead]:
        return [
            ChainHead(chain_id=chain, sequence=n, record_hash="0" * 64)
            for chain, n in self.lengths.items()
        ]


async def test_audit_observes_write_lag_and_counts_chain_records_between_readings() -> None:
    from audit.domain.chain import SourcePosition
    from audit.metrics import MeasuredTrail

    registry = CollectorRegistry()
    store = FakeTrail({"pakn.reports.v1:0": 41})
    trail = MeasuredTrail(store, registry)  # type: ignore[arg-type]
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    position = SourcePosition("pakn.reports.v1", 0, 99)

    def facts(event_id: str) -> Any:
        return SimpleNamespace(event_id=event_id, occurred_at=now - timedelta(seconds=2))

    await trail.append(facts("e-1"), position, recorded_at=now)  # before the first reading
    await trail.measure_chains()
    await trail.append(facts("e-2"), position, recorded_at=now)
    await trail.append(facts("seen-before"), position, recorded_at=now)  # writes nothing

    def length(chain: str) -> float | None:
        return registry.get_sample_value("pakn_audit_chain_length", {"chain": chain})

    assert length("pakn.reports.v1:0") == 43 == store.lengths["pakn.reports.v1:0"]
    assert registry.get_sample_value("pakn_audit_write_lag_seconds_count") == 2
    assert registry.get_sample_value("pakn_audit_write_lag_seconds_sum") == pytest.approx(4)


async def test_a_slow_measurement_waits_longer_so_it_takes_a_tenth_of_the_time_at_most() -> None:
    """A gauge the database counts by scanning gets slower as data grows: its rounds
    space out instead of keeping the database busy."""
    now = [0.0]
    pauses: list[float] = []
    durations = iter([0.5, 20.0, 0.5])

    async def measure() -> None:
        now[0] += next(durations)

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            raise asyncio.CancelledError

    periodic = Periodic("open_cases", measure, 30.0, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(asyncio.CancelledError):
        await periodic._run()

    assert pauses == [30.0, pytest.approx(180.0), 30.0]
