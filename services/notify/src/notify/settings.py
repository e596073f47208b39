"""Settings of the notify service (environment variables prefixed ``PHANANH_``)."""

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    """Everything the notify service reads from its environment."""

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8083))
