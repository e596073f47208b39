"""``POST /channels/collaborators/reports``: reports of public-opinion collaborators.

Authenticated by an API key of a ``collaborator:…`` client (the collaborators' portal);
the body is described in intake.domain.channels.collaborator. Its ``report_id`` is the
message id, and each item becomes a report with a tracking code of its own.
"""

from __future__ import annotations

from phananh_contracts import Channel
from starlette.requests import Request
from starlette.routing import BaseRoute

from intake.adapters.http.common import new_message_id, submission_route
from intake.adapters.http.context import FrontContext
from intake.domain.channels import collaborator


def routes(ctx: FrontContext) -> list[BaseRoute]:
    """The collaborators' route."""

    def message_id(_: Request, body: bytes) -> str:
        return collaborator.message_id(body) or new_message_id()

    return [
        submission_route(
            ctx, "/channels/collaborators/reports", Channel.COLLABORATOR, message_id=message_id
        )
    ]
