"""The gate: an update is admitted only from the updates topic of the agency it names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from phananh_contracts import (
    AgencyUpdateEvent,
    AgencyUpdateRefusedEvent,
    KafkaRecord,
    agency_updates_topic,
    decode_event,
)
from phananh_contracts.examples import AGENCY_ACCEPTED
from phananh_contracts.values import UpdateRefusalReason
from routing.adapters.rules_file import load_ruleset
from routing.domain.case import Fact
from routing.domain.gate import admit

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")
NOW = datetime(2023, 3, 14, 2, 6, tzinfo=UTC)
WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
"""The seed's lead (AGENCY_ACCEPTED is its update) and a supporting agency."""


def written_on(agency_id: str, update: AgencyUpdateEvent = AGENCY_ACCEPTED) -> tuple[str, bytes]:
    """The topic and the bytes of ``update`` as written on ``agency_id``'s updates topic."""
    record = update.to_kafka(agency_updates_topic(agency_id))
    return record.topic, record.value


def record_of(fact: Fact) -> KafkaRecord:
    """The record a fact is published as (a forwarded event keeps its bytes)."""
    record = fact.event.to_kafka(fact.topic)
    return KafkaRecord(record.topic, record.key, fact.original or record.value, record.headers)


def test_an_update_on_the_topic_of_the_agency_it_names_is_forwarded_unchanged() -> None:
    topic, body = written_on(WARD)

    passage = admit(topic, AGENCY_ACCEPTED, body, RULES, now=NOW)

    assert passage.admitted and passage.sender == WARD
    (forwarded,) = [record_of(fact) for fact in passage.facts]
    assert forwarded.topic == "pakn.agency.updates.v1"
    assert forwarded.value == body, "the agency's bytes, not a re-serialization"
    assert forwarded.key == AGENCY_ACCEPTED.data.report_id.encode()
    assert decode_event(forwarded.topic, forwarded.value).id == AGENCY_ACCEPTED.id


def test_an_update_speaking_for_another_agency_is_refused_to_its_sender_and_not_forwarded() -> None:
    topic, body = written_on(MARKET)  # the market board writes "I am the ward: accepted"

    passage = admit(topic, AGENCY_ACCEPTED, body, RULES, now=NOW)

    assert not passage.admitted
    assert (passage.sender, passage.refused) == (MARKET, UpdateRefusalReason.AGENCY_MISMATCH)
    records = [record_of(fact) for fact in passage.facts]
    assert [record.topic for record in records] == [
        "pakn.agency.updates.refused.v1",
        f"pakn.inbox.{MARKET}.v1",  # the sender's inbox, not the ward's
    ]
    assert "pakn.agency.updates.v1" not in {record.topic for record in records}
    refusals = [decode_event(record.topic, record.value) for record in records]
    assert all(isinstance(event, AgencyUpdateRefusedEvent) for event in refusals)
    refused = refusals[0].data
    assert refused.agency_id == MARKET, "the agency that sent it, as the topic proves"
    assert (refused.update_event_id, refused.update_kind) == (
        AGENCY_ACCEPTED.id,
        AGENCY_ACCEPTED.data.kind,
    )
    assert refused.report_id == AGENCY_ACCEPTED.data.report_id
    assert refused.refused_at == NOW
    assert WARD in refused.detail and MARKET in refused.detail
    assert "chỉ được gửi cập nhật của chính mình" in refused.detail


def test_deciding_again_on_the_same_update_gives_the_same_facts() -> None:
    """A redelivered batch: consumers absorb the repeat by event id."""
    for sender in (WARD, MARKET):
        topic, body = written_on(sender)
        first = admit(topic, AGENCY_ACCEPTED, body, RULES, now=NOW)
        again = admit(topic, AGENCY_ACCEPTED, body, RULES, now=NOW.replace(minute=30))
        assert [fact.event.id for fact in first.facts] == [fact.event.id for fact in again.facts]


def test_the_same_update_refused_on_two_topics_gives_two_refusals() -> None:
    ids = {
        admit(*_written(sender), RULES, now=NOW).facts[0].event.id
        for sender in (MARKET, "ioc-tiep-nhan")
    }
    assert len(ids) == 2 and AGENCY_ACCEPTED.id not in ids


def test_a_sender_routing_does_not_know_gets_its_refusal_on_the_refused_topic_only() -> None:
    """An updates topic of an agency no longer (or never) configured has no inbox."""
    topic, body = written_on("ubnd-xa-cu")

    passage = admit(topic, AGENCY_ACCEPTED, body, RULES, now=NOW)

    assert passage.refused == UpdateRefusalReason.AGENCY_MISMATCH
    assert [record_of(fact).topic for fact in passage.facts] == ["pakn.agency.updates.refused.v1"]


def _written(agency_id: str) -> tuple[str, AgencyUpdateEvent, bytes]:
    topic, body = written_on(agency_id)
    return topic, AGENCY_ACCEPTED, body
