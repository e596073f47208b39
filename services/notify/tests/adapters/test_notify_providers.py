"""Provider contract tests: each adapter against a real local HTTP or SMTP server.

What is checked is what the provider's operator would see (method, path, headers, JSON)
and how each answer is classified: accepted, transient (retry) or permanent (fall back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from notify.adapters.providers import (
    AppPush,
    FacebookSend,
    HttpClient,
    OutgoingMessage,
    SmsGateway,
    SmtpMail,
    ZaloOa,
    ZaloZns,
)
from notify.adapters.templates import TemplateBook
from notify.config import (
    AppPushProvider,
    FacebookProvider,
    SmsHttpProvider,
    SmtpProvider,
    ZaloOaProvider,
    ZaloZnsProvider,
    load_notify_config,
)
from notify.domain.delivery import Verdict
from notify.domain.notices import TemplateId
from notify.domain.samples import sample_contexts
from phananh_platform.privacy import SealedContact
from pydantic import AnyHttpUrl

from tests.support.providers import MailServer, ProviderServer, Reply, refused_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
CONFIG = load_notify_config(ROOT / "config/son-la/notify.yaml")
BOOK = TemplateBook(CONFIG.templates_dir, CONFIG.zone)
PHONE = "+84912345678"


def message(channel: str, contact: SealedContact) -> OutgoingMessage:
    template = TemplateId.REPORT_ASSIGNED
    rendered = BOOK.render(template, channel, sample_contexts()[template])
    return OutgoingMessage(
        notification_id="01GVHQ6JZ9Y3X5B7C2D4E6F8G0:vn.pakn.report.assigned:ctz-1:ev-1",
        template_id=template.value,
        tracking_code="SL-2303-7KQ4M9",
        rendered=rendered,
        contact=contact,
    )


@pytest.fixture
async def server() -> AsyncIterator[ProviderServer]:
    async with ProviderServer() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = HttpClient()
    yield http
    await http.close()


def url(server: ProviderServer, path: str) -> AnyHttpUrl:
    return AnyHttpUrl(server.url(path))


async def test_app_push_posts_the_message_with_its_idempotency_key(
    server: ProviderServer, client: HttpClient
) -> None:
    config = AppPushProvider(id="app-push", kind="app_push", url=url(server, "/push"))
    server.reply(Reply(202, {"id": "push-77"}))
    out = message("app", SealedContact(channel="app", phone=PHONE))
    result = await AppPush(config, client, "app-token").send(out)

    assert result.verdict == Verdict.ACCEPTED and result.provider_message_id == "push-77"
    (request,) = server.to("/push")
    assert request.headers["authorization"] == "Bearer app-token"
    assert request.headers["idempotency-key"] == out.notification_id
    assert request.body["recipient"]["phone"] == PHONE
    assert request.body["title"] == "Phản ánh SL-2303-7KQ4M9 đã được chuyển cơ quan xử lý"
    assert "Ủy ban nhân dân phường Chiềng Sinh chủ trì giải quyết" in request.body["body"]
    assert request.body["data"] == {
        "tracking_code": "SL-2303-7KQ4M9",
        "template_id": "report-assigned",
    }


async def test_zalo_oa_sends_a_consultation_message_and_reads_zalo_error_codes(
    server: ProviderServer, client: HttpClient
) -> None:
    config = ZaloOaProvider(id="zalo-oa", kind="zalo_oa", url=url(server, "/v3.0/oa/message/cs"))
    provider = ZaloOa(config, client, "oa-access-token")
    out = message("zalo", SealedContact(channel="zalo", channel_user_ref="8841203375"))
    server.reply(
        Reply(200, {"error": 0, "message": "Success", "data": {"message_id": "z-1"}}),
        Reply(200, {"error": -213, "message": f"User {PHONE} has not followed the OA"}),
        Reply(200, {"error": -32, "message": "Exceeded rate limit"}),
        Reply(503, {}),
    )

    sent = await provider.send(out)
    unknown = await provider.send(out)
    limited = await provider.send(out)
    busy = await provider.send(out)

    assert sent.verdict == Verdict.ACCEPTED and sent.provider_message_id == "z-1"
    request = server.to("/v3.0/oa/message/cs")[0]
    assert request.headers["access_token"] == "oa-access-token"
    assert request.body["recipient"] == {"user_id": "8841203375"}
    assert (
        "Thời hạn giải quyết: 17 giờ 00, thứ Ba, ngày 21/3/2023." in request.body["message"]["text"]
    )
    assert unknown.verdict == Verdict.PERMANENT
    assert unknown.reason.startswith("Zalo error -213")
    assert PHONE not in unknown.reason and "912345678" not in unknown.reason
    assert limited.verdict == Verdict.TRANSIENT
    assert (busy.verdict, busy.reason[:8]) == (Verdict.TRANSIENT, "HTTP 503")


async def test_zns_sends_the_registered_template_to_the_phone(
    server: ProviderServer, client: HttpClient
) -> None:
    config = ZaloZnsProvider(
        id="zalo-zns", kind="zalo_zns", url=url(server, "/message/template"), template_id="31337"
    )
    server.reply(Reply(200, {"error": 0, "data": {"msg_id": "zns-9"}}))
    out = message("zalo", SealedContact(channel="hotline", phone=PHONE))
    result = await ZaloZns(config, client, "zns-token").send(out)

    assert result.verdict == Verdict.ACCEPTED and result.provider_message_id == "zns-9"
    (request,) = server.to("/message/template")
    assert request.body["phone"] == "84912345678"
    assert request.body["template_id"] == "31337"
    assert request.body["tracking_id"] == out.delivery_ref
    data = request.body["template_data"]
    assert data["ma_tra_cuu"] == "SL-2303-7KQ4M9"
    assert "Ủy ban nhân dân phường Chiềng Sinh" in data["noi_dung"]


async def test_the_sms_gateway_gets_a_short_text_without_diacritics(
    server: ProviderServer, client: HttpClient
) -> None:
    config = SmsHttpProvider(
        id="sms", kind="sms_http", url=url(server, "/sms"), sender="PAKN SONLA"
    )
    provider = SmsGateway(config, client, "sms-token")
    server.reply(Reply(200, {"message_id": "s-1"}), Reply(400, {"detail": "invalid number"}))
    out = message("sms", SealedContact(channel="web", phone=PHONE))

    sent = await provider.send(out)
    refused = await provider.send(out)

    assert sent.verdict == Verdict.ACCEPTED
    request = server.to("/sms")[0]
    assert request.headers["authorization"] == "Bearer sms-token"
    assert (request.body["to"], request.body["from"]) == (PHONE, "PAKN SONLA")
    assert request.body["client_ref"] == out.delivery_ref
    assert request.body["text"] == (
        "PAKN Son La: phan anh SL-2303-7KQ4M9 da chuyen Uy ban nhan dan phuong Chieng Sinh "
        "giai quyet, han 21/03/2023."
    )
    assert refused.verdict == Verdict.PERMANENT and "HTTP 400" in refused.reason


async def test_facebook_replies_through_the_send_api_and_reads_graph_errors(
    server: ProviderServer, client: HttpClient
) -> None:
    config = FacebookProvider(id="facebook", kind="facebook", url=url(server, "/v21.0/me/messages"))
    provider = FacebookSend(config, client, "page-token")
    server.reply(
        Reply(200, {"recipient_id": "6021", "message_id": "m_1"}),
        Reply(400, {"error": {"code": 551, "message": "This person isn't available right now."}}),
        Reply(400, {"error": {"code": 4, "message": "Application request limit reached"}}),
    )
    out = message("facebook", SealedContact(channel="facebook", channel_user_ref="6021"))

    sent = await provider.send(out)
    unavailable = await provider.send(out)
    throttled = await provider.send(out)

    assert sent.verdict == Verdict.ACCEPTED and sent.provider_message_id == "m_1"
    request = server.to("/v21.0/me/messages")[0]
    assert request.headers["authorization"] == "Bearer page-token"
    assert request.body["recipient"] == {"id": "6021"}
    assert (request.body["messaging_type"], request.body["tag"]) == (
        "MESSAGE_TAG",
        "ACCOUNT_UPDATE",
    )
    assert "Chiềng Sinh" in request.body["message"]["text"]
    assert unavailable.verdict == Verdict.PERMANENT and "Graph error 551" in unavailable.reason
    assert throttled.verdict == Verdict.TRANSIENT


async def test_a_provider_that_does_not_answer_in_time_or_at_all_is_transient(
    server: ProviderServer, client: HttpClient
) -> None:
    slow = SmsHttpProvider(
        id="sms", kind="sms_http", url=url(server, "/sms"), sender="PAKN", timeout_s=0.3
    )
    server.reply(Reply(200, {}, delay_s=1.0))
    out = message("sms", SealedContact(channel="web", phone=PHONE))
    late = await SmsGateway(slow, client, "t").send(out)
    assert (late.verdict, late.reason) == (Verdict.TRANSIENT, "no answer within 0.3s")

    down = slow.model_copy(update={"url": AnyHttpUrl(refused_url("/sms"))})
    refused = await SmsGateway(down, client, "t").send(out)
    assert refused.verdict == Verdict.TRANSIENT and refused.reason.startswith("cannot connect")


def smtp_config(port: int) -> SmtpProvider:
    return SmtpProvider(
        id="smtp",
        kind="smtp",
        host="127.0.0.1",
        port=port,
        security="none",
        from_address="phananh@sonla.example",
        from_name="Hệ thống phản ánh, kiến nghị Sơn La",
        message_id_domain="phananh.sonla.example",
        timeout_s=5,
    )


def refusing(address: str) -> tuple[int, str] | None:
    if address.startswith("khongton"):
        return (550, "5.1.1 mailbox unavailable")
    if address.startswith("dayhop"):
        return (452, "4.2.2 mailbox full, try later")
    return None


async def test_email_reaches_a_real_smtp_server_in_vietnamese() -> None:
    with MailServer(refusing) as mail:
        provider = SmtpMail(smtp_config(mail.port), password=None)
        out = message("email", SealedContact(channel="email", email="lo.van.minh@example.vn"))
        result = await provider.send(out)

    assert result.verdict == Verdict.ACCEPTED
    (email,) = mail.messages
    assert email["To"] == "lo.van.minh@example.vn"
    assert email["Subject"] == "Phản ánh SL-2303-7KQ4M9 đã được chuyển cơ quan xử lý"
    (sender,) = email["From"].addresses
    assert sender.display_name == "Hệ thống phản ánh, kiến nghị Sơn La"
    assert sender.addr_spec == "phananh@sonla.example"
    assert email["Message-ID"] == f"<{out.delivery_ref}@phananh.sonla.example>"
    body = email.get_content()
    assert "Thời hạn giải quyết: 17 giờ 00, thứ Ba, ngày 21/3/2023." in body


async def test_emails_share_a_kept_session_and_one_the_server_dropped_is_replaced() -> None:
    """A mail server sees one session for many messages, not a connection per message;
    a kept session the server closed meanwhile costs no message and sends none twice."""
    with MailServer(refusing) as mail:
        provider = SmtpMail(smtp_config(mail.port), password=None)
        for n in range(5):
            out = message("email", SealedContact(channel="email", email=f"dan{n}@example.vn"))
            assert (await provider.send(out)).verdict == Verdict.ACCEPTED
        assert (mail.sessions, len(mail.messages)) == (1, 5)

        mail.restart()  # the kept session is gone
        out = message("email", SealedContact(channel="email", email="sau@example.vn"))
        assert (await provider.send(out)).verdict == Verdict.ACCEPTED
        assert (mail.sessions, len(mail.messages)) == (2, 6)
        assert mail.messages[-1]["To"] == "sau@example.vn"

        refused = await provider.send(
            message("email", SealedContact(channel="email", email="khongton@example.vn"))
        )
        after = await provider.send(
            message("email", SealedContact(channel="email", email="tiep@example.vn"))
        )
        provider.close()
    assert refused.verdict == Verdict.PERMANENT and after.verdict == Verdict.ACCEPTED
    assert [m["To"] for m in mail.messages[-2:]] == ["sau@example.vn", "tiep@example.vn"]


async def test_smtp_refusals_are_permanent_or_transient_by_their_code_and_outages_transient() -> (
    None
):
    with MailServer(refusing) as mail:
        provider = SmtpMail(smtp_config(mail.port), password=None)
        unknown = await provider.send(
            message("email", SealedContact(channel="email", email="khongton@example.vn"))
        )
        full = await provider.send(
            message("email", SealedContact(channel="email", email="dayhop@example.vn"))
        )
        assert mail.messages == []
    down = SmtpMail(smtp_config(mail.port), password=None)
    outage = await down.send(message("email", SealedContact(channel="email", email="a@b.vn")))

    assert (unknown.verdict, unknown.reason) == (Verdict.PERMANENT, "SMTP 550: recipient refused")
    assert full.verdict == Verdict.TRANSIENT
    assert outage.verdict == Verdict.TRANSIENT and outage.reason.startswith("cannot connect")
