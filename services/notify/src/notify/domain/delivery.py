"""How a message reaches the citizen: the provider order, retries, and the verdict.

* **Plan.** The citizen's own channel first (a Zalo message answered on Zalo, an app
  report by app push), then the configured fallback order (e.g. ZNS → SMS → email),
  keeping only providers that are enabled and for which the contact has an address.
* **Attempts.** A transient failure (5xx, 408, 429, timeout, connection refused, a
  provider error code configured as retryable) is retried on the same provider after an
  exponential pause with jitter, up to ``max_attempts``; a permanent one (other 4xx, an
  address refused) goes to the next provider at once.
* **Verdict.** The first provider that accepts the message makes it *sent*; when every
  provider gave up, it *failed*, with each provider's last reason, permanent only if no
  provider failed for a transient reason.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Address = Literal["phone", "email", "user_ref"]


@dataclass(frozen=True)
class ContactFacts:
    """What a sealed contact offers, without its values: enough to plan a delivery."""

    channel: str
    """The intake channel the citizen wrote on (app, zalo, facebook, email, hotline …)."""
    has_phone: bool
    has_email: bool
    has_user_ref: bool

    def has(self, address: Address) -> bool:
        return {
            "phone": self.has_phone,
            "email": self.has_email,
            "user_ref": self.has_user_ref,
        }[address]


@dataclass(frozen=True)
class ProviderTraits:
    """What a provider needs from a contact."""

    provider_id: str
    channel: str
    """Delivery channel named in the events: app, zalo, sms, email, facebook."""
    address: Address
    only_for_channel: str | None = None
    """Set when the address only means something on one intake channel (a Zalo user id,
    a Facebook PSID, an app user): the provider serves only citizens who wrote there."""


def delivery_plan(
    contact: ContactFacts,
    providers: Mapping[str, ProviderTraits],
    own_channel: Mapping[str, str],
    fallback: Sequence[str],
) -> tuple[str, ...]:
    """Providers to try, in order: the citizen's own channel first, then the fallback.

    ``providers`` holds the enabled providers only; names that are not there, and
    providers the contact has no address for, are left out.
    """
    wanted = [own_channel[contact.channel]] if contact.channel in own_channel else []
    wanted += list(fallback)
    plan: list[str] = []
    for provider_id in wanted:
        traits = providers.get(provider_id)
        if traits is None or provider_id in plan:
            continue
        if traits.only_for_channel is not None and traits.only_for_channel != contact.channel:
            continue
        if contact.has(traits.address):
            plan.append(provider_id)
    return tuple(plan)


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class AttemptResult:
    """What one provider call came to; ``reason`` never contains the contact."""

    verdict: Verdict
    reason: str = ""
    provider_message_id: str | None = None

    @classmethod
    def accepted(cls, provider_message_id: str | None = None) -> AttemptResult:
        return cls(Verdict.ACCEPTED, "", provider_message_id)

    @classmethod
    def transient(cls, reason: str) -> AttemptResult:
        return cls(Verdict.TRANSIENT, reason)

    @classmethod
    def permanent(cls, reason: str) -> AttemptResult:
        return cls(Verdict.PERMANENT, reason)


RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""4xx statuses that mean "not now" rather than "never"."""


def http_verdict(status: int) -> Verdict:
    """2xx accepted; 5xx and 408/425/429 transient; any other status permanent."""
    if 200 <= status < 300:
        return Verdict.ACCEPTED
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Verdict.TRANSIENT
    return Verdict.PERMANENT


def error_code_verdict(code: int, retryable_codes: frozenset[int]) -> Verdict:
    """A provider's own error code in a response (Zalo ``error``, Graph ``error.code``)."""
    if code == 0:
        return Verdict.ACCEPTED
    return Verdict.TRANSIENT if code in retryable_codes else Verdict.PERMANENT


def smtp_verdict(code: int) -> Verdict:
    """SMTP reply codes: 2xx accepted, 4xx transient, 5xx permanent."""
    if 200 <= code < 300:
        return Verdict.ACCEPTED
    return Verdict.TRANSIENT if 400 <= code < 500 else Verdict.PERMANENT


def backoff_delay(
    retry: int, *, base_s: float, cap_s: float, jitter: float, rng: random.Random
) -> float:
    """Pause before the ``retry``-th retry (1-based): exponential, capped, with jitter.

    The exponential part is ``min(cap, base × 2^(retry-1))``; ``jitter`` (0–1) is the share
    of it drawn at random, so instances retrying together spread out.
    """
    if retry < 1:
        raise ValueError("retries are counted from 1")
    ceiling = float(min(cap_s, base_s * 2 ** (retry - 1)))
    return ceiling * (1 - jitter) + rng.uniform(0, ceiling * jitter)


@dataclass(frozen=True)
class ProviderOutcome:
    """How one provider of the plan fared: its attempts and its last result."""

    provider_id: str
    attempts: int
    last: AttemptResult


@dataclass(frozen=True)
class Delivered:
    provider_id: str
    attempts: int
    provider_message_id: str | None


@dataclass(frozen=True)
class Undelivered:
    provider_id: str
    """The last provider tried, or ``none`` when no provider could be tried."""
    attempts: int
    reason: str
    permanent: bool
    code: str
    """Short reason for metrics: no_provider, permanent, retries_exhausted."""


NO_PROVIDER = "none"


def verdict_of(outcomes: Sequence[ProviderOutcome]) -> Delivered | Undelivered:
    """The notification's fate from the providers tried, in order."""
    attempts = sum(outcome.attempts for outcome in outcomes)
    for outcome in outcomes:
        if outcome.last.verdict == Verdict.ACCEPTED:
            return Delivered(outcome.provider_id, attempts, outcome.last.provider_message_id)
    if not outcomes:
        return Undelivered(
            NO_PROVIDER,
            0,
            "no enabled provider can reach this contact",
            permanent=True,
            code="no_provider",
        )
    permanent = all(outcome.last.verdict == Verdict.PERMANENT for outcome in outcomes)
    reason = "; ".join(
        f"{outcome.provider_id}: {outcome.last.reason} "
        f"(after {outcome.attempts} attempt{'s' if outcome.attempts > 1 else ''})"
        for outcome in outcomes
    )
    return Undelivered(
        outcomes[-1].provider_id,
        attempts,
        reason[:1000],
        permanent=permanent,
        code="permanent" if permanent else "retries_exhausted",
    )
