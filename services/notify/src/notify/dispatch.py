"""Delivering one notice to one citizen: claim, plan, attempt, decide, publish.

1. **Claim** the notification id (``{report}:{event type}:{pseudonym}:{event id}``) in
   ``notify_notifications`` before anything is sent. A notification already decided is
   not sent again; its outcome event is published if it was not yet.
2. An opted-out citizen gets nothing (the notification is recorded ``skipped``), except
   the confirmation of the opt-out itself.
3. **Open** the sealed contact, in memory only, and **plan** the providers: the
   citizen's own channel, then the fallback order.
4. **Attempt** each provider: transient failures are retried with exponential backoff
   and jitter up to ``retry.max_attempts``, permanent ones move on to the next provider.
5. **Decide** (``sent`` or ``failed`` with the reasons), store the outcome event, then
   **publish** it on ``pakn.notifications.v1``; the handler returns (and Kafka commits)
   only after that.

A delivery that crashed between its claim and its decision left the notification
``sending``; the redelivered event takes it over once the lease expired and sends again
with the same idempotency key (``Idempotency-Key``, ZNS ``tracking_id``, SMS
``client_ref``, the email's ``Message-ID``): exactly once where the provider honours it,
at least once otherwise (see docs/notify.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import (
    CLOUDEVENTS_CONTENT_TYPE,
    NotificationFailed,
    NotificationFailedEvent,
    NotificationSent,
    NotificationSentEvent,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactSealer, SealedContact
from prometheus_client import CollectorRegistry, Counter

from notify.adapters.providers import OutgoingMessage, Provider
from notify.adapters.store import NotificationLog, OptOuts
from notify.config import NotifyConfig
from notify.domain.delivery import (
    NO_PROVIDER,
    AttemptResult,
    ContactFacts,
    Delivered,
    ProviderOutcome,
    ProviderTraits,
    Undelivered,
    Verdict,
    backoff_delay,
    delivery_plan,
    verdict_of,
)
from notify.domain.notices import Notice, message_context
from notify.domain.recipients import Recipient, notification_id
from notify.templates import TemplateBook

logger = logging.getLogger("notify.dispatch")
SOURCE = "/services/notify"


@dataclass(frozen=True)
class Trigger:
    """The event a notice answers."""

    event_id: str
    event_type: str


@dataclass
class NotifyMetrics:
    registry: CollectorRegistry

    def __post_init__(self) -> None:
        self.sent = Counter(
            "pakn_notify_sent_total",
            "Notifications delivered, by provider and template.",
            ["provider", "template"],
            registry=self.registry,
        )
        self.failed = Counter(
            "pakn_notify_failed_total",
            "Notifications that failed, by the last provider tried and the reason "
            "(no_provider, permanent, retries_exhausted, contact_unreadable).",
            ["provider", "reason"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "pakn_notify_attempts_total",
            "Provider calls, by provider and result (accepted, transient, permanent).",
            ["provider", "result"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "pakn_notify_fallbacks_total",
            "Times a provider gave up and the next one of the plan was tried.",
            ["provider"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "pakn_notify_skipped_total",
            "Notices nobody was told, by reason (anonymous, opted_out, silent, parked).",
            ["reason"],
            registry=self.registry,
        )
        self.redelivered = Counter(
            "pakn_notify_redelivered_total",
            "Notifications asked for again after they were decided: nothing was sent twice.",
            registry=self.registry,
        )


def outcome_event_id(notification: str, state: str) -> str:
    """The id of the event telling a notification's fate: the same on every retry."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pakn:notify:{notification}:{state}"))


