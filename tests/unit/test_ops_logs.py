"""A line logged while a consumer handles a message names the message: event id, report
id, topic, partition and offset — and never a citizen's contact."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from faststream.kafka import TestKafkaBroker
from phananh_contracts import REPORTS_TOPIC, ReportReceivedEvent, decode_event
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import durable_subscriber_options, publish_record
from phananh_platform.logs import JsonFormatter
from phananh_platform.runtime import build_service
from phananh_platform.settings import ServiceSettings

pytestmark = pytest.mark.unit

PHONE = "0912345678"
EMAIL = "nguyen.van.a@example.vn"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="unit", instance="unit-1"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_a_handled_message_s_log_line_names_it_and_holds_no_contact(
    json_lines: io.StringIO,
) -> None:
    service = build_service("unit", ServiceSettings(), uses_database=False)
    handler_logger = logging.getLogger("unit.handlers")

    @service.broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options("unit"))
    async def handle(body: bytes) -> None:
        event = decode_event(REPORTS_TOPIC.name, body)
        handler_logger.info("report taken in charge")  # passes no context of its own
        assert event.id

    data = REPORT_RECEIVED.data.model_copy(
        update={"text": f"Gọi tôi {PHONE} hoặc {EMAIL}: ổ gà trước chợ"}
    )
    event = ReportReceivedEvent.new(data=data, source="/tests")
    async with TestKafkaBroker(service.broker) as broker:
        await publish_record(broker, event.to_kafka())

    (line,) = [line for line in lines(json_lines) if line["message"] == "report taken in charge"]
    assert line["event_id"] == event.id
    assert line["report_id"] == data.report_id
    assert line["topic"] == REPORTS_TOPIC.name
    assert isinstance(line["partition"], int) and isinstance(line["offset"], int)
    assert line["service"] == "unit" and line["logger"] == "unit.handlers"
    text = json_lines.getvalue()
    assert PHONE not in text and EMAIL not in text


async def test_outside_a_message_nothing_is_named_and_explicit_context_wins(
    json_lines: io.StringIO,
) -> None:
    logging.getLogger("unit.timer").info("deadline check", extra={"report_id": "rpt-9"})
    (line,) = lines(json_lines)
    assert line["report_id"] == "rpt-9"
    assert "topic" not in line and "event_id" not in line


async def test_a_dead_lettered_message_is_logged_with_its_coordinates(
    json_lines: io.StringIO,
) -> None:
    service = build_service("unit", ServiceSettings(), uses_database=False)
    sent: list[str] = []

    async def send(topic: str, **_: object) -> None:
        sent.append(topic)

    service.dead_letters.send = send  # type: ignore[method-assign,assignment]

    @service.broker.subscriber(REPORTS_TOPIC.name, **durable_subscriber_options("unit"))
    async def handle(body: bytes) -> None:
        decode_event(REPORTS_TOPIC.name, body)

    broken = ReportReceivedEvent.new(data=REPORT_RECEIVED.data, source="/tests").to_kafka()
    value = broken.value.replace(b'"specversion":"1.0"', b'"specversion":"0.3"')
    assert value != broken.value
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(value, topic=REPORTS_TOPIC.name, key=broken.key)

    assert sent == ["pakn.dlq.unit.v1"]
    (line,) = [line for line in lines(json_lines) if line["level"] == "ERROR"]
    assert line["dead_letter_topic"] == "pakn.dlq.unit.v1"
    assert line["topic"] == REPORTS_TOPIC.name
    assert line["report_id"] == REPORT_RECEIVED.data.report_id
    assert {"event_id", "partition", "offset"} <= line.keys()
