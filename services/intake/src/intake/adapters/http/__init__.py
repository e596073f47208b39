"""Intake's HTTP front: one module of routes per channel, mounted at the root.

Every route authenticates (API key or the platform's signature), checks the payload with
the channel's parser, publishes the raw message on ``pakn.channel.raw.v1`` and answers
only after Kafka acknowledged it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from intake.adapters import openapi
from intake.adapters.http import (
    city_app,
    collaborator,
    email,
    facebook,
    hotline,
    open311,
    web,
    zalo,
)
from intake.adapters.http.context import FrontContext

CHANNEL_MODULES = (city_app, zalo, facebook, email, hotline, web, collaborator, open311)


def build_routes(context: FrontContext) -> list[BaseRoute]:
    """All channel routes of the HTTP front, and its OpenAPI document."""
    return [
        route for module in CHANNEL_MODULES for route in module.routes(context)
    ] + openapi.routes()
