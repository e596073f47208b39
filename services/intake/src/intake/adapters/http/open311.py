"""Open311 GeoReport v2 server under ``/open311/v2`` (https://wiki.open311.org/GeoReport_v2).

Every resource ends in ``.xml`` or ``.json``; other suffixes answer 404. Errors are the
specification's list of ``{code, description}`` (``<errors><error>`` in XML) with HTTP 400,
403 (missing or unknown ``api_key``), 404, 413 (form too large), 429 (over a rate limit,
with ``Retry-After``) or 503 (Kafka or the read model unavailable). ``jurisdiction_id`` is
accepted everywhere and ignored: one server, one city.

Rate limits (intake.domain.limits): ``POST requests`` counts against its ``api_key``'s
client and against the sender (phone or email of the form); the reads of the database
(``GET requests``, ``requests/{id}``, ``tokens/{token}``), open to anyone, count against
the client's address.

``POST requests`` publishes the form (without its ``api_key``) as a raw channel event once
the Open311 parser accepted it, and answers 200 (as the specification's examples do) with
the tracking code as ``service_request_id`` (the service is ``realtime``) and the raw
message id as ``token``. The report itself is made later by the normalizer, so ``GET
requests`` and ``GET tokens`` find it only once the read model has it.
"""

from __future__ import annotations

import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias
from urllib.parse import parse_qs, unquote_plus

from phananh_contracts import Channel, RawChannelMessageReceived, RawChannelMessageReceivedEvent
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from intake.adapters.http.context import FrontContext, Open311Service, ServiceRequestLookup
from intake.domain.channels.open311 import FORM_CONTENT_TYPE, WARD_ATTRIBUTE, parse
from intake.domain.limits import Verdict
from intake.domain.model import PayloadError, ServiceRequestView
from intake.domain.normalize import sender_identity
from intake.domain.tracking import LOCAL_TIME, tracking_code

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-26T00:00:00+07:00"
"""When this server's discovery document (endpoints, formats) last changed."""
CONTACT = "Liên hệ bộ phận quản trị hệ thống tiếp nhận phản ánh, kiến nghị của thành phố."
KEY_SERVICE = "Mỗi ứng dụng dùng một api_key riêng, do bộ phận quản trị hệ thống cấp theo đề nghị."
SEARCH_WINDOW = timedelta(days=90)
SEARCH_LIMIT = 1000
MAX_FORM_BYTES = 64 * 1024
"""Cap on a form whatever ``max_body_bytes`` allows: text only, description ≤ 4000 characters."""
STATUSES = frozenset({"open", "closed"})

_MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
"""XML element of each item of a list, by the list's element."""
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

logger = logging.getLogger("phananh.intake.open311")

Json: TypeAlias = dict[str, "Json"] | list["Json"] | str | int | float | bool | None

_WARD: Json = {
    "variable": True,
    "code": WARD_ATTRIBUTE,
    "datatype": "string",
    "required": False,
    "datatype_description": "Tên phường hoặc xã, ví dụ: Chiềng Sinh",
    "order": 1,
    "description": "Phường/xã nơi xảy ra sự việc",
    "values": [],
}
"""The one attribute of every service; free text, since intake matches ward names itself."""


@dataclass(frozen=True)
class _Reply:
    """A document to send in the requested format: its XML root element and content."""

    tag: str
    content: Json
    status: int = 200
    headers: dict[str, str] | None = None


