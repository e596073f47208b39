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

The HTTP front's rate limits are ``PHANANH_RATE_LIMITS__…`` (:class:`RateLimitSettings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from phananh_contracts import Channel
from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from intake.domain.limits import MAX_REQUESTS, Limit, RateLimits, Scope

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


Requests = Annotated[
    int, Field(ge=0, le=MAX_REQUESTS, description="Admitted a window; 0 turns the limit off.")
]
WindowSeconds = Annotated[
    int, Field(ge=1, le=86_400, description="Length of a window (aligned on the epoch), in s.")
]


class ApiKeyLimit(BaseModel):
    """Requests of one API client, on every API-key route (Open311 POST too)."""

    requests: Requests = 600
    window_s: WindowSeconds = 60


class SenderLimit(BaseModel):
    """Messages of one sender (phone, email, Zalo or Facebook id, collaborator), counted
    over every channel; anonymous messages are not counted."""

    requests: Requests = 20
    window_s: WindowSeconds = 3600


class ClientIpLimit(BaseModel):
    """Open311 reads (GET requests, requests/{id}, tokens/{token}) of one client address,
    the only routes that read the database without a key."""

    requests: Requests = 120
    window_s: WindowSeconds = 60


class RateLimitSettings(BaseModel):
    """The HTTP front's limits (``PHANANH_RATE_LIMITS__…``), shared by every instance.

    E.g. ``PHANANH_RATE_LIMITS__SENDER__REQUESTS=30``,
    ``PHANANH_RATE_LIMITS__API_KEY_CLIENTS='{"app:sonla-smart": 1200}'``.
    """

    api_key: ApiKeyLimit = Field(default_factory=ApiKeyLimit)
    api_key_clients: dict[str, int] = Field(
        default_factory=dict,
        description="Client name -> requests a window, for clients with a limit of their own.",
    )
    sender: SenderLimit = Field(default_factory=SenderLimit)
    sender_channels: dict[Channel, int] = Field(
        default_factory=dict,
        description="Channel -> messages a sender may send on it a window (e.g. hotline).",
    )
    client_ip: ClientIpLimit = Field(default_factory=ClientIpLimit)
    timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="How long a check may wait for the database before the request is "
        "admitted unchecked (the limiter fails open).",
    )
    prune_every_s: float = Field(
        default=300, ge=1, description="How often past windows' hits are deleted."
    )

    @field_validator("api_key_clients", "sender_channels")
    @classmethod
    def _within_bounds(cls, value: dict[Any, int]) -> dict[Any, int]:
        for name, requests in value.items():
            if not 0 <= requests <= MAX_REQUESTS:
                raise ValueError(f"the limit of {name} must be 0 to {MAX_REQUESTS}")
        return value

    def limits(self) -> RateLimits:
        """The limits as the domain knows them."""
        return RateLimits(
            api_key=Limit(Scope.API_KEY, self.api_key.requests, self.api_key.window_s),
            sender=Limit(Scope.SENDER, self.sender.requests, self.sender.window_s),
            client_ip=Limit(Scope.CLIENT_IP, self.client_ip.requests, self.client_ip.window_s),
            api_key_clients=dict(self.api_key_clients),
            sender_channels={channel.value: n for channel, n in self.sender_channels.items()},
        )


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
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)

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

    @model_validator(mode="after")
    def _limited_clients_exist(self) -> Self:
        unknown = sorted(set(self.rate_limits.api_key_clients) - set(self.api_keys))
        if unknown:
            raise ValueError(
                f"PHANANH_RATE_LIMITS__API_KEY_CLIENTS names clients without an API key: "
                f"{', '.join(unknown)}"
            )
        return self
