"""From one citizen message to a decision: a new report, a reply, or a rejection.

The steps, all pure:

1. :func:`reply_hint` — does the message answer an existing report (it quotes a
   tracking code, or answers an earlier message on its channel)? The handler looks the
   report up; if it exists, :func:`as_reply` makes the citizen's reply.
2. :func:`interpret` — otherwise the message is a new report: text normalized and
   length-checked, out-of-scope messages (complaints, denunciations) diverted with a
   notice, the contact sealed and pseudonymized, place, category and priority derived,
   triage flagged when place or category is uncertain.
3. linking duplicates — the handler fetches earlier reports of the same ward; a similar
   one makes this report its duplicate (:mod:`intake.domain.dedupe`,
   :func:`intake.domain.batch.link_duplicates`).

Rejections always carry a machine-readable reason and a Vietnamese notice for the sender.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from phananh_contracts import (
    CitizenReplied,
    Place,
    RawChannelMessageReceived,
    RejectionReason,
    Reporter,
    ReportReceived,
    ReportRejected,
)
from phananh_platform.privacy import SealedContact, pseudonym

from intake.config import CityConfig
from intake.domain.category_model import CategoryModel
from intake.domain.classify import classify
from intake.domain.contact import identity_of, mask_personal_data, normalized_contact
from intake.domain.model import ChannelMessage, Contact, PayloadError
from intake.domain.places import resolve_place
from intake.domain.signals import assess_signals
from intake.domain.text import fold, normalize_text, strip_html
from intake.domain.tracking import report_id, tracking_code

NOTICE_UNREADABLE = (
    "Tin nhắn của bạn không đọc được nên chưa thể tiếp nhận. "
    "Xin gửi lại nội dung phản ánh bằng chữ."
)
NOTICE_TOO_SHORT = (
    "Nội dung phản ánh quá ngắn (cần ít nhất {min} ký tự). "
    "Xin mô tả rõ sự việc, địa điểm và thời gian xảy ra."
)
NOTICE_TOO_LONG = (
    "Nội dung phản ánh quá dài (tối đa {max} ký tự). "
    "Xin rút gọn hoặc gửi thành nhiều phản ánh riêng."
)
_RATING_OUT_OF_FIVE = re.compile(r"(?<![0-9])([1-5])\s*/\s*5(?![0-9])")
_RATING_WORDS = re.compile(r"\b(?:danh gia|cham|rating)\s*([1-5])\b|\b([1-5])\s*(?:sao|diem)\b")


Seal = Callable[[SealedContact, str, str | None], str]
"""Seals a contact of (pseudonym, tracking code) under a key of its own and files the key;
returns the sealed contact (``phananh_platform.privacy``)."""


def _no_sealer(contact: SealedContact, pseudonym: str, tracking_code: str | None) -> str:
    raise RuntimeError("no contact sealer: the handler gives one per batch (it files the keys)")


@dataclass(frozen=True)
class Keys:
    """Secrets the normalizer uses, passed in so the functions stay pure."""

    tracking_secret: bytes
    pseudonym_key: bytes
    seal: Seal = _no_sealer


@dataclass(frozen=True)
class NewReport:
    """A message accepted as a report; ``folded_text`` feeds duplicate detection."""

    report: ReportReceived
    folded_text: str


@dataclass(frozen=True)
class Rejection:
    rejected: ReportRejected


@dataclass(frozen=True)
class ReplyHint:
    """How a message may point at an existing report."""

    tracking_code: str | None
    reply_to_channel_message_id: str | None


def code_of(message: ChannelMessage, keys: Keys, config: CityConfig) -> str:
    return tracking_code(
        keys.tracking_secret,
        config.city.tracking_prefix,
        message.channel.value,
        message.channel_message_id,
        message.received_at,
    )


def reply_hint(message: ChannelMessage, config: CityConfig) -> ReplyHint | None:
    """The report this message may answer, or None for a plain new message."""
    prefix = re.escape(config.city.tracking_prefix)
    pattern = re.compile(rf"\b({prefix}-[0-9]{{4}}-[0-9A-HJKMNP-TV-Z]{{6}})\b", re.IGNORECASE)
    reply_to = message.reply_to_channel_message_id
    # The code may be quoted in the text, or named by the channel's reply field.
    found = pattern.search(message.text) or (pattern.fullmatch(reply_to) if reply_to else None)
    code = found.group(1).upper() if found else None
    if code is None and reply_to is None:
        return None
    return ReplyHint(code, reply_to)


def rating_in(text: str) -> int | None:
    """A 1–5 satisfaction rating written in the text ('4/5', 'đánh giá 4', '3 sao')."""
    if out_of_five := _RATING_OUT_OF_FIVE.search(text):
        return int(out_of_five.group(1))
    match = _RATING_WORDS.search(fold(text))
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def _sender(message: ChannelMessage) -> tuple[Contact | None, str | None]:
    """The contact intake may keep (normalized), and the identity of the sender."""
    if message.collaborator_id:
        return None, f"collaborator:{message.collaborator_id}"
    contact = None if message.anonymous else normalized_contact(message.contact)
    return contact, identity_of(contact, message.channel.value) if contact else None


def sender_identity(message: ChannelMessage) -> str | None:
    """Who sent the message, as the reporter's pseudonym is derived from it: the phone,
    else the email, else the channel's user id (``zalo:<id>``), or the collaborator id.

    None for an anonymous message (asked so, or no usable contact). The HTTP front limits
    each sender's messages by it (:mod:`intake.domain.limits`).
    """
    return _sender(message)[1]


def reporter_for(message: ChannelMessage, keys: Keys, tracking_code: str | None = None) -> Reporter:
    """The pseudonymous reporter; the contact is sealed for notify, or dropped if asked.

    ``tracking_code``: of the report the message makes or answers; filed with the contact's
    key, so that a citizen can be forgotten by their tracking code.
    """
    contact, identity = _sender(message)
    if message.collaborator_id and identity:
        return Reporter(anonymous=False, pseudonym=pseudonym(keys.pseudonym_key, identity))
    if contact is None or identity is None:
        return Reporter(anonymous=True)
    sealed = SealedContact(
        channel=message.channel.value,
        phone=contact.phone,
        email=contact.email,
        name=contact.name,
        channel_user_ref=contact.channel_user_ref,
    )
    name = pseudonym(keys.pseudonym_key, identity)
    return Reporter(
        anonymous=False, pseudonym=name, contact_ciphertext=keys.seal(sealed, name, tracking_code)
    )


def as_reply(
    message: ChannelMessage, *, target_report_id: str, target_code: str, keys: Keys
) -> CitizenReplied | None:
    """The citizen's reply on an existing report, or None if the text is empty."""
    text = mask_personal_data(normalize_text(message.text))[:4000]
    if not text:
        return None
    return CitizenReplied(
        report_id=target_report_id,
        tracking_code=target_code,
        channel=message.channel,
        channel_message_id=message.channel_message_id,
        received_at=message.received_at,
        text=text,
        rating=rating_in(text),
        reporter=reporter_for(message, keys, target_code),
    )