class Open311Error(Exception):
    """Answered as the specification's error list, with ``status`` as HTTP status and code."""

    def __init__(
        self, status: int, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers


def _over(verdict: Verdict) -> None:
    """429 when ``verdict`` refuses the request."""
    if not verdict.allowed:
        raise Open311Error(429, verdict.reason, {"Retry-After": str(verdict.retry_after_s)})


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The Open311 GeoReport v2 routes, to mount at the root of the HTTP front."""

    async def discovery(request: Request) -> _Reply:
        endpoint: Json = {
            "specification": SPECIFICATION,
            "url": str(request.base_url).rstrip("/") + PREFIX,
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
        content: Json = {
            "changeset": CHANGESET,
            "contact": CONTACT,
            "key_service": KEY_SERVICE,
            "endpoints": [endpoint],
        }
        return _Reply("discovery", content)

    async def services(request: Request) -> _Reply:
        return _Reply("services", [_service_fields(service) for service in ctx.open311_services])

    async def service_definition(request: Request) -> _Reply:
        code = request.path_params["service_code"]
        if all(service.service_code != code for service in ctx.open311_services):
            raise Open311Error(404, "service_code not found; GET services lists the codes")
        return _Reply("service_definition", {"service_code": code, "attributes": [_WARD]})

    async def create_request(request: Request) -> _Reply:
        form = await _read_form(request, min(ctx.max_body_bytes, MAX_FORM_BYTES))
        client = ctx.api_keys.get(parse_qs(form).get("api_key", [""])[0])
        if client is None or not client.startswith("open311:"):
            # Keys are scoped per channel: the public app's key cannot post here.
            raise Open311Error(403, "api_key is missing or not valid")
        if ctx.limiter is not None:
            _over(await ctx.limiter.api_client(client))
        received_at = ctx.clock()
        message_id = uuid.uuid4().hex
        raw = RawChannelMessageReceived(
            channel=Channel.OPEN311,
            channel_message_id=message_id,
            received_at=received_at,
            content_type=FORM_CONTENT_TYPE,
            body=_without_api_key(form),
            body_encoding="utf-8",
            authenticated_as=f"api-key:{client}",
        )
        try:
            (message,) = parse(raw)
        except PayloadError as error:
            raise Open311Error(400, error.detail) from None
        if all(s.service_code != message.category_hint for s in ctx.open311_services):
            raise Open311Error(400, "service_code is not valid; GET services lists the codes")
        if ctx.limiter is not None and (sender := sender_identity(message)) is not None:
            _over(await ctx.limiter.sender(Channel.OPEN311.value, sender))
        event = RawChannelMessageReceivedEvent.new(
            raw, source="/channels/open311", time=received_at
        )
        try:
            await ctx.publisher.publish_raw(event)
        except Exception:
            logger.exception("open311: raw event %s could not be published", event.id)
            raise Open311Error(503, "the request could not be recorded; retry later") from None
        code = tracking_code(
            ctx.tracking_secret, ctx.city_prefix, Channel.OPEN311.value, message_id, received_at
        )
        receipt: Json = {
            "service_request_id": code,
            "token": message_id,
            "service_notice": f"Phản ánh của bạn đã được tiếp nhận. Mã tra cứu: {code}.",
            "account_id": None,
        }
        return _Reply("service_requests", [receipt])

    async def lookup(request: Request) -> ServiceRequestLookup:
        """The read model, once the request is within its client address's limit."""
        if ctx.requests is None:
            raise Open311Error(503, "service requests cannot be read at the moment")
        if ctx.limiter is not None:
            _over(await ctx.limiter.client_ip(request.client.host if request.client else "-"))
        return ctx.requests

    async def by_token(request: Request) -> _Reply:
        token = request.path_params["token"]
        view = await (await lookup(request)).by_token(token)
        if view is None:
            raise Open311Error(404, "no service request for this token yet")
        return _Reply(
            "service_requests", [{"service_request_id": view.service_request_id, "token": token}]
        )

    async def search_requests(request: Request) -> _Reply:
        requests = await lookup(request)
        query = request.query_params
        if ids := _csv(query.get("service_request_id")):
            views = await requests.search(ids=ids, limit=SEARCH_LIMIT)
        else:
            start, end = _window(query.get("start_date"), query.get("end_date"), ctx.clock())
            status = _status(query.get("status"))
            codes: list[str | None] = [*_csv(query.get("service_code"))] or [None]
            views = [
                view
                for code in codes
                for view in await requests.search(
                    service_code=code, start=start, end=end, status=status, limit=SEARCH_LIMIT
                )
            ]
        newest = sorted(views, key=lambda view: view.requested_datetime, reverse=True)
        return _Reply("service_requests", [_request_fields(v) for v in newest[:SEARCH_LIMIT]])

    async def one_request(request: Request) -> _Reply:
        view = await (await lookup(request)).by_id(request.path_params["service_request_id"])
        if view is None:
            raise Open311Error(404, "service_request_id not found")
        return _Reply("service_requests", [_request_fields(view)])

    return [
        Route(f"{PREFIX}/discovery.{{fmt}}", _endpoint(discovery), methods=["GET"]),
        Route(f"{PREFIX}/services.{{fmt}}", _endpoint(services), methods=["GET"]),
        Route(
            f"{PREFIX}/services/{{service_code}}.{{fmt}}",
            _endpoint(service_definition),
            methods=["GET"],
        ),
        Route(f"{PREFIX}/requests.{{fmt}}", _endpoint(create_request), methods=["POST"]),
        Route(f"{PREFIX}/requests.{{fmt}}", _endpoint(search_requests), methods=["GET"]),
        Route(
            f"{PREFIX}/requests/{{service_request_id}}.{{fmt}}",
            _endpoint(one_request),
            methods=["GET"],
        ),
        Route(f"{PREFIX}/tokens/{{token}}.{{fmt}}", _endpoint(by_token), methods=["GET"]),
    ]


def _endpoint(
    handler: Callable[[Request], Awaitable[_Reply]],
) -> Callable[..., Awaitable[Response]]:
    """A Starlette endpoint answering ``handler``'s reply, or its error, in the format asked."""

    async def endpoint(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in _MEDIA_TYPES:
            return _render("xml", _error(404, "unknown format: use .xml or .json"))
        try:
            return _render(fmt, await handler(request))
        except Open311Error as error:
            return _render(fmt, _error(error.status, error.description, error.headers))
        except PyMongoError as error:  # the read model's database is away: retry later
            logger.warning("Open311 read failed: %s", type(error).__name__)
            return _render(fmt, _error(503, "service requests cannot be read at the moment"))

    return endpoint


def _error(status: int, description: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply("errors", [{"code": status, "description": description}], status, headers)


def _render(fmt: str, reply: _Reply) -> Response:
    if fmt == "json":
        return JSONResponse(
            reply.content, reply.status, headers=reply.headers, media_type=_MEDIA_TYPES[fmt]
        )
    body = ET.tostring(_xml(reply.tag, reply.content), encoding="utf-8", xml_declaration=True)
    return Response(body, reply.status, headers=reply.headers, media_type=_MEDIA_TYPES[fmt])


def _xml(tag: str, value: Json) -> ET.Element:
    """``value`` as the element ``tag``: lists repeat their item element (``_ITEM_TAGS``)."""
    element = ET.Element(tag)
    if isinstance(value, dict):
        element.extend(_xml(key, item) for key, item in value.items())
    elif isinstance(value, list):
        element.extend(_xml(_ITEM_TAGS[tag], item) for item in value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _XML_FORBIDDEN.sub("", str(value))
    return element


async def _read_form(request: Request, limit: int) -> str:
    """The form body as text, refused when too large, not a form or not UTF-8."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise Open311Error(400, f"the request must be a form ({FORM_CONTENT_TYPE})")
    too_large = Open311Error(413, f"the form is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(400, "the form must be UTF-8") from None


def _without_api_key(form: str) -> str:
    """The form without its ``api_key`` fields, the others byte for byte: keys stay out of Kafka."""
    fields = form.split("&")
    return "&".join(f for f in fields if unquote_plus(f.partition("=")[0]) != "api_key")


def _csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _window(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The ``requested_datetime`` range searched: at most 90 days, by default the last 90."""
    since, until = _instant(start, "start_date"), _instant(end, "end_date")
    try:
        if since is None:
            until = until or now
            since = until - SEARCH_WINDOW
        elif until is None:
            until = since + SEARCH_WINDOW
    except OverflowError:  # 90 days before year 1 or after year 9999
        raise Open311Error(400, "start_date and end_date must be within years 1-9999") from None
    if since > until:
        raise Open311Error(400, "start_date must not be after end_date")
    if until - since > SEARCH_WINDOW:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return since, until


def _instant(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 datetime in UTC; without an offset it is local time (Asia/Ho_Chi_Minh)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TIME)).astimezone(UTC)
    except (ValueError, OverflowError):  # not ISO 8601, or out of range once in UTC
        raise Open311Error(
            400, f"{name} must be ISO 8601 within years 1-9999, e.g. 2026-03-01T00:00:00+07:00"
        ) from None


def _status(value: str | None) -> str | None:
    """The one status asked for, or None for any (none given, or both)."""
    wanted = {status.lower() for status in _csv(value)}
    if not wanted <= STATUSES:
        raise Open311Error(400, "status must be open, closed or both, comma separated")
    return wanted.pop() if len(wanted) == 1 else None


def _service_fields(service: Open311Service) -> Json:
    return {
        "service_code": service.service_code,
        "service_name": service.service_name,
        "description": service.description,
        "metadata": True,  # every service has the ward attribute
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


def _request_fields(view: ServiceRequestView) -> Json:
    return {
        "service_request_id": view.service_request_id,
        "status": view.status,
        "status_notes": view.status_notes,
        "service_name": view.service_name,
        "service_code": view.service_code,
        "description": view.description,
        "agency_responsible": view.agency_responsible,
        "service_notice": view.service_notice,
        "requested_datetime": _local(view.requested_datetime),
        "updated_datetime": _local(view.updated_datetime),
        "expected_datetime": _local(view.expected_datetime),
        "address": view.address,
        "address_id": None,
        "zipcode": None,
        "lat": view.lat,
        "long": view.long,
        "media_url": view.media_url,
    }


def _local(moment: datetime | None) -> str | None:
    """ISO 8601 in Asia/Ho_Chi_Minh local time, e.g. ``2026-03-10T08:15:00+07:00``."""
    return moment.astimezone(LOCAL_TIME).isoformat(timespec="seconds") if moment else None
