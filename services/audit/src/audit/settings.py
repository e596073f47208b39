"""Settings of the audit service (environment variables prefixed ``PHANANH_``).

* ``PHANANH_AUDIT_SIGNING_KEY``  base64 of the raw 32-byte Ed25519 key that signs
  checkpoints (``phananh-audit keygen`` makes one). Without it no checkpoint is written.
* ``PHANANH_AUDIT_PUBLIC_KEYS``  JSON list of base64 raw public keys ``verify`` trusts
  (keep old ones after a rotation); the signing key's public half is always trusted.
* ``PHANANH_AUDIT_CHECKPOINT_INTERVAL_S``  how often chain heads are signed: records newer
  than the last checkpoint are the only ones a database administrator could remove
  without detection.
* ``PHANANH_OVERSIGHT_KEYS``  JSON object role -> API key of the oversight API, e.g.
  ``{"leadership:thanh-uy": "…", "auditor:ubkt": "…", "agency:ubnd-chieng-sinh": "…"}``.
* ``PHANANH_CITY_CONFIG``  the city's YAML (ward and category names for the summaries
  and the board), read through ``phananh_citydata``.
* ``PHANANH_ROUTING_CONFIG``  routing's YAML; only its ``agencies`` are read (through
  ``phananh_citydata``, checked against the city's wards), to name agencies on the
  leadership board. It needs ``PHANANH_CITY_CONFIG``.
* ``PHANANH_WEB_*``  the web pages (docs/web.md): board session length, the citizens'
  lookup rate limit, the optional rating relay URL, Secure cookies.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from phananh_platform.settings import HttpSettings, ServiceSettings
from pydantic import Field, SecretStr, field_validator, model_validator


class Settings(ServiceSettings):
    """Everything the audit service reads from its environment."""

    service: ClassVar[str] = "audit"

    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8084))
    audit_signing_key: SecretStr | None = Field(
        default=None, description="Base64 raw Ed25519 private key signing checkpoints."
    )
    audit_public_keys: list[str] = Field(
        default_factory=list, description="Base64 raw Ed25519 public keys verify trusts."
    )
    audit_group_id: str = Field(
        default="audit",
        min_length=1,
        description=(
            "Kafka consumer group of the trail writer. Every audit instance of one trail uses "
            "the same group; another name only for a second, separate trail (a benchmark)."
        ),
    )
    audit_checkpoint_interval_s: float = Field(
        default=300.0, gt=0, description="Seconds between signed checkpoints."
    )
    oversight_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Role -> API key of the oversight API."
    )
    city_config: Path | None = Field(
        default=None, description="City YAML; its ward names label the ward summaries."
    )
    routing_config: Path | None = Field(
        default=None, description="Routing YAML; its agencies' names label the board."
    )
    web_session_ttl_s: float = Field(
        default=8 * 3600, gt=0, description="How long a board sign-in lasts (seconds)."
    )
    web_lookups_per_minute: float = Field(
        default=10.0, gt=0, description="Tracking-code lookups a client IP may make a minute."
    )
    web_lookup_burst: int = Field(
        default=10, ge=1, description="Lookups a client IP may make at once before waiting."
    )
    web_reply_url: str | None = Field(
        default=None,
        description=(
            "URL of the city portal's relay that forwards a citizen's rating form to intake's "
            "POST /channels/web/reports with the portal's web key; without it the page shows "
            "how to rate by replying on the citizen's channel."
        ),
    )
    web_cookie_secure: bool = Field(
        default=False,
        description="Always mark the board's cookie Secure (it is whenever the request is https).",
    )

    @field_validator("audit_signing_key", "web_reply_url", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _agencies_need_the_city(self) -> Self:
        if self.routing_config is not None and self.city_config is None:
            raise ValueError(
                "PHANANH_ROUTING_CONFIG needs PHANANH_CITY_CONFIG: the agencies are read "
                "with the city's wards they answer for"
            )
        return self
