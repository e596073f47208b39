"""Rate limits through intake's HTTP app: what a channel's client sees, on the real database.

Each front is intake's ASGI app wired as ``create_app`` wires it (``front_context`` and
``rate_limiter``, the platform's HTTP app), with an in-memory publisher instead of Kafka
and a clock the test moves. Two fronts with database clients of their own share one
database, as two intake instances do: they enforce one limit together.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from intake.adapters.http import build_routes
from intake.adapters.store import IntakeStore, OpenRequests
from intake.app import SERVICE, front_context, open311_services, rate_limiter
from intake.config import load_city_config
from intake.metrics import IntakeMetrics
from intake.settings import Settings
from phananh_contracts import RejectionReason
from phananh_platform.runtime import ServiceApp, build_service
from phananh_platform.settings import MongoSettings
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.intake import KeptPublisher

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[5]
SEED = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, lấn chiếm lối đi."
KEYS = {
    "app:sonla-smart": "app-key-limits-0123456789",
    "web:cong-thong-tin": "web-key-limits-0123456789",
    "hotline:tong-dai": "hotline-key-limits-012345",
    "open311:clients": "o311-key-limits-012345678",
}
ZALO_APP_ID, ZALO_SECRET = "zalo-app-limits", "zalo-oa-secret-limits-0123"
FB_SECRET, FB_TOKEN = "fb-app-secret-limits-0123", "fb-verify-token-limits"
START = datetime(2026, 3, 14, 1, 30, 15, tzinfo=UTC)
"""15 s into a minute's window, 30 min 15 s into an hour's."""
LIMITS = {
    "api_key": {"requests": 5, "window_s": 60},
    "sender": {"requests": 3, "window_s": 3600},
    "client_ip": {"requests": 4, "window_s": 60},
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Front:
    service: ServiceApp
    http: httpx.AsyncClient
    publisher: KeptPublisher

    def counted(self, metric: str, scope: str) -> float:
        value = self.service.registry.get_sample_value(metric, {"scope": scope})
        return value or 0.0


def settings_for(mongo: MongoSettings, **changes: Any) -> Settings:
    return Settings(
        mongodb=mongo,
        city_config=ROOT / "config" / "son-la" / "city.yaml",
        tracking_secret=SecretStr("tracking-secret-for-limit-tests-0123"),
        contact_keys=[SecretStr("k" * 43 + "=")],
        pseudonym_key=SecretStr("pseudonym-key-for-limit-tests-01234"),
        api_keys={name: SecretStr(key) for name, key in KEYS.items()},
        zalo={"app_id": ZALO_APP_ID, "oa_secret": ZALO_SECRET},
        facebook={"app_secret": FB_SECRET, "verify_token": FB_TOKEN},
        rate_limits=LIMITS,
        **changes,
    )


async def start_front(settings: Settings, clock: Clock) -> Front:
    """Intake's HTTP app as ``create_app`` wires its front, publishing to memory."""
    config = load_city_config(settings.city_config)
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    limiter = rate_limiter(settings, database, IntakeMetrics(service.registry), clock=clock)
    publisher = KeptPublisher()
    names = {s.service_code: s.service_name for s in open311_services(config)}
    front = front_context(
        settings,
        config,
        publisher=publisher,
        requests=OpenRequests(IntakeStore(database), names),
        limiter=limiter,
        clock=clock,
    )
    service.routes.extend(build_routes(front))
    transport = httpx.ASGITransport(app=service.asgi())
    http = httpx.AsyncClient(transport=transport, base_url="http://intake")
    return Front(service, http, publisher)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fronts(
    mongo_settings: MongoSettings, database: AsyncDatabase[Any], clock: Clock
) -> AsyncIterator[tuple[Front, Front]]:
    pair = (
        await start_front(settings_for(mongo_settings), clock),
        await start_front(settings_for(mongo_settings), clock),
    )
    yield pair
    for front in pair:
        await front.http.aclose()
        assert front.service.mongo is not None
        await front.service.mongo.close()


def auth(client: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[client]}"}


def app_report(phone: str | None = None, **fields: Any) -> dict[str, Any]:
    report: dict[str, Any] = {"client_message_id": str(uuid.uuid4()), "text": SEED}
    if phone is None:
        return report | {"anonymous": True, "consent": False} | fields
    contact = {"name": "Lò Văn Minh", "phone": phone}
    return report | {"anonymous": False, "consent": True, "contact": contact} | fields


async def post_app(front: Front, report: dict[str, Any]) -> httpx.Response:
    return await front.http.post(
        "/channels/app/reports", json=report, headers=auth("app:sonla-smart")
    )


def published(*fronts: Front) -> list[str]:
    return [event.data.channel_message_id for f in fronts for event in f.publisher.events]


# --- API clients ------------------------------------------------------------------------


