"""Channel parsers: what each channel's payload becomes, and what each refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import quopri
import unicodedata
from datetime import UTC, datetime
from email import quoprimime
from typing import Any
from urllib.parse import urlencode

import pytest
from intake.domain.channels import (
    city_app,
    collaborator,
    email,
    facebook,
    hotline,
    parse_raw,
    web,
    zalo,
)
from intake.domain.model import ChannelMessage, Contact, PayloadError
from phananh_contracts import (
    Attachment,
    Channel,
    GeoPoint,
    RawChannelMessageReceived,
    RejectionReason,
)

from tests.support.vietnamese import to_cp1258

pytestmark = pytest.mark.unit

RECEIVED = datetime(2023, 3, 14, 1, 30, tzinfo=UTC)
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, "
    "phường Chiềng Sinh, gây mất vệ sinh."
)


def raw(
    channel: Channel,
    body: str | bytes | dict[str, Any],
    *,
    message_id: str = "msg-1",
    content_type: str = "application/json",
) -> RawChannelMessageReceived:
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    binary = isinstance(body, bytes)
    return RawChannelMessageReceived(
        channel=channel,
        channel_message_id=message_id,
        received_at=RECEIVED,
        content_type=content_type,
        body=base64.b64encode(body).decode() if isinstance(body, bytes) else body,
        body_encoding="base64" if binary else "utf-8",
        authenticated_as="test",
    )


def only(messages: list[ChannelMessage]) -> ChannelMessage:
    (message,) = messages
    return message


def refused(parse: Any, payload: RawChannelMessageReceived) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    return caught.value


def test_every_channel_of_this_front_has_its_parser() -> None:
    bodies: dict[Channel, dict[str, Any]] = {
        Channel.APP: {"text": SEED, "anonymous": True, "consent": False},
        Channel.HOTLINE: {
            "ticket_id": "HL-1",
            "summary": SEED,
            "urgent": False,
            "operator_id": "dtv-07",
        },
        Channel.WEB: {"text": SEED},
    }
    for channel, body in bodies.items():
        assert only(parse_raw(raw(channel, body))).text == SEED


# --- app ------------------------------------------------------------------------------

APP_REPORT: dict[str, Any] = {
    "client_message_id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d1b7a8e90",
    "text": SEED,
    "title": "Bán hàng lấn chiếm hành lang chợ",
    "category": "urban_order",
    "location": {"lat": 21.3035, "lon": 103.9472, "address": "Chợ Noong Đúc, tổ 8"},
    "ward": "Chiềng Sinh",
    "photos": [
        "https://media.sonla.example/u/8841/cho-noong-duc.jpg",
        "https://media.sonla.example/u/8841/hanh-lang.png",
    ],
    "contact": {"name": "Lò Văn Minh", "phone": "0912 345 678", "email": "minh@example.vn"},
    "anonymous": False,
    "consent": True,
    "reply_to": "SL-2303-7KQ4M9",
}


def test_an_app_report_keeps_text_place_photos_and_contact() -> None:
    message = only(city_app.parse(raw(Channel.APP, APP_REPORT, message_id="3f1c9a52")))

    assert message == ChannelMessage(
        channel=Channel.APP,
        channel_message_id="3f1c9a52",
        received_at=RECEIVED,
        text=SEED,
        title="Bán hàng lấn chiếm hành lang chợ",
        contact=Contact(phone="0912 345 678", email="minh@example.vn", name="Lò Văn Minh"),
        point=GeoPoint(lat=21.3035, lon=103.9472),
        address_text="Chợ Noong Đúc, tổ 8",
        ward_hint="Chiềng Sinh",
        category_hint="urban_order",
        attachments=(
            Attachment(
                url="https://media.sonla.example/u/8841/cho-noong-duc.jpg", media_type="image/jpeg"
            ),
            Attachment(
                url="https://media.sonla.example/u/8841/hanh-lang.png", media_type="image/png"
            ),
        ),
        reply_to_channel_message_id="SL-2303-7KQ4M9",
    )


@pytest.mark.parametrize(
    ("choice", "anonymous"),
    [({"anonymous": True, "consent": True}, True), ({"anonymous": False, "consent": False}, True)],
)
def test_an_anonymous_app_report_or_one_without_consent_keeps_no_contact(
    choice: dict[str, bool], anonymous: bool
) -> None:
    message = only(city_app.parse(raw(Channel.APP, {**APP_REPORT, **choice})))

    assert message.contact is None
    assert message.anonymous is anonymous


def test_an_app_report_with_the_bare_minimum() -> None:
    body = {"text": "Đèn đường tổ 3 phường Tô Hiệu bị hỏng", "anonymous": False, "consent": True}
    message = only(city_app.parse(raw(Channel.APP, body)))

    assert (message.contact, message.point, message.attachments) == (None, None, ())


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"text": None}, "text: Input should be a valid string"),
        ({"consent": "có lẽ"}, "consent: Input should be a valid boolean"),
        ({"location": {"lat": 121.3, "lon": 103.9}}, "location.lat: Input should be less than"),
        ({"photos": ["javascript:alert(1)"]}, "photos.0: String should match pattern"),
        ({"category": "Trật tự đô thị"}, "category: String should match pattern"),
        ({"client_message_id": "có dấu cách"}, "client_message_id: String should match"),
    ],
)
def test_a_malformed_app_report_is_refused_precisely(change: dict[str, Any], detail: str) -> None:
    error = refused(city_app.parse, raw(Channel.APP, {**APP_REPORT, **change}))

    assert error.reason == RejectionReason.INVALID_PAYLOAD
    assert detail in error.detail


def test_an_app_report_without_its_consent_flags_or_not_json_is_refused() -> None:
    missing = refused(city_app.parse, raw(Channel.APP, {"text": SEED}))
    not_json = refused(city_app.parse, raw(Channel.APP, "noi dung: cho Noong Duc"))

    assert "anonymous: Field required" in missing.detail
    assert "consent: Field required" in missing.detail
    assert not_json.detail.startswith("invalid app report: body: Invalid JSON")


def test_the_app_message_id_is_the_client_message_id_when_valid() -> None:
    assert city_app.message_id(json.dumps(APP_REPORT).encode()) == APP_REPORT["client_message_id"]
    assert city_app.message_id(json.dumps({"client_message_id": "a b"}).encode()) is None
    assert city_app.message_id(b"{}") is None
    assert city_app.message_id(b"[1, 2]") is None


def test_the_app_schema_can_be_published() -> None:
    schema = city_app.AppReport.model_json_schema()

    assert set(schema["required"]) == {"text", "anonymous", "consent"}
    assert schema["title"] == "Sơn La smart report"


# --- zalo -----------------------------------------------------------------------------


def zalo_event(event_name: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "app_id": "360846524940903967",
        "user_id_by_app": "552177279717587730",
        "event_name": event_name,
        "timestamp": "1678757400000",
        "sender": {"id": "246845883529197922"},
        "recipient": {"id": "388613280878808645"},
    }
    if message is not None:
        event["message"] = message
    return event


def test_a_zalo_text_keeps_the_sender_and_the_quoted_message() -> None:
    body = zalo_event(
        "user_send_text",
        {"msg_id": "96d3cdf3af150460909", "text": SEED, "quote_msg_id": "a3f9c1e27b8d4c05"},
    )
    message = only(zalo.parse(raw(Channel.ZALO, body, message_id="96d3cdf3af150460909")))

    assert message.text == SEED
    assert message.contact == Contact(channel_user_ref="246845883529197922")
    assert message.anonymous is False
    assert message.reply_to_channel_message_id == "a3f9c1e27b8d4c05"


def test_a_zalo_image_becomes_an_attachment_with_its_caption() -> None:
    url = "https://photo-stal-1.zadn.vn/0a9b2c/cho-noong-duc.jpg"
    body = zalo_event(
        "user_send_image",
        {
            "msg_id": "c1",
            "text": "Hàng bán tràn ra hành lang chợ",
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}],
        },
    )
    message = only(zalo.parse(raw(Channel.ZALO, body)))

    assert message.text == "Hàng bán tràn ra hành lang chợ"
    assert message.attachments == (Attachment(url=url, media_type="image/jpeg"),)


def test_a_zalo_location_becomes_a_point() -> None:
    body = zalo_event(
        "user_send_location",
        {
            "msg_id": "c2",
            "attachments": [
                {
                    "type": "location",
                    "payload": {"coordinates": {"latitude": "21.3035", "longitude": "103.9472"}},
                }
            ],
        },
    )
    message = only(zalo.parse(raw(Channel.ZALO, body)))

    assert message.point == GeoPoint(lat=21.3035, lon=103.9472)
    assert (message.text, message.attachments) == ("", ())


def test_a_zalo_file_keeps_its_name_and_media_type() -> None:
    url = "https://f1.zdn.vn/files/bien-ban.pdf?token=x1"
    body = zalo_event(
        "user_send_file",
        {
            "msg_id": "c3",
            "attachments": [
                {"type": "file", "payload": {"url": url, "name": "biên bản.pdf", "size": "48211"}}
            ],
        },
    )

    assert only(zalo.parse(raw(Channel.ZALO, body))).attachments == (
        Attachment(url=url, media_type="application/pdf", name="biên bản.pdf"),
    )


def test_an_anonymous_zalo_message_keeps_no_contact() -> None:
    body = zalo_event("anonymous_send_text", {"msg_id": "c4", "text": SEED})
    message = only(zalo.parse(raw(Channel.ZALO, body)))

    assert (message.contact, message.anonymous) == (None, True)


@pytest.mark.parametrize("event_name", ["follow", "user_seen_message", "user_submit_info"])
def test_a_zalo_event_without_a_citizen_message_is_refused_as_other(event_name: str) -> None:
    error = refused(zalo.parse, raw(Channel.ZALO, zalo_event(event_name)))

    assert error.reason == RejectionReason.OTHER
    assert error.detail == f"Zalo event {event_name!r} carries no citizen message"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (zalo_event("user_send_text"), "message: Field required"),
        (zalo_event("user_send_text", {"text": SEED}), "message.msg_id: Field required"),
        ({"timestamp": "1678757400000"}, "event_name: Field required"),
    ],
)
def test_a_malformed_zalo_event_is_refused(body: dict[str, Any], detail: str) -> None:
    error = refused(zalo.parse, raw(Channel.ZALO, body))

    assert error.reason == RejectionReason.INVALID_PAYLOAD
    assert detail in error.detail


def test_the_zalo_signature_is_the_sha256_of_app_id_body_timestamp_and_secret() -> None:
    body = json.dumps(zalo_event("user_send_text", {"msg_id": "c5", "text": SEED})).encode()
    secret, app_id, timestamp = "oa-secret-key", "360846524940903967", "1678757400000"
    mac = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()

    def verify(header: str, **changed: Any) -> bool:
        given = {"app_id": app_id, "raw_body": body, "timestamp": timestamp, "oa_secret": secret}
        return zalo.verify_zalo_signature(header, **{**given, **changed})

    assert verify(f"mac={mac}")
    assert not verify(mac)
    assert not verify(f"mac={mac}", oa_secret="another-secret")
    assert not verify(f"mac={mac}", raw_body=body.replace(b"c5", b"c6"))
    assert not verify(f"mac={mac}", timestamp="1678757400001")
    assert not verify(f"mac={hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}")
    assert not verify("mac=kh\u00f4ng")


def test_the_zalo_ids_come_from_the_body() -> None:
    body = json.dumps(zalo_event("user_send_text", {"msg_id": "c7", "text": SEED})).encode()

    assert (zalo.message_id(body), zalo.signed_timestamp(body)) == ("c7", "1678757400000")
    assert (zalo.message_id(b"not json"), zalo.signed_timestamp(b"[]")) == (None, None)


# --- facebook -------------------------------------------------------------------------

PAGE = "104512345678901"
PSID = "6543210987654321"


def messaging(mid: str, text: str, **message: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1678757400000,
        "message": {"mid": mid, "text": text, **message},
    }


def comment(
    comment_id: str, verb: str = "add", sender: str = "5566778899", **value: Any
) -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": verb,
            "comment_id": comment_id,
            "post_id": f"{PAGE}_900001",
            "parent_id": f"{PAGE}_900001",
            "message": "Cột điện nghiêng ở bản Hụm, xã Chiềng Xôm, rất nguy hiểm",
            "from": {"id": sender, "name": "Lò Thị Hoa"},
            "created_time": 1678757400,
            **value,
        },
    }


def one_item(item: dict[str, Any], kind: str = "messaging") -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": PAGE, "time": 1678757400000, kind: [item]}]}


def test_a_facebook_batch_splits_into_one_body_per_item() -> None:
    batch = {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1678757400000,
                "messaging": [
                    messaging("m_first", SEED),
                    {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "read": {"watermark": 1}},
                    messaging("m_second", "Rác thải ùn ứ ở tổ 5 phường Chiềng Lề"),
                ],
            },
            {"id": PAGE, "time": 1678757401, "changes": [comment("900001_42")]},
        ],
    }

    items = facebook.split_batch(json.dumps(batch).encode())

    assert [message_id for message_id, _ in items] == ["m_first", None, "m_second", "900001_42"]
    assert SEED in items[0][1], "the rebuilt body should keep Vietnamese text unescaped"
    texts = [only(facebook.parse(raw(Channel.FACEBOOK, body))).text for _, body in items[::2]]
    assert texts == [SEED, "Rác thải ùn ứ ở tổ 5 phường Chiềng Lề"]
    assert json.loads(items[3][1]) == {
        "object": "page",
        "entry": [{"id": PAGE, "time": 1678757401, "changes": [comment("900001_42")]}],
    }
    read_receipt = refused(facebook.parse, raw(Channel.FACEBOOK, items[1][1]))
    assert read_receipt.reason == RejectionReason.OTHER


@pytest.mark.parametrize(
    "body", [b"[]", b'{"object": "instagram", "entry": [{"id": "1"}]}', b"\xff\xfe"]
)
def test_a_batch_that_is_not_a_page_webhook_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError, match="invalid Facebook webhook batch"):
        facebook.split_batch(body)


def test_a_messenger_message_keeps_photos_position_and_the_message_it_answers() -> None:
    photo = "https://scontent.xx.fbcdn.net/v/t1.15752-9/33445566_n.jpg?_nc_cat=1"
    item = messaging(
        "m_abc",
        SEED,
        reply_to={"mid": "m_page_answer"},
        attachments=[
            {"type": "image", "payload": {"url": photo}},
            {"type": "location", "payload": {"coordinates": {"lat": 21.3035, "long": 103.9472}}},
            {"type": "template", "payload": {"template_type": "generic"}},
        ],
    )
    message = only(facebook.parse(raw(Channel.FACEBOOK, one_item(item), message_id="m_abc")))

    assert message.channel_message_id == "m_abc"
    assert message.contact == Contact(channel_user_ref=PSID)
    assert message.attachments == (Attachment(url=photo, media_type="image/jpeg"),)
    assert message.point == GeoPoint(lat=21.3035, lon=103.9472)
    assert message.reply_to_channel_message_id == "m_page_answer"


def test_a_feed_comment_keeps_its_author_photo_and_parent() -> None:
    photo = "https://scontent.xx.fbcdn.net/v/t39.30808-6/cot-dien.jpg"
    body = one_item(comment("900001_43", photo=photo), kind="changes")
    message = only(facebook.parse(raw(Channel.FACEBOOK, body, message_id="900001_43")))

    assert message.text == "Cột điện nghiêng ở bản Hụm, xã Chiềng Xôm, rất nguy hiểm"
    assert message.contact == Contact(name="Lò Thị Hoa", channel_user_ref="5566778899")
    assert message.attachments == (Attachment(url=photo, media_type="image/jpeg"),)
    assert message.reply_to_channel_message_id == f"{PAGE}_900001"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (one_item(messaging("m_echo", "Cảm ơn bạn", is_echo=True)), "echo of a message"),
        (one_item(comment("c1", verb="edited"), "changes"), "comment 'edited' is not a new"),
        (one_item(comment("c1", verb="remove"), "changes"), "comment 'remove' is not a new"),
        (one_item(comment("c1", sender=PAGE), "changes"), "the Page's own comment"),
        (
            one_item({"field": "feed", "value": {"item": "reaction", "verb": "add"}}, "changes"),
            "feed item 'reaction' carries no citizen message",
        ),
        (one_item({"field": "ratings", "value": {}}, "changes"), "'ratings' change carries no"),
    ],
)
def test_facebook_events_that_are_no_new_citizen_message_are_refused_as_other(
    body: dict[str, Any], detail: str
) -> None:
    error = refused(facebook.parse, raw(Channel.FACEBOOK, body))

    assert error.reason == RejectionReason.OTHER
    assert detail in error.detail


def test_a_facebook_body_with_several_items_is_refused() -> None:
    body = one_item(messaging("m_1", SEED))
    body["entry"][0]["messaging"].append(messaging("m_2", SEED))

    error = refused(facebook.parse, raw(Channel.FACEBOOK, body))

    assert error.reason == RejectionReason.INVALID_PAYLOAD
    assert "split webhook batches first" in error.detail


def test_the_facebook_signature_is_an_hmac_of_the_raw_bytes() -> None:
    body = json.dumps(one_item(messaging("m_1", SEED)), ensure_ascii=False).encode()
    digest = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()

    assert facebook.verify_facebook_signature(
        f"sha256={digest}", app_secret="app-secret", raw_body=body
    )
    reserialized = json.dumps(json.loads(body)).encode()  # Vietnamese escaped: other bytes
    assert not facebook.verify_facebook_signature(
        f"sha256={digest}", app_secret="app-secret", raw_body=reserialized
    )
    assert not facebook.verify_facebook_signature(
        f"sha1={digest}", app_secret="app-secret", raw_body=body
    )
    assert not facebook.verify_facebook_signature("", app_secret="app-secret", raw_body=body)


# --- email ----------------------------------------------------------------------------


def windows_1258_email() -> bytes:
    subject = quoprimime.header_encode(to_cp1258("Phản ánh chợ Noong Đúc"), "windows-1258")
    plain = quopri.encodestring(to_cp1258(SEED))
    html = base64.b64encode(f"<p>{SEED}</p>".encode()).decode()
    return b"\r\n".join(
        [
            b"From: =?utf-8?b?"
            + base64.b64encode("Cầm Văn Thanh".encode())
            + b"?= <thanh@example.vn>",
            b"To: tiepnhan@sonla.gov.vn",
            b"Subject: " + subject.encode(),
            b"Message-ID: <20230314083000.4242@example.vn>",
            b"In-Reply-To: <SL-2303-7KQ4M9.notice@pakn.sonla.gov.vn>",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/alternative; boundary="b1"',
            b"",
            b"--b1",
            b"Content-Type: text/plain; charset=windows-1258",
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            plain,
            b"--b1",
            b"Content-Type: text/html; charset=utf-8",
            b"Content-Transfer-Encoding: base64",
            b"",
            html.encode(),
            b"--b1--",
            b"",
        ]
    )


def test_a_windows_1258_quoted_printable_email_decodes_to_the_citizens_text() -> None:
    message = only(email.parse(raw(Channel.EMAIL, windows_1258_email())))

    assert unicodedata.normalize("NFC", message.text).strip() == SEED
    assert message.text != unicodedata.normalize("NFC", message.text), "tone marks combine"
    assert unicodedata.normalize("NFC", message.title or "") == "Phản ánh chợ Noong Đúc"
    assert message.contact == Contact(email="thanh@example.vn", name="Cầm Văn Thanh")
    assert message.reply_to_channel_message_id == "SL-2303-7KQ4M9.notice@pakn.sonla.gov.vn"
    assert message.attachments == ()


def test_an_html_only_email_loses_its_tags() -> None:
    body = base64.b64encode(
        "<html><body><p>Đường tổ 2 phường Quyết Thắng</p><p>bị sụt lún &amp; ngập nước.</p>"
        "</body></html>".encode()
    )
    mail = b"\r\n".join(
        [
            b"From: dan@example.vn",
            b"Subject: =?utf-8?q?S=E1=BB=A5t_l=C3=BAn?=",
            b"Message-ID: <x1@example.vn>",
            b"References: <a@example.vn> <b@example.vn>",
            b"Content-Type: text/html; charset=utf-8",
            b"Content-Transfer-Encoding: base64",
            b"",
            body,
        ]
    )
    message = only(email.parse(raw(Channel.EMAIL, mail)))

    assert "<" not in message.text
    assert "Đường tổ 2 phường Quyết Thắng" in message.text
    assert "bị sụt lún & ngập nước." in message.text
    assert message.title == "Sụt lún"
    assert message.contact == Contact(email="dan@example.vn")
    assert message.reply_to_channel_message_id == "b@example.vn"


def test_email_images_become_attachments_named_by_content_id() -> None:
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0fake-jpeg").decode()
    mail = "\r\n".join(
        [
            "From: Người dân <dan@example.vn>",
            "Subject: Ảnh hiện trường",
            "Message-ID: <x2@example.vn>",
            'Content-Type: multipart/mixed; boundary="m"',
            "",
            "--m",
            "Content-Type: text/plain; charset=utf-8",
            "",
            SEED,
            "--m",
            "Content-Type: image/jpeg",
            "Content-ID: <anh1@example.vn>",
            'Content-Disposition: inline; filename="cho noong duc.jpg"',
            "Content-Transfer-Encoding: base64",
            "",
            jpeg,
            "--m",
            "Content-Type: image/png",
            'Content-Disposition: attachment; filename="hanh lang.png"',
            "Content-Transfer-Encoding: base64",
            "",
            jpeg,
            "--m",
            "Content-Type: application/pdf",
            'Content-Disposition: attachment; filename="don.pdf"',
            "",
            "JVBERi0=",
            "--m--",
            "",
        ]
    ).encode()
    message = only(email.parse(raw(Channel.EMAIL, mail)))

    assert message.text.strip() == SEED
    assert message.attachments == (
        Attachment(url="cid://anh1@example.vn", media_type="image/jpeg", name="cho noong duc.jpg"),
        Attachment(url="cid://hanh%20lang.png", media_type="image/png", name="hanh lang.png"),
    )


def test_an_email_in_an_unknown_charset_is_read_with_replacement_characters() -> None:
    mail = (
        b"From: dan@example.vn\r\nMessage-ID: <x3@example.vn>\r\n"
        b"Content-Type: text/plain; charset=viscii\r\n\r\nCh\xd5 Noong \x84\xfac"
    )
    message = only(email.parse(raw(Channel.EMAIL, mail)))

    assert message.text.startswith("Ch\ufffd Noong")
    assert message.title is None


def test_the_email_message_id_loses_its_angle_brackets() -> None:
    assert email.message_id(windows_1258_email()) == "20230314083000.4242@example.vn"
    assert email.message_id(b"From: dan@example.vn\r\n\r\nKhong co Message-ID") is None
    assert email.message_id(b"Message-ID: <a b@example.vn>\r\n\r\n") is None


# --- hotline --------------------------------------------------------------------------

TICKET: dict[str, Any] = {
    "ticket_id": "HL-20230314-0042",
    "caller_number": "0212 3852 114",
    "caller_name": "Cầm Văn Thanh",
    "summary": "Người dân báo cháy quầy hàng tại chợ Noong Đúc, khói lan sang khu dân cư.",
    "urgent": True,
    "address": "Chợ Noong Đúc, tổ 8",
    "ward": "Chiềng Sinh",
    "operator_id": "dtv-07",
    "call_started_at": "2023-03-14T08:05:00+07:00",
}


def test_a_hotline_ticket_is_an_urgent_report_with_the_callers_number() -> None:
    message = only(hotline.parse(raw(Channel.HOTLINE, TICKET, message_id="HL-20230314-0042")))

    assert message == ChannelMessage(
        channel=Channel.HOTLINE,
        channel_message_id="HL-20230314-0042",
        received_at=RECEIVED,
        text=TICKET["summary"],
        contact=Contact(phone="0212 3852 114", name="Cầm Văn Thanh"),
        address_text="Chợ Noong Đúc, tổ 8",
        ward_hint="Chiềng Sinh",
        urgent=True,
    )
    assert hotline.message_id(json.dumps(TICKET).encode()) == "HL-20230314-0042"


def test_a_call_from_a_withheld_number_has_no_contact_but_is_not_anonymous() -> None:
    ticket = {**TICKET, "caller_number": "", "caller_name": None}
    message = only(hotline.parse(raw(Channel.HOTLINE, ticket)))

    assert (message.contact, message.anonymous) == (None, False)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"summary": None}, "summary: Input should be a valid string"),
        ({"operator_id": ""}, "operator_id: String should have at least 1 character"),
        ({"urgent": "khẩn"}, "urgent: Input should be a valid boolean"),
        ({"call_started_at": "2023-03-14T08:05:00"}, "call_started_at: Input should have timezone"),
        ({"ticket_id": None}, "ticket_id: Input should be a valid string"),
    ],
)
def test_a_malformed_hotline_ticket_is_refused(change: dict[str, Any], detail: str) -> None:
    error = refused(hotline.parse, raw(Channel.HOTLINE, {**TICKET, **change}))

    assert detail in error.detail


# --- web ------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def test_a_form_encoded_web_report_is_read_with_its_vietnamese_text() -> None:
    form = urlencode(
        {
            "text": SEED,
            "title": "Lấn chiếm hành lang chợ",
            "name": "Lò Văn Minh",
            "phone": "0912345678",
            "email": "",
            "ward": "Chiềng Sinh",
            "address": "Chợ Noong Đúc",
        }
    )
    message = only(web.parse(raw(Channel.WEB, form, content_type=f"{FORM}; charset=UTF-8")))

    assert message.text == SEED
    assert message.title == "Lấn chiếm hành lang chợ"
    assert message.contact == Contact(phone="0912345678", name="Lò Văn Minh")
    assert (message.ward_hint, message.address_text) == ("Chiềng Sinh", "Chợ Noong Đúc")


def test_an_anonymous_web_report_keeps_no_contact() -> None:
    form = urlencode({"text": SEED, "phone": "0912345678", "anonymous": "on"})
    message = only(web.parse(raw(Channel.WEB, form, content_type=FORM)))

    assert (message.contact, message.anonymous) == (None, True)


def test_a_json_web_report_is_read_too() -> None:
    body = {"text": SEED, "email": "minh@example.vn", "anonymous": False}
    message = only(web.parse(raw(Channel.WEB, body)))

    assert message.contact == Contact(email="minh@example.vn")


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        ("noi_dung=" + SEED, FORM, "text: Field required"),
        (urlencode({"text": SEED, "anonymous": "có"}), FORM, "anonymous: Input should be a valid"),
        (urlencode({"text": SEED}), "text/plain", "not 'text/plain'"),
        ("text=%FF%FE", FORM, "the form is not UTF-8"),
    ],
)
def test_a_malformed_web_report_is_refused(body: str, content_type: str, detail: str) -> None:
    error = refused(web.parse, raw(Channel.WEB, body, content_type=content_type))

    assert detail in error.detail


# --- collaborator ---------------------------------------------------------------------

SUMMARY: dict[str, Any] = {
    "collaborator_id": "ctv-chieng-sinh-08",
    "kind": "periodic_summary",
    "report_id": "BC-2023-03-CS08",
    "period": {"from": "2023-03-01", "to": "2023-03-15"},
    "items": [
        {
            "text": SEED,
            "ward": "Chiềng Sinh",
            "address": "Chợ Noong Đúc, tổ 8",
            "category": "urban_order",
            "lat": 21.3035,
            "lon": 103.9472,
        },
        {"text": "Nhân dân bản Noong Đúc phản ánh đường nội bản xuống cấp, đề nghị sửa chữa."},
        {
            "text": "Tổ 5 đề nghị tăng cường tuần tra ban đêm do có trộm cắp vặt.",
            "ward": "Chiềng Sinh",
            "category": "security_order",
        },
    ],
}


def test_a_periodic_summary_yields_one_message_per_item() -> None:
    messages = collaborator.parse(raw(Channel.COLLABORATOR, SUMMARY, message_id="BC-2023-03-CS08"))

    assert [message.channel_message_id for message in messages] == [
        "BC-2023-03-CS08#1",
        "BC-2023-03-CS08#2",
        "BC-2023-03-CS08#3",
    ]
    assert [message.text for message in messages] == [item["text"] for item in SUMMARY["items"]]
    assert {(m.collaborator_id, m.urgent, m.contact, m.anonymous) for m in messages} == {
        ("ctv-chieng-sinh-08", False, None, False)
    }
    assert messages[0].point == GeoPoint(lat=21.3035, lon=103.9472)
    assert (messages[0].category_hint, messages[2].category_hint) == (
        "urban_order",
        "security_order",
    )
    assert (messages[1].point, messages[1].ward_hint) == (None, None)
    assert collaborator.message_id(json.dumps(SUMMARY).encode()) == "BC-2023-03-CS08"


def test_an_urgent_incident_report_is_urgent() -> None:
    body = {**SUMMARY, "kind": "urgent_incident", "period": None, "items": SUMMARY["items"][:1]}

    assert only(collaborator.parse(raw(Channel.COLLABORATOR, body))).urgent is True


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"items": []}, "items: List should have at least 1 item"),
        ({"kind": "monthly"}, "kind: Input should be 'periodic_summary' or 'urgent_incident'"),
        ({"items": [{"text": SEED, "lat": 21.3}]}, "items.0: Value error, lat and lon go together"),
        ({"period": {"from": "2023-03-15", "to": "2023-03-01"}}, "period: Value error, 'to' is"),
        ({"collaborator_id": "ctv 08"}, "collaborator_id: String should match pattern"),
    ],
)
def test_a_malformed_collaborator_report_is_refused(change: dict[str, Any], detail: str) -> None:
    error = refused(collaborator.parse, raw(Channel.COLLABORATOR, {**SUMMARY, **change}))

    assert detail in error.detail


def test_parsing_is_deterministic() -> None:
    payload = raw(Channel.EMAIL, windows_1258_email())

    assert email.parse(payload) == email.parse(payload)


def test_an_email_with_a_hostile_sender_header_is_refused_not_crashed() -> None:
    hostile = b"\r\n".join(
        [
            b'From: "Nguyen" <a@[1.2.3.4',
            b"Message-ID: <hostile-1@example.vn>",
            b"Subject: test",
            b"",
            "Đèn đường hỏng ở tổ 8 phường Chiềng Sinh".encode(),
        ]
    )
    raw = RawChannelMessageReceived(
        channel=Channel.EMAIL,
        channel_message_id="hostile-1@example.vn",
        received_at=datetime(2023, 3, 14, tzinfo=UTC),
        content_type="message/rfc822",
        body=base64.b64encode(hostile).decode(),
        body_encoding="base64",
        authenticated_as="api-key:email:relay",
    )
    try:
        messages = email.parse(raw)
    except PayloadError as refused:
        assert refused.detail
    else:
        assert messages[0].text  # read despite the defect: also acceptable


def test_a_photo_url_python_cannot_split_does_not_break_the_parser() -> None:
    """Found by schemathesis: ``urlsplit('http://I[K')`` raises ValueError (a 500 then)."""
    message = only(city_app.parse(raw(Channel.APP, {**APP_REPORT, "photos": ["http://I[K"]})))
    assert [(a.url, a.media_type) for a in message.attachments] == [("http://I[K", "image/jpeg")]


def test_the_contracts_example_of_a_raw_app_message_is_a_report_intake_accepts() -> None:
    """Adapter authors copy the contracts' example: it must be a valid app report."""
    from phananh_contracts.examples import RAW_MESSAGE_RECEIVED, REPORT_TEXT

    (message,) = parse_raw(RAW_MESSAGE_RECEIVED.data)
    assert message.text == REPORT_TEXT and not message.anonymous
    assert message.ward_hint == "Chiềng Sinh" and message.point is not None
    assert message.contact is not None and message.contact.phone
    assert [a.url for a in message.attachments] == ["https://media.sonla.example/u/8841/cho.jpg"]
