"""Where the broker is, read from the environment the way the services read it.

``PHANANH_KAFKA__*`` (brokers, timeout, security protocol, credentials, TLS) mean
the same here as for the services, so an agency's machine can share their ``.env``.
"""

from __future__ import annotations

from phananh_contracts.connection import KafkaConnection
from pydantic import Field, SecretStr, field_validator
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


PASSWORD_MIN_CHARS = 12
SESSION_SECRET_MIN_CHARS = 32
PLACEHOLDERS = ("change-me", "changeme", "placeholder", "password", "mat-khau", "matkhau")
"""Words that mark a secret nobody chose; a secret holding one is refused at start."""


def _chosen(value: SecretStr, min_chars: int) -> SecretStr:
    secret = value.get_secret_value()
    if any(word in secret.lower() for word in PLACEHOLDERS):
        raise ValueError("still holds a placeholder value: choose a real one")
    if len(secret) < min_chars:
        raise ValueError(f"must have at least {min_chars} characters")
    if len(set(secret)) < 4:
        raise ValueError("repeats too few characters to be guessed slowly")
    return value


class WebSettings(BaseSettings):
    """The agency's web inbox (``phananh-agency --agency ID web``): ``PHANANH_AGENCY_WEB_*``.

    One password per agency page, given to the officers who work its inbox; the session
    secret signs their session cookies (changing it signs everyone out).
    """

    model_config = SettingsConfigDict(env_prefix="PHANANH_AGENCY_WEB_", extra="ignore")

    password: SecretStr = Field(
        description=f"Password of the agency's page (at least {PASSWORD_MIN_CHARS} characters)."
    )
    session_secret: SecretStr = Field(
        description=(
            "Key signing the session cookies "
            f"(at least {SESSION_SECRET_MIN_CHARS} characters, e.g. openssl rand -hex 32)."
        )
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 7, description="How long a sign-in lasts, in hours."
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (set it behind a TLS proxy).",
    )
    triage_desk: bool = Field(
        default=False,
        description=(
            "This agency is the city's triage desk (routing's triage_agency_id): it is "
            "offered the triage corrections on every report it holds, not only as lead, "
            "and may unlink any duplicate."
        ),
    )
    login_attempts_per_minute: int = Field(
        default=10, ge=1, le=1000, description="Sign-in attempts allowed per client address."
    )

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        return _chosen(value, PASSWORD_MIN_CHARS)

    @field_validator("session_secret")
    @classmethod
    def _session_secret(cls, value: SecretStr) -> SecretStr:
        return _chosen(value, SESSION_SECRET_MIN_CHARS)