async def test_two_fronts_sharing_a_database_enforce_one_limit_per_api_key(
    fronts: tuple[Front, Front], clock: Clock
) -> None:
    first, second = fronts
    answers = [await post_app(front, app_report()) for front in (first, second) * 2 + (first,)]
    assert [answer.status_code for answer in answers] == [202] * 5

    refused_report = app_report()
    refused = await post_app(second, refused_report)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "45"  # the minute's window ends at 01:31:00
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["limit"] == "api_key"
    assert "at most 5 requests with this API key a minute" in error["message"]
    assert "1 phút" in error["message_vi"], "the app tells the citizen when to try again"
    assert len(published(first, second)) == 5
    assert f"app:sonla-smart/{refused_report['client_message_id']}" not in published(first, second)
    assert second.counted("pakn_intake_rate_limited_total", "api_key") == 1

    # Another client's key has a limit of its own.
    web = await first.http.post(
        "/channels/web/reports", json={"text": SEED}, headers=auth("web:cong-thong-tin")
    )
    assert web.status_code == 202

    # The next minute admits the app again, on either front.
    clock.now = START + timedelta(seconds=45)
    assert (await post_app(second, refused_report)).status_code == 202
    assert (await post_app(first, app_report())).status_code == 202


async def test_concurrent_requests_on_two_fronts_never_pass_the_limit(
    fronts: tuple[Front, Front],
) -> None:
    first, second = fronts
    requests = [post_app(first if n % 2 else second, app_report()) for n in range(20)]

    statuses = sorted(answer.status_code for answer in await asyncio.gather(*requests))

    assert statuses == [202] * 5 + [429] * 15
    assert len(published(first, second)) == 5


# --- senders ----------------------------------------------------------------------------


async def test_a_sender_over_its_limit_is_refused_whatever_channel_or_front_it_uses(
    fronts: tuple[Front, Front], clock: Clock
) -> None:
    first, second = fronts
    hotline_ticket = {
        "ticket_id": "HL-20260314-0042",
        "summary": SEED,
        "urgent": False,
        "caller_number": "+84 912 345 678",
        "operator_id": "dtv-07",
    }
    sent = [
        await post_app(first, app_report("0912345678")),
        await second.http.post(
            "/channels/web/reports",
            json={"text": SEED, "phone": "0912 345 678"},
            headers=auth("web:cong-thong-tin"),
        ),
        await first.http.post(
            "/channels/hotline/tickets", json=hotline_ticket, headers=auth("hotline:tong-dai")
        ),
    ]
    assert [answer.status_code for answer in sent] == [202, 202, 202]

    refused = await post_app(second, app_report("091 234 5678"))

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(29 * 60 + 45)  # the hour's end, 02:00:00
    error = refused.json()["error"]
    assert (error["code"], error["limit"]) == ("rate_limited", "sender")
    assert "at most 3 messages from this sender an hour" in error["message"]
    assert "30 phút" in error["message_vi"]
    assert len(published(first, second)) == 3
    assert second.counted("pakn_intake_rate_limited_total", "sender") == 1

    # Another citizen, and anonymous reports (nobody to count), are not held back.
    assert (await post_app(second, app_report("0987654321"))).status_code == 202
    assert (await post_app(first, app_report())).status_code == 202

    clock.now = START + timedelta(minutes=30)
    assert (await post_app(first, app_report("0912345678"))).status_code == 202


# --- webhooks: answered 200, recorded as rejected ----------------------------------------


def zalo_event(message_id: str, user: str = "246845883529197922") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "app_id": ZALO_APP_ID,
            "event_name": "user_send_text",
            "timestamp": "1773451815000",
            "sender": {"id": user},
            "recipient": {"id": "388613280878808645"},
            "message": {"msg_id": message_id, "text": SEED},
        },
        ensure_ascii=False,
    ).encode()
    signed = ZALO_APP_ID.encode() + body + b"1773451815000" + ZALO_SECRET.encode()
    return body, {"X-ZEvent-Signature": f"mac={hashlib.sha256(signed).hexdigest()}"}


async def test_a_zalo_sender_over_its_limit_is_answered_200_and_recorded_as_rejected(
    fronts: tuple[Front, Front],
) -> None:
    first, second = fronts
    for number in range(3):
        body, headers = zalo_event(f"msg-{number}")
        accepted = await (first, second)[number % 2].http.post(
            "/channels/zalo/webhook", content=body, headers=headers
        )
        assert accepted.json()["status"] == "accepted"

    body, headers = zalo_event("msg-over")
    over = await first.http.post("/channels/zalo/webhook", content=body, headers=headers)

    # Zalo gets its 200 (anything else is redelivered in vain), no tracking code is told,
    # and the message goes to the normalizer marked, to become a rate_limited rejection.
    assert over.status_code == 200
    answer = over.json()
    assert (answer["status"], answer["channel_message_ids"], answer["tracking_codes"]) == (
        "ignored",
        [],
        [],
    )
    [ignored] = answer["ignored"]
    assert ignored["reason"] == "rate_limited"
    assert "at most 3 messages from this sender an hour" in ignored["detail"]
    marked = first.publisher.events[-1]
    assert marked.data.channel_message_id == "msg-over"
    assert marked.data.rejection_reason == RejectionReason.RATE_LIMITED
    unmarked = [e for f in fronts for e in f.publisher.events if e.data.rejection_reason is None]
    assert len(unmarked) == 3

    # Another Zalo user is not held back.
    body, headers = zalo_event("msg-other", user="111111111111111111")
    other = await second.http.post("/channels/zalo/webhook", content=body, headers=headers)
    assert other.json()["status"] == "accepted"