def interpret(
    message: ChannelMessage,
    *,
    raw_event_id: str,
    config: CityConfig,
    keys: Keys,
    now: datetime,
    model: CategoryModel | None = None,
) -> NewReport | Rejection:
    """Decide what a (non-reply) message becomes; ``model``: the city's trained category
    model, if it has one (keyword rules alone otherwise)."""
    code = code_of(message, keys, config)
    original = mask_personal_data(normalize_text(strip_html(message.text)))
    text = original
    limits = config.text

    def reject(reason: RejectionReason, detail: str, notice: str) -> Rejection:
        return Rejection(
            ReportRejected(
                channel=message.channel,
                channel_message_id=message.channel_message_id,
                raw_event_id=raw_event_id,
                reason=reason,
                detail=detail,
                rejected_at=message.received_at,  # the same on every redelivery
                tracking_code=code,
                reporter=reporter_for(message, keys, code),
                citizen_notice=notice,
                original_excerpt=original[:2000] or None,
            )
        )

    if len(text) < limits.min_chars:
        return reject(
            RejectionReason.TOO_SHORT,
            f"text has {len(text)} characters, fewer than {limits.min_chars}",
            NOTICE_TOO_SHORT.format(min=limits.min_chars),
        )
    if len(text) > limits.max_chars:
        return reject(
            RejectionReason.TOO_LONG,
            f"text has {len(text)} characters, more than {limits.max_chars}",
            NOTICE_TOO_LONG.format(max=limits.max_chars),
        )
    folded = fold(text, limits.teencode)
    signals = assess_signals(config, text, urgent_flag=message.urgent)
    if signals.out_of_scope is not None:
        return reject(
            RejectionReason.OUT_OF_SCOPE,
            f"the message presents itself as a {signals.out_of_scope.kind}",
            signals.out_of_scope.notice,
        )
    place = resolve_place(
        config,
        text=text,
        point=message.point,
        address_text=mask_personal_data(message.address_text) if message.address_text else None,
        ward_hint=message.ward_hint,
    )
    if place.place is None and (message.point or message.address_text):
        # The ward is unknown, but what the citizen said of the place helps triage.
        address = (
            mask_personal_data(normalize_text(message.address_text))[:500]
            if message.address_text
            else None
        )
        place = replace(place, place=Place(address_text=address or None, point=message.point))
    classification = classify(config, text, message.category_hint, model)
    chosen_by_citizen = classification.category == message.category_hint
    triage = []
    if place.ambiguous_wards:
        triage.append("ambiguous_place")
    elif place.unknown:
        triage.append("unknown_place")
    if classification.needs_triage:
        triage.append("low_confidence_category")
    title = mask_personal_data(normalize_text(message.title))[:200] if message.title else None
    report = ReportReceived(
        report_id=report_id(message.channel.value, message.channel_message_id),
        tracking_code=code,
        channel=message.channel,
        channel_message_id=message.channel_message_id,
        received_at=message.received_at,
        text=text,
        title=title or None,
        category=classification.category,
        category_confidence=None if chosen_by_citizen else classification.confidence,
        place=place.place,
        priority=signals.priority,
        reporter=reporter_for(message, keys, code),
        attachments=message.attachments[:20],
        collaborator_id=message.collaborator_id,
        needs_triage=bool(triage),
        triage_reasons=tuple(triage),
        citizen_notices=signals.notices,
        original_text=original[:20_000],
    )
    return NewReport(report=report, folded_text=folded)


