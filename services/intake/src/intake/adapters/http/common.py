"""What the channel routes share: authentication, bounded bodies, raw events, answers.

Every route runs the same steps: authenticate (API key, or the platform's signature) →
count the request against its API client's rate limit → read the body, at most
``max_body_bytes`` → build the raw event → run the channel's parser on it (a payload it
refuses is answered at once and never published) → count each message against its
sender's rate limit → publish → answer. The answer comes only after the publisher
returned, so an accepted message is in Kafka; when publishing fails the answer is 503
and the client must send it again.

Over a rate limit an API-key route answers 429 with ``Retry-After`` and publishes
nothing; a webhook (which must answer 200) publishes the message marked
``rejection_reason: rate_limited``, which the normalizer records as a rejection.

Errors are JSON: ``{"error": {"code": "...", "message": "..."}}``, plus ``message_vi``
(Vietnamese, for the citizen) on citizen-facing channels, and ``limit`` (the scope of
the limit reached) on 429.
"""

from __future__ import annotations

import base64
import hmac
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from phananh_contracts import (
    Channel,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
    RejectionReason,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from intake.adapters.http.context import FrontContext
from intake.domain.channels import parse_raw
from intake.domain.limits import Scope, Verdict
from intake.domain.model import PayloadError
from intake.domain.normalize import sender_identity
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
_RATE_LIMITED_VI = {
    Scope.API_KEY: (
        "Hệ thống đang nhận quá nhiều phản ánh cùng lúc nên chưa tiếp nhận được phản ánh "
        "của bạn. Xin gửi lại sau {minutes} phút."
    ),
    Scope.SENDER: (
        "Bạn đã gửi nhiều phản ánh trong thời gian ngắn nên phản ánh này chưa được tiếp "
        "nhận. Xin gửi lại sau {minutes} phút."
    ),
}

Endpoint = Callable[[Request], Awaitable[Response]]
BodyEncoding = Literal["utf-8", "base64"]


class HttpError(Exception):
    """A request refused with ``status``; answered as a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        fields: Mapping[str, str] | None = None,
        message_vi: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.fields = fields or {}
        """More of the error object, e.g. ``limit`` on 429."""
        self.message_vi = message_vi
        """The citizen's message, instead of the status's own."""


@dataclass(frozen=True)
class Accepted:
    """A raw event the channel's parser accepted, and the tracking codes of its messages."""

    event: RawChannelMessageReceivedEvent
    tracking_codes: list[str]
    senders: tuple[str, ...] = ()
    """The identities of its messages' senders (``normalize.sender_identity``), once each."""
    limited: Verdict | None = None
    """Set on a webhook's message whose sender is over its limit: published to be
    recorded as rejected (``rejection_reason``), no tracking code told."""


def answering_errors(handler: Endpoint, *, citizen_facing: bool = False) -> Endpoint:
    """``handler``, with HttpError and PayloadError answered as JSON errors."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except PayloadError as refused:
            error = HttpError(422, refused.reason.value, refused.detail)
        except HttpError as refused:
            error = refused
        content = {"code": error.code, "message": error.message, **error.fields}
        if citizen_facing and (error.message_vi or error.status in _MESSAGES_VI):
            content["message_vi"] = error.message_vi or _MESSAGES_VI[error.status]
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


def rate_limited(verdict: Verdict) -> HttpError:
    """The 429 of a request over a limit: which limit, and when to send again."""
    scope = verdict.limit.scope
    minutes = max(1, math.ceil(verdict.retry_after_s / 60))
    return HttpError(
        429,
        "rate_limited",
        verdict.reason,
        {"Retry-After": str(verdict.retry_after_s)},
        fields={"limit": scope.value},
        message_vi=_RATE_LIMITED_VI.get(scope, _RATE_LIMITED_VI[Scope.API_KEY]).format(
            minutes=minutes
        ),
    )


async def admit_api_client(ctx: FrontContext, authenticated_as: str) -> None:
    """Count a request of an API client (``api-key:<client>``); 429 over its limit."""
    if ctx.limiter is None:
        return
    verdict = await ctx.limiter.api_client(authenticated_as.removeprefix("api-key:"))
    if not verdict.allowed:
        raise rate_limited(verdict)


async def sender_verdict(ctx: FrontContext, accepted: Accepted) -> Verdict | None:
    """Count the message(s) against their senders' limits; the first refusal, if any."""
    if ctx.limiter is None:
        return None
    refused = None
    for sender in accepted.senders:
        verdict = await ctx.limiter.sender(accepted.event.data.channel.value, sender)
        if not verdict.allowed and refused is None:
            refused = verdict
    return refused


async def admit_senders(ctx: FrontContext, accepted: Accepted) -> None:
    """For an API-key route: 429 when a sender of the message is over its limit."""
    if (refused := await sender_verdict(ctx, accepted)) is not None:
        raise rate_limited(refused)


async def limit_senders(ctx: FrontContext, accepted: Accepted) -> Accepted:
    """For a webhook, which must answer 200: a message whose sender is over its limit is
    marked ``rejection_reason: rate_limited`` (the normalizer records it as rejected)."""
    refused = await sender_verdict(ctx, accepted)
    if refused is None:
        return accepted
    data = accepted.event.data.model_copy(update={"rejection_reason": RejectionReason.RATE_LIMITED})
    logger.info(
        "%s: message %s recorded as rate_limited (%s)",
        data.channel,
        accepted.event.id,
        refused.limit.describe(),
    )
    event = accepted.event.model_copy(update={"data": data})
    return Accepted(event, [], accepted.senders, limited=refused)


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
    senders = {identity for message in messages if (identity := sender_identity(message))}
    return Accepted(event, codes, tuple(sorted(senders)))


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
    channel: Channel, published: Sequence[Accepted], ignored: Sequence[PayloadError]
) -> JSONResponse:
    """200 for a platform's webhook, which would redeliver anything else in vain.

    Items the parser refused (events that are no citizen message, or malformed ones)
    are counted and logged (reason and detail, never content) but not published. Items
    whose sender is over its limit are published to be recorded as rejected, and listed
    with the ignored ones (reason ``rate_limited``), without a tracking code.
    """
    for refused in ignored:
        logger.info("%s: webhook item ignored (%s): %s", channel, refused.reason, refused.detail)
    accepted = [item for item in published if item.limited is None]
    limited = [
        {
            "reason": RejectionReason.RATE_LIMITED.value,
            "detail": f"{item.limited.reason}; recorded as rejected",
        }
        for item in published
        if item.limited is not None
    ]
    return JSONResponse(
        {
            "status": "accepted" if accepted else "ignored",
            "channel_message_ids": [item.event.data.channel_message_id for item in accepted],
            "tracking_codes": [code for item in accepted for code in item.tracking_codes],
            "ignored": [{"reason": e.reason.value, "detail": e.detail} for e in ignored] + limited,
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
        await admit_api_client(ctx, authenticated_as)
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
        await admit_senders(ctx, accepted)
        await publish(ctx, [accepted])
        return accepted_response(accepted)

    return Route(path, answering_errors(submit, citizen_facing=citizen_facing), methods=["POST"])
