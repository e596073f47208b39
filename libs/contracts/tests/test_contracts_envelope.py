import json
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from phananh_contracts import (
    ContractViolation,
    Event,
    ReportReceivedEvent,
    agency_inbox_topic,
    decode_event,
)
from phananh_contracts.examples import (
    ALL_EXAMPLES,
    AUDIT_CHECKPOINT,
    INBOX_EXAMPLES,
    RAW_MESSAGE_RECEIVED,
    REPORT_ID,
    REPORT_RECEIVED,
    REPORT_REJECTED,
)
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def _value(event: Event[Any], **changes: Any) -> bytes:
    """The JSON of ``event`` with some attributes changed; None deletes one."""
    envelope = json.loads(event.to_kafka().value)
    for name, new in changes.items():
        target, _, field = name.rpartition("__")
        holder = envelope[target] if target else envelope
        if new is None:
            del holder[field]
        else:
            holder[field] = new
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


def _violation(topic: str, value: bytes) -> str:
    with pytest.raises(ContractViolation) as caught:
        decode_event(topic, value)
    assert caught.value.topic == topic
    return caught.value.reason


@pytest.mark.parametrize("event", ALL_EXAMPLES, ids=lambda event: event.type)
def test_every_example_survives_the_trip_through_kafka_bytes(event: Event[Any]) -> None:
    record = event.to_kafka()

    assert decode_event(record.topic, record.value) == event
    assert unicodedata.is_normalized("NFC", record.value.decode("utf-8"))


def test_record_is_a_structured_mode_cloudevent_with_vietnamese_kept_as_utf8() -> None:
    record = REPORT_RECEIVED.to_kafka()

    assert record.topic == "pakn.reports.v1"
    assert record.key == REPORT_ID.encode()
    assert record.headers == [("content-type", b"application/cloudevents+json; charset=utf-8")]
    assert "Chiềng Sinh".encode() in record.value
    assert b"\\u" not in record.value
    envelope = json.loads(record.value)
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "vn.pakn.report.received"
    assert envelope["source"] == "/services/intake"
    assert envelope["subject"] == REPORT_ID
    assert envelope["time"] == "2023-03-14T01:12:31Z"
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["dataschema"] == "urn:pakn:schema:report.received:1"
    assert envelope["schemaversion"] == 1
    assert envelope["partitionkey"] == REPORT_ID
    assert envelope["data"]["place"]["residential_group"] == "Tổ 8"


def test_key_bytes_follow_each_topics_key_rule() -> None:
    assert RAW_MESSAGE_RECEIVED.to_kafka().key == b"app:app-7f3c2a9e4b1d"
    assert REPORT_REJECTED.to_kafka().key == b"zalo:a3f9c1e27b8d4c05"
    assert AUDIT_CHECKPOINT.to_kafka().key == b"audit-1"


def test_new_fills_a_fresh_id_and_the_current_utc_time() -> None:
    before = datetime.now(UTC)

    first = ReportReceivedEvent.new(REPORT_RECEIVED.data, source="/services/intake")
    second = ReportReceivedEvent.new(REPORT_RECEIVED.data, source="/services/intake")

    assert uuid.UUID(first.id) != uuid.UUID(second.id)
    assert first.time.tzinfo == UTC
    assert before <= first.time <= datetime.now(UTC)
    assert first.subject == first.partitionkey == REPORT_ID


def test_subject_is_absent_for_events_not_about_a_report() -> None:
    assert REPORT_REJECTED.subject is None
    assert "subject" not in json.loads(REPORT_REJECTED.to_kafka().value)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ReportReceivedEvent.new(
            REPORT_RECEIVED.data, source="/services/intake", time=datetime(2023, 3, 14, 8, 12)
        )

    reason = _violation("pakn.reports.v1", _value(REPORT_RECEIVED, time="2023-03-14T08:12:31"))
    assert reason == "time: Input should have timezone info"

    naive_data = _value(REPORT_RECEIVED, data__received_at="2023-03-14T08:12:30")
    assert _violation("pakn.reports.v1", naive_data).startswith("data.received_at: ")


