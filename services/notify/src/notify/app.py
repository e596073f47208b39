"""Composition root of the notify service: ``create_app(settings)`` wires everything.

Nothing is built at import time, so tests can create as many instances as
they need, each with its own settings.
"""

from phananh_platform.runtime import ServiceApp, build_service

from notify.settings import Settings

SERVICE = "notify"


def create_app(settings: Settings) -> ServiceApp:
    """Build the notify service from its settings."""
    return build_service(SERVICE, settings, uses_database=True)
