"""``GET|POST /channels/facebook/webhook``: the Facebook Page webhook.

``GET`` is the subscription handshake: with ``hub.mode=subscribe`` and the configured
``hub.verify_token`` it echoes ``hub.challenge`` (text/plain); otherwise 403.

``POST`` carries a batch of Messenger messages and feed changes, signed with
``X-Hub-Signature-256`` over the raw bytes: a missing or wrong signature is refused
(401) and nothing is published. The signed batch is split into one raw event per item
(intake.domain.channels.facebook.split_batch: its body is a minimal JSON rebuilt for
that item; the message id is the ``mid``, ``comment_id`` or ``post_id``). The answer is
200 (Facebook would redeliver anything else) once every accepted item is published;
items that carry no citizen message are listed as ignored, and so are items whose sender
is over its rate limit, published marked ``rate_limited`` for the normalizer to record
them as rejected. If publishing fails, 503:
Facebook redelivers the batch, and the items already published are the same events.
Without the app secret (POST) or the verify token (GET) the webhook answers 503.
"""

from __future__ import annotations

import hmac

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from intake.adapters.http.common import (
    JSON_CONTENT_TYPE,
    Accepted,
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
from intake.domain.channels import facebook
from intake.domain.model import PayloadError

PATH = "/channels/facebook/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The Facebook webhook's routes: the handshake and the events."""

    async def handshake(request: Request) -> Response:
        token = ctx.facebook_verify_token
        if token is None:
            raise not_configured(Channel.FACEBOOK)
        query = request.query_params
        presented = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            presented.encode(), token.encode()
        ):
            raise HttpError(403, "forbidden", "hub.mode or hub.verify_token is wrong")
        return PlainTextResponse(query.get("hub.challenge", ""))

    async def receive(request: Request) -> Response:
        secret = ctx.facebook_app_secret
        if secret is None:
            raise not_configured(Channel.FACEBOOK)
        body = await read_body(request, ctx, "utf-8")
        if not facebook.verify_facebook_signature(
            request.headers.get(SIGNATURE_HEADER, ""), app_secret=secret, raw_body=body
        ):
            raise HttpError(401, "bad_signature", f"{SIGNATURE_HEADER} is missing or wrong")
        try:
            items = facebook.split_batch(body)
        except PayloadError as refused:
            return webhook_response(Channel.FACEBOOK, [], [refused])
        accepted: list[Accepted] = []
        ignored: list[PayloadError] = []
        for message_id, item in items:
            try:
                accepted.append(
                    accept(
                        ctx,
                        Channel.FACEBOOK,
                        message_id=message_id or new_message_id(),
                        body=item.encode(),
                        content_type=JSON_CONTENT_TYPE,
                        authenticated_as="facebook:x-hub-signature-256",
                    )
                )
            except PayloadError as refused:
                ignored.append(refused)
        accepted = [await limit_senders(ctx, item) for item in accepted]
        await publish(ctx, accepted)
        return webhook_response(Channel.FACEBOOK, accepted, ignored)

    return [
        Route(PATH, answering_errors(handshake), methods=["GET"]),
        Route(PATH, answering_errors(receive), methods=["POST"]),
    ]
