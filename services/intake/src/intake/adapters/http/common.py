"""What the channel routes share: authentication, bounded bodies, raw events, answers.

Every route runs the same steps: authenticate (API key, or the platform's signature) →
read the body, at most ``max_body_bytes`` → build the raw event → run the channel's
parser on it (a payload it refuses is answered at once and never published) → publish →
answer. The answer comes only after the publisher returned, so an accepted message is in
Kafka; when publishing fails the answer is 503 and the client must send it again.

Errors are JSON: ``{"error": {"code": "...", "message": "..."}}``, plus ``message_vi``
(Vietnamese, for the citizen) on citizen-facing channels.
"""

from __future__ import annotations

import base64
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from phananh_contracts import Channel, RawChannelMessageReceived, RawChannelMessageReceivedEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from intake.adapters.http.context import FrontContext
from intake.domain.channels import parse_raw
from intake.domain.model import PayloadError
from intake.domain.tracking import derived_event_id, report_id, tracking_code

logger = logging.getLogger("phananh.intake.channels")

JSON_CONTENT_TYPE = "application/json"
MAX_RAW_BODY_CHARS = 1_000_000
"""``RawChannelMessageReceived.body`` holds at most this many characters."""
RETRY_AFTER_SECONDS = 10
"""What 503 answers suggest waiting before sending the message again."""

_MESSAGES_VI = {
    413: "Nội dung gửi quá lớn. Xin bớt ảnh hoặc rút gọn nội dung rồi gửi lại.",
    422: "Phản ánh chưa được tiếp nhận vì thiếu hoặc sai thông tin. Xin kiểm tra rồi gửi lại.",
    503: "Hệ thống đang bận nên chưa tiếp nhận được phản ánh. Xin gửi lại sau ít phút.",
}

Endpoint = Callable[[Request], Awaitable[Response]]
BodyEncoding = Literal["utf-8", "base64"]


class HttpError(Exception):
    """A request refused with ``status``; answered as a JSON error."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


@dataclass(frozen=True)
class Accepted:
    """A raw event the channel's parser accepted, and the tracking codes of its messages."""

    event: RawChannelMessageReceivedEvent
    tracking_codes: list[str]


def answering_errors(handler: Endpoint, *, citizen_facing: bool = False) -> Endpoint:
    """``handler``, with HttpError and PayloadError answered as JSON errors."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except PayloadError as refused:
            error = HttpError(422, refused.reason.value, refused.detail)
        except HttpError as refused:
            error = refused
        content = {"code": error.code, "message": error.message}
        if citizen_facing and error.status in _MESSAGES_VI:
            content["message_vi"] = _MESSAGES_VI[error.status]
        return JSONResponse({"error": content}, error.status, headers=error.headers)

    return endpoint


def api_client(request: Request, ctx: FrontContext, channel: Channel) -> str:
    """``authenticated_as`` of a request bearing an API key of ``channel``'s clients.

    The key comes as ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``; its client
    name (``ctx.api_keys``) must be the channel's name or start with it and ``:``, e.g.
    ``app:sonla-smart``. 401 without a known key, 403 for another channel's key.
    """
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    presented = credentials.strip() if scheme.lower() == "bearer" else ""
    presented = presented or request.headers.get("x-api-key", "").strip()
    client = next(
        (
            name
            for key, name in ctx.api_keys.items()
            if hmac.compare_digest(key.encode(), presented.encode())
        ),
        None,
    )
    if not presented or client is None:
        raise HttpError(
            401,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key> or X-Api-Key)",
            {"WWW-Authenticate": 'Bearer realm="phananh-intake"'},
        )
    if client != channel.value and not client.startswith(f"{channel.value}:"):
        raise HttpError(403, "forbidden", f"this API key is not for the {channel} channel")
    return f"api-key:{client}"


def not_configured(channel: Channel) -> HttpError:
    """The 503 of a channel whose secrets are not configured: it accepts nothing."""
    return HttpError(503, "not_configured", f"the {channel} channel is not configured")


def request_media_type(request: Request, accepted: Sequence[str]) -> str:
    """The request's media type if it is one of ``accepted``, else 415."""
    found = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if found not in accepted:
        raise HttpError(
            415, "unsupported_media_type", f"Content-Type must be {' or '.join(accepted)}"
        )
    return found