@dataclass
class Dispatcher:
    config: NotifyConfig
    templates: TemplateBook
    providers: Mapping[str, Provider]
    sealer: ContactSealer
    log: NotificationLog
    opt_outs: OptOuts
    producer: RecordProducer
    metrics: NotifyMetrics
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def traits(self) -> dict[str, ProviderTraits]:
        return {
            provider_id: self.config.provider(provider_id).traits()
            for provider_id in self.providers
        }

    async def deliver(self, notice: Notice, recipient: Recipient, trigger: Trigger) -> None:
        """Tell ``recipient`` about ``notice`` once; return after the outcome is on Kafka."""
        nid = notification_id(
            notice.report_id, trigger.event_type, recipient.pseudonym, trigger.event_id
        )
        context = {"notification_id": nid, "template": notice.template_id.value}
        claim = await self.log.claim(
            nid,
            {
                "report_id": notice.report_id,
                "trigger_event_id": trigger.event_id,
                "trigger_event_type": trigger.event_type,
                "recipient_pseudonym": recipient.pseudonym,
                "template_id": notice.template_id.value,
            },
            now=self.clock(),
            lease_s=self.config.claim_lease_s,
        )
        if claim.done is not None:
            self.metrics.redelivered.inc()
            if not claim.done.get("published", True) and claim.done.get("outcome"):
                await self._publish(nid, claim.done["outcome"])
            logger.info("already %s, not sent again", claim.done["state"], extra=context)
            return
        if not notice.ignores_opt_out and await self.opt_outs.opted_out(recipient.pseudonym):
            await self.log.decide(nid, "skipped", outcome=None, details={}, now=self.clock())
            self.metrics.skipped.labels("opted_out").inc()
            logger.info("recipient opted out: nothing sent", extra=context)
            return

        verdict = await self._attempt_all(notice, recipient, nid, claim.attempts_before)
        event = self._outcome_event(notice, recipient, trigger, nid, verdict)
        state = "sent" if isinstance(verdict, Delivered) else "failed"
        record = event.to_kafka()
        outcome = {
            "topic": record.topic,
            "key": record.key.decode("utf-8"),
            "value": record.value.decode("utf-8"),
        }
        details: dict[str, Any] = {"provider": verdict.provider_id}
        if isinstance(verdict, Undelivered):
            details |= {"reason": verdict.reason, "permanent": verdict.permanent}
            self.metrics.failed.labels(verdict.provider_id, verdict.code).inc()
        else:
            self.metrics.sent.labels(verdict.provider_id, notice.template_id.value).inc()
        await self.log.decide(nid, state, outcome=outcome, details=details, now=self.clock())
        await self._publish(nid, outcome)
        logger.info(
            "notification %s via %s",
            state,
            verdict.provider_id,
            extra={**context, "attempts": verdict.attempts},
        )

    async def _attempt_all(
        self, notice: Notice, recipient: Recipient, nid: str, attempts_before: int
    ) -> Delivered | Undelivered:
        try:
            contact = self.sealer.open(recipient.contact_ciphertext)
        except ValueError:
            return Undelivered(
                NO_PROVIDER,
                0,
                "the sealed contact cannot be opened with the configured contact keys",
                permanent=True,
                code="contact_unreadable",
            )
        plan = delivery_plan(
            contact_facts(contact),
            self.traits(),
            {channel.value: provider for channel, provider in self.config.own_channel.items()},
            self.config.fallback,
        )
        context = message_context(notice, recipient.tracking_code)
        outcomes: list[ProviderOutcome] = []
        budget_used = attempts_before  # a resumed delivery keeps counting
        for provider_id in plan:
            provider = self.providers[provider_id]
            rendered = self.templates.render(notice.template_id, provider.channel, context)
            message = OutgoingMessage(
                nid, notice.template_id.value, recipient.tracking_code, rendered, contact
            )
            # A delivery resumed after a crash keeps counting the attempts already made.
            outcome = await self._attempt(provider, message, already=budget_used)
            budget_used = 0
            outcomes.append(outcome)
            if outcome.last.verdict == Verdict.ACCEPTED:
                break
            self.metrics.fallbacks.labels(provider_id).inc()
        return verdict_of(outcomes)

    async def _attempt(
        self, provider: Provider, message: OutgoingMessage, *, already: int
    ) -> ProviderOutcome:
        retry = self.config.retry
        attempts = 0
        last = AttemptResult.transient("not attempted")
        remaining = max(1, retry.max_attempts - already)
        for number in range(1, remaining + 1):
            await self.log.attempt(message.notification_id, provider.id, now=self.clock())
            attempts += 1
            last = await provider.send(message)
            self.metrics.attempts.labels(provider.id, last.verdict.value).inc()
            if last.verdict != Verdict.TRANSIENT or number == remaining:
                break
            pause = backoff_delay(
                number,
                base_s=retry.base_delay_s,
                cap_s=retry.max_delay_s,
                jitter=retry.jitter,
                rng=self.rng,
            )
            logger.warning(
                "provider %s failed (%s), retrying in %.2fs",
                provider.id,
                last.reason,
                pause,
                extra={"notification_id": message.notification_id, "attempt": number},
            )
            await self.sleep(pause)
        return ProviderOutcome(provider.id, attempts, last)

    def _outcome_event(
        self,
        notice: Notice,
        recipient: Recipient,
        trigger: Trigger,
        nid: str,
        verdict: Delivered | Undelivered,
    ) -> NotificationSentEvent | NotificationFailedEvent:
        now = self.clock()
        channel = (
            self.providers[verdict.provider_id].channel
            if verdict.provider_id in self.providers
            else NO_PROVIDER
        )
        common: dict[str, Any] = {
            "report_id": notice.report_id,
            "notification_id": nid,
            "trigger_event_id": trigger.event_id,
            "trigger_event_type": trigger.event_type,
            "recipient_pseudonym": recipient.pseudonym,
            "channel": channel,
            "provider": verdict.provider_id,
            "template_id": notice.template_id.value,
            # The contract counts attempts from 1; a notification no provider could even
            # try (no address, unreadable contact) counts its one decision as an attempt.
            "attempts": max(1, verdict.attempts),
            "at": now,
        }
        if isinstance(verdict, Delivered):
            return NotificationSentEvent.new(
                NotificationSent(**common),
                source=SOURCE,
                id=outcome_event_id(nid, "sent"),
                time=now,
            )
        return NotificationFailedEvent.new(
            NotificationFailed(**common, reason=verdict.reason, permanent=verdict.permanent),
            source=SOURCE,
            id=outcome_event_id(nid, "failed"),
            time=now,
        )

    async def _publish(self, nid: str, outcome: dict[str, Any]) -> None:
        await self.producer.send(
            outcome["topic"],
            key=outcome["key"].encode("utf-8"),
            value=outcome["value"].encode("utf-8"),
            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode("ascii"))],
        )
        await self.log.published(nid)


def contact_facts(contact: SealedContact) -> ContactFacts:
    """What a contact offers, without its values."""
    return ContactFacts(
        channel=contact.channel,
        has_phone=bool(contact.phone),
        has_email=bool(contact.email),
        has_user_ref=bool(contact.channel_user_ref),
    )
