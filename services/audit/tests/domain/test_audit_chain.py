"""Trail records and their chains: canonical hashing, the next link, clean payloads, actors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from audit.domain.chain import (
    DeadLetterCoordinates,
    EventFacts,
    SourcePosition,
    actor_from_source,
    actor_of,
    canonical_json,
    chain_records,
    document_hash,
    event_facts,
    head_of,
    invalid_facts,
    next_record,
    record_from_document,
    record_hash,
    sanitize,
    to_document,
)
from audit.domain.records import GENESIS_HASH, Actor, TrailRecord
from phananh_contracts import (
    ChainHead,
    Event,
    Reporter,
    ReportReceived,
    ReportReceivedEvent,
)
from phananh_contracts import examples as ex

pytestmark = pytest.mark.unit

POSITION = SourcePosition("pakn.reports.v1", 3, 41)
AT = datetime(2023, 3, 14, 1, 12, 31, 123456, tzinfo=UTC)


def fixed_record() -> TrailRecord:
    return TrailRecord(
        chain_id="pakn.reports.v1:3",
        sequence=1,
        event_id="e-1",
        event_type="vn.pakn.report.received",
        source_topic="pakn.reports.v1",
        source_partition=3,
        source_offset=41,
        report_id="01GVHQ6JZ9Y3X5B7C2D4E6F8G0",
        tracking_code="SL-2303-7KQ4M9",
        actor=Actor(kind="citizen", id="ctz-1"),
        occurred_at=datetime(2023, 3, 14, 1, 12, 31, 123000, tzinfo=UTC),
        recorded_at=datetime(2023, 3, 14, 1, 12, 32, tzinfo=UTC),
        payload={"text": "Chợ Noong Đúc", "place": {"ward_code": "03679"}, "n": [1, 2.5]},
    )


# ------------------------------------------------------------------ canonical hashing


def test_the_canonical_form_is_sorted_compact_utf8_json_with_utc_microsecond_times() -> None:
    canonical = canonical_json(to_document(fixed_record())).decode("utf-8")
    assert canonical.startswith('{"actor":{"id":"ctz-1","kind":"citizen"},"chain_id":')
    assert '"occurred_at":"2023-03-14T01:12:31.123000Z"' in canonical
    assert '"text":"Chợ Noong Đúc"' in canonical  # not \\u-escaped
    assert '"hash"' not in canonical
    assert " " not in canonical.replace("Chợ Noong Đúc", "")


PINNED_CANONICAL = (
    '{"actor":{"id":"ctz-1","kind":"citizen"},"chain_id":"pakn.reports.v1:3",'
    '"event_id":"e-1","event_type":"vn.pakn.report.received","invalid_reason":null,'
    '"occurred_at":"2023-03-14T01:12:31.123000Z",'
    '"payload":{"n":[1,2.5],"place":{"ward_code":"03679"},"text":"Chợ Noong Đúc"},'
    f'"prev_hash":"{"0" * 64}","recorded_at":"2023-03-14T01:12:32.000000Z",'
    '"report_id":"01GVHQ6JZ9Y3X5B7C2D4E6F8G0","sequence":1,"source_offset":41,'
    '"source_partition":3,"source_topic":"pakn.reports.v1","tracking_code":"SL-2303-7KQ4M9",'
    '"valid":true}'
)


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_content() -> None:
    # Pinned: a change to the canonical form would break every stored chain.
    record = fixed_record()
    assert canonical_json(to_document(record)).decode("utf-8") == PINNED_CANONICAL
    expected = hashlib.sha256((GENESIS_HASH + PINNED_CANONICAL).encode("utf-8")).hexdigest()
    assert record_hash(record) == expected
    assert expected == "e1e7613349b4f657c55fb40c26f740590a3a0e2634a986a7711f29e7128a8eda"


def test_the_hash_does_not_depend_on_key_order_time_zone_or_the_database_id() -> None:
    document = to_document(fixed_record())
    shuffled = dict(reversed(list(document.items())))
    shuffled["payload"] = dict(reversed(list(document["payload"].items())))
    shuffled["_id"] = "any database id"
    hanoi = timezone(timedelta(hours=7))
    shuffled["occurred_at"] = document["occurred_at"].astimezone(hanoi)
    assert document_hash(shuffled) == document_hash(document) == record_hash(fixed_record())


def test_any_change_to_the_document_changes_its_hash() -> None:
    document = to_document(fixed_record())
    original = document_hash(document)
    for change in (
        {"payload": {**document["payload"], "text": "Chợ Noong Đúc."}},
        {"sequence": 2},
        {"sequence": "1"},
        {"valid": False},
        {"actor": {"kind": "service", "id": "ctz-1"}},
        {"occurred_at": document["occurred_at"] + timedelta(milliseconds=1)},
        {"prev_hash": "1" * 64},
        {"note": "added by hand"},
    ):
        assert document_hash({**document, **change}) != original, change
    removed = {key: value for key, value in document.items() if key != "tracking_code"}
    assert document_hash(removed) != original


def test_a_record_read_back_from_its_document_is_the_same_record() -> None:
    record = replace(fixed_record(), hash=record_hash(fixed_record()))
    document = {**to_document(record), "_id": "db-id"}
    assert record_from_document(document) == record
    with pytest.raises(ValueError, match="not a trail record"):
        record_from_document({"chain_id": "x"})


# ----------------------------------------------------------------------- the next link


def facts(event_id: str = "e-1", occurred_at: datetime = AT) -> EventFacts:
    return EventFacts(
        event_id=event_id,
        event_type="vn.pakn.report.status.changed",
        report_id="r-1",
        tracking_code=None,
        actor=Actor("service", "routing"),
        occurred_at=occurred_at,
        payload={"status": "assigned"},
    )


def test_a_chain_starts_at_sequence_1_from_the_genesis_hash_and_links_each_record() -> None:
    first = next_record(None, facts("e-1"), POSITION, recorded_at=AT)
    second = next_record(head_of(first), facts("e-2"), POSITION, recorded_at=AT)
    assert (first.chain_id, first.sequence, first.prev_hash) == (
        "pakn.reports.v1:3",
        1,
        GENESIS_HASH,
    )
    assert (second.sequence, second.prev_hash) == (2, first.hash)
    assert first.hash == record_hash(first) and second.hash == record_hash(second)
    assert second.hash != first.hash


def test_a_batch_is_chained_per_partition_in_its_order_from_each_chains_head() -> None:
    other = SourcePosition("pakn.deadlines.v1", 0, 7)
    known = next_record(None, facts("e-0"), other, recorded_at=AT)
    items = [
        (facts("e-1"), POSITION),
        (facts("e-2"), replace(other, offset=8)),
        (facts("e-3"), replace(POSITION, offset=POSITION.offset + 1)),
    ]
    chains = chain_records(
        {POSITION.chain_id: None, other.chain_id: head_of(known)}, items, recorded_at=AT
    )
    reports, deadlines = chains[POSITION.chain_id], chains[other.chain_id]
    assert [(r.event_id, r.sequence) for r in reports] == [("e-1", 1), ("e-3", 2)]
    assert reports[1].prev_hash == reports[0].hash
    assert [(r.event_id, r.sequence, r.prev_hash) for r in deadlines] == [("e-2", 2, known.hash)]
    # the same records as one at a time
    assert reports[1] == next_record(head_of(reports[0]), *items[2], recorded_at=AT)


def test_times_are_truncated_to_milliseconds_before_hashing_as_the_database_keeps_them() -> None:
    record = next_record(None, facts(), POSITION, recorded_at=AT)
    assert record.occurred_at == record.recorded_at == AT.replace(microsecond=123000)
    assert record.occurred_at.tzinfo is UTC


def test_naive_times_and_heads_of_other_chains_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_record(None, facts(occurred_at=datetime(2023, 3, 14)), POSITION, recorded_at=AT)
    other = ChainHead(chain_id="pakn.reports.v1:4", sequence=1, record_hash="a" * 64)
    with pytest.raises(ValueError, match="given for chain"):
        next_record(other, facts(), POSITION, recorded_at=AT)


# ---------------------------------------------------------------------------- payloads


def report_with(text: str, **reporter: Any) -> ReportReceivedEvent:
    data = ex.REPORT_RECEIVED.data.model_copy(
        update={
            "text": text,
            "original_text": text,
            "reporter": Reporter(**(reporter or {"anonymous": False, "pseudonym": "ctz-9"})),
        }
    )
    return ex.REPORT_RECEIVED.model_copy(update={"data": data})


def test_sealed_contacts_leave_the_payload_wherever_they_are() -> None:
    payload = event_facts(ex.REPORT_RECEIVED).payload
    assert "contact_ciphertext" not in json.dumps(payload)
    assert payload["reporter"] == {"anonymous": False, "pseudonym": ex.PSEUDONYM}
    nested = sanitize({"a": [{"contact_ciphertext": "gAAAA", "keep": 1}]})
    assert nested == {"a": [{"keep": 1}]}


def test_phone_numbers_and_emails_are_masked_in_any_text() -> None:
    text = "Liên hệ 0912 345 678 hoặc nguyen.van.a@gmail.com, chợ Noong Đúc tổ 8"
    payload = event_facts(report_with(text)).payload
    for field in ("text", "original_text"):
        assert "0912" not in payload[field] and "gmail" not in payload[field]
        assert "[số điện thoại]" in payload[field] and "[email]" in payload[field]
        assert "chợ Noong Đúc tổ 8" in payload[field]
    cleaned = sanitize(
        {
            "note": "Gọi +84912345678",
            "metadata": {"phone": "0912345678", "email": "a.b@c.vn", "app_version": "2.4.1"},
            "notices": ["Gọi 113 nếu khẩn cấp", "hoặc 0987654321"],
        }
    )
    assert cleaned == {
        "note": "Gọi [số điện thoại]",
        "metadata": {"phone": "[số điện thoại]", "email": "[email]", "app_version": "2.4.1"},
        "notices": ["Gọi 113 nếu khẩn cấp", "hoặc [số điện thoại]"],
    }


def test_identifiers_codes_and_times_are_kept_so_the_trail_still_says_what_and_when() -> None:
    for event in ex.ALL_EXAMPLES:
        original = event.data.model_dump(mode="json")
        payload = event_facts(event).payload
        for name in ("report_id", "tracking_code", "received_at", "deadline", "at", "agency_id"):
            if name in original:
                assert payload[name] == original[name], (event.type, name)
    assigned = event_facts(ex.REPORT_ASSIGNED).payload
    assert assigned["ruleset_version"] == "2023.03.1"
    assert assigned["matched"]["ward_code"] == "03679"
    assert event_facts(ex.REPORT_RECEIVED).payload["place"]["point"] == {
        "lat": 21.3035,
        "lon": 103.9472,
    }


def test_an_identifier_holding_a_contact_is_replaced_by_a_stable_digest() -> None:
    first = sanitize({"channel_message_id": "<20230314.abc@dan.example.vn>"})
    again = sanitize({"channel_message_id": "<20230314.abc@dan.example.vn>"})
    other = sanitize({"channel_message_id": "<20230314.abd@dan.example.vn>"})
    assert first == again != other
    assert first["channel_message_id"].startswith("masked-")
    assert "dan.example" not in first["channel_message_id"]


def test_payloads_are_safe_for_mongodb_and_ferretdb() -> None:
    cleaned = sanitize(
        {
            "metadata": {"a.b": "1", "$where": "2", "nul\x00": "3"},
            "grid": [[1, 2], [3]],
            "big": 2**70,
            "nan": float("nan"),
            "when": datetime(2023, 3, 14, 8, 0, tzinfo=timezone(timedelta(hours=7))),
            "broken": "\ud800x",
        }
    )
    assert cleaned["metadata"] == {"a\uff0eb": "1", "\uff04where": "2", "nul": "3"}
    assert cleaned["grid"] == [{"items": [1, 2]}, {"items": [3]}]
    assert cleaned["big"] == str(2**70) and cleaned["nan"] == "nan"
    assert cleaned["when"] == "2023-03-14T01:00:00.000000Z"
    assert cleaned["broken"] == "?x"
    canonical_json(cleaned).decode("utf-8")


def test_a_raw_channel_body_is_kept_as_its_digest_only() -> None:
    payload = event_facts(ex.RAW_MESSAGE_RECEIVED).payload
    body = ex.RAW_MESSAGE_RECEIVED.data.body.encode()
    assert "body" not in payload and "0912000000" not in json.dumps(payload)
    assert payload["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert payload["body_size"] == len(body)


# ------------------------------------------------------------------------------ actors

ACTORS: list[tuple[Event[Any], Actor]] = [
    (ex.REPORT_RECEIVED, Actor("citizen", ex.PSEUDONYM)),
    (ex.CITIZEN_REPLIED, Actor("citizen", ex.PSEUDONYM)),
    (ex.AGENCY_ACCEPTED, Actor("agency", "ubnd-chieng-sinh")),
    (ex.AGENCY_RESOLVED, Actor("agency", "ubnd-chieng-sinh")),
    (ex.REPORT_ASSIGNED, Actor("service", "routing")),
    (ex.STATUS_ASSIGNED, Actor("service", "routing")),
    (ex.DEADLINE_WARNING, Actor("service", "routing")),
    (ex.DEADLINE_BREACHED, Actor("service", "routing")),
    (ex.REPORT_ESCALATED, Actor("service", "routing")),
    (ex.ACKNOWLEDGEMENT_SENT, Actor("service", "notify")),
    (ex.NOTIFICATION_FAILED, Actor("service", "notify")),
    (ex.REPORT_REJECTED, Actor("service", "intake")),
    (ex.AUDIT_CHECKPOINT, Actor("service", "audit")),
]


@pytest.mark.parametrize(("event", "actor"), ACTORS, ids=[e.type for e, _ in ACTORS])
def test_the_actor_of_each_event_type(event: Event[Any], actor: Actor) -> None:
    assert actor_of(event) == actor
    assert event_facts(event).actor == actor


def test_a_collaborator_or_an_anonymous_citizen_is_the_actor_of_a_report() -> None:
    data = ex.REPORT_RECEIVED.data.model_copy(update={"collaborator_id": "ctv-0042"})
    by_collaborator = ex.REPORT_RECEIVED.model_copy(update={"data": data})
    assert actor_of(by_collaborator) == Actor("collaborator", "ctv-0042")
    anonymous = report_with("Ổ gà trên đường Tô Hiệu", anonymous=True)
    assert actor_of(anonymous) == Actor("citizen", "anonymous")


def test_sources_name_services_and_agencies_and_anything_else_is_unknown() -> None:
    assert actor_from_source("/services/routing") == Actor("service", "routing")
    assert actor_from_source("/agencies/ubnd-to-hieu") == Actor("agency", "ubnd-to-hieu")
    assert actor_from_source("/channels/zalo") == Actor("unknown", "/channels/zalo")


# ----------------------------------------------------------------------- what is kept


def test_report_id_tracking_code_and_time_of_an_event() -> None:
    received = event_facts(ex.REPORT_RECEIVED)
    assert (received.report_id, received.tracking_code) == (ex.REPORT_ID, ex.TRACKING_CODE)
    assert received.occurred_at == ex.REPORT_RECEIVED.time
    assert (received.event_id, received.event_type) == (
        ex.REPORT_RECEIVED.id,
        ex.REPORT_RECEIVED.type,
    )
    breached = event_facts(ex.DEADLINE_BREACHED)
    assert (breached.report_id, breached.tracking_code) == (ex.OVERDUE_REPORT_ID, None)
    rejected = event_facts(ex.REPORT_REJECTED)
    assert (rejected.report_id, rejected.tracking_code) == (None, None)


def test_an_invalid_event_keeps_digest_size_dead_letter_and_claims_not_its_bytes() -> None:
    raw = json.dumps(
        {"id": "e-42", "type": "vn.pakn.report.received", "subject": "r-1", "phone": "0912345678"}
    ).encode()
    kept = invalid_facts(
        position=POSITION,
        raw=raw,
        reason="data: Field required",
        occurred_at=AT,
        dead_letter=DeadLetterCoordinates("pakn.dlq.audit.v1", 0, 7),
    )
    assert (kept.event_id, kept.event_type, kept.valid) == (
        "invalid:pakn.reports.v1:3:41",
        "invalid",
        False,
    )
    assert kept.invalid_reason == "data: Field required"
    assert kept.payload["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert kept.payload["raw_size"] == len(raw)
    assert kept.payload["dead_letter"] == {
        "topic": "pakn.dlq.audit.v1",
        "partition": 0,
        "offset": 7,
    }
    assert kept.payload["claimed"] == {
        "id": "e-42",
        "type": "vn.pakn.report.received",
        "subject": "r-1",
    }
    assert "0912345678" not in json.dumps(kept.payload)
    assert kept.actor == Actor("unknown", "unknown")
    not_json = invalid_facts(
        position=POSITION,
        raw=b"\xff\xfe",
        reason="not UTF-8",
        occurred_at=AT,
        dead_letter=DeadLetterCoordinates("pakn.dlq.audit.v1"),
    )
    assert "claimed" not in not_json.payload
    assert not_json.payload["dead_letter"]["offset"] is None


def test_a_report_received_event_round_trips_through_its_record() -> None:
    # The read model rebuilds from records: the sanitized payload still validates.
    payload = event_facts(ex.REPORT_RECEIVED).payload
    again = ReportReceived.model_validate(payload)
    assert again.report_id == ex.REPORT_ID and again.reporter.contact_ciphertext is None
