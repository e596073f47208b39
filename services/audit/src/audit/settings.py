"""Settings of the audit service (environment variables prefixed ``PHANANH_``)."""

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    """Everything the audit service reads from its environment."""

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8084))
