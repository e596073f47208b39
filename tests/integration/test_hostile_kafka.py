"""Hostile bytes on Kafka: poison never blocks a partition, and nothing is dropped silently.

Intake and routing run in this process, as ``create_app`` builds them, on the real broker
and database. A few hundred malformed records go to their input topics: random bytes,
invalid JSON, JSON without the CloudEvents attributes or with another topic's event type,
oversized records, text that is not UTF-8, valid envelopes around invalid data, and raw
messages whose body no channel parser accepts. Then one valid record follows on each
topic, in the same partition, behind the poison.

Every malformed record must be either refused with a reason (a raw message intake can
read but whose payload its parser refuses: a ``ReportRejected`` on
``pakn.reports.rejected.v1``, as docs/intake.md §4.9 says) or in the service's dead-letter
topic with its original value bytes and ``x-dlq-reason``; every valid record must be
processed; both services must still answer ``/healthz``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from intake.app import create_app as create_intake
from intake.domain.tracking import report_id as intake_report_id
from intake.settings import Settings as IntakeSettings
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    Channel,
    DeadLetterHeader,
    Event,
    RawChannelMessageReceivedEvent,
    ReportReceivedEvent,
    dead_letter_topic,
)
from phananh_contracts.examples import AGENCY_ACCEPTED, RAW_MESSAGE_RECEIVED, REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.runtime import ServiceApp
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from routing.app import create_app as create_routing
from routing.settings import Settings as RoutingSettings

from tests.support.kafka import TopicWatcher

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTITION = 0
"""Every record of a topic goes to one partition: the valid one is truly behind the poison."""
WAIT_S = 60.0
OUTCOMES: Counter[str] = Counter()


@dataclass(frozen=True)
class Poison:
    kind: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    rejected_as: str | None = None
    """``channel_message_id`` of the ReportRejected intake publishes instead of a dead letter."""


# --- the malformed records -------------------------------------------------------------


def _event(event: Event[Any], **changes: Any) -> dict[str, Any]:
    document = json.loads(event.to_kafka().value)
    document.update(changes)
    return document


def _bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def common_poison(rng: random.Random, valid: Event[Any], other: Event[Any]) -> list[Poison]:
    """What any topic may receive: noise, broken JSON, broken envelopes, wrong events."""
    envelope = _event(valid)
    text = _bytes(envelope)
    found = [Poison("random bytes", rng.randbytes(rng.randint(0, 3000))) for _ in range(25)]
    found += [Poison("random bytes, odd key", rng.randbytes(64), key=rng.randbytes(20))]
    found += [
        Poison("invalid JSON", value)
        for value in (
            b"",
            b"{",
            b"null",
            b"[]",
            b'"just a string"',
            b"1e999999",
            b"NaN",
            b'{"id": "x", "id": "y"',
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            text[: len(text) // 2],
            text + b"garbage",
            text.replace(b'"', b"'"),
        )
    ]
    for attribute in ("specversion", "id", "source", "type", "time", "data"):
        without = {name: value for name, value in envelope.items() if name != attribute}
        found.append(Poison(f"missing attribute {attribute}", _bytes(without)))
    for attribute, bad in (
        ("specversion", "0.3"),
        ("specversion", 1.0),
        ("id", 42),
        ("id", ""),
        ("type", "vn.pakn.something.else"),
        ("type", None),
        ("time", "yesterday"),
        ("time", "2026-03-14T08:00:00"),
        ("source", {"$where": "sleep(1)"}),
        ("datacontenttype", "text/html"),
        ("schemaversion", 999),
        ("data", "<script>alert(1)</script>"),
        ("data", None),
    ):
        found.append(Poison(f"bad attribute {attribute}", _bytes({**envelope, attribute: bad})))
    found.append(Poison("another topic's event", other.to_kafka().value))
    found += [
        Poison("not UTF-8", text.decode().encode("utf-16")),
        Poison("not UTF-8", text.decode().encode("latin-1", "replace") + b"\xff\xfe"),
        Poison("not UTF-8", text.replace(b'"id"', b'"\xed\xa0\x80id"')),
        Poison("not UTF-8", b"\xef\xbb\xbf" + text[:10] + b"\xc3\x28" + text[10:]),
        Poison("lone surrogate", text.replace(b'"source": "', b'"source": "\\ud800')),
        Poison("NUL bytes", text.replace(b"{", b"{\x00", 1)),
    ]
    size = 900_000 if valid.type != RawChannelMessageReceivedEvent.event_type() else 2_000_000
    found.append(Poison("oversized", _bytes({**envelope, "id": "x" * size})))
    found.append(Poison("oversized", b"\x00" * size))
    found.append(
        Poison(
            "hostile headers",
            rng.randbytes(100),
            key=b"\xff\xfe",
            headers=(("content-type", b"\xff\xfe"), ("x-dlq-reason", b"forged"), ("", b"")),
        )
    )
    return found


def raw_poison(rng: random.Random) -> list[Poison]:
    """Raw channel messages: broken envelopes, and envelopes with refused bodies."""
    found = common_poison(rng, RAW_MESSAGE_RECEIVED, REPORT_RECEIVED)
    raw = _event(RAW_MESSAGE_RECEIVED)
    for field, bad in (
        ("channel", "fax"),
        ("channel_message_id", ""),
        ("channel_message_id", "x" * 5000),
        ("body_encoding", "base64"),
        ("body_encoding", "rot13"),
        ("content_type", "not a media type"),
        ("received_at", "2026-03-14T08:00:00"),
        ("authenticated_as", "has spaces"),
        ("body", "x" * 1_000_001),
        ("metadata", {f"k{n}": "v" for n in range(40)}),
    ):
        data = {**raw["data"], field: bad}
        found.append(Poison(f"invalid data {field}", _bytes({**raw, "data": data})))
    bodies = [
        "{",
        "[]",
        json.dumps({"text": "<script>alert(1)</script>", "anonymous": "maybe"}),
        json.dumps({"$where": "sleep(1000)", "text": {"$ne": None}}),
        json.dumps({"text": "{{7*7}}", "consent": True}),
        json.dumps(
            {
                "text": "../../etc/passwd",
                "anonymous": False,
                "consent": True,
                "photos": ["file:///etc/passwd"],
            }
        ),
        "\x00\x01\x02",
        "'; DROP TABLE reports; --",
    ]
    for number, body in enumerate(bodies * 3):
        channel = ("app", "hotline", "collaborator")[number % 3]
        message_id = f"hostile-{uuid.uuid4().hex[:12]}"
        data = {**raw["data"], "channel": channel, "channel_message_id": message_id, "body": body}
        document = {**raw, "id": str(uuid.uuid4()), "data": data}
        found.append(
            Poison(
                "refused payload",
                _bytes(document),
                key=f"{channel}:{message_id}".encode(),
                rejected_as=message_id,
            )
        )
    return found


def reports_poison(rng: random.Random) -> list[Poison]:
    found = common_poison(rng, REPORT_RECEIVED, AGENCY_ACCEPTED)
    report = _event(REPORT_RECEIVED)
    for field, bad in (
        ("text", ""),
        ("tracking_code", "SL-2303-IIIIII"),
        ("category", "Urban Order"),
        ("priority", "whenever"),
        ("report_id", {"$where": "1"}),
        ("attachments", [{"url": "javascript:alert(1)"}] * 25),
    ):
        found.append(
            Poison(
                f"invalid data {field}", _bytes({**report, "data": {**report["data"], field: bad}})
            )
        )
    return found


def updates_poison(rng: random.Random) -> list[Poison]:
    found = common_poison(rng, AGENCY_ACCEPTED, REPORT_RECEIVED)
    update = _event(AGENCY_ACCEPTED)
    for field, bad in (
        ("kind", "bribed"),
        ("agency_id", "UBND CHIENG SINH"),
        ("report_id", ""),
        ("updated_at", "tomorrow"),
    ):
        found.append(
            Poison(
                f"invalid data {field}", _bytes({**update, "data": {**update["data"], field: bad}})
            )
        )
    return found


# --- the services ----------------------------------------------------------------------


@dataclass
class Platform:
    intake: ServiceApp
    routing: ServiceApp


@pytest.fixture
async def platform(kafka_settings: KafkaSettings, mongodb_url: str) -> AsyncIterator[Platform]:
    await ensure_topics(kafka_settings, ALL_TOPICS)

    def mongo() -> MongoSettings:
        return MongoSettings(url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}")

    intake = create_intake(
        IntakeSettings(
            kafka=kafka_settings,
            mongodb=mongo(),
            city_config=ROOT / "config" / "son-la" / "city.yaml",
            tracking_secret=SecretStr("tracking-secret-for-tests-0123456789"),
            contact_keys=[SecretStr(new_contact_key())],
            pseudonym_key=SecretStr("pseudonym-key-for-tests-0123456789"),
            api_keys={},
            retry_backoff_max_s=1.0,
        )
    )
    routing = create_routing(
        RoutingSettings(
            kafka=kafka_settings,
            mongodb=mongo(),
            routing_config=ROOT / "config" / "son-la" / "routing.yaml",
            city_config=ROOT / "config" / "son-la" / "city.yaml",
            rules_scope=f"test-{uuid.uuid4().hex[:12]}",
            retry_backoff_max_s=1.0,
        )
    )
    async with intake.running(), routing.running():
        yield Platform(intake, routing)
    print(f"\nhostile Kafka records: {sum(OUTCOMES.values())}")
    for outcome, count in sorted(OUTCOMES.items()):
        print(f"  {count:5d}  {outcome}")


async def healthz(service: ServiceApp) -> int:
    transport = httpx.ASGITransport(app=service.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        return (await http.get("/healthz", timeout=5)).status_code


@dataclass(frozen=True)
class Sent:
    poison: Poison
    topic: str
    offset: int


async def send_all(bootstrap: str, batches: dict[str, list[Poison]]) -> list[Sent]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=5 * 1024 * 1024
    )
    await producer.start()
    sent = []
    try:
        for topic, poison in batches.items():
            for record in poison:
                where = await producer.send_and_wait(
                    topic,
                    record.value,
                    key=record.key,
                    partition=PARTITION,
                    headers=list(record.headers),
                )
                sent.append(Sent(record, topic, where.offset))
    finally:
        await producer.stop()
    return sent


async def send_event(bootstrap: str, event: Event[Any]) -> None:
    record = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic,
            record.value,
            key=record.key,
            partition=PARTITION,
            headers=list(record.headers),
        )
    finally:
        await producer.stop()


class DeadLetters:
    """Reads dead-letter topics from their current end, indexed by where each record came from."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.topics = topics
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.found: dict[tuple[str, int], tuple[bytes | None, list[tuple[str, bytes]]]] = {}

    async def __aenter__(self) -> DeadLetters:
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, number)
            for topic in self.topics
            for number in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> None:
        batch = await self.consumer.getmany(timeout_ms=500, max_records=500)
        for records in batch.values():
            for record in records:
                headers = {name: value for name, value in record.headers}
                source = headers.get(DeadLetterHeader.SOURCE_TOPIC, b"").decode()
                offset = int(headers.get(DeadLetterHeader.SOURCE_OFFSET, b"-1"))
                if headers.get(DeadLetterHeader.SOURCE_PARTITION) == str(PARTITION).encode():
                    self.found[(source, offset)] = (record.value, list(record.headers))


