"""Notify's handlers under FastStream's test broker: contract events in, messages out.

The real subscriptions, handlers, domain, templates and courier (contacts sealed and
opened with a real key), with the database, the providers and Kafka's producer as
in-memory twins (tests/support/notify.py). What is asserted is what a citizen or an
operator notices: which messages a citizen gets, in which words, on which channel, how
many, and the events and dead letters that prove it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from notify.adapters.courier import Courier, KeyPending
from notify.app import checked_templates
from notify.config import load_notify_config
from notify.domain.telling import Telling, receipt_notifications
from notify.handlers import NotifyHandlers, subscribe
from notify.metrics import NotifyMetrics
from notify.settings import Settings
from phananh_contracts import (
    NOTIFICATIONS_TOPIC,
    REPORTS_TOPIC,
    CitizenRepliedEvent,
    ContactKeyDestroyed,
    ContactKeyDestroyedEvent,
    ReportAssignedEvent,
    Reporter,
    ReportReceivedEvent,
    dead_letter_topic,
)
from phananh_contracts.examples import CITIZEN_REPLIED, REPORT_ASSIGNED, REPORT_RECEIVED
from phananh_platform.privacy import ContactSealer, SealedContact, key_id_of, new_contact_key
from phananh_platform.runtime import ServiceApp, build_service
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tests.support.delivery import MemorySink, under_test_broker
from tests.support.notify import (
    AcceptingProvider,
    FilingSealer,
    KeptProducer,
    MemoryContactKeys,
    MemoryNotificationLog,
    MemoryOptOuts,
    MemoryReportBook,
    accepting_providers,
)
from tests.support.reports import tracking_code

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_notify_config(ROOT / "config/son-la/notify.yaml")
TEMPLATES = checked_templates(CONFIG)
KEY = new_contact_key()
KEYS = MemoryContactKeys()
SEALER = FilingSealer(KEY, KEYS)

APP_CITIZEN = SealedContact(channel="app", phone="+84912345678", name="Lò Văn Minh")
ZALO_CITIZEN = SealedContact(
    channel="zalo", channel_user_ref="zalo-user-8841", phone="+84987654321"
)


def reporter_with(contact: SealedContact, pseudonym: str) -> Reporter:
    sealed = SEALER.seal(contact, pseudonym)
    return Reporter(anonymous=False, pseudonym=pseudonym, contact_ciphertext=sealed)


def report(number: int, reporter: Reporter) -> ReportReceivedEvent:
    data = REPORT_RECEIVED.data.model_copy(
        update={
            "report_id": f"rpt-{number:06d}",
            "tracking_code": tracking_code(number),
            "reporter": reporter,
        }
    )
    return ReportReceivedEvent.new(data, source="/services/intake", id=str(uuid.uuid4()))


def assignment(of: ReportReceivedEvent) -> ReportAssignedEvent:
    data = REPORT_ASSIGNED.data.model_copy(
        update={"report_id": of.data.report_id, "tracking_code": of.data.tracking_code}
    )
    return ReportAssignedEvent.new(data, source="/services/routing", id=str(uuid.uuid4()))


@dataclass
class Notify:
    """Notify's subscriptions over in-memory twins, and what they let a test see."""

    service: ServiceApp
    providers: dict[str, AcceptingProvider]
    producer: KeptProducer

    def sent(self) -> dict[str, list[str]]:
        """Provider id -> the template of each message it carried (providers used only)."""
        return {
            provider_id: [message.template_id for message in provider.messages]
            for provider_id, provider in self.providers.items()
            if provider.messages
        }

    def metric(self, name: str, **labels: str) -> float:
        return self.service.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def notify() -> Notify:
    """Wired as ``notify.app.create_app`` wires it, with twins where it reaches a server."""
    settings = Settings(contact_keys=[SecretStr(KEY)])
    service = build_service("notify", settings, uses_database=False)
    metrics = NotifyMetrics(service.registry)
    providers = accepting_providers(CONFIG)
    producer = KeptProducer()
    courier = Courier(
        config=CONFIG,
        templates=TEMPLATES,
        providers=providers,
        sealer=ContactSealer([key.get_secret_value() for key in settings.contact_keys]),
        keys=KEYS,  # type: ignore[arg-type]
        log=MemoryNotificationLog(),  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        metrics=metrics,
    )
    handlers = NotifyHandlers(
        CONFIG,
        MemoryReportBook(),  # type: ignore[arg-type]
        MemoryOptOuts(),  # type: ignore[arg-type]
        courier,
        metrics,
        KEYS,  # type: ignore[arg-type]
    )
    subscribe(service, handlers)
    return Notify(service, providers, producer)


@pytest.fixture
async def broker(notify: Notify) -> AsyncIterator[tuple[Any, MemorySink]]:
    async with under_test_broker(notify.service) as running:
        yield running


async def publish(
    broker: Any, *events: ReportReceivedEvent | ReportAssignedEvent | CitizenRepliedEvent
) -> None:
    """Each event on its topic, in one batch per topic (as one fetch would hand them)."""
    records = [event.to_kafka() for event in events]
    for topic in dict.fromkeys(record.topic for record in records):
        await broker.publish_batch(
            *(record.value for record in records if record.topic == topic), topic=topic
        )