REFUSALS = {
    RejectionReason.RATE_LIMITED: (
        "the sender was over its rate limit when the message arrived: it was recorded, "
        "not processed"
    ),
}
"""The detail of a rejection the front decided (``rejection_reason`` of the raw event)."""


def refused(
    message: ChannelMessage, *, reason: RejectionReason, raw_event_id: str, keys: Keys
) -> ReportRejected:
    """The rejection of a message its adapter refused after authenticating it (e.g. a
    webhook's sender over its rate limit): no report, no tracking code, and no notice, so
    that a flood of messages is not answered by a flood of notifications."""
    original = mask_personal_data(normalize_text(strip_html(message.text)))
    return ReportRejected(
        channel=message.channel,
        channel_message_id=message.channel_message_id,
        raw_event_id=raw_event_id,
        reason=reason,
        detail=REFUSALS.get(reason, f"refused by the channel adapter ({reason.value})"),
        rejected_at=message.received_at,  # the same on every redelivery
        reporter=reporter_for(message, keys),
        original_excerpt=original[:2000] or None,
    )


def unreadable(
    raw: RawChannelMessageReceived, *, raw_event_id: str, error: PayloadError, now: datetime
) -> ReportRejected:
    """The rejection of a raw payload no parser could read."""
    return ReportRejected(
        channel=raw.channel,
        channel_message_id=raw.channel_message_id,
        raw_event_id=raw_event_id,
        reason=error.reason,
        detail=error.detail[:1000] or "unreadable payload",
        rejected_at=now,
        citizen_notice=NOTICE_UNREADABLE,
    )
