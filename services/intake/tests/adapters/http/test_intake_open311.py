"""Open311 GeoReport v2: the form parser and the HTTP server, with in-memory Kafka and reads.

The last tests drive the server with ``georeport``, a third-party Open311 client, over a
real socket (uvicorn in a thread).
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
import uvicorn
from georeport import GeoReport
from hypothesis import given
from hypothesis import strategies as st
from intake.adapters.http.context import FrontContext, Open311Service
from intake.adapters.http.open311 import routes
from intake.domain.channels.open311 import parse
from intake.domain.model import ChannelMessage, Contact, PayloadError, ServiceRequestView
from intake.domain.tracking import tracking_code
from phananh_contracts import (
    Attachment,
    Channel,
    GeoPoint,
    RawChannelMessageReceived,
    RejectionReason,
)
from pymongo.errors import ServerSelectionTimeoutError
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.support.intake import KeptPublisher, ListedRequests

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SECRET = b"tracking-secret-for-tests-only-0123456789"
API_KEY = "sonla-smart-test-key-0001"
SERVICES = (
    Open311Service(
        service_code="urban_order",
        service_name="Trật tự đô thị",
        description="Lấn chiếm vỉa hè, lòng đường, họp chợ sai quy định",
        group="Đô thị",
        keywords=("vỉa hè", "lấn chiếm", "chợ"),
    ),
    Open311Service(
        service_code="street_lighting",
        service_name="Chiếu sáng công cộng",
        description="Đèn đường hỏng, không sáng hoặc sáng cả ban ngày",
        group="Hạ tầng",
    ),
    Open311Service(
        service_code="sanitation",
        service_name="Vệ sinh môi trường",
        description="Rác thải, nước thải, ô nhiễm",
        group="Môi trường",
        keywords=("rác",),
    ),
)
MARKET = ServiceRequestView(
    service_request_id="SL-2611-7KQ4M9",
    token="3f1c0a9e7b2d4c81a6e9f0b1c2d3e4f5",
    status="open",
    service_code="urban_order",
    service_name="Trật tự đô thị",
    description="Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc",
    requested_datetime=datetime(2026, 11, 20, 2, 15, tzinfo=UTC),
    updated_datetime=datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
    agency_responsible="UBND phường Chiềng Sinh",
    expected_datetime=datetime(2026, 12, 4, 10, 0, tzinfo=UTC),
    address="Hành lang chợ Noong Đúc, phường Chiềng Sinh",
    lat=21.3035,
    long=103.9472,
    media_url="https://media.pakn.example/reports/1.jpg",
)
LAMP = ServiceRequestView(
    service_request_id="SL-2610-2HD8XW",
    token="9a8b7c6d5e4f30211203948576abcdef",
    status="closed",
    status_notes="Đã thay bóng đèn.",
    service_code="street_lighting",
    service_name="Chiếu sáng công cộng",
    description="Đèn đường hỏng trên đường Lò Văn Giá, tổ 2 phường Tô Hiệu",
    requested_datetime=datetime(2026, 10, 1, 12, 30, tzinfo=UTC),
    updated_datetime=datetime(2026, 10, 3, 1, 0, tzinfo=UTC),
)
WASTE = ServiceRequestView(
    service_request_id="SL-2605-QW3E4R",
    token="0123456789abcdef0123456789abcdef",
    status="open",
    service_code="sanitation",
    service_name="Vệ sinh môi trường",
    description="Rác thải ùn ứ nhiều ngày tại bản Hụm, phường Chiềng Cơi",
    requested_datetime=datetime(2026, 5, 1, 0, 0, tzinfo=UTC),
    updated_datetime=datetime(2026, 5, 2, 0, 0, tzinfo=UTC),
)
FORM = {
    "api_key": API_KEY,
    "jurisdiction_id": "sonla.gov.vn",
    "service_code": "urban_order",
    "lat": "21.3035",
    "long": "103.9472",
    "address_string": "Hành lang chợ Noong Đúc, phường Chiềng Sinh",
    "attribute[ward]": "Chiềng Sinh",
    "first_name": "Thị Hoa",
    "last_name": "Lò",
    "email": "hoa.lo@example.vn",
    "phone": "0912345678",
    "device_id": "android-7f3a",
    "description": "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc",
    "media_url": "https://cdn.sonla-smart.example/u/ch%E1%BB%A3-noong-%C4%91%C3%BAc.jpg",
}


@pytest.fixture
def publisher() -> KeptPublisher:
    return KeptPublisher()


@pytest.fixture
def ctx(publisher: KeptPublisher) -> FrontContext:
    return FrontContext(
        publisher=publisher,
        tracking_secret=SECRET,
        city_prefix="SL",
        api_keys={API_KEY: "open311:fixmystreet"},
        requests=ListedRequests(MARKET, LAMP, WASTE),
        open311_services=SERVICES,
        clock=lambda: NOW,
    )


def client_for(ctx: FrontContext) -> TestClient:
    return TestClient(Starlette(routes=routes(ctx)))


@pytest.fixture
def client(ctx: FrontContext) -> TestClient:
    return client_for(ctx)


def raw_form(body: str, **changes: Any) -> RawChannelMessageReceived:
    fields: dict[str, Any] = {
        "channel": Channel.OPEN311,
        "channel_message_id": "5c1b8e0f4a2d4e6b9c7a1f3e5d7b9a0c",
        "received_at": NOW,
        "content_type": "application/x-www-form-urlencoded",
        "body": body,
        "body_encoding": "utf-8",
        "authenticated_as": "api-key:open311:fixmystreet",
    }
    return RawChannelMessageReceived(**(fields | changes))


def without(*names: str, **extra: str) -> dict[str, str]:
    return {k: v for k, v in FORM.items() if k not in names} | extra


def xml_records(content: bytes, root: str) -> list[dict[str, str | None]]:
    """The items of an XML list document, each as element name -> text."""
    document = ET.fromstring(content)
    assert document.tag == root
    return [{field.tag: field.text for field in item} for item in document]


def as_text(record: dict[str, Any]) -> dict[str, str | None]:
    """A JSON record as the XML document reads (an empty element has no text)."""
    spell = {True: "true", False: "false"}
    return {k: None if v in (None, "") else spell.get(v, str(v)) for k, v in record.items()}


# --- the parser -----------------------------------------------------------------------


def test_parser_reads_every_field_of_the_form() -> None:
    (message,) = parse(raw_form(urlencode(without("api_key"))))

    assert message == ChannelMessage(
        channel=Channel.OPEN311,
        channel_message_id="5c1b8e0f4a2d4e6b9c7a1f3e5d7b9a0c",
        received_at=NOW,
        text="Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc",
        contact=Contact(phone="0912345678", email="hoa.lo@example.vn", name="Lò Thị Hoa"),
        point=GeoPoint(lat=21.3035, lon=103.9472),
        address_text="Hành lang chợ Noong Đúc, phường Chiềng Sinh",
        ward_hint="Chiềng Sinh",
        category_hint="urban_order",
        attachments=(
            Attachment(url=FORM["media_url"], media_type="image/jpeg", name="chợ-noong-đúc.jpg"),
        ),
    )


def test_parser_takes_an_address_id_alone_as_the_location() -> None:
    form = without("lat", "long", "address_string", "first_name", "last_name", "email", "phone")

    (message,) = parse(raw_form(urlencode(form | {"address_id": "545483"})))

    assert (message.point, message.address_text) == (None, "Mã địa chỉ: 545483")
    assert message.contact is None


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("https://x.example/a/anh.PNG", "image/png"),
        ("https://x.example/v/clip.mp4?sig=1", "video/mp4"),
        ("https://x.example/media/12345", "application/octet-stream"),
    ],
)
def test_parser_guesses_the_media_type_from_the_extension(url: str, media_type: str) -> None:
    (message,) = parse(raw_form(urlencode(without(media_url=url))))

    assert message.attachments[0].media_type == media_type


@pytest.mark.parametrize(
    ("form", "detail"),
    [
        (without("service_code"), "service_code is required"),
        (without("description"), "description is required"),
        (without(description="   "), "description is required"),
        (without("lat", "long", "address_string"), "a location is required"),
        (without("long", "address_string"), "lat and long must be given together"),
        (without(lat="121.5"), "lat and long must be WGS 84 decimal degrees"),
        (without(long="đông"), "lat and long must be WGS 84 decimal degrees"),
        (without(media_url="ftp://x.example/a.jpg"), "media_url must be an absolute http"),
    ],
)
def test_parser_refuses_an_incomplete_form(form: dict[str, str], detail: str) -> None:
    with pytest.raises(PayloadError, match=detail) as refused:
        parse(raw_form(urlencode(form)))

    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD


def test_parser_refuses_a_description_over_4000_characters() -> None:
    with pytest.raises(PayloadError, match=r"longer than 4000 characters \(4001\)") as refused:
        parse(raw_form(urlencode(without(description="ồ" * 4001))))

    assert refused.value.reason is RejectionReason.TOO_LONG


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (raw_form("service_code=x", content_type="application/json"), "is a form"),
        (raw_form("c2VydmljZV9jb2RlPXg=", body_encoding="base64"), "body_encoding must be utf-8"),
        (raw_form("service_code=x&description=%E1%BB"), "not valid UTF-8"),
    ],
)
def test_parser_refuses_what_is_not_a_utf8_form(
    raw: RawChannelMessageReceived, detail: str
) -> None:
    with pytest.raises(PayloadError, match=detail):
        parse(raw)


@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=4000))
def test_parser_keeps_the_description_as_written(description: str) -> None:
    form = urlencode(without(description=description))

    if not description.strip():
        with pytest.raises(PayloadError):
            parse(raw_form(form))
    else:
        assert [m.text for m in parse(raw_form(form))] == [description.strip()]


# --- discovery and services -----------------------------------------------------------


def test_discovery_points_to_this_server_in_both_formats(client: TestClient) -> None:
    document = client.get("/open311/v2/discovery.json").json()
    xml = ET.fromstring(client.get("/open311/v2/discovery.xml").content)

    (endpoint,) = document["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["type"] == "production"
    assert xml.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2"
    assert [f.text for f in xml.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]
    assert xml.findtext("contact") == document["contact"]


def test_services_list_the_city_categories_in_json_and_xml(client: TestClient) -> None:
    as_json = client.get("/open311/v2/services.json", params={"jurisdiction_id": "any"})
    as_xml = client.get("/open311/v2/services.xml")

    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    assert as_xml.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert as_json.json()[0] == {
        "service_code": "urban_order",
        "service_name": "Trật tự đô thị",
        "description": "Lấn chiếm vỉa hè, lòng đường, họp chợ sai quy định",
        "metadata": True,
        "type": "realtime",
        "keywords": "vỉa hè, lấn chiếm, chợ",
        "group": "Đô thị",
    }
    assert xml_records(as_xml.content, "services") == [as_text(s) for s in as_json.json()]


def test_service_definition_offers_the_ward_attribute(client: TestClient) -> None:
    definition = client.get("/open311/v2/services/street_lighting.json").json()
    xml = ET.fromstring(client.get("/open311/v2/services/street_lighting.xml").content)

    assert definition["service_code"] == "street_lighting"
    (ward,) = definition["attributes"]
    assert ward["code"] == "ward"
    assert (ward["datatype"], ward["required"], ward["variable"]) == ("string", False, True)
    assert ward["description"] == "Phường/xã nơi xảy ra sự việc"
    assert xml.tag == "service_definition"
    assert xml.findtext("attributes/attribute/code") == "ward"
    assert xml.findtext("attributes/attribute/required") == "false"


@pytest.mark.parametrize(
    "path",
    [
        "/open311/v2/services/potholes.json",
        "/open311/v2/requests/SL-2611-000000.json",
        "/open311/v2/tokens/unknown.json",
    ],
)
def test_unknown_resources_answer_404_as_an_error_list(client: TestClient, path: str) -> None:
    as_json = client.get(path)
    as_xml = client.get(path.replace(".json", ".xml"))

    assert (as_json.status_code, as_xml.status_code) == (404, 404)
    assert as_json.json()[0]["code"] == 404
    assert xml_records(as_xml.content, "errors") == [as_text(e) for e in as_json.json()]


def test_an_unknown_format_answers_404(client: TestClient) -> None:
    response = client.get("/open311/v2/services.yaml")

    assert response.status_code == 404
    assert xml_records(response.content, "errors")[0]["code"] == "404"


# --- POST requests --------------------------------------------------------------------


def test_post_publishes_the_form_and_answers_the_tracking_code(
    client: TestClient, publisher: KeptPublisher
) -> None:
    response = client.post("/open311/v2/requests.json", data=FORM)

    assert response.status_code == 200
    [receipt] = response.json()
    [event] = publisher.events
    raw = event.data
    token = receipt["token"]
    code = tracking_code(SECRET, "SL", "open311", token, NOW)
    assert receipt == {
        "service_request_id": code,
        "token": token,
        "service_notice": f"Phản ánh của bạn đã được tiếp nhận. Mã tra cứu: {code}.",
        "account_id": None,
    }
    assert (raw.channel, raw.channel_message_id, raw.received_at) == (Channel.OPEN311, token, NOW)
    assert raw.authenticated_as == "api-key:open311:fixmystreet"
    assert event.source == "/channels/open311"
    assert raw.body == urlencode(without("api_key"))
    (message,) = parse(raw)
    assert (message.category_hint, message.ward_hint) == ("urban_order", "Chiềng Sinh")
    assert message.text == FORM["description"]


def test_post_keeps_the_form_as_received_without_the_api_key(
    client: TestClient, publisher: KeptPublisher
) -> None:
    rest = (
        "service_code=urban_order&lat=21.3&long=103.9&description=Ch%E1%BB%A3+Noong+%C4%90%C3%BAc"
    )
    body = f"api%5Fkey={quote(API_KEY)}&{rest}"

    response = client.post(
        "/open311/v2/requests.xml",
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )

    [receipt] = xml_records(response.content, "service_requests")
    assert response.status_code == 200
    assert receipt["token"] == publisher.events[0].data.channel_message_id
    assert publisher.events[0].data.body == rest


@pytest.mark.parametrize(
    ("form", "status", "detail"),
    [
        (without("api_key"), 403, "api_key is missing or not valid"),
        (without(api_key="not-a-key"), 403, "api_key is missing or not valid"),
        (without(service_code="potholes"), 400, "service_code is not valid"),
        (without("lat", "long", "address_string"), 400, "a location is required"),
        (without("description"), 400, "description is required"),
    ],
)
def test_post_refuses_bad_requests_and_publishes_nothing(
    client: TestClient,
    publisher: KeptPublisher,
    form: dict[str, str],
    status: int,
    detail: str,
) -> None:
    as_json = client.post("/open311/v2/requests.json", data=form)
    as_xml = client.post("/open311/v2/requests.xml", data=form)

    assert (as_json.status_code, as_xml.status_code) == (status, status)
    [error] = as_json.json()
    assert error["code"] == status
    assert error["description"].startswith(detail)
    assert xml_records(as_xml.content, "errors") == [as_text(error)]
    assert publisher.events == []


def test_post_answers_503_and_accepts_nothing_when_kafka_is_down(
    client: TestClient, publisher: KeptPublisher
) -> None:
    publisher.down = True

    response = client.post("/open311/v2/requests.json", data=FORM)

    assert response.status_code == 503
    assert response.json()[0]["code"] == 503
    assert "service_request_id" not in response.text
    assert publisher.events == []


def test_post_refuses_a_form_larger_than_allowed(
    ctx: FrontContext, publisher: KeptPublisher
) -> None:
    client = client_for(dataclasses.replace(ctx, max_body_bytes=2_000))

    response = client.post("/open311/v2/requests.json", data=without(description="ồ" * 1000))

    assert response.status_code == 413
    assert publisher.events == []


def test_post_refuses_a_body_that_is_not_a_form(client: TestClient) -> None:
    response = client.post("/open311/v2/requests.json", json=FORM)

    assert response.status_code == 400
    assert "application/x-www-form-urlencoded" in response.json()[0]["description"]


# --- GET requests ---------------------------------------------------------------------


def ids_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


def test_get_requests_maps_every_field_in_local_time(client: TestClient) -> None:
    response = client.get("/open311/v2/requests.json", params={"service_code": "urban_order"})

    assert response.json() == [
        {
            "service_request_id": "SL-2611-7KQ4M9",
            "status": "open",
            "status_notes": None,
            "service_name": "Trật tự đô thị",
            "service_code": "urban_order",
            "description": "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc",
            "agency_responsible": "UBND phường Chiềng Sinh",
            "service_notice": None,
            "requested_datetime": "2026-11-20T09:15:00+07:00",
            "updated_datetime": "2026-11-21T15:00:00+07:00",
            "expected_datetime": "2026-12-04T17:00:00+07:00",
            "address": "Hành lang chợ Noong Đúc, phường Chiềng Sinh",
            "address_id": None,
            "zipcode": None,
            "lat": 21.3035,
            "long": 103.9472,
            "media_url": "https://media.pakn.example/reports/1.jpg",
        }
    ]


def test_get_requests_json_and_xml_say_the_same(client: TestClient) -> None:
    as_json = client.get("/open311/v2/requests.json").json()
    as_xml = client.get("/open311/v2/requests.xml").content

    assert len(as_json) == 2
    assert xml_records(as_xml, "service_requests") == [as_text(r) for r in as_json]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [MARKET, LAMP]),
        ({"status": "closed"}, [LAMP]),
        ({"status": "open,closed"}, [MARKET, LAMP]),
        ({"service_code": "street_lighting,urban_order"}, [MARKET, LAMP]),
        ({"start_date": "2026-04-15T00:00:00+07:00"}, [WASTE]),
        ({"start_date": "2026-04-15", "end_date": "2026-07-01"}, [WASTE]),
        ({"end_date": "2026-10-15T00:00:00Z"}, [LAMP]),
        (
            {"service_request_id": "SL-2605-QW3E4R, SL-2611-7KQ4M9", "status": "closed"},
            [MARKET, WASTE],
        ),
    ],
)
def test_get_requests_filters(
    client: TestClient, params: dict[str, str], expected: list[ServiceRequestView]
) -> None:
    response = client.get("/open311/v2/requests.json", params=params)

    assert ids_of(response) == [v.service_request_id for v in expected]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"start_date": "2026-01-01T00:00:00+07:00", "end_date": "2026-06-01T00:00:00+07:00"},
         "may not span more than 90 days"),
        ({"start_date": "2026-06-01", "end_date": "2026-05-01"}, "must not be after"),
        ({"start_date": "hôm qua"}, "start_date must be ISO 8601"),
        # Out of datetime's range once in UTC or 90 days away (a 500 before).
        ({"end_date": "0001-01-01T00:00:00"}, "end_date must be ISO 8601 within years 1-9999"),
        ({"start_date": "9999-12-31T00:00:00"}, "must be within years 1-9999"),
        ({"end_date": "0001-01-03T00:00:00+00:00"}, "must be within years 1-9999"),
        ({"status": "pending"}, "status must be open, closed"),
    ],
)  # fmt: skip
def test_get_requests_refuses_bad_filters(
    client: TestClient, params: dict[str, str], detail: str
) -> None:
    response = client.get("/open311/v2/requests.json", params=params)

    assert response.status_code == 400
    assert detail in response.json()[0]["description"]


def test_get_one_request_and_its_token(client: TestClient) -> None:
    one = client.get("/open311/v2/requests/SL-2610-2HD8XW.xml")
    token = client.get(f"/open311/v2/tokens/{MARKET.token}.json")

    [lamp] = xml_records(one.content, "service_requests")
    assert (lamp["status"], lamp["status_notes"]) == ("closed", "Đã thay bóng đèn.")
    assert token.json() == [{"service_request_id": "SL-2611-7KQ4M9", "token": MARKET.token}]


@pytest.mark.parametrize(
    "path",
    ["requests.json", "requests/SL-2611-7KQ4M9.xml", f"tokens/{MARKET.token}.json"],
)
def test_reads_answer_503_without_the_read_model(ctx: FrontContext, path: str) -> None:
    client = client_for(dataclasses.replace(ctx, requests=None))

    response = client.get(f"/open311/v2/{path}")

    assert response.status_code == 503


class UnreachableRequests(ListedRequests):
    """The read model while its database is away."""

    async def by_id(self, service_request_id: str) -> ServiceRequestView | None:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")

    async def by_token(self, token: str) -> ServiceRequestView | None:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")

    async def search(self, **_: object) -> list[ServiceRequestView]:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")


@pytest.mark.parametrize(
    "path",
    ["requests.json", "requests/SL-2611-7KQ4M9.xml", f"tokens/{MARKET.token}.json"],
)
def test_reads_answer_503_in_open311_form_while_the_database_is_away(
    ctx: FrontContext, path: str
) -> None:
    client = client_for(dataclasses.replace(ctx, requests=UnreachableRequests()))

    response = client.get(f"/open311/v2/{path}")

    assert response.status_code == 503
    assert "cannot be read at the moment" in response.text


def test_xml_drops_characters_xml_cannot_carry(ctx: FrontContext) -> None:
    noisy = dataclasses.replace(MARKET, description="Chợ\x0cNoong Đúc")
    client = client_for(dataclasses.replace(ctx, requests=ListedRequests(noisy)))

    response = client.get(f"/open311/v2/requests/{noisy.service_request_id}.xml")

    assert xml_records(response.content, "service_requests")[0]["description"] == "ChợNoong Đúc"


# --- a third-party client over a real socket ------------------------------------------


@pytest.fixture
def server_root(ctx: FrontContext) -> Iterator[str]:
    """The server run by uvicorn on a free local port, as georeport's root address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Starlette(routes=routes(ctx)), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/open311/v2"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_services_and_requests(server_root: str, output_format: str) -> None:
    city = GeoReport(server_root, jurisdiction="sonla.gov.vn", output_format=output_format)

    services = city.get_service_list()
    definition = city.get_service_definition("urban_order")
    listed = city.get_service_requests()
    chosen = city.get_service_requests(service_request_id="SL-2605-QW3E4R,SL-2610-2HD8XW")
    market = city.get_service_request("SL-2611-7KQ4M9")

    assert [s["service_name"] for s in services] == [s.service_name for s in SERVICES]
    assert definition["service_code"] == "urban_order"
    assert [r["service_request_id"] for r in listed] == ["SL-2611-7KQ4M9", "SL-2610-2HD8XW"]
    assert [r["service_request_id"] for r in chosen] == ["SL-2610-2HD8XW", "SL-2605-QW3E4R"]
    assert market["description"] == MARKET.description
    assert market["requested_datetime"] == "2026-11-20T09:15:00+07:00"
    with pytest.raises(requests.HTTPError, match="404"):
        city.get_service_request("SL-2611-000000")


def test_a_key_of_another_channel_cannot_post_open311_requests(
    ctx: FrontContext, publisher: KeptPublisher
) -> None:
    app_key = "the-public-app-key-shipped-in-the-phone-app"
    client = client_for(dataclasses.replace(ctx, api_keys={app_key: "app:sonla-smart"}))

    response = client.post("/open311/v2/requests.json", data=without(api_key=app_key))

    assert response.status_code == 403
    assert publisher.events == []
