"""The events that prove what became of a notification: sent or failed.

Their ids derive from the notification id, so an outcome published again (after a crash
between its decision and its publication) is the same event to every consumer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from phananh_contracts import (
    NotificationFailed,
    NotificationFailedEvent,
    NotificationSent,
    NotificationSentEvent,
)

from notify.domain.delivery import Delivered, Undelivered
from notify.domain.telling import Notification

SOURCE = "/services/notify"


def outcome_event_id(notification: str, state: str) -> str:
    """The id of the event telling a notification's fate: the same on every retry."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pakn:notify:{notification}:{state}"))


def outcome_event(
    notification: Notification,
    verdict: Delivered | Undelivered,
    channel: str,
    now: datetime,
) -> NotificationSentEvent | NotificationFailedEvent:
    """``NotificationSent`` or ``NotificationFailed``, naming the recipient by pseudonym."""
    nid = notification.id
    common: dict[str, Any] = {
        "report_id": notification.notice.report_id,
        "notification_id": nid,
        "trigger_event_id": notification.trigger.event_id,
        "trigger_event_type": notification.trigger.event_type,
        "recipient_pseudonym": notification.recipient.pseudonym,
        "channel": channel,
        "provider": verdict.provider_id,
        "template_id": notification.notice.template_id.value,
        # The contract counts attempts from 1; a notification no provider could even
        # try (no address, unreadable contact) counts its one decision as an attempt.
        "attempts": max(1, verdict.attempts),
        "at": now,
    }
    if isinstance(verdict, Delivered):
        return NotificationSentEvent.new(
            NotificationSent(**common), source=SOURCE, id=outcome_event_id(nid, "sent"), time=now
        )
    return NotificationFailedEvent.new(
        NotificationFailed(**common, reason=verdict.reason, permanent=verdict.permanent),
        source=SOURCE,
        id=outcome_event_id(nid, "failed"),
        time=now,
    )
