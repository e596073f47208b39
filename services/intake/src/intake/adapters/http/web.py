"""``POST /channels/web/reports``: the city portal's report form (see intake.domain.channels.web).

Authenticated by the API key of the portal's back end (a ``web:…`` client), which posts
the citizen's form as JSON or form-encoded. An ``Idempotency-Key`` header (1–200
printable ASCII characters) is the message id, so a retry is the same report; without
one, each request is a new report.
"""

from __future__ import annotations

import re

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.routing import BaseRoute

from intake.adapters.http.common import HttpError, new_message_id, submission_route
from intake.adapters.http.context import FrontContext
from intake.domain.channels.web import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE

_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,200}")


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The web form's route."""
    return [
        submission_route(
            ctx,
            "/channels/web/reports",
            Channel.WEB,
            message_id=_message_id,
            media_types=(JSON_CONTENT_TYPE, FORM_CONTENT_TYPE),
            citizen_facing=True,
        )
    ]


def _message_id(request: Request, _: bytes) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        return new_message_id()
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise HttpError(
            400, "bad_request", "Idempotency-Key must be 1–200 printable ASCII characters"
        )
    return key
