"""Settings of the intake service (environment variables prefixed ``PHANANH_``).

Secrets are ``SecretStr`` and refused while they hold a placeholder:

* ``PHANANH_TRACKING_SECRET``  key of the tracking-code hash (≥ 32 characters);
* ``PHANANH_CONTACT_KEYS``     JSON list of Fernet keys; the first seals contacts, any opens
  them (rotation). Shared with notify only;
* ``PHANANH_PSEUDONYM_KEY``    key of the reporters' pseudonyms (≥ 32 characters);
* ``PHANANH_API_KEYS``         JSON object client name -> API key, e.g.
  ``{"app:sonla-smart": "…", "web": "…", "hotline": "…"}``;
* ``PHANANH_ZALO__APP_ID`` / ``PHANANH_ZALO__OA_SECRET``, ``PHANANH_FACEBOOK__APP_SECRET`` /
  ``PHANANH_FACEBOOK__VERIFY_TOKEN``: a webhook whose secrets are absent answers 503.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import BaseModel, Field, SecretStr, field_validator

PLACEHOLDERS = ("change-me", "changeme", "placeholder")


def _real(value: SecretStr, name: str, min_length: int = 1) -> SecretStr:
    secret = value.get_secret_value()
    if any(word in secret.lower() for word in PLACEHOLDERS):
        raise ValueError(f"{name} still holds a placeholder value")
    if len(secret) < min_length:
        raise ValueError(f"{name} must have at least {min_length} characters")
    return value


class _Webhook(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value


class ZaloSettings(_Webhook):
    app_id: str | None = Field(default=None, description="Zalo app id (in the signature).")
    oa_secret: SecretStr | None = Field(default=None, description="Official Account secret key.")


class FacebookSettings(_Webhook):
    app_secret: SecretStr | None = Field(default=None, description="Facebook app secret.")
    verify_token: SecretStr | None = Field(default=None, description="Webhook verify token.")


class Settings(ServiceSettings):
    """Everything the intake service reads from its environment."""

    service: ClassVar[str] = "intake"

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8081))
    city_config: Path = Field(
        default=Path("config/son-la/city.yaml"),
        description="YAML file of the city's places, categories and signals.",
    )
    tracking_secret: SecretStr = Field(description="Key of the tracking-code hash.")
    contact_keys: list[SecretStr] = Field(min_length=1, description="Fernet keys for contacts.")
    pseudonym_key: SecretStr = Field(description="Key of the reporters' pseudonyms.")
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Client name -> API key of the HTTP channels."
    )
    zalo: ZaloSettings = Field(default_factory=ZaloSettings)
    facebook: FacebookSettings = Field(default_factory=FacebookSettings)
    max_body_bytes: int = Field(default=1_000_000, ge=1_000, le=4_000_000)

    @field_validator("tracking_secret")
    @classmethod
    def _tracking(cls, value: SecretStr) -> SecretStr:
        return _real(value, "PHANANH_TRACKING_SECRET", 32)

    @field_validator("pseudonym_key")
    @classmethod
    def _pseudonym(cls, value: SecretStr) -> SecretStr:
        return _real(value, "PHANANH_PSEUDONYM_KEY", 32)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, key in value.items():
            _real(key, f"the API key of {name!r}", 16)
        return value
