"""Settings of the intake service (environment variables prefixed ``PHANANH_``)."""

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    """Everything the intake service reads from its environment."""

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8081))
