"""``POST /channels/app/reports``: reports from the city app (see intake.domain.channels.city_app).

Authenticated by an API key of an ``app:…`` client; the body is the app's JSON report.
Its ``client_message_id`` is the message id, so a retry is the same report; without
one, each request is a new report.
"""

from __future__ import annotations

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.routing import BaseRoute

from intake.adapters.http.common import new_message_id, submission_route
from intake.adapters.http.context import FrontContext
from intake.domain.channels import city_app


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The app's route."""

    def message_id(_: Request, body: bytes) -> str:
        return city_app.message_id(body) or new_message_id()

    return [
        submission_route(
            ctx, "/channels/app/reports", Channel.APP, message_id=message_id, citizen_facing=True
        )
    ]
