"""Composition root of the intake service: ``create_app(settings)`` wires everything.

Nothing is built at import time, so tests can create as many instances as
they need, each with its own settings.
"""

from phananh_platform.runtime import ServiceApp, build_service

from intake.settings import Settings

SERVICE = "intake"


def create_app(settings: Settings) -> ServiceApp:
    """Build the intake service from its settings."""
    return build_service(SERVICE, settings, uses_database=False)
