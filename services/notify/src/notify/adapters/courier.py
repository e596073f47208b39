"""Delivering a batch's notifications: claim, send, decide, publish — a few commands per batch.

1. **Claim** every notification of the batch with one ``insert_many`` keyed by its id
   (``{report}:{event type}:{pseudonym}:{event id}``), before anything is sent. One
   already decided is not sent again (its outcome event is published if it was not yet);
   one whose delivery is held by another instance makes the batch come back later.
   A citizen who opted out is recorded ``skipped`` with the claim itself.
2. **Open** each sealed contact in memory only, with its key (read for the whole batch
   from notify's copy of the filed keys, :mod:`notify.adapters.keys`), and **plan** its
   providers (own channel, then fallback); the claim counts the first attempt before it
   is made. A contact whose key was destroyed (the citizen was forgotten) is sent
   nothing: the notification fails, ``contact_forgotten``. One whose key has not arrived
   yet (the keys travel on their own topic) is left out of the batch, which comes back
   later, for at most ``key_wait_s``; then it fails, ``contact_key_missing``.
3. **Send** concurrently, at most ``concurrency`` provider calls at a time; one citizen's
   messages go one after the other, in the batch's order. Transient failures are retried
   with exponential backoff and jitter (each retry counted before it is made), permanent
   ones move on to the next provider.
4. **Decide** every outcome in one ``insert_many`` (``sent`` / ``failed`` with the event
   that tells it), **publish** all the events together, then mark them published (one
   ``insert_many``). The handler returns, and Kafka commits, only after that.

A delivery that crashed between its claim and its decision left the notification
``sending``; the redelivered batch takes it over once the lease expired and sends again
with the same idempotency key, continuing the attempt count: exactly once where the
provider honours the key, at least once otherwise (see docs/notify.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from phananh_contracts import CLOUDEVENTS_CONTENT_TYPE, KafkaRecord
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import ContactKey, ContactSealer, SealedContact, key_id_of

from notify.adapters.keys import ContactKeyStore, Destroyed, KeyState
from notify.adapters.providers import OutgoingMessage, Provider
from notify.adapters.store import ClaimHeld, Decision, NewClaim, NotificationLog
from notify.adapters.templates import TemplateBook
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
from notify.domain.notices import message_context
from notify.domain.outcomes import outcome_event
from notify.domain.telling import Notification
from notify.metrics import NotifyMetrics

logger = logging.getLogger("notify.courier")

UNREADABLE = Undelivered(
    NO_PROVIDER,
    0,
    "the sealed contact cannot be opened with the configured contact keys",
    permanent=True,
    code="contact_unreadable",
)


FORGOTTEN = Undelivered(
    NO_PROVIDER,
    0,
    "the citizen was forgotten: the key of their contact is destroyed",
    permanent=True,
    code="contact_forgotten",
)
KEY_MISSING = Undelivered(
    NO_PROVIDER,
    0,
    "the key of the sealed contact never arrived on the contact-keys topic",
    permanent=True,
    code="contact_key_missing",
)


class KeyPending(ConcurrentChange):
    """A contact's key has not reached notify yet: the batch comes back later (transient)."""


@dataclass(frozen=True)
class _Planned:
    notification: Notification
    contact: SealedContact | None
    plan: tuple[str, ...]
    undeliverable: Undelivered = UNREADABLE
    """Why nothing is sent when ``contact`` is None."""


