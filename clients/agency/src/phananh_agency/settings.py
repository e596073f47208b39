"""Where the broker is, read from the environment the way the services read it.

``PHANANH_KAFKA__*`` (brokers, timeout, security protocol, credentials, TLS) mean
the same here as for the services, so an agency's machine can share their ``.env``.
"""

from __future__ import annotations

from phananh_contracts.connection import KafkaConnection
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

AGENCY_ENV = "PHANANH_AGENCY_ID"
"""Environment variable that may give the agency id instead of ``--agency``."""


class KafkaSettings(KafkaConnection):
    """How the client reaches the Kafka cluster and signs in: ``PHANANH_KAFKA__USERNAME``
    (``agency-<id>``), ``PHANANH_KAFKA__PASSWORD`` and ``PHANANH_KAFKA__SECURITY_PROTOCOL``
    as ``phananh kafka credentials`` printed them."""


class ClientSettings(BaseSettings):
    """What the command reads from the environment, the way the services do."""

    model_config = SettingsConfigDict(
        env_prefix="PHANANH_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