async def test_facebook_items_over_their_sender_s_limit_are_marked_one_by_one(
    fronts: tuple[Front, Front],
) -> None:
    first, _ = fronts

    def messenger(mid: str, psid: str) -> dict[str, Any]:
        return {
            "sender": {"id": psid},
            "recipient": {"id": "page"},
            "message": {"mid": mid, "text": SEED},
        }

    items = [messenger(f"m_{n}", "psid-1") for n in range(4)] + [messenger("m_x", "psid-2")]
    body = json.dumps({"object": "page", "entry": [{"id": "page", "messaging": items}]}).encode()
    signature = hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()

    response = await first.http.post(
        "/channels/facebook/webhook",
        content=body,
        headers={"X-Hub-Signature-256": f"sha256={signature}"},
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["channel_message_ids"] == ["m_0", "m_1", "m_2", "m_x"]
    assert [item["reason"] for item in answer["ignored"]] == ["rate_limited"]
    marks = {e.data.channel_message_id: e.data.rejection_reason for e in first.publisher.events}
    assert marks == {
        "m_0": None,
        "m_1": None,
        "m_2": None,
        "m_3": RejectionReason.RATE_LIMITED,
        "m_x": None,
    }


# --- Open311 ----------------------------------------------------------------------------


async def test_open311_answers_429_in_its_own_error_format(
    fronts: tuple[Front, Front],
) -> None:
    first, second = fronts

    async def post(front: Front, fmt: str = "json") -> httpx.Response:
        form = {
            "api_key": KEYS["open311:clients"],
            "service_code": "urban_order",
            "description": SEED,
            "lat": "21.3",
            "long": "103.9",
        }
        return await front.http.post(
            f"/open311/v2/requests.{fmt}",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    assert [(await post(f)).status_code for f in (first, second) * 2 + (first,)] == [200] * 5

    refused = await post(second)
    refused_xml = await post(first, "xml")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "45"
    [error] = refused.json()
    assert error["code"] == 429
    assert "at most 5 requests with this API key a minute" in error["description"]
    assert refused_xml.status_code == 429
    assert b"<code>429</code>" in refused_xml.content
    assert len(published(first, second)) == 5


async def test_open311_reads_without_a_key_are_limited_per_client_address(
    fronts: tuple[Front, Front], clock: Clock
) -> None:
    first, second = fronts
    reads: list[Callable[[], Awaitable[httpx.Response]]] = [
        lambda: first.http.get("/open311/v2/requests.json"),
        lambda: second.http.get("/open311/v2/requests/SL-2603-D7E7FC.json"),
        lambda: first.http.get("/open311/v2/tokens/abc.json"),
        lambda: second.http.get("/open311/v2/requests.xml?status=open"),
    ]
    assert [(await read()).status_code for read in reads] == [200, 404, 404, 200]

    refused = await first.http.get("/open311/v2/requests.json")

    assert refused.status_code == 429
    assert "at most 4 requests from this address a minute" in refused.json()[0]["description"]
    assert first.counted("pakn_intake_rate_limited_total", "client_ip") == 1
    # The documents that read nothing are not counted.
    assert (await first.http.get("/open311/v2/services.json")).status_code == 200

    clock.now = START + timedelta(minutes=1)
    assert (await first.http.get("/open311/v2/requests.json")).status_code == 200


# --- the limiter failing ----------------------------------------------------------------


async def test_when_the_database_is_away_reports_are_admitted_unchecked_and_counted(
    clock: Clock,
) -> None:
    unreachable = MongoSettings(
        url=SecretStr("mongodb://127.0.0.1:9/?directConnection=true"),
        database="pakn_intake_unreachable",
        server_selection_timeout_ms=200,
    )
    settings = settings_for(unreachable)
    settings.rate_limits.timeout_s = 0.5
    front = await start_front(settings, clock)
    try:
        answers = [await post_app(front, app_report("0912345678")) for _ in range(7)]

        # Over the limits (5 a minute, 3 an hour), yet nothing lost: the limiter fails open.
        assert [answer.status_code for answer in answers] == [202] * 7
        assert len(front.publisher.events) == 7
        assert front.counted("pakn_intake_rate_limit_unchecked_total", "api_key") == 7
        assert front.counted("pakn_intake_rate_limited_total", "api_key") == 0
    finally:
        await front.http.aclose()
        assert front.service.mongo is not None
        await front.service.mongo.close()