@dataclass
class Courier:
    config: NotifyConfig
    templates: TemplateBook
    providers: Mapping[str, Provider]
    sealer: ContactSealer
    keys: ContactKeyStore
    log: NotificationLog
    producer: RecordProducer
    metrics: NotifyMetrics
    concurrency: int = 32
    key_wait_s: float = 300.0
    """How long a notification waits for its contact's key before it fails."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self._traits: dict[str, ProviderTraits] = {
            provider_id: self.config.provider(provider_id).traits()
            for provider_id in self.providers
        }
        self._own_channel = {
            channel.value: provider for channel, provider in self.config.own_channel.items()
        }
        self._waiting_since: dict[str, float] = {}
        """Key id -> when a notification first waited for it (monotonic seconds)."""

    async def deliver_all(
        self, notifications: Sequence[Notification], silenced: Collection[str] = ()
    ) -> None:
        """Tell each notification once; return after every outcome is on Kafka.

        ``silenced``: ids of notifications whose citizen opted out (recorded skipped).
        Raises :class:`ClaimHeld` (transient) after the rest is done when another delivery
        holds one of them, :class:`KeyPending` when a contact's key has not arrived yet:
        the batch comes back later.
        """
        unique: dict[str, Notification] = {}
        for notification in notifications:
            unique.setdefault(notification.id, notification)
        if not unique:
            return
        states = await self.keys.keys(
            key_id for item in unique.values() if (key_id := _key_id(item)) is not None
        )
        waiting = [nid for nid, item in unique.items() if self._waits(item, states)]
        for nid in waiting:
            del unique[nid]
        if not unique:
            raise KeyPending(f"{len(waiting)} contact key(s) not here yet")
        planned = {nid: self._plan(item, states) for nid, item in unique.items()}
        now = self.clock()
        claims = await self.log.claim_all(
            [
                NewClaim(
                    nid,
                    _facts(item.notification),
                    item.plan[0] if item.plan and nid not in silenced else None,
                    "skipped" if nid in silenced else "sending",
                )
                for nid, item in planned.items()
            ],
            now=now,
            lease_s=self.config.claim_lease_s,
        )
        republish: list[KafkaRecord] = []
        republished: list[str] = []
        held: list[str] = []
        to_send: list[tuple[_Planned, int]] = []
        skipped: list[Decision] = []
        for nid, item in planned.items():
            claim = claims[nid]
            context = {"notification_id": nid, "template": item.notification.notice.template_id}
            if claim.held:
                held.append(nid)
            elif claim.done is not None:
                self._redelivered(claim.done, context, republish, republished)
            elif nid in silenced:
                self.metrics.skipped.labels("opted_out").inc()
                logger.info("recipient opted out: nothing sent", extra=context)
                if claim.taken_over:  # taken over: decide it now; a fresh one was claimed skipped
                    skipped.append(Decision(nid, "skipped", None, {}))
            else:
                to_send.append((item, claim.attempts_before))

        verdicts = await self._send_all(to_send, lease_until=now + self._lease())
        decisions = skipped + [self._decision(item, verdict) for item, verdict in verdicts]
        recorded = await self.log.decide_all(decisions, now=self.clock())
        records = republish + [
            _record(decision.outcome) for decision in recorded if decision.outcome is not None
        ]
        await self.producer.publish_all(records)
        await self.log.published(
            republished + [d.notification_id for d in recorded if d.outcome is not None]
        )
        if held:
            raise ClaimHeld(
                f"{len(held)} notification(s) being delivered elsewhere, e.g. {held[0]}"
            )
        if waiting:
            raise KeyPending(f"{len(waiting)} contact key(s) not here yet")

    def _waits(self, notification: Notification, states: Mapping[str, KeyState]) -> bool:
        """True while the notification's contact key is unknown and may still arrive."""
        key_id = _key_id(notification)
        if key_id is None or key_id in states:
            self._waiting_since.pop(key_id or "", None)
            return False
        since = self._waiting_since.setdefault(key_id, time.monotonic())
        if time.monotonic() - since < self.key_wait_s:
            return True
        self._waiting_since.pop(key_id, None)
        return False  # waited long enough: it fails, contact_key_missing

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.config.claim_lease_s)

    def _redelivered(
        self,
        done: dict[str, Any],
        context: dict[str, Any],
        republish: list[KafkaRecord],
        republished: list[str],
    ) -> None:
        self.metrics.redelivered.inc()
        if not done.get("published", True) and done.get("outcome"):
            republish.append(_record(done["outcome"]))  # a crash came before it went out
            republished.append(done["_id"])
        logger.info("already %s, not sent again", done["state"], extra=context)

    def _plan(self, notification: Notification, states: Mapping[str, KeyState]) -> _Planned:
        sealed = notification.recipient.contact_ciphertext
        key: ContactKey | None = None
        try:
            key_id = key_id_of(sealed)
        except ValueError:
            return _Planned(notification, None, ())
        if key_id is not None:
            state = states.get(key_id)
            if isinstance(state, Destroyed):
                return _Planned(notification, None, (), FORGOTTEN)
            if state is None:
                return _Planned(notification, None, (), KEY_MISSING)
            key = state
        try:
            contact = self.sealer.open(sealed, key)
        except ValueError:
            return _Planned(notification, None, ())
        facts = ContactFacts(
            channel=contact.channel,
            has_phone=bool(contact.phone),
            has_email=bool(contact.email),
            has_user_ref=bool(contact.channel_user_ref),
        )
        plan = delivery_plan(facts, self._traits, self._own_channel, self.config.fallback)
        return _Planned(notification, contact, plan)

    # --- sending -------------------------------------------------------------------------

    async def _send_all(
        self, to_send: Sequence[tuple[_Planned, int]], *, lease_until: datetime
    ) -> list[tuple[_Planned, Delivered | Undelivered]]:
        """Every citizen's messages in order; citizens concurrently, provider calls bounded."""
        if not to_send:
            return []
        chains: dict[str, list[tuple[_Planned, int]]] = {}
        for entry in to_send:
            chains.setdefault(entry[0].notification.recipient.pseudonym, []).append(entry)
        lease = _Lease(self, {entry[0].notification.id for entry in to_send}, lease_until)
        verdicts: dict[str, Delivered | Undelivered] = {}
        calls = asyncio.Semaphore(self.concurrency)

        async def chain(entries: list[tuple[_Planned, int]]) -> None:
            for item, attempts_before in entries:
                verdicts[item.notification.id] = await self._deliver(
                    item, attempts_before, calls, lease
                )
                lease.done(item.notification.id)

        await asyncio.gather(*(chain(entries) for entries in chains.values()))
        return [(item, verdicts[item.notification.id]) for item, _ in to_send]

    async def _deliver(
        self, item: _Planned, attempts_before: int, calls: asyncio.Semaphore, lease: _Lease
    ) -> Delivered | Undelivered:
        if item.contact is None:
            return item.undeliverable
        notification = item.notification
        notice = notification.notice
        context = message_context(notice, notification.recipient.tracking_code)
        outcomes: list[ProviderOutcome] = []
        already = attempts_before  # a resumed delivery keeps counting
        counted = bool(item.plan)  # the claim counted the first attempt
        for provider_id in item.plan:
            provider = self.providers[provider_id]
            rendered = self.templates.render(notice.template_id, provider.channel, context)
            message = OutgoingMessage(
                notification.id,
                notice.template_id.value,
                notification.recipient.tracking_code,
                rendered,
                item.contact,
            )
            outcome = await self._attempt(
                provider, message, already=already, counted=counted, calls=calls, lease=lease
            )
            already, counted = 0, False
            outcomes.append(outcome)
            if outcome.last.verdict == Verdict.ACCEPTED:
                break
            self.metrics.fallbacks.labels(provider_id).inc()
        return verdict_of(outcomes)

    async def _attempt(
        self,
        provider: Provider,
        message: OutgoingMessage,
        *,
        already: int,
        counted: bool,
        calls: asyncio.Semaphore,
        lease: _Lease,
    ) -> ProviderOutcome:
        retry = self.config.retry
        attempts = 0
        last = AttemptResult.transient("not attempted")
        remaining = max(1, retry.max_attempts - already)
        for number in range(1, remaining + 1):
            await lease.keep()
            if not (counted and number == 1):
                await self.log.attempt(message.notification_id, provider.id, now=self.clock())
            attempts += 1
            async with calls:
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

    # --- deciding ------------------------------------------------------------------------

    def _decision(self, item: _Planned, verdict: Delivered | Undelivered) -> Decision:
        notification = item.notification
        channel = (
            self.providers[verdict.provider_id].channel
            if verdict.provider_id in self.providers
            else NO_PROVIDER
        )
        record = outcome_event(notification, verdict, channel, self.clock()).to_kafka()
        outcome = {
            "topic": record.topic,
            "key": record.key.decode("utf-8"),
            "value": record.value.decode("utf-8"),
        }
        details: dict[str, Any] = {"provider": verdict.provider_id}
        template = notification.notice.template_id.value
        if isinstance(verdict, Undelivered):
            details |= {"reason": verdict.reason, "permanent": verdict.permanent}
            self.metrics.failed.labels(verdict.provider_id, verdict.code).inc()
            state = "failed"
        else:
            self.metrics.sent.labels(verdict.provider_id, template).inc()
            state = "sent"
        logger.info(
            "notification %s via %s",
            state,
            verdict.provider_id,
            extra={
                "notification_id": notification.id,
                "template": template,
                "attempts": verdict.attempts,
            },
        )
        return Decision(notification.id, state, outcome, details)


