"""``POST /channels/zalo/webhook``: the Zalo Official Account webhook.

Zalo signs each request with ``X-ZEvent-Signature`` (see
intake.domain.channels.zalo.verify_zalo_signature, over the raw body and its
``timestamp``); a missing or wrong signature is refused (401) and nothing is published.
Without ``zalo_app_id`` and ``zalo_oa_secret`` the webhook answers 503. A signed event
is answered 200 (Zalo would redeliver anything else): ``accepted`` with the tracking
code once published, or ``ignored`` when it carries no citizen message. A message whose
sender is over its rate limit is published marked ``rate_limited`` (the normalizer
records it as rejected) and listed as ignored for that reason.
"""

from __future__ import annotations

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from intake.adapters.http.common import (
    JSON_CONTENT_TYPE,
    HttpError,
    accept,
    answering_errors,
    limit_senders,
    new_message_id,
    not_configured,
    publish,
    read_body,
    webhook_response,
)
from intake.adapters.http.context import FrontContext
from intake.domain.channels import zalo
from intake.domain.model import PayloadError

SIGNATURE_HEADER = "X-ZEvent-Signature"


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The Zalo webhook's route."""

    async def webhook(request: Request) -> Response:
        app_id, secret = ctx.zalo_app_id, ctx.zalo_oa_secret
        if app_id is None or secret is None:
            raise not_configured(Channel.ZALO)
        body = await read_body(request, ctx, "utf-8")
        timestamp = zalo.signed_timestamp(body)
        if timestamp is None or not zalo.verify_zalo_signature(
            request.headers.get(SIGNATURE_HEADER, ""),
            app_id=app_id,
            raw_body=body,
            timestamp=timestamp,
            oa_secret=secret,
        ):
            raise HttpError(401, "bad_signature", f"{SIGNATURE_HEADER} is missing or wrong")
        try:
            accepted = accept(
                ctx,
                Channel.ZALO,
                message_id=zalo.message_id(body) or new_message_id(),
                body=body,
                content_type=JSON_CONTENT_TYPE,
                authenticated_as="zalo:x-zevent-signature",
            )
        except PayloadError as refused:
            return webhook_response(Channel.ZALO, [], [refused])
        accepted = await limit_senders(ctx, accepted)
        await publish(ctx, [accepted])
        return webhook_response(Channel.ZALO, [accepted], [])

    return [Route("/channels/zalo/webhook", answering_errors(webhook), methods=["POST"])]
