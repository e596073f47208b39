"""Settings of the notify service (environment variables prefixed ``PHANANH_``).

* ``PHANANH_NOTIFY_CONFIG``            providers, fallback, retries, templates (YAML), e.g.
  config/son-la/notify.yaml;
* ``PHANANH_CONTACT_KEYS``             JSON list of Fernet keys, the same as intake's: any of
  them opens a sealed contact (notify never seals);
* ``PHANANH_NOTIFY_PROVIDER_SECRETS``  JSON object provider id -> token or password, e.g.
  ``{"zalo-oa": "…", "sms": "…", "smtp": "…"}``. A provider that needs one and has none is
  disabled at start, with a warning; a placeholder is refused;
* ``PHANANH_NOTIFY_SEND_CONCURRENCY``  provider calls in flight at once (default 32);
* ``PHANANH_NOTIFY_CONTACT_KEY_WAIT_S`` how long a notification waits for its contact's key
  to arrive on ``pakn.contact.keys.v1`` before it fails (default 300);
* ``PHANANH_NOTIFY_RETENTION_DAYS``    how long the store keeps report files and
  notifications (default 400, at least 90; :mod:`notify.adapters.retention`), pruned every
  ``PHANANH_NOTIFY_PRUNE_EVERY_S`` seconds (default 3600).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from cryptography.fernet import Fernet
from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field, SecretStr, field_validator

PLACEHOLDERS = ("change-me", "changeme", "placeholder")


def _real(value: SecretStr, name: str) -> SecretStr:
    if any(word in value.get_secret_value().lower() for word in PLACEHOLDERS):
        raise ValueError(f"{name} still holds a placeholder value")
    return value


class Settings(ServiceSettings):
    """Everything the notify service reads from its environment."""

    service: ClassVar[str] = "notify"

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8083))
    notify_config: Path = Field(
        default=Path("config/son-la/notify.yaml"),
        description="YAML file of providers, fallback order, retries and templates.",
    )
    contact_keys: list[SecretStr] = Field(
        min_length=1, description="Fernet keys that open sealed contacts (intake's keys)."
    )
    notify_provider_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Provider id -> token or password."
    )

    notify_send_concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Provider calls in flight at once while a batch is delivered.",
    )

    notify_contact_key_wait_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description=(
            "Seconds a notification waits for its contact's key (filed by intake on "
            "pakn.contact.keys.v1) before it fails with contact_key_missing."
        ),
    )

    notify_retention_days: int = Field(
        default=400,
        ge=90,
        le=36_500,
        description="Days notify keeps report files and notifications (personal data).",
    )
    notify_prune_every_s: float = Field(
        default=3600.0, gt=0, description="Seconds between two prunings of notify's store."
    )

    @field_validator("contact_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for number, key in enumerate(value, start=1):
            _real(key, f"PHANANH_CONTACT_KEYS[{number}]")
            try:
                Fernet(key.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError(
                    f"PHANANH_CONTACT_KEYS[{number}] is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        return value

    @field_validator("notify_provider_secrets")
    @classmethod
    def _secrets(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for provider, secret in value.items():
            _real(secret, f"the secret of provider {provider!r}")
        return value