async def read_body(request: Request, ctx: FrontContext, encoding: BodyEncoding) -> bytes:
    """The request body, or 413 beyond ``max_body_bytes`` or what a raw event can hold."""
    capacity = MAX_RAW_BODY_CHARS if encoding == "utf-8" else MAX_RAW_BODY_CHARS // 4 * 3
    limit = min(ctx.max_body_bytes, capacity)
    too_large = HttpError(413, "payload_too_large", f"the body exceeds {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def new_message_id() -> str:
    """A fresh message id, for messages whose channel gives none.

    Also a stand-in while the parser checks a payload lacking the id its channel
    requires: the parser refuses such a payload, so the stand-in is never published.
    """
    return str(uuid.uuid4())


def accept(
    ctx: FrontContext,
    channel: Channel,
    *,
    message_id: str,
    body: bytes,
    content_type: str,
    authenticated_as: str,
    encoding: BodyEncoding = "utf-8",
) -> Accepted:
    """The raw event of ``body`` once the channel's parser accepted it, or PayloadError.

    The event id derives from the channel and message id, so a message sent again (a
    client retry, a webhook redelivery) is the same event.
    """
    received_at = ctx.clock()
    if encoding == "base64":
        text = base64.b64encode(body).decode("ascii")
    else:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise PayloadError("the body is not UTF-8") from None
    data = RawChannelMessageReceived(
        channel=channel,
        channel_message_id=message_id,
        received_at=received_at,
        content_type=content_type,
        body=text,
        body_encoding=encoding,
        authenticated_as=authenticated_as,
    )
    messages = parse_raw(data)
    if len(messages) == 1 and messages[0].reply_to_channel_message_id:
        answered = messages[0].reply_to_channel_message_id
        data = data.model_copy(update={"reply_to_channel_message_id": answered})
    event_type = RawChannelMessageReceivedEvent.event_type()
    event = RawChannelMessageReceivedEvent.new(
        data,
        source=f"/channels/{channel.value}",
        id=derived_event_id(report_id(channel.value, message_id), event_type),
        time=received_at,
    )
    codes = [
        tracking_code(
            ctx.tracking_secret,
            ctx.city_prefix,
            channel.value,
            message.channel_message_id,
            message.received_at,
        )
        for message in messages
    ]
    return Accepted(event, codes)


async def publish(ctx: FrontContext, accepted: Iterable[Accepted]) -> None:
    """Publish the raw events, or 503 (with Retry-After): the client must send again."""
    for item in accepted:
        try:
            await ctx.publisher.publish_raw(item.event)
        except Exception:
            logger.exception(
                "%s: raw event %s could not be published", item.event.data.channel, item.event.id
            )
            raise HttpError(
                503,
                "unavailable",
                "the message could not be recorded and was not accepted; send it again later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None


def accepted_response(accepted: Accepted) -> JSONResponse:
    """202: the message is recorded; the tracking codes of the reports it becomes."""
    return JSONResponse(
        {
            "status": "accepted",
            "channel_message_id": accepted.event.data.channel_message_id,
            "tracking_codes": accepted.tracking_codes,
        },
        202,
    )


def webhook_response(
    channel: Channel, accepted: Sequence[Accepted], ignored: Sequence[PayloadError]
) -> JSONResponse:
    """200 for a platform's webhook, which would redeliver anything else in vain.

    Items the parser refused (events that are no citizen message, or malformed ones)
    are counted and logged (reason and detail, never content) but not published.
    """
    for refused in ignored:
        logger.info("%s: webhook item ignored (%s): %s", channel, refused.reason, refused.detail)
    return JSONResponse(
        {
            "status": "accepted" if accepted else "ignored",
            "channel_message_ids": [item.event.data.channel_message_id for item in accepted],
            "tracking_codes": [code for item in accepted for code in item.tracking_codes],
            "ignored": [{"reason": e.reason.value, "detail": e.detail} for e in ignored],
        }
    )


def submission_route(
    ctx: FrontContext,
    path: str,
    channel: Channel,
    *,
    message_id: Callable[[Request, bytes], str],
    media_types: Sequence[str] = (JSON_CONTENT_TYPE,),
    encoding: BodyEncoding = "utf-8",
    citizen_facing: bool = False,
    ids_are_global: bool = False,
) -> Route:
    """``POST path`` for an API-key client of ``channel``: a message in, 202 out.

    A client's own ids (ticket numbers, idempotency keys) are unique only for that client,
    so the message id is ``<client name>/<id>``: two call centres' ticket 42 are two
    reports. ``ids_are_global`` keeps ids that are unique by design (email Message-IDs).
    """

    async def submit(request: Request) -> Response:
        authenticated_as = api_client(request, ctx, channel)
        content_type = request_media_type(request, media_types)
        body = await read_body(request, ctx, encoding)
        given = message_id(request, body)
        client = authenticated_as.removeprefix("api-key:")
        accepted = accept(
            ctx,
            channel,
            message_id=given if ids_are_global else f"{client}/{given}",
            body=body,
            content_type=content_type,
            authenticated_as=authenticated_as,
            encoding=encoding,
        )
        await publish(ctx, [accepted])
        return accepted_response(accepted)

    return Route(path, answering_errors(submit, citizen_facing=citizen_facing), methods=["POST"])
