"""``POST /channels/hotline/tickets``: call-centre tickets (see intake.domain.channels.hotline).

Authenticated by an API key of a ``hotline:…`` client; the ticket's ``ticket_id`` is the
message id, so the call centre may resend a ticket safely.
"""

from __future__ import annotations

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.routing import BaseRoute

from intake.adapters.http.common import new_message_id, submission_route
from intake.adapters.http.context import FrontContext
from intake.domain.channels import hotline


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The hotline's route."""

    def message_id(_: Request, body: bytes) -> str:
        return hotline.message_id(body) or new_message_id()

    return [
        submission_route(ctx, "/channels/hotline/tickets", Channel.HOTLINE, message_id=message_id)
    ]
