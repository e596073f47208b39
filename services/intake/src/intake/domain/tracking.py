"""Report ids and tracking codes, derived from the channel message.

Both are computed from ``(channel, channel_message_id)`` with a keyed hash, so:

* the HTTP front can give the citizen the tracking code at once, before the report is
  normalized, and the normalizer derives the same code later;
* a redelivered message yields the same report id and code (idempotent handlers);
* codes cannot be guessed or enumerated without the key.

A code is ``<CITY>-<YYMM>-<6 Crockford base32 characters>``: 30 random bits within a
month (Asia/Ho_Chi_Minh), readable over the phone (no I, L, O, U).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
_REPORT_NAMESPACE = uuid.UUID("5b0c6a9e-3f5d-4a51-9d3e-6c1f0a7b2e44")


def _digest(secret: bytes, channel: str, channel_message_id: str) -> bytes:
    message = f"{channel}\x1f{channel_message_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def tracking_code(
    secret: bytes, city_prefix: str, channel: str, channel_message_id: str, received_at: datetime
) -> str:
    """The tracking code (mã tra cứu) of the report made from this channel message."""
    value = int.from_bytes(_digest(secret, channel, channel_message_id)[:8], "big")
    chars = []
    for _ in range(6):
        value, index = divmod(value, 32)
        chars.append(CROCKFORD[index])
    month = received_at.astimezone(LOCAL_TIME).strftime("%y%m")
    return f"{city_prefix}-{month}-{''.join(chars)}"


def report_id(channel: str, channel_message_id: str) -> str:
    """The report id of this channel message: a name-based UUID (stable, not secret)."""
    return str(uuid.uuid5(_REPORT_NAMESPACE, f"{channel}\x1f{channel_message_id}"))


def derived_event_id(report: str, fact: str) -> str:
    """Event id of a fact about a report, the same on every redelivery."""
    return str(uuid.uuid5(uuid.UUID(report), fact))
