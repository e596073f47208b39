"""How the delivery guard classifies failures (pure: an in-memory sink, no broker)."""

from __future__ import annotations

import pytest
from faststream.exceptions import AckMessage, NackMessage
from faststream.kafka import TestKafkaBroker
from phananh_contracts import REPORTS_TOPIC, ContractViolation, ReportReceivedEvent, decode_event
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.delivery import (
    PoisonMessage,
    RecordRef,
    backoff_seconds,
)
from phananh_platform.kafka import create_broker, durable_subscriber_options, publish_record
from phananh_platform.settings import KafkaSettings
from prometheus_client import CollectorRegistry
from pymongo.errors import ServerSelectionTimeoutError

from tests.support.delivery import MemorySink, make_guard

pytestmark = pytest.mark.unit


REF = RecordRef(
    topic="pakn.reports.v1",
    partition=2,
    offset=41,
    key=b"rpt-1",
    value=b'{"id": "evt-1", "specversion": "1.0"',
    headers=(("traceparent", b"\x00\x01raw"),),
)


def count(registry: CollectorRegistry, classification: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "pakn_consumer_errors_total",
        {
            "service": "intake",
            "topic": REF.topic,
            "classification": classification,
            "outcome": outcome,
        },
    )
    return value or 0.0


def poison_error() -> ContractViolation:
    try:
        decode_event(REPORTS_TOPIC.name, REF.value or b"")
    except ContractViolation as error:
        return error
    raise AssertionError("the value should not decode")


async def test_a_contract_violation_is_dead_lettered_with_original_bytes_and_committed() -> None:
    sink = MemorySink()
    guard, pauses, registry = make_guard(sink)

    with pytest.raises(AckMessage):
        await guard.handle_failure(REF, poison_error())

    (record,) = sink.records
    assert record["topic"] == "pakn.dlq.intake.v1"
    assert (record["key"], record["value"]) == (REF.key, REF.value)
    headers = dict(record["headers"])
    assert headers["traceparent"] == b"\x00\x01raw"
    assert headers["x-dlq-reason"].startswith(b"invalid JSON")
    assert headers["x-dlq-source-topic"] == b"pakn.reports.v1"
    assert headers["x-dlq-source-partition"] == b"2"
    assert headers["x-dlq-source-offset"] == b"41"
    assert headers["x-dlq-error-class"] == b"ContractViolation"
    assert pauses == [], "a poison message must not be retried"
    assert count(registry, "poison", "dead_lettered") == 1


async def test_an_outage_is_retried_without_limit_and_never_dead_lettered() -> None:
    sink = MemorySink()
    guard, pauses, registry = make_guard(sink)

    for _ in range(8):
        with pytest.raises(NackMessage):
            await guard.handle_failure(REF, ServerSelectionTimeoutError("no primary"))

    assert sink.records == []
    assert pauses == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0], "backoff must grow, then cap"
    assert count(registry, "transient", "retried") == 8


async def test_an_unexpected_error_is_retried_a_few_times_then_dead_lettered() -> None:
    sink = MemorySink()
    guard, _, registry = make_guard(sink)

    for _ in range(2):
        with pytest.raises(NackMessage):
            await guard.handle_failure(REF, KeyError("ward"))
    with pytest.raises(AckMessage):
        await guard.handle_failure(REF, KeyError("ward"))

    (record,) = sink.records
    assert dict(record["headers"])["x-dlq-reason"] == b"handler failed 3 times: KeyError: 'ward'"
    assert count(registry, "unexpected", "retried") == 2
    assert count(registry, "unexpected", "dead_lettered") == 1


async def test_a_handler_can_declare_a_message_poison_with_its_reason() -> None:
    sink = MemorySink()
    guard, _, _ = make_guard(sink)
    with pytest.raises(AckMessage):
        await guard.handle_failure(REF, PoisonMessage("unknown agency 'x'"))
    assert dict(sink.records[0]["headers"])["x-dlq-reason"] == b"unknown agency 'x'"


