"""Composition root of the routing service: ``create_app(settings)`` wires everything.

Nothing is built at import time, so tests can create as many instances as
they need, each with its own settings.
"""

from phananh_platform.runtime import ServiceApp, build_service

from routing.settings import Settings

SERVICE = "routing"


def create_app(settings: Settings) -> ServiceApp:
    """Build the routing service from its settings."""
    return build_service(SERVICE, settings, uses_database=True)