@pytest.mark.parametrize("number", [12.5, 1678781551, True])
def test_times_given_as_numbers_are_rejected(number: object) -> None:
    # RFC 3339 strings only: a number would otherwise read as seconds since 1970.
    reason = _violation("pakn.reports.v1", _value(REPORT_RECEIVED, time=number))
    assert reason.startswith("time: ")

    as_data = _value(REPORT_RECEIVED, data__received_at=number)
    assert _violation("pakn.reports.v1", as_data).startswith("data.received_at: ")


def test_times_in_vietnam_time_are_normalized_to_utc() -> None:
    event = decode_event(
        "pakn.reports.v1", _value(REPORT_RECEIVED, time="2023-03-14T08:12:31+07:00")
    )

    assert event.time == datetime(2023, 3, 14, 1, 12, 31, tzinfo=UTC)
    assert event.time.utcoffset() == timedelta(0)
    local = ReportReceivedEvent.new(
        REPORT_RECEIVED.data,
        source="/services/intake",
        time=datetime(2023, 3, 14, 8, 12, 31, tzinfo=timezone(timedelta(hours=7))),
    )
    assert json.loads(local.to_kafka().value)["time"] == "2023-03-14T01:12:31Z"


def test_fields_added_by_newer_producers_are_ignored() -> None:
    value = _value(
        REPORT_RECEIVED,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        data__sentiment="negative",
    )

    assert decode_event("pakn.reports.v1", value) == REPORT_RECEIVED


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8: "),
        (b'{"specversion": "1.0", ', "invalid JSON: "),
        (b"[]", "Input should be an object"),
        (b'{"specversion": "1.0"}', "missing attribute 'type'"),
    ],
)
def test_bytes_that_are_not_an_event_are_rejected_with_a_reason(value: bytes, reason: str) -> None:
    assert _violation("pakn.reports.v1", value).startswith(reason)


def test_unknown_event_type_is_rejected_with_a_clear_reason() -> None:
    reason = _violation("pakn.reports.v1", _value(REPORT_RECEIVED, type="vn.pakn.report.deleted"))

    assert reason == (
        "unknown event type 'vn.pakn.report.deleted' on topic pakn.reports.v1 "
        "(expected 'vn.pakn.report.received')"
    )


def test_event_written_on_the_wrong_topic_is_rejected() -> None:
    reason = _violation("pakn.assignments.v1", REPORT_RECEIVED.to_kafka().value)

    assert reason.startswith("unknown event type 'vn.pakn.report.received' on topic")


def test_missing_attribute_and_invalid_data_are_located() -> None:
    assert _violation("pakn.reports.v1", _value(REPORT_RECEIVED, id=None)) == "id: Field required"
    assert (
        _violation("pakn.reports.v1", _value(REPORT_RECEIVED, data__text=""))
        == "data.text: String should have at least 1 character"
    )
    assert _violation("pakn.reports.v1", _value(REPORT_RECEIVED, specversion="0.3")).startswith(
        "specversion: "
    )


def test_unknown_schema_version_is_rejected() -> None:
    reason = _violation("pakn.reports.v1", _value(REPORT_RECEIVED, schemaversion=2))

    assert reason == (
        "schemaversion 2 of vn.pakn.report.received is not supported "
        "(this consumer knows version 1)"
    )


def test_subject_must_name_the_report() -> None:
    reason = _violation("pakn.reports.v1", _value(REPORT_RECEIVED, subject="another-report"))

    assert reason == f"subject must be the report id '{REPORT_ID}'"


def test_contract_violation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        decode_event("pakn.reports.v1", b"{")


def test_decoding_needs_a_topic_that_carries_events() -> None:
    with pytest.raises(KeyError, match=r"unknown topic 'pakn\.reports'"):
        decode_event("pakn.reports", REPORT_RECEIVED.to_kafka().value)
    with pytest.raises(LookupError, match="raw bytes"):
        decode_event("pakn.dlq.intake.v1", REPORT_RECEIVED.to_kafka().value)


@pytest.mark.parametrize("event", INBOX_EXAMPLES, ids=lambda event: event.type)
def test_inbox_examples_survive_the_trip_through_an_agency_inbox(event: Event[Any]) -> None:
    record = event.to_kafka(agency_inbox_topic(event.data.agency_id))

    assert record.topic == f"pakn.inbox.{event.data.agency_id}.v1"
    assert decode_event(record.topic, record.value) == event
    with pytest.raises(KeyError, match="inbox"):
        event.to_kafka()