async def test_when_the_dead_letter_topic_is_unreachable_nothing_is_committed() -> None:
    guard, _, _ = make_guard(MemorySink(fail=True))
    with pytest.raises(ConnectionError):
        await guard.handle_failure(REF, poison_error())


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    assert [backoff_seconds(n, 10.0) for n in (1, 2, 3, 8, 20)] == [0.1, 0.2, 0.4, 10.0, 10.0]


def test_event_id_is_read_when_the_value_is_json_and_absent_otherwise() -> None:
    readable = RecordRef("t", 0, 1, None, b'{"id": "evt-9"}', ())
    assert readable.event_id == "evt-9"
    assert REF.event_id is None


async def test_a_handler_under_the_guard_dead_letters_poison_and_keeps_consuming() -> None:
    sink = MemorySink()
    guard, _, _ = make_guard(sink)
    broker = create_broker(KafkaSettings(), client_id="unit", middlewares=[guard])
    handled: list[str] = []

    @broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options("unit"))
    async def handle(body: bytes) -> None:
        handled.append(decode_event(REPORTS_TOPIC.name, body).id)

    event = ReportReceivedEvent.new(data=REPORT_RECEIVED.data, source="/tests")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"\xff not an event", topic=REPORTS_TOPIC.name, key=b"k")
        await publish_record(test_broker, event.to_kafka())

    assert handled == [event.id]
    (dead,) = sink.records
    assert dead["value"] == b"\xff not an event"
    assert dict(dead["headers"])["x-dlq-reason"].startswith(b"not UTF-8")


async def test_a_deeply_nested_record_is_dead_lettered_once_and_never_loops() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)
    value = b'{"id": "x", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    ref = RecordRef("pakn.reports.v1", 0, 9, b"k", value, ())
    assert ref.event_id is None

    with pytest.raises(AckMessage):
        await guard.handle_failure(ref, poison_error())

    assert len(sink.records) == 1 and pauses == []


class Record:
    """What a batch holds (the fields of aiokafka's ConsumerRecord the guard reads)."""

    def __init__(self, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset = "pakn.reports.v1", 0, offset
        self.key, self.value, self.headers = b"k", value, ()


async def test_a_batch_goes_on_past_a_dead_lettered_record() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)
    batch = [Record(10, b"first"), Record(11, b"poison"), Record(12, b"third")]
    handled: list[bytes] = []

    async def handle(record: Record) -> None:
        if record.value == b"poison":
            raise poison_error()
        handled.append(record.value)

    await guard.each(batch, handle)

    assert handled == [b"first", b"third"]
    assert [dead["value"] for dead in sink.records] == [b"poison"]
    assert pauses == []


async def test_a_transient_failure_sends_the_whole_batch_back_and_commits_nothing() -> None:
    sink = MemorySink()
    guard, pauses, registry = make_guard(sink)
    batch = [Record(20, b"first"), Record(21, b"second"), Record(22, b"third")]
    handled: list[bytes] = []
    database_away = [True]

    async def handle(record: Record) -> None:
        if record.value == b"second" and database_away[0]:
            raise ServerSelectionTimeoutError("no database")
        handled.append(record.value)

    with pytest.raises(NackMessage):
        await guard.each(batch, handle)
    assert handled == [b"first"] and pauses == [0.1] and sink.records == []

    database_away[0] = False  # the batch comes again from its first record
    await guard.each(batch, handle)
    assert handled == [b"first", b"first", b"second", b"third"]
    retried = {"service": "intake", "topic": "pakn.reports.v1", "classification": "transient"}
    assert (
        registry.get_sample_value("pakn_consumer_errors_total", {**retried, "outcome": "retried"})
        == 1
    )


def test_a_record_ref_keeps_the_kafka_timestamp_when_there_is_one() -> None:
    class Consumed:
        topic, partition, offset, key, value, headers = "t", 0, 1, None, b"{}", None

        def __init__(self, timestamp: object) -> None:
            self.timestamp = timestamp

    assert RecordRef.of(Consumed(1_700_000_000_123)).timestamp_ms == 1_700_000_000_123
    assert RecordRef.of(Consumed(-1)).timestamp_ms is None  # Kafka's "no timestamp"
    assert RecordRef.of(Consumed(None)).timestamp_ms is None
