"""The channel routes of the HTTP front, on Starlette's TestClient with an in-memory publisher."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from intake.adapters.http import city_app, collaborator, email, facebook, hotline, web, zalo
from intake.adapters.http.context import FrontContext
from intake.domain.tracking import tracking_code
from phananh_contracts import Channel
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.support.intake import KeptPublisher

pytestmark = pytest.mark.unit

NOW = datetime(2023, 3, 14, 1, 30, tzinfo=UTC)
SECRET = b"tracking-secret-for-tests"
ZALO_APP_ID, ZALO_SECRET = "360846524940903967", "zalo-oa-secret"
FACEBOOK_SECRET, VERIFY_TOKEN = "facebook-app-secret", "xac-minh-trang-sonla"
KEYS = {
    "app": "key-app-sonla-smart",
    "web": "key-web-portal",
    "hotline": "key-hotline-1022",
    "email": "key-email-relay",
    "collaborator": "key-ctv-portal",
}
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, "
    "phường Chiềng Sinh, gây mất vệ sinh."
)
APP_REPORT: dict[str, Any] = {
    "client_message_id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d1b7a8e90",
    "text": SEED,
    "ward": "Chiềng Sinh",
    "contact": {"name": "Lò Văn Minh", "phone": "0912345678"},
    "anonymous": False,
    "consent": True,
}


@pytest.fixture
def publisher() -> KeptPublisher:
    return KeptPublisher()


def front(publisher: KeptPublisher, **changes: Any) -> TestClient:
    settings: dict[str, Any] = {
        "publisher": publisher,
        "tracking_secret": SECRET,
        "city_prefix": "SL",
        "api_keys": {
            KEYS["app"]: "app:sonla-smart",
            KEYS["web"]: "web:cong-thong-tin",
            KEYS["hotline"]: "hotline:tong-dai-1022",
            KEYS["email"]: "email:smtp-relay",
            KEYS["collaborator"]: "collaborator:cong-ctv",
        },
        "zalo_app_id": ZALO_APP_ID,
        "zalo_oa_secret": ZALO_SECRET,
        "facebook_app_secret": FACEBOOK_SECRET,
        "facebook_verify_token": VERIFY_TOKEN,
        "max_body_bytes": 20_000,
        "clock": lambda: NOW,
    }
    ctx = FrontContext(**{**settings, **changes})
    modules = (city_app, zalo, facebook, email, hotline, web, collaborator)
    return TestClient(Starlette(routes=[route for m in modules for route in m.routes(ctx)]))


@pytest.fixture
def client(publisher: KeptPublisher) -> TestClient:
    return front(publisher)


def bearer(channel: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[channel]}"}


def code(channel: str, message_id: str) -> str:
    return tracking_code(SECRET, "SL", channel, message_id, NOW)


# --- API-key channels -----------------------------------------------------------------


def test_an_app_report_is_published_once_and_answered_with_its_tracking_code(
    client: TestClient, publisher: KeptPublisher
) -> None:
    body = json.dumps(APP_REPORT, ensure_ascii=False)
    response = client.post(
        "/channels/app/reports",
        content=body.encode(),
        headers={**bearer("app"), "Content-Type": "application/json; charset=utf-8"},
    )

    # A client's own id, scoped to the client: another app's id 3f1c… is another report.
    message_id = f"app:sonla-smart/{APP_REPORT['client_message_id']}"
    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "channel_message_id": message_id,
        "tracking_codes": [code("app", message_id)],
    }
    (event,) = publisher.events
    assert event.source == "/channels/app"
    assert event.data.channel == Channel.APP
    assert event.data.channel_message_id == message_id
    assert event.data.body == body
    assert event.data.received_at == NOW
    assert event.data.authenticated_as == "api-key:app:sonla-smart"


def test_a_retried_app_report_is_the_same_event(
    client: TestClient, publisher: KeptPublisher
) -> None:
    for _ in range(2):
        client.post("/channels/app/reports", json=APP_REPORT, headers=bearer("app"))

    first, again = publisher.events
    assert first.id == again.id


def test_an_app_report_without_a_client_id_gets_a_new_one(
    client: TestClient, publisher: KeptPublisher
) -> None:
    report = {key: value for key, value in APP_REPORT.items() if key != "client_message_id"}
    headers = {"X-Api-Key": KEYS["app"]}
    answers = [client.post("/channels/app/reports", json=report, headers=headers) for _ in "ab"]

    ids = [answer.json()["channel_message_id"] for answer in answers]
    assert ids[0] != ids[1]
    assert [event.data.channel_message_id for event in publisher.events] == ids
    assert answers[0].json()["tracking_codes"] == [code("app", ids[0])]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
        ({"Authorization": f"Basic {KEYS['app']}"}, 401),
        ({"X-Api-Key": ""}, 401),
        ({"Authorization": f"Bearer {KEYS['hotline']}"}, 403),
    ],
)
def test_a_report_without_the_apps_key_is_refused_and_not_published(
    client: TestClient, publisher: KeptPublisher, headers: dict[str, str], status: int
) -> None:
    response = client.post("/channels/app/reports", json=APP_REPORT, headers=headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] in {"unauthorized", "forbidden"}
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert publisher.events == []


def test_an_oversized_body_is_refused_with_413(publisher: KeptPublisher) -> None:
    client = front(publisher, max_body_bytes=1000)
    report = {**APP_REPORT, "text": SEED * 20}

    declared = client.post("/channels/app/reports", json=report, headers=bearer("app"))
    streamed = client.post(
        "/channels/app/reports",
        content=iter([json.dumps(report).encode()[:600], json.dumps(report).encode()[600:]]),
        headers={**bearer("app"), "Content-Type": "application/json"},
    )

    assert [declared.status_code, streamed.status_code] == [413, 413]
    assert declared.json()["error"]["code"] == "payload_too_large"
    assert "message_vi" in declared.json()["error"]
    assert publisher.events == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**APP_REPORT, "consent": None}, "consent: Input should be a valid boolean"),
        ("chợ Noong Đúc", "Invalid JSON"),
    ],
)
def test_a_malformed_app_report_is_refused_with_422_and_not_published(
    client: TestClient, publisher: KeptPublisher, body: Any, message: str
) -> None:
    content = json.dumps(body) if isinstance(body, dict) else body
    response = client.post(
        "/channels/app/reports",
        content=content.encode(),
        headers={**bearer("app"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_payload"
    assert message in error["message"]
    assert error["message_vi"].startswith("Phản ánh chưa được tiếp nhận")
    assert publisher.events == []


def test_a_body_that_is_not_utf8_is_refused(client: TestClient, publisher: KeptPublisher) -> None:
    response = client.post(
        "/channels/hotline/tickets",
        content="Chợ".encode("utf-16"),
        headers={**bearer("hotline"), "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()["error"]["message"]) == (
        422,
        "the body is not UTF-8",
    )
    assert publisher.events == []


def test_a_report_in_another_media_type_is_refused_with_415(
    client: TestClient, publisher: KeptPublisher
) -> None:
    response = client.post(
        "/channels/app/reports",
        content=json.dumps(APP_REPORT).encode(),
        headers={**bearer("app"), "Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert publisher.events == []


def test_when_kafka_is_down_the_report_is_not_accepted_and_the_client_must_retry(
    client: TestClient, publisher: KeptPublisher
) -> None:
    publisher.down = True

    response = client.post("/channels/app/reports", json=APP_REPORT, headers=bearer("app"))

    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert "not accepted" in error["message"] and "send it again" in error["message"]
    assert "gửi lại" in error["message_vi"]


def test_a_web_form_is_published_with_its_idempotency_key(
    client: TestClient, publisher: KeptPublisher
) -> None:
    form = urlencode({"text": SEED, "name": "Lò Văn Minh", "phone": "0912345678"})
    response = client.post(
        "/channels/web/reports",
        content=form.encode(),
        headers={
            **bearer("web"),
            "Content-Type": "application/x-www-form-urlencoded",
            "Idempotency-Key": "web-2023-03-14-0001",
        },
    )

    assert response.status_code == 202
    assert response.json()["tracking_codes"] == [
        code("web", "web:cong-thong-tin/web-2023-03-14-0001")
    ]
    (event,) = publisher.events
    assert event.data.content_type == "application/x-www-form-urlencoded"
    assert (event.data.channel_message_id, event.data.body) == (
        "web:cong-thong-tin/web-2023-03-14-0001",
        form,
    )


def test_a_web_report_in_json_and_a_bad_idempotency_key(
    client: TestClient, publisher: KeptPublisher
) -> None:
    accepted = client.post("/channels/web/reports", json={"text": SEED}, headers=bearer("web"))
    refused = client.post(
        "/channels/web/reports",
        json={"text": SEED},
        headers={**bearer("web"), "Idempotency-Key": "x" * 201},
    )

    assert accepted.status_code == 202
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "bad_request")
    assert len(publisher.events) == 1


def test_a_hotline_ticket_is_published_under_its_ticket_id(
    client: TestClient, publisher: KeptPublisher
) -> None:
    ticket = {
        "ticket_id": "HL-20230314-0042",
        "caller_number": "0212 3852 114",
        "summary": "Người dân báo cháy quầy hàng tại chợ Noong Đúc.",
        "urgent": True,
        "operator_id": "dtv-07",
    }

    response = client.post("/channels/hotline/tickets", json=ticket, headers=bearer("hotline"))
    without_id = client.post(
        "/channels/hotline/tickets",
        json={**ticket, "ticket_id": None},
        headers=bearer("hotline"),
    )

    assert response.status_code == 202
    assert response.json()["tracking_codes"] == [
        code("hotline", "hotline:tong-dai-1022/HL-20230314-0042")
    ]
    assert without_id.status_code == 422
    assert "ticket_id" in without_id.json()["error"]["message"]
    assert "message_vi" not in without_id.json()["error"]
    assert [event.data.channel_message_id for event in publisher.events] == [
        "hotline:tong-dai-1022/HL-20230314-0042"
    ]


EMAIL = "\r\n".join(
    [
        "From: Cầm Văn Thanh <thanh@example.vn>",
        "Subject: Phản ánh chợ Noong Đúc",
        "Message-ID: <20230314083000.4242@example.vn>",
        "In-Reply-To: <thong-bao-SL-2303-7KQ4M9@pakn.sonla.gov.vn>",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        SEED,
        "",
    ]
).encode()


def test_an_email_is_published_as_base64_under_its_message_id(
    client: TestClient, publisher: KeptPublisher
) -> None:
    response = client.post(
        "/channels/email/messages",
        content=EMAIL,
        headers={**bearer("email"), "Content-Type": "message/rfc822"},
    )

    message_id = "20230314083000.4242@example.vn"
    assert response.status_code == 202
    assert response.json()["tracking_codes"] == [code("email", message_id)]
    (event,) = publisher.events
    assert (event.data.channel_message_id, event.data.body_encoding) == (message_id, "base64")
    assert base64.b64decode(event.data.body) == EMAIL
    assert event.data.reply_to_channel_message_id == "thong-bao-SL-2303-7KQ4M9@pakn.sonla.gov.vn"


def test_an_email_without_message_id_or_media_type_is_refused(
    client: TestClient, publisher: KeptPublisher
) -> None:
    headers = {**bearer("email"), "Content-Type": "message/rfc822"}
    no_id = client.post(
        "/channels/email/messages",
        content=EMAIL.replace(b"Message-ID", b"X-Message"),
        headers=headers,
    )
    as_text = client.post(
        "/channels/email/messages",
        content=EMAIL,
        headers={**headers, "Content-Type": "text/plain"},
    )

    assert (no_id.status_code, no_id.json()["error"]["code"]) == (400, "missing_message_id")
    assert as_text.status_code == 415
    assert publisher.events == []


def test_a_collaborator_summary_gets_one_tracking_code_per_item(
    client: TestClient, publisher: KeptPublisher
) -> None:
    summary = {
        "collaborator_id": "ctv-chieng-sinh-08",
        "kind": "periodic_summary",
        "report_id": "BC-2023-03-CS08",
        "period": {"from": "2023-03-01", "to": "2023-03-15"},
        "items": [
            {"text": SEED, "ward": "Chiềng Sinh"},
            {"text": "Đường nội bản Noong Đúc xuống cấp, đề nghị sửa chữa."},
            {"text": "Tổ 5 đề nghị tăng cường tuần tra ban đêm.", "category": "security_order"},
        ],
    }

    response = client.post(
        "/channels/collaborators/reports", json=summary, headers=bearer("collaborator")
    )

    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "channel_message_id": "collaborator:cong-ctv/BC-2023-03-CS08",
        "tracking_codes": [
            code("collaborator", f"collaborator:cong-ctv/BC-2023-03-CS08#{n}") for n in (1, 2, 3)
        ],
    }
    (event,) = publisher.events
    assert event.data.authenticated_as == "api-key:collaborator:cong-ctv"


# --- Zalo -----------------------------------------------------------------------------


def zalo_body(event_name: str = "user_send_text", **message: Any) -> bytes:
    event = {
        "app_id": ZALO_APP_ID,
        "event_name": event_name,
        "timestamp": "1678757400000",
        "sender": {"id": "246845883529197922"},
        "recipient": {"id": "388613280878808645"},
        "message": {"msg_id": "96d3cdf3af150460909", "text": SEED, **message},
    }
    return json.dumps(event, ensure_ascii=False).encode()


def zalo_signature(body: bytes, secret: str = ZALO_SECRET) -> dict[str, str]:
    signed = ZALO_APP_ID.encode() + body + b"1678757400000" + secret.encode()
    return {"X-ZEvent-Signature": f"mac={hashlib.sha256(signed).hexdigest()}"}


def test_a_signed_zalo_message_is_published_and_answered_200(
    client: TestClient, publisher: KeptPublisher
) -> None:
    body = zalo_body(quote_msg_id="a3f9c1e27b8d4c05")

    response = client.post("/channels/zalo/webhook", content=body, headers=zalo_signature(body))

    assert response.status_code == 200
    assert response.json() == {
        "status": "accepted",
        "channel_message_ids": ["96d3cdf3af150460909"],
        "tracking_codes": [code("zalo", "96d3cdf3af150460909")],
        "ignored": [],
    }
    (event,) = publisher.events
    assert event.data.body == body.decode()
    assert event.data.authenticated_as == "zalo:x-zevent-signature"
    assert event.data.reply_to_channel_message_id == "a3f9c1e27b8d4c05"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        zalo_signature(zalo_body(), secret="another-secret"),
        zalo_signature(zalo_body(text="Nội dung khác")),
    ],
)
def test_a_zalo_event_without_the_right_signature_is_refused(
    client: TestClient, publisher: KeptPublisher, headers: dict[str, str]
) -> None:
    response = client.post("/channels/zalo/webhook", content=zalo_body(), headers=headers)

    assert (response.status_code, response.json()["error"]["code"]) == (401, "bad_signature")
    assert publisher.events == []


def test_a_zalo_timestamp_that_is_no_text_is_a_bad_signature_not_a_crash(
    client: TestClient, publisher: KeptPublisher
) -> None:
    # A lone surrogate is valid JSON but cannot be signed (it was a 500 before).
    body = b'{"event_name": "user_send_text", "timestamp": "\\ud800"}'

    response = client.post(
        "/channels/zalo/webhook", content=body, headers={"X-ZEvent-Signature": "mac=00"}
    )

    assert (response.status_code, response.json()["error"]["code"]) == (401, "bad_signature")
    assert publisher.events == []


def test_a_zalo_event_that_is_no_message_is_answered_200_and_ignored(
    client: TestClient, publisher: KeptPublisher
) -> None:
    body = zalo_body("follow")

    response = client.post("/channels/zalo/webhook", content=body, headers=zalo_signature(body))

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert response.json()["ignored"] == [
        {"reason": "other", "detail": "Zalo event 'follow' carries no citizen message"}
    ]
    assert publisher.events == []


def test_an_unconfigured_zalo_channel_accepts_nothing(publisher: KeptPublisher) -> None:
    client = front(publisher, zalo_oa_secret=None)
    body = zalo_body()

    response = client.post("/channels/zalo/webhook", content=body, headers=zalo_signature(body))

    assert (response.status_code, response.json()["error"]["code"]) == (503, "not_configured")
    assert publisher.events == []


# --- Facebook -------------------------------------------------------------------------

PAGE, PSID = "104512345678901", "6543210987654321"


def facebook_signature(body: bytes) -> dict[str, str]:
    digest = hmac.new(FACEBOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def facebook_batch() -> bytes:
    def messenger(mid: str, text: str) -> dict[str, Any]:
        return {
            "sender": {"id": PSID},
            "recipient": {"id": PAGE},
            "message": {"mid": mid, "text": text},
        }

    comment = {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "add",
            "comment_id": "900001_42",
            "post_id": f"{PAGE}_900001",
            "message": "Cột điện nghiêng ở bản Hụm, xã Chiềng Xôm",
            "from": {"id": "5566778899", "name": "Lò Thị Hoa"},
        },
    }
    batch = {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1678757400000,
                "messaging": [
                    messenger("m_first", SEED),
                    {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "read": {"watermark": 1}},
                    messenger("m_second", "Rác thải ùn ứ ở tổ 5 phường Chiềng Lề"),
                ],
            },
            {"id": PAGE, "time": 1678757401, "changes": [comment]},
        ],
    }
    return json.dumps(batch, ensure_ascii=False).encode()


def test_the_facebook_handshake_echoes_the_challenge_for_the_right_token(
    client: TestClient,
) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}

    right = client.get(
        "/channels/facebook/webhook", params={**query, "hub.verify_token": VERIFY_TOKEN}
    )
    wrong = client.get("/channels/facebook/webhook", params={**query, "hub.verify_token": "sai"})

    assert (right.status_code, right.text) == (200, "1158201444")
    assert right.headers["content-type"].startswith("text/plain")
    assert wrong.status_code == 403


def test_a_signed_facebook_batch_is_published_one_event_per_message(
    client: TestClient, publisher: KeptPublisher
) -> None:
    body = facebook_batch()

    response = client.post(
        "/channels/facebook/webhook", content=body, headers=facebook_signature(body)
    )

    ids = ["m_first", "m_second", "900001_42"]
    assert response.status_code == 200
    answer = response.json()
    assert answer["channel_message_ids"] == ids
    assert answer["tracking_codes"] == [code("facebook", message_id) for message_id in ids]
    assert [item["reason"] for item in answer["ignored"]] == ["other"]
    assert [event.data.channel_message_id for event in publisher.events] == ids
    assert {event.data.authenticated_as for event in publisher.events} == {
        "facebook:x-hub-signature-256"
    }
    assert SEED in publisher.events[0].data.body
    assert len(json.loads(publisher.events[0].data.body)["entry"][0]["messaging"]) == 1


@pytest.mark.parametrize("tamper", [False, True])
def test_a_facebook_batch_without_the_right_signature_is_refused(
    client: TestClient, publisher: KeptPublisher, tamper: bool
) -> None:
    body = facebook_batch()
    headers = facebook_signature(body) if tamper else {}
    sent = body.replace("Noong Đúc".encode(), b"Noong Duc") if tamper else body

    response = client.post("/channels/facebook/webhook", content=sent, headers=headers)

    assert (response.status_code, response.json()["error"]["code"]) == (401, "bad_signature")
    assert publisher.events == []


def test_a_facebook_batch_is_not_acknowledged_while_kafka_is_down(
    client: TestClient, publisher: KeptPublisher
) -> None:
    publisher.down = True
    body = facebook_batch()

    response = client.post(
        "/channels/facebook/webhook", content=body, headers=facebook_signature(body)
    )

    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_an_unconfigured_facebook_channel_accepts_nothing(publisher: KeptPublisher) -> None:
    client = front(publisher, facebook_app_secret=None, facebook_verify_token=None)
    body = facebook_batch()

    post = client.post("/channels/facebook/webhook", content=body, headers=facebook_signature(body))
    get = client.get(
        "/channels/facebook/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
    )

    assert [post.status_code, get.status_code] == [503, 503]
    assert publisher.events == []


def test_streamed_bodies_are_read_whole(client: TestClient, publisher: KeptPublisher) -> None:
    body = zalo_body()

    def chunks() -> Iterator[bytes]:
        yield body[:50]
        yield body[50:]

    response = client.post("/channels/zalo/webhook", content=chunks(), headers=zalo_signature(body))

    assert response.status_code == 200
    assert publisher.events[0].data.body == body.decode()


def test_two_call_centres_with_the_same_ticket_number_make_two_reports(
    publisher: KeptPublisher,
) -> None:
    client = front(
        publisher,
        api_keys={
            "key-hotline-tong-dai-1022": "hotline:tong-dai-1022",
            "key-hotline-ubnd-phuong": "hotline:ubnd-chieng-sinh",
        },
    )
    ticket = {"ticket_id": "HL-42", "summary": SEED, "urgent": False, "operator_id": "dtv-1"}

    answers = [
        client.post("/channels/hotline/tickets", json=ticket, headers={"X-Api-Key": key}).json()
        for key in ("key-hotline-tong-dai-1022", "key-hotline-ubnd-phuong")
    ]

    assert answers[0]["tracking_codes"] != answers[1]["tracking_codes"]
    assert len({event.data.channel_message_id for event in publisher.events}) == 2