async def wait_until(check: Callable[[], Any], what: Callable[[], str], *polls: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"after {WAIT_S}s: {what()}"
        for poll in polls:
            await poll()


# --- the test --------------------------------------------------------------------------


async def test_poison_on_every_input_topic_is_parked_or_refused_and_valid_records_still_flow(
    platform: Platform, kafka_bootstrap: str
) -> None:
    rng = random.Random(7)
    batches = {
        CHANNEL_RAW_TOPIC.name: raw_poison(rng),
        REPORTS_TOPIC.name: reports_poison(rng),
        AGENCY_UPDATES_TOPIC.name: updates_poison(rng),
    }
    report_id = str(uuid.uuid4())
    message_id = f"valid-{uuid.uuid4().hex[:12]}"
    valid_raw = RawChannelMessageReceivedEvent.new(
        RAW_MESSAGE_RECEIVED.data.model_copy(
            update={
                "channel_message_id": message_id,
                "body": json.dumps(
                    {"text": REPORT_RECEIVED.data.text, "anonymous": True, "consent": False},
                    ensure_ascii=False,
                ),
            }
        ),
        source="/adapters/hostile-test",
    )
    valid_report = ReportReceivedEvent.new(
        REPORT_RECEIVED.data.model_copy(update={"report_id": report_id}), source="/services/intake"
    )
    valid_update = AgencyUpdateEvent.new(
        AGENCY_ACCEPTED.data.model_copy(update={"report_id": report_id}),
        source=AGENCY_ACCEPTED.source,
    )
    dead_letter_topics = [dead_letter_topic("intake"), dead_letter_topic("routing")]
    async with (
        DeadLetters(kafka_bootstrap, dead_letter_topics) as dead_letters,
        TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejections,
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_REFUSED_TOPIC.name) as refusals,
    ):
        sent = await send_all(kafka_bootstrap, batches)
        for event in (valid_raw, valid_report):
            await send_event(kafka_bootstrap, event)
        # The update comes once its report is assigned: it is then applied, not refused.
        await assignments.wait_for(lambda e: e.data.report_id == report_id, timeout_s=WAIT_S)
        await send_event(kafka_bootstrap, valid_update)

        # Valid records behind the poison are processed: intake's report of the raw
        # message is published (and routing assigns it; the reports topic itself holds
        # poison, so it is watched through the assignments).
        normalized = intake_report_id(Channel.APP.value, message_id)
        await assignments.wait_for(lambda e: e.data.report_id == normalized, timeout_s=WAIT_S)
        OUTCOMES[f"{CHANNEL_RAW_TOPIC.name} valid: report published"] += 1
        OUTCOMES[f"{REPORTS_TOPIC.name} valid: assigned"] += 1
        await statuses.wait_for(
            lambda e: e.data.report_id == report_id and e.data.status.value != "assigned",
            timeout_s=WAIT_S,
        )
        OUTCOMES[f"{AGENCY_UPDATES_TOPIC.name} valid: applied"] += 1

        # Every malformed record is refused with a reason, or parked with its bytes.
        refused = {item.poison.rejected_as for item in sent if item.poison.rejected_as}
        parked = [item for item in sent if not item.poison.rejected_as]
        await wait_until(
            lambda: refused <= {e.data.channel_message_id for _, e in rejections.seen},
            lambda: f"rejections of {sorted(refused)}",
            lambda: rejections.settle(0),
        )
        await wait_until(
            lambda: all((item.topic, item.offset) in dead_letters.found for item in parked),
            lambda: (
                "not in a dead-letter topic: "
                + ", ".join(
                    f"{item.topic}@{item.offset} {item.poison.kind}"
                    for item in parked
                    if (item.topic, item.offset) not in dead_letters.found
                )
            ),
            dead_letters.poll,
        )
        await refusals.settle(0)

    for item in parked:
        value, header_list = dead_letters.found[(item.topic, item.offset)]
        headers = dict(header_list)  # the dead letter's own headers come last
        what = f"{item.topic}@{item.offset} ({item.poison.kind})"
        assert value == item.poison.value, f"{what}: the dead letter is not the original bytes"
        assert headers[DeadLetterHeader.REASON].strip(), f"{what}: no reason"
        service = "intake" if item.topic == CHANNEL_RAW_TOPIC.name else "routing"
        assert headers[DeadLetterHeader.SERVICE] == service.encode()
        assert header_list[: len(item.poison.headers)] == list(item.poison.headers), what
        OUTCOMES[f"{item.topic} {item.poison.kind}: dead-lettered"] += 1
    for _, event in rejections.seen:
        if event.data.channel_message_id in refused:
            assert event.data.reason.value in ("invalid_payload", "other", "too_long"), event.data
            assert event.data.detail
            OUTCOMES[
                f"{CHANNEL_RAW_TOPIC.name} refused payload: rejected {event.data.reason.value}"
            ] += 1
    assert not [e for _, e in refusals.seen if e.data.report_id == report_id], "update refused"
    assert await healthz(platform.intake) == 200
    assert await healthz(platform.routing) == 200
    assert platform.intake.started and platform.routing.started
