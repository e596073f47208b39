"""Notify's configuration (``config/son-la/notify.yaml``), validated at start.

Which providers exist and where they answer, the citizen's own channel per intake
channel, the fallback order, retries and backoff, the opt-out words, the rejections that
get no message, and the directory of the Jinja2 templates. Secrets (tokens, the SMTP
password) are not in this file: they come from ``PHANANH_NOTIFY_PROVIDER_SECRETS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from phananh_citydata import TimeZoneName
from phananh_contracts.values import Channel, Code, RejectionReason
from phananh_platform.config import read_yaml_mapping
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from notify.domain.delivery import Address, ProviderTraits

MAX_HANDLING_S = 240.0
"""Longest a message's delivery may take, worst case: below Kafka's default
``max.poll.interval.ms`` (300 s), after which the consumer would leave its group."""


class NotifyConfigError(ValueError):
    """The notify configuration cannot be read or is invalid (the message says where)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """Attempts per provider, and the pauses between them."""

    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts per provider.")
    base_delay_s: float = Field(default=1.0, gt=0, le=60, description="First pause.")
    max_delay_s: float = Field(default=10.0, gt=0, le=120, description="Longest pause.")
    jitter: float = Field(default=0.5, ge=0, le=1, description="Random share of each pause.")

    def worst_pauses_s(self) -> float:
        return float(
            sum(
                min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
                for retry in range(1, self.max_attempts)
            )
        )


class _Provider(_Model):
    id: Code = Field(description="Provider id, named in events and metrics, e.g. 'zalo-oa'.")
    enabled: bool = Field(default=True, description="False keeps it configured but unused.")
    timeout_s: float = Field(default=10.0, gt=0, le=60, description="Per attempt.")

    channel: ClassVar[str] = "?"
    address: ClassVar[Address] = "phone"
    only_for_channel: ClassVar[str | None] = None
    needs_secret: ClassVar[bool] = True

    def traits(self) -> ProviderTraits:
        return ProviderTraits(self.id, self.channel, self.address, self.only_for_channel)


class AppPushProvider(_Provider):
    """The city app's back end: an HTTP webhook that pushes to the citizen's devices."""

    kind: Literal["app_push"]
    url: AnyHttpUrl
    channel: ClassVar[str] = "app"
    address: ClassVar[Address] = "phone"
    only_for_channel: ClassVar[str | None] = "app"


class ZaloOaProvider(_Provider):
    """Zalo Official Account consultation message to the user who wrote to the OA."""

    kind: Literal["zalo_oa"]
    url: AnyHttpUrl = AnyHttpUrl("https://openapi.zalo.me/v3.0/oa/message/cs")
    retryable_error_codes: frozenset[int] = Field(
        default=frozenset({-32}), description="Zalo error codes worth retrying (rate limit)."
    )
    channel: ClassVar[str] = "zalo"
    address: ClassVar[Address] = "user_ref"
    only_for_channel: ClassVar[str | None] = "zalo"


class ZaloZnsProvider(_Provider):
    """Zalo Notification Service: a registered template sent to a phone number."""

    kind: Literal["zalo_zns"]
    url: AnyHttpUrl = AnyHttpUrl("https://business.openapi.zalo.me/message/template")
    template_id: str = Field(min_length=1, description="The ZNS template Zalo approved.")
    tracking_code_param: str = Field(default="ma_tra_cuu", min_length=1)
    message_param: str = Field(default="noi_dung", min_length=1)
    message_max_chars: int = Field(default=400, ge=30, le=2000)
    retryable_error_codes: frozenset[int] = Field(default=frozenset({-32}))
    channel: ClassVar[str] = "zalo"
    address: ClassVar[Address] = "phone"


class SmsHttpProvider(_Provider):
    """A brand-name SMS gateway over HTTP."""

    kind: Literal["sms_http"]
    url: AnyHttpUrl
    sender: str = Field(min_length=1, max_length=11, description="Brand name (≤ 11 chars).")
    ascii_only: bool = Field(default=True, description="Strip diacritics (GSM-7 gateways).")
    max_segments: int = Field(default=2, ge=1, le=4)
    channel: ClassVar[str] = "sms"
    address: ClassVar[Address] = "phone"


