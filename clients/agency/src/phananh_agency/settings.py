"""Where the broker is, read from the environment the way the services read it.

``PHANANH_KAFKA__BOOTSTRAP_SERVERS`` and ``PHANANH_KAFKA__REQUEST_TIMEOUT_MS`` mean
the same here as for the services, so an agency's machine can share their ``.env``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA = "127.0.0.1:9092"
"""The broker of the local stack (``phananh up``)."""

AGENCY_ENV = "PHANANH_AGENCY_ID"
"""Environment variable that may give the agency id instead of ``--agency``."""


class KafkaSettings(BaseModel):
    """How the client reaches the Kafka cluster."""

    bootstrap_servers: str = Field(
        default=LOCAL_KAFKA,
        description="Comma-separated host:port list of Kafka brokers.",
    )
    request_timeout_ms: int = Field(
        default=30_000, ge=1_000, description="Upper bound for one Kafka request."
    )


class ClientSettings(BaseSettings):
    """What the command reads from the environment, the way the services do."""

    model_config = SettingsConfigDict(
        env_prefix="PHANANH_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
