"""Notify on the real servers: events in from Kafka, messages out to local providers.

Kafka and the MongoDB-wire database are real; the providers are real local HTTP and
SMTP servers. What is asserted is what citizens and auditors notice: which messages
arrived, how many, in which words, and the events that prove it.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from notify.app import create_app
from notify.domain.notices import rejection_report_id
from notify.settings import Settings
from phananh_contracts import (
    ALL_TOPICS,
    NOTIFICATIONS_TOPIC,
    CitizenRepliedEvent,
    Event,
    ReportAssignedEvent,
    Reporter,
    ReportReceivedEvent,
    ReportRejectedEvent,
    ReportStatus,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import (
    CITIZEN_REPLIED,
    REPORT_ASSIGNED,
    REPORT_RECEIVED,
    REPORT_REJECTED,
    STATUS_RESOLVED,
)
from phananh_contracts.values import RejectionReason
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import SealedContact
from phananh_platform.runtime import ServiceApp
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from tests.support.kafka import TopicWatcher, publish_events
from tests.support.notify import FilingSealer
from tests.support.providers import MailServer, ProviderServer, Reply, refused_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
KEY = Fernet.generate_key().decode()
SEALER = FilingSealer(KEY)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def tracking_code() -> str:
    return "SL-2611-" + "".join(secrets.choice(CROCKFORD) for _ in range(6))


def reporter_with(contact: SealedContact) -> Reporter:
    pseudonym = f"ctz-{secrets.token_hex(12)}"
    return Reporter(
        anonymous=False, pseudonym=pseudonym, contact_ciphertext=SEALER.seal(contact, pseudonym)
    )


def report(reporter: Reporter, **changes: Any) -> ReportReceivedEvent:
    data = REPORT_RECEIVED.data.model_copy(
        update={
            "report_id": str(uuid.uuid4()),
            "tracking_code": tracking_code(),
            "reporter": reporter,
            **changes,
        }
    )
    return ReportReceivedEvent.new(data, source="/services/intake")


def assignment(of: ReportReceivedEvent) -> ReportAssignedEvent:
    data = REPORT_ASSIGNED.data.model_copy(
        update={"report_id": of.data.report_id, "tracking_code": of.data.tracking_code}
    )
    return ReportAssignedEvent.new(data, source="/services/routing")


def resolution(of: ReportReceivedEvent) -> ReportStatusChangedEvent:
    data = STATUS_RESOLVED.data.model_copy(
        update={
            "report_id": of.data.report_id,
            "tracking_code": of.data.tracking_code,
            "status": ReportStatus.RESOLVED,
        }
    )
    return ReportStatusChangedEvent.new(data, source="/services/routing")


def reply(of: ReportReceivedEvent, text: str, rating: int | None = None) -> CitizenRepliedEvent:
    data = CITIZEN_REPLIED.data.model_copy(
        update={
            "report_id": of.data.report_id,
            "tracking_code": of.data.tracking_code,
            "reporter": of.data.reporter,
            "text": text,
            "rating": rating,
            "channel_message_id": secrets.token_hex(8),
            "received_at": datetime.now(UTC),
        }
    )
    return CitizenRepliedEvent.new(data, source="/services/intake")


def write_config(tmp_path: Path, http: ProviderServer, smtp_port: int, zns_url: str) -> Path:
    document = yaml.safe_load((ROOT / "config/son-la/notify.yaml").read_text(encoding="utf-8"))
    document["templates_dir"] = str(ROOT / "config/son-la/notify/templates")
    urls = {
        "app-push": http.url("/push"),
        "zalo-oa": http.url("/zalo/oa"),
        "zalo-zns": zns_url,
        "sms": http.url("/sms"),
        "facebook": http.url("/facebook"),
    }
    for provider in document["providers"]:
        provider["timeout_s"] = 2
        if provider["id"] in urls:
            provider["url"] = urls[provider["id"]]
        if provider["kind"] == "smtp":
            provider.update(host="127.0.0.1", port=smtp_port, security="none", username=None)
    document["retry"] = {"max_attempts": 3, "base_delay_s": 0.05, "max_delay_s": 0.2}
    path = tmp_path / "notify.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


Servers = tuple[ProviderServer, MailServer]


@pytest.fixture
async def providers() -> AsyncIterator[Servers]:
    async with ProviderServer() as http:
        with MailServer(
            lambda address: (550, "no such user") if "khongton" in address else None
        ) as mail:
            yield http, mail


@pytest.fixture
async def notify(
    providers: Servers,
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    tmp_path: Path,
) -> AsyncIterator[ServiceApp]:
    http, mail = providers
    await ensure_topics(kafka_settings, ALL_TOPICS)
    settings = Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        notify_config=write_config(tmp_path, http, mail.port, zns_url=refused_url("/zns")),
        contact_keys=[SecretStr(KEY)],
        notify_provider_secrets={
            name: SecretStr(f"token-of-{name}")
            for name in ("app-push", "zalo-oa", "zalo-zns", "sms", "facebook")
        },
    )
    app = create_app(settings)
    async with app.running():
        yield app


async def publish(kafka: KafkaSettings, *events: Event[Any]) -> None:
    """The events, after the keys of the contacts sealed so far (as intake files them)."""
    keys = SEALER.key_events()
    await publish_events(kafka, *keys, *events, client_id="it-notify-source")


def about(*reports: ReportReceivedEvent | str) -> Callable[[Event[Any]], bool]:
    ids = {item if isinstance(item, str) else item.data.report_id for item in reports}
    return lambda event: event.data.report_id in ids


async def test_every_linked_citizen_is_told_each_event_exactly_once_even_when_redelivered(
    notify: ServiceApp, providers: Servers, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    http, _ = providers
    http.answer("/push", Reply(200, {"id": "push"}))
    app_citizen = SealedContact(channel="app", phone="+84912345678", name="Lò Văn Minh")
    zalo_citizen = SealedContact(channel="zalo", channel_user_ref="zalo-user-8841")
    first = report(reporter_with(app_citizen))
    duplicate = report(reporter_with(zalo_citizen), duplicate_of=first.data.report_id)
    anonymous = report(Reporter(anonymous=True))
    assigned = assignment(first)

    async with TopicWatcher(kafka_bootstrap, NOTIFICATIONS_TOPIC.name) as notifications:
        # The assignment overtakes the receipt; then everything is delivered again.
        await publish(kafka_settings, assigned, first, duplicate, anonymous)
        await publish(kafka_settings, first, assigned, duplicate, anonymous)
        told = await notifications.wait_for(about(first, duplicate), count=4, timeout_s=90)
        seen = await notifications.settle(3.0)

    assert {event.type for event in told} == {"vn.pakn.notification.sent"}
    mine = [event for event in seen if about(first, duplicate, anonymous)(event)]
    assert len(mine) == 4, "a citizen was told something twice, or the anonymous one was told"
    assert len({event.data.notification_id for event in mine}) == 4
    pushes, chats = http.to("/push"), http.to("/zalo/oa")
    assert len(pushes) == 2 and len(chats) == 2, "exactly one message per event and citizen"

    receipt, assigned_push = sorted(
        pushes, key=lambda r: r.body["data"]["template_id"] != "report-received"
    )
    code = first.data.tracking_code
    assert f"Mã tra cứu: {code}." in receipt.body["body"]
    assert receipt.body["recipient"]["phone"] == "+84912345678"
    assert "Ủy ban nhân dân phường Chiềng Sinh chủ trì giải quyết" in assigned_push.body["body"]
    assert "17 giờ 00, thứ Ba, ngày 21/3/2023" in assigned_push.body["body"]

    texts = sorted(chat.body["message"]["text"] for chat in chats)
    assert all(chat.body["recipient"] == {"user_id": "zalo-user-8841"} for chat in chats)
    linked = next(text for text in texts if "trùng với một phản ánh" in text)
    assert duplicate.data.tracking_code in linked
    told_zalo = next(text for text in texts if "chủ trì giải quyết" in text)
    assert duplicate.data.tracking_code in told_zalo, "the duplicate's reporter reads their code"

    for event in mine:  # the proof names pseudonyms, never contacts
        raw = event.model_dump_json()
        assert "912345678" not in raw and "zalo-user-8841" not in raw and "Lò Văn" not in raw
        assert event.data.recipient_pseudonym in {
            first.data.reporter.pseudonym,
            duplicate.data.reporter.pseudonym,
        }


async def test_an_outage_is_retried_then_falls_back_then_fails_with_the_reasons(
    notify: ServiceApp, providers: Servers, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    http, _ = providers
    citizen = SealedContact(channel="zalo", channel_user_ref="zalo-user-77", phone="+84987654321")
    retried, fell_back, failed = (report(reporter_with(citizen)) for _ in range(3))
    sent = "vn.pakn.notification.sent"

    async with TopicWatcher(kafka_bootstrap, NOTIFICATIONS_TOPIC.name) as notifications:
        # Zalo OA fails twice, then answers: the third attempt gets through.
        http.reply(Reply(503, {}), Reply(503, {}), path="/zalo/oa")
        await publish(kafka_settings, retried)
        (first,) = await notifications.wait_for(about(retried), timeout_s=90)

        # Zalo OA is down, ZNS refuses connections: SMS, the last resort, carries it.
        http.answer("/zalo/oa", Reply(503, {"error": -1, "message": "Service unavailable"}))
        await publish(kafka_settings, fell_back)
        (second,) = await notifications.wait_for(about(fell_back))

        # And when the SMS gateway refuses the message too, the notification fails.
        http.answer("/sms", Reply(400, {"detail": "brandname not registered"}))
        await publish(kafka_settings, failed)
        (third,) = await notifications.wait_for(about(failed))

    assert (first.type, first.data.provider, first.data.attempts) == (sent, "zalo-oa", 3)
    assert (second.type, second.data.provider, second.data.channel) == (sent, "sms", "sms")
    assert second.data.attempts == 7  # 3 on Zalo OA, 3 on ZNS, 1 on SMS
    sms_text = http.to("/sms")[0].body["text"]
    assert sms_text.isascii() and fell_back.data.tracking_code in sms_text
    assert "da tiep nhan phan anh" in sms_text

    assert third.type == "vn.pakn.notification.failed"
    assert (third.data.provider, third.data.attempts, third.data.permanent) == ("sms", 7, False)
    reason = third.data.reason
    assert "zalo-oa: HTTP 503" in reason and "(after 3 attempts)" in reason
    assert "zalo-zns: cannot connect" in reason
    assert "sms: HTTP 400" in reason and "brandname not registered" in reason
    assert "987654321" not in third.model_dump_json()


async def test_a_citizen_who_opts_out_gets_nothing_until_they_opt_back_in(
    notify: ServiceApp,
    providers: Servers,
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Any],
) -> None:
    _, mail = providers
    citizen = report(reporter_with(SealedContact(channel="email", email="cam.thi.lan@example.vn")))
    stranger = reporter_with(SealedContact(channel="email", email="khongton@example.vn"))
    rejected = ReportRejectedEvent.new(
        REPORT_REJECTED.data.model_copy(
            update={
                "channel_message_id": secrets.token_hex(8),
                "reason": RejectionReason.OUT_OF_SCOPE,
                "reporter": stranger,
                "citizen_notice": "Nội dung là khiếu nại, đề nghị gửi đơn theo Luật Khiếu nại.",
            }
        ),
        source="/services/intake",
    )
    rejected_id = rejection_report_id(rejected.data)
    store = mongo_client[mongo_settings.database]["notify_notifications"]

    async with TopicWatcher(kafka_bootstrap, NOTIFICATIONS_TOPIC.name) as notifications:
        await publish(kafka_settings, citizen, rejected)
        await notifications.wait_for(about(citizen))
        (refused,) = await notifications.wait_for(about(rejected_id))

        await publish(kafka_settings, reply(citizen, f"Mã {citizen.data.tracking_code}: Hủy"))
        await notifications.wait_for(about(citizen), count=2)
        await publish(kafka_settings, assignment(citizen))
        for _ in range(120):  # the assignment is decided: skipped, nobody told
            if await store.find_one({"template_id": "report-assigned", "state": "skipped"}):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("the assignment was never decided")

        await publish(kafka_settings, reply(citizen, "ĐĂNG KÝ"))
        await notifications.wait_for(about(citizen), count=3)
        await publish(kafka_settings, resolution(citizen))
        await notifications.wait_for(about(citizen), count=4)
        await publish(kafka_settings, reply(citizen, "Đã hết bán hàng, đánh giá 2/5", rating=2))
        await notifications.wait_for(about(citizen), count=5)

    subjects = [message["Subject"] for message in mail.messages]
    code = citizen.data.tracking_code
    assert subjects == [
        f"Đã tiếp nhận phản ánh {code}",
        "Đã dừng gửi thông báo",
        "Đã đăng ký nhận thông báo",
        f"Kết quả giải quyết phản ánh {code}",
        f"Cảm ơn bạn đã đánh giá phản ánh {code}",
    ]
    assert "2/5" in mail.messages[-1].get_content()

    assert refused.type == "vn.pakn.notification.failed" and refused.data.permanent
    assert refused.data.reason == "smtp: SMTP 550: recipient refused (after 1 attempt)"
    assert refused.data.template_id == "message-rejected"