@dataclass
class _Lease:
    """Keeps the claims of a batch's pending deliveries valid while the batch runs long
    (an outage, many citizens): renewed together, in one write, when one of them could
    otherwise expire before its delivery ends."""

    courier: Courier
    pending: set[str]
    until: datetime
    _renewing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def done(self, notification_id: str) -> None:
        self.pending.discard(notification_id)

    async def keep(self) -> None:
        worst = timedelta(seconds=self.courier.config.worst_handling_s())
        if self.courier.clock() + worst <= self.until:
            return
        async with self._renewing:
            now = self.courier.clock()
            if now + worst <= self.until:
                return  # renewed meanwhile
            until = now + self.courier._lease()
            await self.courier.log.renew(self.pending, until=until)
            self.until = until


def _key_id(notification: Notification) -> str | None:
    try:
        return key_id_of(notification.recipient.contact_ciphertext)
    except ValueError:
        return None  # damaged: found unreadable when planned


def _facts(notification: Notification) -> dict[str, Any]:
    return {
        "report_id": notification.notice.report_id,
        "trigger_event_id": notification.trigger.event_id,
        "trigger_event_type": notification.trigger.event_type,
        "recipient_pseudonym": notification.recipient.pseudonym,
        "template_id": notification.notice.template_id.value,
    }


def _record(outcome: Mapping[str, Any]) -> KafkaRecord:
    return KafkaRecord(
        topic=outcome["topic"],
        key=outcome["key"].encode("utf-8"),
        value=outcome["value"].encode("utf-8"),
        headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode("ascii"))],
    )
