"""The typed batch subscriber: decode, hand over a whole batch, isolate failures (no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.exceptions import NackMessage
from phananh_contracts import REPORTS_TOPIC, DeadLetterHeader, ReportReceivedEvent
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.delivery import PoisonMessage, RecordRef
from phananh_platform.subscribers import BatchDelivery, Delivery, Undecodable
from pymongo.errors import ServerSelectionTimeoutError

from tests.support.delivery import MemorySink, make_guard

pytestmark = pytest.mark.unit


class Record:
    """The fields of aiokafka's ConsumerRecord that the platform reads."""

    def __init__(self, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset = REPORTS_TOPIC.name, 0, offset
        self.key, self.value, self.headers = b"k", value, (("origin", b"\xffraw"),)


def report(n: int) -> bytes:
    event = REPORT_RECEIVED.model_copy(update={"id": f"evt-{n}"})
    return event.to_kafka().value


async def test_the_handler_gets_the_whole_batch_decoded_and_poison_is_dead_lettered() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)
    seen: list[list[str]] = []

    async def handle(batch: Any) -> None:
        assert all(isinstance(d.event, ReportReceivedEvent) for d in batch)
        seen.append([d.event.id for d in batch])

    batch = [Record(1, report(1)), Record(2, b'{"not": "an event"}'), Record(3, report(3))]
    await BatchDelivery(guard, handle)(batch)

    assert seen == [["evt-1", "evt-3"]]  # one call for the batch, poison left out
    assert [dead["value"] for dead in sink.records] == [b'{"not": "an event"}']
    headers = dict(sink.records[0]["headers"])
    assert headers["origin"] == b"\xffraw"  # the original headers, byte for byte
    assert headers[DeadLetterHeader.REASON.value].startswith(b"missing attribute")
    assert pauses == []


async def test_a_transient_failure_sends_the_whole_batch_back() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)
    calls: list[int] = []
    database_away = [True]

    async def handle(batch: Any) -> None:
        calls.append(len(batch))
        if database_away[0]:
            raise ServerSelectionTimeoutError("no database")

    batch = [Record(1, report(1)), Record(2, report(2))]
    with pytest.raises(NackMessage):
        await BatchDelivery(guard, handle)(batch)
    database_away[0] = False
    await BatchDelivery(guard, handle)(batch)

    assert calls == [2, 2] and pauses == [0.1] and sink.records == []


async def test_one_bad_event_is_isolated_and_dead_lettered_while_the_others_pass() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)
    done: list[str] = []

    async def handle(batch: Any) -> None:
        if any(d.event.id == "evt-2" for d in batch):
            raise PoisonMessage("the domain refuses evt-2")
        done.extend(d.event.id for d in batch)

    batch = [Record(1, report(1)), Record(2, report(2)), Record(3, report(3))]
    await BatchDelivery(guard, handle)(batch)

    assert done == ["evt-1", "evt-3"]
    assert len(sink.records) == 1 and sink.records[0]["value"] == report(2)
    assert pauses == []


async def test_a_bug_on_one_event_is_retried_then_dead_lettered_and_the_batch_goes_on() -> None:
    sink = MemorySink()
    guard, pauses, _ = make_guard(sink)  # three attempts before an unexpected error ends
    done: list[str] = []

    async def handle(batch: Any) -> None:
        if any(d.event.id == "evt-1" for d in batch):
            raise KeyError("a bug")
        done.extend(d.event.id for d in batch)

    batch = [Record(1, report(1)), Record(2, report(2))]
    for _ in range(2):  # tried again after a pause, twice, nothing committed meanwhile
        with pytest.raises(NackMessage):
            await BatchDelivery(guard, handle)(batch)
    await BatchDelivery(guard, handle)(batch)

    assert [d["value"] for d in sink.records] == [report(1)]
    assert done == ["evt-2"] and len(pauses) == 2


def test_a_delivery_keeps_the_exact_bytes() -> None:
    value = report(7)
    delivery = Delivery(REPORT_RECEIVED, RecordRef.of(Record(7, value)))
    assert delivery.body == value and delivery.topic == REPORTS_TOPIC.name


async def test_a_subscriber_that_keeps_undecodable_records_gets_them_in_place() -> None:
    sink = MemorySink()
    guard, _, _ = make_guard(sink)
    seen: list[str] = []

    async def handle(batch: Any) -> None:
        # what audit does: every record in its place, the undecodable ones with their reason
        seen.extend(
            f"invalid@{item.ref.offset}" if isinstance(item, Undecodable) else item.event.id
            for item in batch
        )
        assert not sink.records  # dead-lettered only after the handler's effect

    batch = [Record(1, report(1)), Record(2, b"\xff not json"), Record(3, report(3))]
    await BatchDelivery(guard, handle, keep_undecodable=True)(batch)

    assert seen == ["evt-1", "invalid@2", "evt-3"]
    assert [dead["value"] for dead in sink.records] == [b"\xff not json"]
