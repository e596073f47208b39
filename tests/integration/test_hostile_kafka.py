"""Hostile bytes on Kafka: poison never blocks a partition, and nothing is dropped silently.

All four services run in this process, as ``create_app`` builds them, on the real broker
and database. Thousands of malformed records go to every topic a service consumes: random
bytes, truncated and invalid JSON, text that is not UTF-8, JSON without the CloudEvents
attributes or with wrong ones, another topic's event type, oversized records, valid
envelopes around invalid data, and raw messages whose body no channel parser accepts.
Then one valid record follows on the input topics, in the same partition, behind the
poison.

Every malformed record must be refused with a reason (a raw message intake can read but
whose payload its parser refuses: a ``ReportRejected`` on ``pakn.reports.rejected.v1``,
as docs/intake.md §4.9 says) or be in the dead-letter topic of *every* service that
consumes its topic, with its original value bytes and headers and ``x-dlq-reason``; every
valid record must be processed; every service must still answer ``/healthz``.
``PHANANH_HOSTILE_KAFKA_RECORDS`` sets how many malformed records are sent (default
10,000); the outcomes are counted and printed.
"""

from __future__ import annotations

import asyncio
import json
import os
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
from audit.app import create_app as create_audit
from audit.domain.checkpoints import generate_signing_key, load_signing_key, public_key_text
from audit.settings import Settings as AuditSettings
from intake.app import create_app as create_intake
from intake.domain.tracking import report_id as intake_report_id
from intake.settings import Settings as IntakeSettings
from notify.app import create_app as create_notify
from notify.settings import Settings as NotifySettings
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    Channel,
    DeadLetterHeader,
    Event,
    RawChannelMessageReceivedEvent,
    ReportReceivedEvent,
    Topic,
    agency_updates_topic,
    dead_letter_topic,
)
from phananh_contracts.examples import (
    ACKNOWLEDGEMENT_SENT,
    AGENCY_ACCEPTED,
    CITIZEN_REPLIED,
    DEADLINE_WARNING,
    RAW_MESSAGE_RECEIVED,
    REPORT_ASSIGNED,
    REPORT_RECEIVED,
    REPORT_REJECTED,
    STATUS_ASSIGNED,
)
from phananh_platform.kafka import ensure_topics
from phananh_platform.metrics import consumer_groups
from phananh_platform.privacy import new_contact_key
from phananh_platform.runtime import ServiceApp
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from routing.app import create_app as create_routing
from routing.settings import Settings as RoutingSettings

from tests.support.kafka import TopicWatcher
from tests.support.platform import notify_config
from tests.support.providers import MailServer, ProviderServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTITION = 0
"""Every record of a topic goes to one partition: the valid one is truly behind the poison."""
WAIT_S = 180.0
RECORDS = int(os.environ.get("PHANANH_HOSTILE_KAFKA_RECORDS", "10000"))
"""How many malformed records a run sends, over every consumed topic."""
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


def fuzzed(rng: random.Random, valid: Event[Any], count: int) -> list[Poison]:
    """``count`` records made from a valid event by changes that always break it."""
    envelope = _event(valid)
    text = _bytes(envelope)
    required = ("specversion", "id", "source", "type", "time", "data")
    fields = [
        name
        for name, value in envelope["data"].items()
        if isinstance(value, str | int | float | bool | list)
    ]
    found = []
    for number in range(count):
        match number % 6:
            case 0:
                found.append(Poison("fuzz: random bytes", rng.randbytes(rng.randint(1, 2000))))
            case 1:
                cut = rng.randint(1, len(text) - 1)
                found.append(Poison("fuzz: truncated", text[:cut]))
            case 2:
                at = rng.randint(0, len(text))
                bad = rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xfe"))
                found.append(Poison("fuzz: not UTF-8", text[:at] + bad + text[at:]))
            case 3:
                gone = rng.choice(required)
                document = {name: value for name, value in envelope.items() if name != gone}
                found.append(Poison("fuzz: attribute missing", _bytes(document)))
            case 4:
                broken = rng.choice(required)
                bad_value = rng.choice(([1, 2], {"$gt": ""}, True, 12.5))
                found.append(Poison("fuzz: wrong type", _bytes({**envelope, broken: bad_value})))
            case _:
                junk = rng.randbytes(rng.randint(1, 30)).hex()
                field = rng.choice(fields)  # a field the event has, given an operator object
                data = {**envelope["data"], field: {"$where": junk}}
                found.append(Poison("fuzz: invalid data", _bytes({**envelope, "data": data})))
    return found


# --- the services ----------------------------------------------------------------------


@dataclass
class Platform:
    services: dict[str, ServiceApp]

    def consumers_of(self, topic: str) -> list[str]:
        """The services whose consumer groups read ``topic``."""
        return [
            name
            for name, service in self.services.items()
            if any(group.reads(topic) for group in consumer_groups(service.broker.subscribers))
        ]