async def test_a_citizen_gets_one_receipt_with_their_tracking_code_on_their_own_channel(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    test_broker, dead_letters = broker
    citizen = report(1, reporter_with(ZALO_CITIZEN, "ctz-zalo-0001"))
    anonymous = report(2, Reporter(anonymous=True))

    await publish(test_broker, citizen, anonymous)

    assert notify.sent() == {"zalo-oa": ["report-received"]}, "one receipt, in Zalo, to them"
    (message,) = notify.providers["zalo-oa"].messages
    assert message.contact == ZALO_CITIZEN, "the sealed contact was opened to send"
    assert f"Mã tra cứu: {citizen.data.tracking_code}." in message.rendered.text
    assert "Phản ánh, kiến nghị của bạn" in message.rendered.text

    assert [record.topic for record in notify.producer.records] == [NOTIFICATIONS_TOPIC.name]
    (told,) = notify.producer.events()
    assert told.type == "vn.pakn.notification.sent"
    assert (told.data.report_id, told.data.trigger_event_id) == (citizen.data.report_id, citizen.id)
    assert (told.data.recipient_pseudonym, told.data.provider) == ("ctz-zalo-0001", "zalo-oa")
    assert (told.data.channel, told.data.template_id) == ("zalo", "report-received")
    assert notify.metric("pakn_notify_skipped_total", reason="anonymous") == 1
    assert dead_letters.records == []


async def test_a_batch_delivered_twice_tells_nobody_anything_twice(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    test_broker, dead_letters = broker
    first = report(3, reporter_with(APP_CITIZEN, "ctz-app-0003"))
    second = report(4, reporter_with(ZALO_CITIZEN, "ctz-zalo-0004"))

    await publish(test_broker, first, second)
    await publish(test_broker, first, second)  # the commit was lost: the batch comes back

    assert notify.sent() == {"app-push": ["report-received"], "zalo-oa": ["report-received"]}
    events = notify.producer.events()
    assert [event.type for event in events] == ["vn.pakn.notification.sent"] * 2
    assert {event.data.report_id for event in events} == {"rpt-000003", "rpt-000004"}
    assert notify.metric("pakn_notify_redelivered_total") == 2, "seen again, not sent again"
    assert dead_letters.records == []


async def test_an_assignment_that_overtakes_the_receipt_is_told_once_the_receipt_arrives(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    test_broker, dead_letters = broker
    citizen = report(5, reporter_with(APP_CITIZEN, "ctz-app-0005"))
    assigned = assignment(citizen)

    await publish(test_broker, assigned)  # routing was faster than notify's reports consumer
    assert notify.metric("pakn_notify_skipped_total", reason="parked") == 1, "kept, not told"

    await publish(test_broker, citizen)
    assert notify.sent() == {"app-push": ["report-received", "report-assigned"]}, "then told"
    await publish(test_broker, assigned)  # and the assignment comes again: told already
    assert notify.sent() == {"app-push": ["report-received", "report-assigned"]}

    receipt, told = (message.rendered.text for message in notify.providers["app-push"].messages)
    assert f"Mã tra cứu: {citizen.data.tracking_code}." in receipt
    assert citizen.data.tracking_code in told
    assert "Ủy ban nhân dân phường Chiềng Sinh chủ trì giải quyết" in told
    assert "17 giờ 00, thứ Ba, ngày 21/3/2023" in told, "the deadline on Sơn La's clock"
    events = notify.producer.events()
    assert [(event.type, event.data.trigger_event_id) for event in events] == [
        ("vn.pakn.notification.sent", citizen.id),
        ("vn.pakn.notification.sent", assigned.id),
    ]
    assert dead_letters.records == []


async def test_a_poison_record_is_dead_lettered_and_the_report_beside_it_is_still_told(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    test_broker, dead_letters = broker
    citizen = report(6, reporter_with(APP_CITIZEN, "ctz-app-0006"))
    poison = b'{"specversion": "1.0", "type": "vn.pakn.report.received"'

    await test_broker.publish_batch(
        poison, citizen.to_kafka().value, topic=REPORTS_TOPIC.name
    )  # one fetch: the poison first, the valid report after it

    (dead,) = dead_letters.records
    assert dead["topic"] == dead_letter_topic("notify") == "pakn.dlq.notify.v1"
    assert dead["value"] == poison, "the original bytes, for an operator to inspect"
    headers = dict(dead["headers"])
    assert headers["x-dlq-source-topic"] == REPORTS_TOPIC.name.encode()
    assert headers["x-dlq-reason"]
    assert notify.sent() == {"app-push": ["report-received"]}
    (told,) = notify.producer.events()
    assert (told.type, told.data.report_id) == ("vn.pakn.notification.sent", "rpt-000006")


def rating(of: ReportReceivedEvent, stars: int, by: Reporter) -> CitizenRepliedEvent:
    data = CITIZEN_REPLIED.data.model_copy(
        update={
            "report_id": of.data.report_id,
            "tracking_code": of.data.tracking_code,
            "channel_message_id": f"reply-{uuid.uuid4().hex[:8]}",
            "text": f"Mã {of.data.tracking_code}: đánh giá {stars}/5.",
            "rating": stars,
            "reporter": by,
        }
    )
    return CitizenRepliedEvent.new(data, source="/services/intake", id=str(uuid.uuid4()))


async def test_only_the_reporter_is_thanked_for_rating_their_report(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    """Only the reporter's rating closes or reopens a report (routing): someone else who
    rates it with its tracking code is not told that their opinion went to the agency."""
    test_broker, dead_letters = broker
    citizen = report(6, reporter_with(APP_CITIZEN, "ctz-app-0006"))
    stranger = reporter_with(ZALO_CITIZEN, "ctz-zalo-0007")
    await publish(test_broker, citizen)

    theirs, mine = rating(citizen, 1, stranger), rating(citizen, 1, citizen.data.reporter)
    await publish(test_broker, theirs, mine)

    assert notify.sent() == {"app-push": ["report-received", "rating-thanks"]}
    thanks = notify.providers["app-push"].messages[-1].rendered.text
    code = citizen.data.tracking_code
    assert f"Cảm ơn bạn đã đánh giá kết quả giải quyết phản ánh {code}: 1/5." in thanks
    assert notify.metric("pakn_notify_skipped_total", reason="not_reporter") == 1
    assert dead_letters.records == []


def destroyed(sealed: str, pseudonym: str) -> ContactKeyDestroyedEvent:
    return ContactKeyDestroyedEvent.new(
        ContactKeyDestroyed(
            key_id=key_id_of(sealed) or "",
            pseudonym=pseudonym,
            request_id="forget-test",
            reason="the citizen's request",
            destroyed_by="ioc",
            destroyed_at=datetime.now(UTC),
        ),
        source="/operators/ioc",
    )


async def test_a_forgotten_citizen_is_told_nothing_more(
    notify: Notify, broker: tuple[Any, MemorySink]
) -> None:
    test_broker, dead_letters = broker
    citizen = report(5, reporter_with(APP_CITIZEN, "ctz-app-0005"))
    await publish(test_broker, citizen)
    assert notify.sent() == {"app-push": ["report-received"]}

    sealed = citizen.data.reporter.contact_ciphertext or ""
    forget = destroyed(sealed, "ctz-app-0005").to_kafka()
    await test_broker.publish(forget.value, topic=forget.topic, key=forget.key)
    await publish(test_broker, assignment(citizen))

    assert notify.sent() == {"app-push": ["report-received"]}, "nothing after the receipt"
    failed = [e for e in notify.producer.events() if e.type == "vn.pakn.notification.failed"]
    assert [(e.data.template_id, e.data.permanent) for e in failed] == [("report-assigned", True)]
    assert "forgotten" in failed[0].data.reason
    assert notify.metric("pakn_notify_contact_keys_destroyed_total") == 1
    assert (
        notify.metric("pakn_notify_failed_total", provider="none", reason="contact_forgotten") == 1
    )
    assert dead_letters.records == []


async def test_a_contact_whose_key_has_not_arrived_waits_for_it_then_fails() -> None:
    metrics = NotifyMetrics(CollectorRegistry())
    keys, producer = MemoryContactKeys(), KeptProducer()
    unfiled = FilingSealer(KEY)  # its keys are not filed until published
    courier = Courier(
        config=CONFIG,
        templates=TEMPLATES,
        providers=accepting_providers(CONFIG),
        sealer=ContactSealer([KEY]),
        keys=keys,  # type: ignore[arg-type]
        log=MemoryNotificationLog(),  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        metrics=metrics,
        key_wait_s=3600,
    )
    sealed = unfiled.seal(APP_CITIZEN, "ctz-6")
    early = report(6, Reporter(anonymous=False, pseudonym="ctz-6", contact_ciphertext=sealed))
    telling = Telling()
    receipt_notifications(early, {}, telling)

    with pytest.raises(KeyPending):  # transient: the batch comes back
        await courier.deliver_all(telling.notifications)
    assert producer.records == [] and not courier.providers["app-push"].messages  # type: ignore[attr-defined]

    await keys.file([event.data for event in unfiled.key_events()])  # the key arrives
    await courier.deliver_all(telling.notifications)
    assert [m.contact for m in courier.providers["app-push"].messages] == [APP_CITIZEN]  # type: ignore[attr-defined]

    # A key that never arrives: after key_wait_s the notification fails, for good.
    courier.key_wait_s = 0
    lost = report(
        7,
        Reporter(
            anonymous=False,
            pseudonym="ctz-7",
            contact_ciphertext=FilingSealer(KEY).seal(APP_CITIZEN, "ctz-7"),
        ),
    )
    telling = Telling()
    receipt_notifications(lost, {}, telling)
    await courier.deliver_all(telling.notifications)
    (failed,) = [e for e in producer.events() if e.type == "vn.pakn.notification.failed"]
    assert failed.data.report_id == lost.data.report_id and failed.data.permanent
