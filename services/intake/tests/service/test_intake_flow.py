"""Intake end to end on the real servers: HTTP front -> Kafka -> canonical topics.

The service runs in this process, exactly as ``create_app`` wires it (its consumers,
its MongoDB store, its HTTP routes), against the real Kafka broker and database; the
tests talk to its HTTP front and watch the contract topics like a downstream system.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import quopri
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import quoprimime
from pathlib import Path
from typing import Any

import httpx
import pytest
from intake.app import create_app
from intake.settings import SenderLimit, Settings
from phananh_contracts import (
    ALL_TOPICS,
    CHANNEL_RAW_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    Event,
    dead_letter_topic,
)
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.runtime import ServiceApp
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr

from tests.support.kafka import TopicWatcher
from tests.support.privacy import open_contact
from tests.support.vietnamese import to_cp1258

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường "
    "Chiềng Sinh, lấn chiếm lối đi và gây mất vệ sinh."
)
KEYS = {
    "app:sonla-smart": "app-key-0123456789abcdef",
    "web:cong-thong-tin": "web-key-0123456789abcdef",
    "hotline:tong-dai": "hotline-key-0123456789ab",
    "email:relay": "email-key-0123456789abcd",
    "collaborator:mang-luoi-ctv": "ctv-key-0123456789abcdef",
    "open311:clients": "o311-key-0123456789abcd",
}
ZALO_APP_ID, ZALO_SECRET = "zalo-app-1", "zalo-oa-secret-0123456789"
FB_SECRET, FB_TOKEN = "fb-app-secret-0123456789", "fb-verify-token"


@dataclass
class Intake:
    service: ServiceApp
    http: httpx.AsyncClient
    contact_key: str
    kafka: KafkaSettings

    def auth(self, client: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[client]}"}


def settings_for(kafka: KafkaSettings, mongo: MongoSettings, contact_key: str) -> Settings:
    return Settings(
        kafka=kafka,
        mongodb=mongo,
        city_config=ROOT / "config" / "son-la" / "city.yaml",
        tracking_secret=SecretStr("tracking-secret-for-tests-0123456789"),
        contact_keys=[SecretStr(contact_key)],
        pseudonym_key=SecretStr("pseudonym-key-for-tests-0123456789"),
        api_keys={name: SecretStr(key) for name, key in KEYS.items()},
        zalo={"app_id": ZALO_APP_ID, "oa_secret": ZALO_SECRET},
        facebook={"app_secret": FB_SECRET, "verify_token": FB_TOKEN},
        retry_backoff_max_s=1.0,
    )


@pytest.fixture
async def intake(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[Intake]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    contact_key = new_contact_key()
    service = create_app(settings_for(kafka_settings, mongo_settings, contact_key))
    async with service.running():
        transport = httpx.ASGITransport(app=service.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield Intake(service, http, contact_key, kafka_settings)


def by_code(code: str) -> Any:
    return lambda event: getattr(event.data, "tracking_code", None) == code


async def post_app(intake: Intake, **payload: Any) -> str:
    body = {"text": SEED, "anonymous": False, "consent": True, **payload}
    response = await intake.http.post(
        "/channels/app/reports", json=body, headers=intake.auth("app:sonla-smart")
    )
    assert response.status_code == 202, response.text
    (code,) = response.json()["tracking_codes"]
    return str(code)


async def test_golden_path_report_from_the_app_becomes_a_canonical_report(
    intake: Intake, kafka_bootstrap: str
) -> None:
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        code = await post_app(
            intake,
            client_message_id=str(uuid.uuid4()),
            title="Bán hàng lấn chiếm hành lang chợ",
            photos=["https://media.sonla.example/u/8841/cho.jpg"],
            contact={"name": "Lò Văn Minh", "phone": "0912 345 678"},
            location={"lat": 21.3035, "lon": 103.9472},
        )
        (event,) = await reports.wait_for(by_code(code))

    report = event.data
    assert report.place.ward_code == "03679"
    assert report.place.ward_name == "Chiềng Sinh"
    assert report.place.residential_group == "Tổ 8"
    assert report.category == "urban_order"
    assert report.priority.value == "normal"
    assert not report.needs_triage
    assert report.attachments[0].url == "https://media.sonla.example/u/8841/cho.jpg"
    assert report.reporter.anonymous is False
    opened = await open_contact(
        intake.kafka, intake.contact_key, report.reporter.contact_ciphertext
    )
    assert (opened.phone, opened.name) == ("+84912345678", "Lò Văn Minh")
    wire = event.to_kafka().value.decode()
    assert "0912" not in wire and "912345678" not in wire and "Lò Văn Minh" not in wire


async def test_the_same_app_message_twice_makes_one_report(
    intake: Intake, kafka_bootstrap: str
) -> None:
    message_id = str(uuid.uuid4())
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        first = await post_app(intake, client_message_id=message_id)
        second = await post_app(intake, client_message_id=message_id)
        assert first == second
        await reports.wait_for(by_code(first))
        seen = await reports.settle(2.0)
    assert len([e for e in seen if by_code(first)(e)]) == 1, "one report, published once"


async def test_a_signed_zalo_message_and_a_facebook_batch_become_reports(
    intake: Intake, kafka_bootstrap: str
) -> None:
    msg_id = uuid.uuid4().hex
    zalo = json.dumps(
        {
            "app_id": ZALO_APP_ID,
            "event_name": "user_send_text",
            "timestamp": "1678757400000",
            "sender": {"id": "246845883529197922"},
            "recipient": {"id": "388613280878808645"},
            "message": {"msg_id": msg_id, "text": "Rác thải ùn ứ bốc mùi ở tổ 5 phường Chiềng Lề"},
        },
        ensure_ascii=False,
    ).encode()
    mac = hashlib.sha256(ZALO_APP_ID.encode() + zalo + b"1678757400000" + ZALO_SECRET.encode())
    mids = [f"m_{uuid.uuid4().hex}", f"m_{uuid.uuid4().hex}"]
    batch = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1122334455",
                    "time": 1678757400000,
                    "messaging": [
                        {
                            "sender": {"id": "7788"},
                            "recipient": {"id": "1122334455"},
                            "message": {"mid": mid, "text": text},
                        }
                        for mid, text in zip(
                            mids,
                            [
                                "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu",
                                "Mất nước sinh hoạt 3 ngày nay ở bản Hụm, phường Chiềng An",
                            ],
                            strict=True,
                        )
                    ],
                }
            ],
        },
        ensure_ascii=False,
    ).encode()
    signature = hmac.new(FB_SECRET.encode(), batch, hashlib.sha256).hexdigest()

    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        bad = await intake.http.post(
            "/channels/zalo/webhook", content=zalo, headers={"X-ZEvent-Signature": "mac=00"}
        )
        assert bad.status_code == 401
        zalo_answer = await intake.http.post(
            "/channels/zalo/webhook",
            content=zalo,
            headers={"X-ZEvent-Signature": f"mac={mac.hexdigest()}"},
        )
        fb_answer = await intake.http.post(
            "/channels/facebook/webhook",
            content=batch,
            headers={"X-Hub-Signature-256": f"sha256={signature}"},
        )
        assert zalo_answer.status_code == fb_answer.status_code == 200
        codes = zalo_answer.json()["tracking_codes"] + fb_answer.json()["tracking_codes"]
        found = await reports.wait_for(
            lambda e: e.data.tracking_code in codes, count=3, timeout_s=30
        )

    by_channel = {event.data.channel.value: event.data for event in found}
    assert by_channel["zalo"].place.ward_name == "Tô Hiệu", "old ward name Chiềng Lề"
    assert by_channel["zalo"].category == "environmental_sanitation"
    facebook = sorted(
        (event.data for event in found if event.data.channel.value == "facebook"),
        key=lambda report: report.channel_message_id,
    )
    assert {report.channel_message_id for report in facebook} == set(mids)
    opened = await open_contact(
        intake.kafka, intake.contact_key, by_channel["zalo"].reporter.contact_ciphertext
    )
    assert opened.channel_user_ref == "246845883529197922"


async def test_a_windows_1258_email_and_an_urgent_hotline_call(
    intake: Intake, kafka_bootstrap: str
) -> None:
    body = "Đường Lê Duẩn đoạn qua phường Chiềng Cơi có nhiều ổ gà rất nguy hiểm cho xe máy."
    subject = quoprimime.header_encode(
        to_cp1258("Phản ánh: ổ gà trên đường Lê Duẩn"), "windows-1258"
    )
    mail = b"\r\n".join(
        [
            b"From: =?utf-8?b?"
            + base64.b64encode("Nguyễn Thị Lan".encode())
            + b"?= <lan@example.vn>",
            b"To: phananh@sonla.example",
            b"Subject: " + subject.encode(),
            b"Message-ID: <" + uuid.uuid4().hex.encode() + b"@example.vn>",
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=windows-1258",
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            quopri.encodestring(to_cp1258(body)),
        ]
    )
    ticket_id = f"HL-{uuid.uuid4().hex[:10]}"
    ticket = {
        "ticket_id": ticket_id,
        "caller_number": "0212 3852 114",
        "summary": "Cháy lớn tại chợ Noong Đúc, phường Chiềng Sinh, khói bốc cao",
        "urgent": True,
        "operator_id": "dtv-07",
    }

    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        mail_answer = await intake.http.post(
            "/channels/email/messages",
            content=mail,
            headers={**intake.auth("email:relay"), "Content-Type": "message/rfc822"},
        )
        hotline_answer = await intake.http.post(
            "/channels/hotline/tickets", json=ticket, headers=intake.auth("hotline:tong-dai")
        )
        assert mail_answer.status_code == hotline_answer.status_code == 202
        (mail_code,) = mail_answer.json()["tracking_codes"]
        (hotline_code,) = hotline_answer.json()["tracking_codes"]
        (mail_event,) = await reports.wait_for(by_code(mail_code))
        (hotline_event,) = await reports.wait_for(by_code(hotline_code))

    assert "ổ gà" in mail_event.data.text and mail_event.data.place.ward_name == "Chiềng Cơi"
    assert hotline_event.data.priority.value == "urgent"
    assert any("114" in notice for notice in hotline_event.data.citizen_notices)


async def test_the_city_portal_s_web_form_becomes_a_report(
    intake: Intake, kafka_bootstrap: str
) -> None:
    form = {
        "text": "Rác thải sinh hoạt đổ bừa bãi ở đầu bản Hụm, bốc mùi hôi thối nhiều ngày",
        "name": "Lò Văn Minh",
        "phone": "0912 345 678",
        "ward": "Chiềng An",
        "anonymous": "",
    }
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        answer = await intake.http.post(
            "/channels/web/reports",
            data=form,
            headers={**intake.auth("web:cong-thong-tin"), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 202, answer.text
        (code,) = answer.json()["tracking_codes"]
        (event,) = await reports.wait_for(by_code(code))
    report = event.data
    assert (report.channel.value, report.place.ward_name) == ("web", "Chiềng An")
    assert report.category == "environmental_sanitation"
    opened = await open_contact(
        intake.kafka, intake.contact_key, report.reporter.contact_ciphertext
    )
    assert (opened.phone, opened.name) == ("+84912345678", "Lò Văn Minh")


async def test_a_collaborator_summary_becomes_one_report_per_item(
    intake: Intake, kafka_bootstrap: str
) -> None:
    summary = {
        "collaborator_id": "ctv-chieng-sinh-08",
        "kind": "periodic_summary",
        "report_id": f"BC-{uuid.uuid4().hex[:8]}",
        "items": [
            {"text": SEED, "ward": "Chiềng Sinh"},
            {"text": "Xe tải chở đất rơi vãi trên đường qua phường Chiềng An", "ward": "Chiềng An"},
            {"text": "Nhiều hộ chưa nhận trợ cấp hộ nghèo quý I ở phường Tô Hiệu"},
        ],
    }
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        answer = await intake.http.post(
            "/channels/collaborators/reports",
            json=summary,
            headers=intake.auth("collaborator:mang-luoi-ctv"),
        )
        assert answer.status_code == 202, answer.text
        codes = answer.json()["tracking_codes"]
        found = await reports.wait_for(lambda e: e.data.tracking_code in codes, count=3)
    assert {event.data.collaborator_id for event in found} == {"ctv-chieng-sinh-08"}
    assert len({event.data.report_id for event in found}) == 3


async def test_short_and_out_of_scope_messages_are_rejected_with_a_notice(
    intake: Intake, kafka_bootstrap: str
) -> None:
    async with TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejected:
        short = await post_app(intake, text="alo")
        complaint = await post_app(
            intake,
            text="Tôi làm đơn khiếu nại quyết định thu hồi đất của UBND phường Chiềng Cơi.",
        )
        (short_event,) = await rejected.wait_for(by_code(short))
        (complaint_event,) = await rejected.wait_for(by_code(complaint))
    assert short_event.data.reason.value == "too_short"
    assert "quá ngắn" in short_event.data.citizen_notice
    assert complaint_event.data.reason.value == "out_of_scope"
    assert "khiếu nại" in complaint_event.data.citizen_notice.lower()


async def test_a_sender_over_its_limit_gets_429_from_the_app_and_a_rejection_from_zalo(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    # One message a day per sender, as create_app wires the limits (the window is a day,
    # so that the wall clock cannot roll into a new one between the two messages).
    await ensure_topics(kafka_settings, ALL_TOPICS)
    settings = settings_for(kafka_settings, mongo_settings, new_contact_key())
    settings.rate_limits.sender = SenderLimit(requests=1, window_s=86_400)
    service = create_app(settings)
    user = uuid.uuid4().hex

    def zalo(msg_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "app_id": ZALO_APP_ID,
                "event_name": "user_send_text",
                "timestamp": "1678757400000",
                "sender": {"id": user},
                "message": {"msg_id": msg_id, "text": SEED},
            },
            ensure_ascii=False,
        ).encode()
        signed = ZALO_APP_ID.encode() + body + b"1678757400000" + ZALO_SECRET.encode()
        return body, {"X-ZEvent-Signature": f"mac={hashlib.sha256(signed).hexdigest()}"}

    async with (
        service.running(),
        TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejected,
    ):
        transport = httpx.ASGITransport(app=service.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            intake = Intake(service, http, "", kafka_settings)
            await post_app(intake, contact={"phone": "0912 345 678"})
            again = await http.post(
                "/channels/app/reports",
                json={
                    "text": SEED,
                    "anonymous": False,
                    "consent": True,
                    "contact": {"phone": "+84912345678"},
                },
                headers=intake.auth("app:sonla-smart"),
            )
            first, over = uuid.uuid4().hex, uuid.uuid4().hex
            answers = [
                await http.post("/channels/zalo/webhook", content=body, headers=headers)
                for body, headers in (zalo(first), zalo(over))
            ]
            (refusal,) = await rejected.wait_for(
                lambda e: e.data.channel_message_id == over, timeout_s=30
            )

    assert again.status_code == 429
    assert again.json()["error"]["limit"] == "sender"
    assert int(again.headers["Retry-After"]) > 0
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json()["status"] == "accepted"
    assert [item["reason"] for item in answers[1].json()["ignored"]] == ["rate_limited"]
    assert refusal.data.reason.value == "rate_limited"
    assert refusal.data.tracking_code is None and refusal.data.citizen_notice is None
    assert refusal.data.reporter is not None and refusal.data.reporter.pseudonym


async def test_a_message_quoting_a_tracking_code_is_a_reply_with_a_rating(
    intake: Intake, kafka_bootstrap: str
) -> None:
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        code = await post_app(intake)
        (original,) = await reports.wait_for(by_code(code))
    async with TopicWatcher(kafka_bootstrap, CITIZEN_REPLIES_TOPIC.name) as replies:
        await post_app(intake, text=f"Mã {code}: đã dẹp xong, cảm ơn. Đánh giá 5/5")
        (reply,) = await replies.wait_for(by_code(code))
    assert reply.data.report_id == original.data.report_id
    assert reply.data.rating == 5


async def test_a_similar_report_through_another_channel_is_linked_to_the_first(
    intake: Intake, kafka_bootstrap: str
) -> None:
    marker = uuid.uuid4().hex[:6]
    text = f"Bán hàng lấn chiếm vỉa hè trước chợ Noong Đúc phường Chiềng Sinh, lô {marker}"
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        first_code = await post_app(intake, text=text)
        (first,) = await reports.wait_for(by_code(first_code))
        answer = await intake.http.post(
            "/channels/hotline/tickets",
            json={
                "ticket_id": f"HL-{uuid.uuid4().hex[:10]}",
                "summary": text,
                "urgent": False,
                "operator_id": "dtv-02",
            },
            headers=intake.auth("hotline:tong-dai"),
        )
        (second_code,) = answer.json()["tracking_codes"]
        (second,) = await reports.wait_for(by_code(second_code))
    assert second.data.duplicate_of == first.data.report_id


async def test_open311_post_then_get_the_request_back(intake: Intake, kafka_bootstrap: str) -> None:
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        answer = await intake.http.post(
            "/open311/v2/requests.json",
            data={
                "api_key": KEYS["open311:clients"],
                "service_code": "roads_infrastructure",
                "lat": "21.3270",
                "long": "103.9140",
                "address_string": "Đường Tô Hiệu, phường Tô Hiệu",
                "description": "Ổ gà lớn giữa đường Tô Hiệu gần ngã tư, xe máy dễ ngã",
            },
        )
        assert answer.status_code == 200, answer.text
        (created,) = answer.json()
        (event,) = await reports.wait_for(by_code(created["service_request_id"]))
    assert event.data.category == "roads_infrastructure"

    # The report is published before intake's read model stores it: allow a moment.
    path = f"/open311/v2/requests/{created['service_request_id']}"
    deadline = time.monotonic() + 15
    while (found := await intake.http.get(f"{path}.json")).status_code == 404:
        assert time.monotonic() < deadline, "the request never became readable"
        await asyncio.sleep(0.2)
    assert found.status_code == 200, found.text
    (request,) = found.json()
    assert request["status"] == "open"
    assert request["service_code"] == "roads_infrastructure"
    as_xml = await intake.http.get(f"{path}.xml")
    assert as_xml.status_code == 200 and b"<service_requests>" in as_xml.content
    token = await intake.http.get(f"/open311/v2/tokens/{created['token']}.json")
    assert token.json()[0]["service_request_id"] == created["service_request_id"]

    # The public list shows what was posted to Open311, never a citizen's app message.
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        private = await post_app(
            intake, text="Ổ gà lớn trước nhà tôi ở đường Tô Hiệu, phường Tô Hiệu, rất nguy hiểm"
        )
        await reports.wait_for(by_code(private))
    await asyncio.sleep(1)  # stored right after publishing
    listed = await intake.http.get("/open311/v2/requests.json?service_code=roads_infrastructure")
    codes = {item["service_request_id"] for item in listed.json()}
    assert created["service_request_id"] in codes
    assert private not in codes
    mine = await intake.http.get(f"/open311/v2/requests/{private}.json")
    assert mine.status_code == 200, "the citizen can still look up their own code"


async def test_malformed_records_on_the_raw_topic_are_dead_lettered_and_bad_payloads_rejected(
    intake: Intake, kafka_bootstrap: str
) -> None:
    producer = RecordProducer(intake.kafka, client_id="it-raw-adapter")
    await producer.start()
    garbage = b"\x00\xffnot-a-cloudevent " + uuid.uuid4().bytes
    message_id = f"ext-{uuid.uuid4().hex}"
    unreadable = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/channels/external",
        "type": "vn.pakn.channel.message.received",
        "time": "2023-03-14T01:30:00Z",
        "datacontenttype": "application/json",
        "schemaversion": 1,
        "partitionkey": f"app:{message_id}",
        "data": {
            "channel": "app",
            "channel_message_id": message_id,
            "received_at": "2023-03-14T01:30:00Z",
            "content_type": "application/json",
            "body": base64.b64encode(b"{not json").decode(),
            "body_encoding": "base64",
            "authenticated_as": "adapter:external",
        },
    }
    async with (
        TopicWatcher(kafka_bootstrap, REPORTS_REJECTED_TOPIC.name) as rejected,
        DeadLetters(kafka_bootstrap) as dead,
    ):
        await producer.send(CHANNEL_RAW_TOPIC.name, key=b"x", value=garbage, headers=[])
        await producer.send(
            CHANNEL_RAW_TOPIC.name,
            key=f"app:{message_id}".encode(),
            value=json.dumps(unreadable).encode(),
            headers=[],
        )
        await producer.stop()
        (refused,) = await rejected.wait_for(lambda e: e.data.channel_message_id == message_id)
        record = await dead.wait_for_value(garbage)
    assert refused.data.reason.value == "invalid_payload"
    assert refused.data.citizen_notice
    assert dict(record.headers)["x-dlq-source-topic"] == CHANNEL_RAW_TOPIC.name.encode()


class DeadLetters(TopicWatcher):
    """Watches intake's dead-letter topic (raw records, not events)."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, dead_letter_topic("intake"))

    async def wait_for_value(self, value: bytes, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.value == value:
                        return record
        raise AssertionError("the malformed record never reached the dead-letter topic")


async def test_a_message_seen_before_a_restart_is_not_reported_again(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    message_id = str(uuid.uuid4())
    codes: list[str] = []
    async with TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports:
        for _ in range(2):  # two lives of the service, one database
            service = create_app(settings_for(kafka_settings, mongo_settings, new_contact_key()))
            async with service.running():
                transport = httpx.ASGITransport(app=service.asgi())
                async with httpx.AsyncClient(transport=transport, base_url="http://i") as http:
                    intake = Intake(service, http, "", kafka_settings)
                    codes.append(await post_app(intake, client_message_id=message_id))
                    await reports.wait_for(by_code(codes[0]))
                    await reports.settle(1.5)
        events: list[Event[Any]] = [e for _, e in reports.seen if by_code(codes[0])(e)]
    assert codes[0] == codes[1]
    assert len(events) == 1, "the second life published the report again"