class SmtpProvider(_Provider):
    """Email through an SMTP server."""

    kind: Literal["smtp"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str = Field(default="", max_length=200)
    message_id_domain: str = Field(
        default="pakn.invalid", description="Right side of the Message-ID notify derives."
    )
    channel: ClassVar[str] = "email"
    address: ClassVar[Address] = "email"
    needs_secret: ClassVar[bool] = False


class FacebookProvider(_Provider):
    """A reply from the city's Facebook Page through the Graph API's Send API."""

    kind: Literal["facebook"]
    url: AnyHttpUrl = AnyHttpUrl("https://graph.facebook.com/v21.0/me/messages")
    messaging_type: Literal["RESPONSE", "UPDATE", "MESSAGE_TAG"] = "MESSAGE_TAG"
    tag: str | None = Field(default="ACCOUNT_UPDATE", description="With MESSAGE_TAG.")
    retryable_error_codes: frozenset[int] = Field(
        default=frozenset({1, 2, 4, 17, 32, 613}),
        description="Graph error codes worth retrying (unknown, service, rate limits).",
    )
    channel: ClassVar[str] = "facebook"
    address: ClassVar[Address] = "user_ref"
    only_for_channel: ClassVar[str | None] = "facebook"


ProviderConfig = Annotated[
    AppPushProvider
    | ZaloOaProvider
    | ZaloZnsProvider
    | SmsHttpProvider
    | SmtpProvider
    | FacebookProvider,
    Field(discriminator="kind"),
]


class OptOutWords(_Model):
    """Replies that stop or restart messages, compared without diacritics or case."""

    stop: tuple[str, ...] = Field(min_length=1)
    start: tuple[str, ...] = ()


class NotifyConfig(_Model):
    """Everything ``notify.yaml`` holds."""

    timezone: TimeZoneName = Field(
        default="Asia/Ho_Chi_Minh", description="Of dates shown to citizens."
    )
    templates_dir: Path = Field(description="Jinja2 templates, relative to the YAML file.")
    providers: tuple[ProviderConfig, ...] = Field(min_length=1)
    own_channel: dict[Channel, Code] = Field(
        default_factory=dict, description="Intake channel -> the provider that answers there."
    )
    fallback: tuple[Code, ...] = Field(default=(), description="Providers tried after it.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    claim_lease_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a delivery in progress holds its notification; after a crash "
        "another attempt takes over once it expired.",
    )
    opt_out: OptOutWords
    silent_rejections: frozenset[RejectionReason] = Field(
        default=frozenset(
            {
                RejectionReason.DUPLICATE_MESSAGE,
                RejectionReason.BAD_SIGNATURE,
                RejectionReason.SPAM,
            }
        ),
        description="Rejections the sender is not told about.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [provider.id for provider in self.providers]
        if len(set(ids)) != len(ids):
            raise ValueError("provider ids must be distinct")
        for channel, provider_id in self.own_channel.items():
            if provider_id not in ids:
                raise ValueError(f"own_channel.{channel.value}: no provider {provider_id!r}")
        for provider_id in self.fallback:
            if provider_id not in ids:
                raise ValueError(f"fallback: no provider {provider_id!r}")
        worst = self.worst_handling_s()
        if worst > MAX_HANDLING_S or worst > self.claim_lease_s:
            raise ValueError(
                f"one delivery may take {worst:.0f}s at worst (every provider timing out "
                f"on every attempt): keep it under {MAX_HANDLING_S:.0f}s and under "
                "claim_lease_s by lowering retry.max_attempts, the delays or timeouts"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def worst_handling_s(self) -> float:
        """A delivery's longest run: every provider fails every attempt by timeout."""
        pauses = self.retry.worst_pauses_s()
        return sum(
            provider.timeout_s * self.retry.max_attempts + pauses for provider in self.providers
        )

    def provider(self, provider_id: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        raise KeyError(provider_id)


def load_notify_config(path: Path) -> NotifyConfig:
    """The configuration in ``path``; ``templates_dir`` is resolved against its folder."""
    document: dict[str, Any] = read_yaml_mapping(path, "notify configuration", NotifyConfigError)
    try:
        config = NotifyConfig.model_validate(document)
    except ValidationError as error:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise NotifyConfigError(
            f"{path}: the notify configuration is invalid:\n{problems}"
        ) from None
    if not config.templates_dir.is_absolute():
        config = config.model_copy(
            update={"templates_dir": (path.parent / config.templates_dir).resolve()}
        )
    return config
