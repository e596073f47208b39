"""Intake's normalizer under FastStream's test broker, with its store and producer in
memory: raw channel messages published on pakn.channel.raw.v1 go through the real wiring
(``intake.handlers.subscribe``) and the Sơn La city configuration.

(``test_intake_handlers.py`` runs the same path on the real Kafka broker and database.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from intake.config import load_city_config
from intake.domain.channels.city_app import AppReport
from intake.domain.normalize import Keys
from intake.domain.tracking import tracking_code
from intake.handlers import Normalizer, ReadModel, subscribe
from intake.metrics import IntakeMetrics
from intake.settings import Settings
from phananh_contracts import (
    CHANNEL_RAW_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    Channel,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
)
from phananh_platform.privacy import ContactSealer, new_contact_key
from phananh_platform.runtime import ServiceApp, build_service
from pydantic import SecretStr

from tests.support.delivery import under_test_broker
from tests.support.intake import MemoryIntakeStore
from tests.support.kafka import KeptRecords

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
TRACKING_SECRET = "tracking-secret-for-tests-0123456789"
NOW = datetime(2023, 3, 14, 1, 13, tzinfo=UTC)
LAMP = "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối"
MARKET: dict[str, Any] = AppReport.model_json_schema()["examples"][0]
"""The app's documented example: pork and fish sold outside Noong Đúc market (Chiềng
Sinh ward), with the citizen's name and phone, consent given."""


def app_message(message_id: str, text: str) -> RawChannelMessageReceivedEvent:
    """A message from the city's app, as intake's HTTP front puts it on the raw topic."""
    body = {"text": text, "anonymous": True, "consent": False}
    return app_body(message_id, json.dumps(body, ensure_ascii=False))


def app_body(message_id: str, body: str) -> RawChannelMessageReceivedEvent:
    """What the app sent (``body``, as it came) on the raw topic."""
    return RawChannelMessageReceivedEvent.new(
        RawChannelMessageReceived(
            channel=Channel.APP,
            channel_message_id=message_id,
            received_at=NOW,
            content_type="application/json",
            body=body,
            body_encoding="utf-8",
            authenticated_as="api-key:app:test",
        ),
        source="/channels/app",
    )


@dataclass
class Intake:
    service: ServiceApp
    published: KeptRecords
    store: MemoryIntakeStore

    def reports(self) -> list[Any]:
        return [event.data for event in self.published.events(REPORTS_TOPIC)]


@pytest.fixture
def intake() -> Iterator[Intake]:
    """Intake's own subscriptions (``subscribe``) over an in-memory store and producer."""
    settings = Settings(
        city_config=ROOT / "config/son-la/city.yaml",
        tracking_secret=SecretStr(TRACKING_SECRET),
        contact_keys=[SecretStr(new_contact_key())],
        pseudonym_key=SecretStr("pseudonym-key-for-tests-0123456789"),
    )
    service = build_service("intake", settings, uses_database=False)
    published, store = KeptRecords(), MemoryIntakeStore()
    keys = Keys(
        tracking_secret=TRACKING_SECRET.encode(),
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
    )
    normalizer = Normalizer(
        load_city_config(settings.city_config),
        keys,
        ContactSealer([k.get_secret_value() for k in settings.contact_keys]),
        store,  # type: ignore[arg-type]  # an IntakeStore twin
        published,  # type: ignore[arg-type]  # a RecordProducer twin
        IntakeMetrics(service.registry),
        clock=lambda: NOW,
    )
    subscribe(service, normalizer, ReadModel(store))  # type: ignore[arg-type]
    yield Intake(service, published, store)


async def publish(broker: Any, *events: RawChannelMessageReceivedEvent) -> None:
    """Each event on the raw topic, one record (and one fetched batch) at a time."""
    for event in events:
        record = event.to_kafka()
        await broker.publish(record.value, topic=record.topic, key=record.key)


async def test_a_message_from_the_app_becomes_a_report_with_its_tracking_code(
    intake: Intake,
) -> None:
    raw = app_body(MARKET["client_message_id"], json.dumps(MARKET, ensure_ascii=False))
    async with under_test_broker(intake.service) as (broker, dead_letters):
        await publish(broker, raw)

    (report,) = intake.reports()
    assert report.channel_message_id == raw.data.channel_message_id
    assert re.fullmatch(r"SL-2303-[0-9A-HJKMNP-TV-Z]{6}", report.tracking_code)
    assert report.tracking_code == tracking_code(
        TRACKING_SECRET.encode(), "SL", "app", raw.data.channel_message_id, raw.data.received_at
    ), "the code the app was given when it sent the message"
    assert (report.category, report.place.ward_code) == ("urban_order", "03679")
    assert not report.needs_triage
    (record,) = [r for r in intake.published.records if r.topic == REPORTS_TOPIC.name]
    assert report.reporter.contact_ciphertext, "the citizen can be answered"
    phone = MARKET["contact"]["phone"].removeprefix("0").encode()  # as written or E.164
    assert phone not in record.value, "… the contact travels sealed"
    assert MARKET["contact"]["name"].encode() not in record.value
    assert dead_letters.records == []


async def test_a_poison_record_is_dead_lettered_and_the_rest_of_its_batch_handled(
    intake: Intake,
) -> None:
    poison = b"\x00not a cloudevent"
    unreadable = app_body("app-unreadable", "{not json")
    before = app_message("app-lamp-1", LAMP)
    after = app_body("app-market-1", json.dumps(MARKET, ensure_ascii=False))
    async with under_test_broker(intake.service) as (broker, dead_letters):
        await broker.publish_batch(
            before.to_kafka().value,
            poison,
            unreadable.to_kafka().value,
            after.to_kafka().value,
            topic=CHANNEL_RAW_TOPIC.name,
        )

    (dead,) = dead_letters.records
    assert (dead["topic"], dead["value"]) == ("pakn.dlq.intake.v1", poison)
    assert dict(dead["headers"])["x-dlq-source-topic"] == CHANNEL_RAW_TOPIC.name.encode()
    reported = [report.channel_message_id for report in intake.reports()]
    assert reported == ["app-lamp-1", "app-market-1"]
    # A message inside a valid envelope that cannot be read is refused with a notice.
    (refused,) = [e.data for e in intake.published.events(REPORTS_REJECTED_TOPIC)]
    assert (refused.channel_message_id, refused.reason.value) == (
        "app-unreadable",
        "invalid_payload",
    )
    assert refused.citizen_notice.startswith("Tin nhắn của bạn không đọc được")


async def test_the_same_channel_message_twice_makes_one_report(intake: Intake) -> None:
    first = app_message("app-lamp-1", LAMP)
    # The app resent it (a new raw event, the same channel message id) …
    resent = app_message("app-lamp-1", LAMP)
    assert resent.id != first.id
    async with under_test_broker(intake.service) as (broker, dead_letters):
        await publish(broker, first)
        made = list(intake.published.records)
        await publish(broker, resent)
        await publish(broker, first)  # … and the raw record was redelivered
        await broker.publish_batch(  # … and both came again in one fetch
            first.to_kafka().value, resent.to_kafka().value, topic=CHANNEL_RAW_TOPIC.name
        )

    assert [r.topic for r in made] == [REPORTS_TOPIC.name]
    assert intake.published.records == made, "made something twice"
    assert len(intake.store.reports) == 1 and len(intake.store.handled) == 1
    assert dead_letters.records == []
