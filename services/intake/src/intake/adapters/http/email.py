"""``POST /channels/email/messages``: emails, from an SMTP relay or an IMAP poller.

Authenticated by an API key of an ``email:…`` client; the body is the raw RFC 5322
message (``Content-Type: message/rfc822``), read as described in
intake.domain.channels.email. Its ``Message-ID`` (without angle brackets) is the message
id, so a message fetched twice is one report; an email without one is refused (400).
"""

from __future__ import annotations

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.routing import BaseRoute

from intake.adapters.http.common import HttpError, submission_route
from intake.adapters.http.context import FrontContext
from intake.domain.channels import email

CONTENT_TYPE = "message/rfc822"


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The email route."""
    return [
        submission_route(
            ctx,
            "/channels/email/messages",
            Channel.EMAIL,
            message_id=_message_id,
            media_types=(CONTENT_TYPE,),
            encoding="base64",
            ids_are_global=True,  # a Message-ID is unique in the world (RFC 5322)
        )
    ]


def _message_id(_: Request, body: bytes) -> str:
    found = email.message_id(body)
    if found is None:
        raise HttpError(
            400,
            "missing_message_id",
            "the email has no usable Message-ID (at most 512 characters, no spaces)",
        )
    return found
