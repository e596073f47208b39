"""``phananh forget``: erase a citizen's contact everywhere by destroying its keys.

A citizen asks to be forgotten (Decree 13/2023/NĐ-CP, right to erasure). Their contact is
sealed, under a key per sealed contact, in every copy the platform keeps: report events on
Kafka, the audit trail, notify's store. The keys are filed on ``pakn.contact.keys.v1``
under the citizen's pseudonym. Forgetting writes a :class:`ContactKeyDestroyed` record over
each key of the citizen: notify deletes its copy at once and sends nothing more, and the
broker's log cleaner removes the key itself within a day. The copies stay where they are
(the trail still verifies) but can never be opened again.

The citizen is named by the tracking code of a report they sent or answered, by the phone
number or email they wrote from, by their user id on a channel, or by pseudonym. The
pseudonym key (``PHANANH_PSEUDONYM_KEY``, intake's) turns a contact into the pseudonym;
the command never sees a contact in clear on the platform, and cannot open one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from phananh_contracts import ContactKeyDestroyed, ContactKeyDestroyedEvent, ContactKeyIssued
from phananh_platform.contact_keys import Filed, filed_contact_keys, keys_of
from phananh_platform.kafka import RecordProducer
from phananh_platform.privacy import (
    citizen_identity,
    normalize_email,
    normalize_phone,
    pseudonym,
)
from phananh_platform.settings import KafkaSettings

SOURCE = "/operators/phananh-forget"


class ForgetError(ValueError):
    """The request names nobody, or names them in a form that cannot be read."""


@dataclass(frozen=True)
class Whom:
    """Who to forget, as the operator named them."""

    tracking_codes: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    channel_users: tuple[tuple[str, str], ...] = ()
    """(channel, the citizen's user id on it), e.g. ('zalo', '2468…')."""
    pseudonyms: tuple[str, ...] = ()

    def named_pseudonyms(self, pseudonym_key: bytes | None) -> set[str]:
        """The pseudonyms of the contacts and channel users named (and those given)."""
        identities: list[str] = []
        for raw in self.phones:
            phone = normalize_phone(raw)
            if phone is None:
                raise ForgetError(f"not a phone number: {raw!r}")
            identities.append(f"phone:{phone}")
        for raw in self.emails:
            email = normalize_email(raw)
            if email is None:
                raise ForgetError(f"not an email address: {raw!r}")
            identities.append(f"email:{email.lower()}")
        for channel, user in self.channel_users:
            identity = citizen_identity(channel=channel, channel_user_ref=user)
            if identity is None:
                raise ForgetError(f"a channel user needs a channel and an id: {channel!r}")
            identities.append(identity)
        if identities and not pseudonym_key:
            raise ForgetError(
                "PHANANH_PSEUDONYM_KEY (intake's) is needed to find a citizen by contact"
            )
        named = {pseudonym(pseudonym_key or b"", identity) for identity in identities}
        return named | set(self.pseudonyms)

    def is_empty(self) -> bool:
        return (
            not (self.tracking_codes or self.phones or self.emails or self.channel_users)
            and not self.pseudonyms
        )


@dataclass
class Erasure:
    """What forgetting did (or, in a dry run, would do)."""

    request_id: str
    citizens: set[str]
    destroyed: list[ContactKeyIssued]
    already_destroyed: int
    destroyed_at: datetime
    records: list[ContactKeyDestroyedEvent] = field(default_factory=list)

    def receipt(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "citizens": sorted(self.citizens),
            "keys_destroyed": len(self.destroyed),
            "keys_destroyed_before": self.already_destroyed,
            "tracking_codes": sorted({k.tracking_code for k in self.destroyed if k.tracking_code}),
            "destroyed_at": self.destroyed_at.isoformat(),
        }


def plan_erasure(
    filed: dict[str, Filed],
    whom: Whom,
    *,
    pseudonym_key: bytes | None,
    reason: str,
    operator: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Erasure:
    """Whose keys to destroy and the records that destroy them (pure)."""
    if whom.is_empty():
        raise ForgetError(
            "name the citizen: a tracking code, phone, email, channel user or pseudonym"
        )
    named = whom.named_pseudonyms(pseudonym_key)
    citizens, live = keys_of(filed, pseudonyms=named, tracking_codes=set(whom.tracking_codes))
    request = request_id or f"forget-{uuid.uuid4().hex[:12]}"
    at = now or datetime.now(UTC)
    before = sum(
        1
        for data in filed.values()
        if isinstance(data, ContactKeyDestroyed) and data.pseudonym in citizens
    )
    records = [
        ContactKeyDestroyedEvent.new(
            ContactKeyDestroyed(
                key_id=key.key_id,
                pseudonym=key.pseudonym,
                request_id=request,
                reason=reason,
                destroyed_by=operator,
                destroyed_at=at,
            ),
            source=SOURCE,
        )
        for key in live
    ]
    return Erasure(request, citizens, live, before, at, records)


async def forget(
    settings: KafkaSettings,
    whom: Whom,
    *,
    pseudonym_key: bytes | None,
    reason: str,
    operator: str,
    request_id: str | None = None,
    dry_run: bool = False,
) -> Erasure:
    """Read the filed keys, destroy the citizen's (unless ``dry_run``), return the receipt."""
    filed = await filed_contact_keys(settings, client_id="phananh-forget")
    erasure = plan_erasure(
        filed,
        whom,
        pseudonym_key=pseudonym_key,
        reason=reason,
        operator=operator,
        request_id=request_id,
    )
    if dry_run or not erasure.records:
        return erasure
    producer = RecordProducer(settings, client_id="phananh-forget")
    await producer.start()
    try:
        await producer.publish_all([record.to_kafka() for record in erasure.records])
    finally:
        await producer.stop()
    return erasure