@pytest.fixture
async def platform(
    kafka_settings: KafkaSettings, mongodb_url: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    await ensure_topics(kafka_settings, ALL_TOPICS)

    def mongo() -> MongoSettings:
        return MongoSettings(url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}")

    contact_key = SecretStr(new_contact_key())
    signing_key = generate_signing_key()
    intake = create_intake(
        IntakeSettings(
            kafka=kafka_settings,
            mongodb=mongo(),
            city_config=ROOT / "config" / "son-la" / "city.yaml",
            tracking_secret=SecretStr("tracking-secret-for-tests-0123456789"),
            contact_keys=[contact_key],
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
    audit = create_audit(
        AuditSettings(
            kafka=kafka_settings,
            mongodb=mongo(),
            audit_signing_key=SecretStr(signing_key),
            audit_public_keys=[public_key_text(load_signing_key(signing_key).public_key())],
            audit_checkpoint_interval_s=3600,
            retry_backoff_max_s=1.0,
        )
    )
    async with ProviderServer() as http:
        with MailServer() as mail:
            notify = create_notify(
                NotifySettings(
                    kafka=kafka_settings,
                    mongodb=mongo(),
                    notify_config=notify_config(tmp_path, http, mail.port),
                    contact_keys=[contact_key],
                    notify_provider_secrets={
                        name: SecretStr(f"token-of-{name}")
                        for name in ("app-push", "zalo-oa", "zalo-zns", "sms", "facebook")
                    },
                    retry_backoff_max_s=1.0,
                )
            )
            async with intake.running(), routing.running(), notify.running(), audit.running():
                yield Platform(
                    {"intake": intake, "routing": routing, "notify": notify, "audit": audit}
                )
    print(f"\nhostile Kafka records: {sum(OUTCOMES.values())} outcomes")
    for outcome, count in sorted(OUTCOMES.items()):
        print(f"  {count:6d}  {outcome}")


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
    pending: list[tuple[Poison, str, asyncio.Future[Any]]] = []
    try:
        for topic, poison in batches.items():
            for record in poison:
                delivery = await producer.send(
                    topic,
                    record.value,
                    key=record.key,
                    partition=PARTITION,
                    headers=list(record.headers),
                )
                pending.append((record, topic, delivery))
        return [Sent(record, topic, (await where).offset) for record, topic, where in pending]
    finally:
        await producer.stop()


async def send_event(bootstrap: str, event: Event[Any], topic: Topic | None = None) -> None:
    record = event.to_kafka(topic)
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
        self.found: dict[tuple[str, str, int], tuple[bytes | None, list[tuple[str, bytes]]]] = {}
        """(service, source topic, source offset) -> (value, headers)."""

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
                service = headers.get(DeadLetterHeader.SERVICE, b"").decode()
                source = headers.get(DeadLetterHeader.SOURCE_TOPIC, b"").decode()
                offset = int(headers.get(DeadLetterHeader.SOURCE_OFFSET, b"-1"))
                if headers.get(DeadLetterHeader.SOURCE_PARTITION) == str(PARTITION).encode():
                    self.found[(service, source, offset)] = (record.value, list(record.headers))


async def wait_until(check: Callable[[], Any], what: Callable[[], str], *polls: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"after {WAIT_S}s: {what()}"
        for poll in polls:
            await poll()


# --- the test --------------------------------------------------------------------------


async def test_poison_on_every_consumed_topic_is_parked_or_refused_and_valid_records_flow(
    platform: Platform, kafka_bootstrap: str
) -> None:
    rng = random.Random(7)
    # The lead's own updates topic, where its system writes (routing's gate reads it), and
    # the updates routing admitted (routing's cases and audit read them).
    ward_updates = agency_updates_topic(AGENCY_ACCEPTED.data.agency_id)
    named = {
        CHANNEL_RAW_TOPIC.name: raw_poison(rng),
        REPORTS_TOPIC.name: reports_poison(rng),
        ward_updates.name: updates_poison(rng),
        AGENCY_UPDATES_TOPIC.name: updates_poison(rng),
    }
    valid_of = {
        CHANNEL_RAW_TOPIC.name: RAW_MESSAGE_RECEIVED,
        REPORTS_TOPIC.name: REPORT_RECEIVED,
        ward_updates.name: AGENCY_ACCEPTED,
        AGENCY_UPDATES_TOPIC.name: AGENCY_ACCEPTED,
        ASSIGNMENTS_TOPIC.name: REPORT_ASSIGNED,
        REPORT_STATUS_TOPIC.name: STATUS_ASSIGNED,
        DEADLINES_TOPIC.name: DEADLINE_WARNING,
        NOTIFICATIONS_TOPIC.name: ACKNOWLEDGEMENT_SENT,
        CITIZEN_REPLIES_TOPIC.name: CITIZEN_REPLIED,
        REPORTS_REJECTED_TOPIC.name: REPORT_REJECTED,
    }
    for topic, valid in valid_of.items():
        assert platform.consumers_of(topic), f"nobody consumes {topic}?"
        if topic not in named:
            named[topic] = common_poison(
                rng, valid, REPORT_RECEIVED if valid is not REPORT_RECEIVED else AGENCY_ACCEPTED
            )
    named_count = sum(len(poison) for poison in named.values())
    per_topic = max(0, RECORDS - named_count) // len(valid_of) + 1
    batches = {
        topic: named[topic] + fuzzed(rng, valid, per_topic) for topic, valid in valid_of.items()
    }
    report_id = str(uuid.uuid4())
    message_id = f"valid-{uuid.uuid4().hex[:12]}"
    valid_raw = RawChannelMessageReceivedEvent.new(
        RAW_MESSAGE_RECEIVED.data.model_copy(
            update={
                "channel_message_id": message_id,
                "body": json.dumps(
                    {
                        "text": REPORT_RECEIVED.data.text,
                        "anonymous": False,
                        "consent": True,
                        "contact": {"phone": "0912 345 678"},
                    },
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
    dead_letter_topics = [dead_letter_topic(name) for name in platform.services]
    async with (
        DeadLetters(kafka_bootstrap, dead_letter_topics) as dead_letters,
        TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejections,
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_REFUSED_TOPIC.name) as refusals,
        TopicWatcher(kafka_bootstrap, NOTIFICATIONS_TOPIC.name) as notifications,
    ):
        sent = await send_all(kafka_bootstrap, batches)
        OUTCOMES["malformed records sent"] = len(sent)
        assert len(sent) >= RECORDS
        for event in (valid_raw, valid_report):
            await send_event(kafka_bootstrap, event)
        # The update comes once its report is assigned: it is then applied, not refused.
        await assignments.wait_for(lambda e: e.data.report_id == report_id, timeout_s=WAIT_S)
        await send_event(kafka_bootstrap, valid_update, ward_updates)  # through the gate

        # Valid records behind the poison are processed: intake's report of the raw
        # message is published, routing assigns it, notify tells the citizen, audit records
        # it (the reports topic itself holds poison, so it is watched through its effects).
        normalized = intake_report_id(Channel.APP.value, message_id)
        await assignments.wait_for(lambda e: e.data.report_id == normalized, timeout_s=WAIT_S)
        OUTCOMES[f"{CHANNEL_RAW_TOPIC.name} valid: report published"] += 1
        OUTCOMES[f"{REPORTS_TOPIC.name} valid: assigned"] += 1
        await notifications.wait_for(
            lambda e: e.data.report_id == normalized and e.type.endswith("sent"), timeout_s=WAIT_S
        )
        OUTCOMES[f"{REPORTS_TOPIC.name} valid: citizen told"] += 1
        await statuses.wait_for(
            lambda e: e.data.report_id == report_id and e.data.status.value != "assigned",
            timeout_s=WAIT_S,
        )
        OUTCOMES[f"{ward_updates.name} valid: admitted and applied"] += 1

        # Every malformed record is refused with a reason, or parked with its bytes by
        # every service that reads its topic.
        refused = {item.poison.rejected_as for item in sent if item.poison.rejected_as}
        expected = [
            (service, item)
            for item in sent
            for service in platform.consumers_of(item.topic)
            if not (item.poison.rejected_as and service == "intake")
        ]
        await wait_until(
            lambda: refused <= {e.data.channel_message_id for _, e in rejections.seen},
            lambda: f"rejections of {sorted(refused)}",
            lambda: rejections.settle(0),
        )

        def missing() -> list[str]:
            return [
                f"{service}: {item.topic}@{item.offset} {item.poison.kind}"
                for service, item in expected
                if (service, item.topic, item.offset) not in dead_letters.found
            ]

        await wait_until(
            lambda: not missing(),
            lambda: f"{len(missing())} not dead-lettered, e.g. {missing()[:10]}",
            dead_letters.poll,
        )
        await refusals.settle(0)

    for service, item in expected:
        value, header_list = dead_letters.found[(service, item.topic, item.offset)]
        headers = dict(header_list)  # the dead letter's own headers come last
        what = f"{service}: {item.topic}@{item.offset} ({item.poison.kind})"
        assert value == item.poison.value, f"{what}: the dead letter is not the original bytes"
        assert headers[DeadLetterHeader.REASON].strip(), f"{what}: no reason"
        assert headers[DeadLetterHeader.SERVICE] == service.encode()
        assert header_list[: len(item.poison.headers)] == list(item.poison.headers), what
        OUTCOMES[f"{item.topic} → {service}: dead-lettered"] += 1
    for _, event in rejections.seen:
        if event.data.channel_message_id in refused:
            assert event.data.reason.value in ("invalid_payload", "other", "too_long"), event.data
            assert event.data.detail
            OUTCOMES[
                f"{CHANNEL_RAW_TOPIC.name} refused payload: rejected {event.data.reason.value}"
            ] += 1
    assert not [e for _, e in refusals.seen if e.data.report_id == report_id], "update refused"
    audit = platform.services["audit"]
    assert audit.mongo is not None
    trail = audit.mongo[audit.settings.mongodb.database]["audit_trail"]
    assert await trail.count_documents({"report_id": normalized}) >= 1, "valid report not audited"
    for name, service in platform.services.items():
        assert await healthz(service) == 200, name
        assert service.started, name
