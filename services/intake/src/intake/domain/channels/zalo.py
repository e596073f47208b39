"""Zalo Official Account: one event of the OA webhook (API v3), JSON as Zalo sent it.

::

    {"app_id": "360846524940903967", "user_id_by_app": "552177279717587730",
     "event_name": "user_send_text", "timestamp": "1679900000000",
     "sender": {"id": "246845883529197922"}, "recipient": {"id": "388613280878808645"},
     "message": {"msg_id": "96d3cdf3af150460909", "text": "Chợ Noong Đúc …",
                 "quote_msg_id": "a3f9c1e27b8d4c05",
                 "attachments": [{"type": "image", "payload": {"url": "https://…"}}]}}

The events in :data:`CITIZEN_EVENTS` carry a citizen's message: its text, the images or
files it attaches (``payload.url``, ``payload.name``), a shared position
(``payload.coordinates.latitude/longitude``) and the message it quotes. ``sender.id`` is
the user's id for this OA, needed to answer; ``anonymous_send_text`` comes from a user
who chose to stay anonymous, so no contact is kept. Other events (``follow``,
``user_seen_message`` …) are refused with reason ``other``.

Zalo signs each webhook request; :func:`verify_zalo_signature` checks the signature.
"""

from __future__ import annotations

import hashlib
import hmac

from phananh_contracts import (
    Attachment,
    Channel,
    GeoPoint,
    RawChannelMessageReceived,
    RejectionReason,
)
from pydantic import BaseModel, ConfigDict, Field

from intake.domain.channels._payload import (
    MediaUrl,
    MessageId,
    attachment,
    body_bytes,
    contact,
    json_message_id,
    json_string,
    load,
    media_type,
)
from intake.domain.model import ChannelMessage, PayloadError

CITIZEN_EVENTS = frozenset(
    {
        "user_send_text",
        "user_send_image",
        "user_send_location",
        "user_send_file",
        "anonymous_send_text",
    }
)
_ANONYMOUS_EVENTS = frozenset({"anonymous_send_text"})
_FALLBACK_MEDIA_TYPES = {"image": "image/jpeg", "file": "application/octet-stream"}

_SCHEMA = ConfigDict(extra="ignore", frozen=True)


class ZaloCoordinates(BaseModel):
    """A position the user shared (Zalo sends the numbers as strings)."""

    model_config = _SCHEMA

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ZaloAttachmentPayload(BaseModel):
    """What an attachment holds: a stored file, or a position."""

    model_config = _SCHEMA

    url: MediaUrl | None = None
    name: str | None = None
    coordinates: ZaloCoordinates | None = None


class ZaloAttachment(BaseModel):
    """One attachment of a message."""

    model_config = _SCHEMA

    type: str
    payload: ZaloAttachmentPayload = Field(default_factory=ZaloAttachmentPayload)


class ZaloMessage(BaseModel):
    """The message of a user event."""

    model_config = _SCHEMA

    msg_id: MessageId
    text: str = ""
    quote_msg_id: MessageId | None = None
    attachments: list[ZaloAttachment] = []


class ZaloUser(BaseModel):
    """The sender of an event."""

    model_config = _SCHEMA

    id: str = Field(min_length=1)


class ZaloEventName(BaseModel):
    """What every webhook event has."""

    model_config = _SCHEMA

    event_name: str


class ZaloMessageEvent(ZaloEventName):
    """An event carrying a user's message."""

    sender: ZaloUser
    message: ZaloMessage


def message_id(body: bytes) -> str | None:
    """The ``message.msg_id`` of a webhook body, if it has a valid one."""
    return json_message_id(body, "message", "msg_id")


def signed_timestamp(body: bytes) -> str | None:
    """The ``timestamp`` of a webhook body, part of what its signature covers.

    None when it has none, or one that is not text (a lone surrogate such as ``"\\ud800"``
    is valid JSON but no UTF-8): no signature can cover it.
    """
    found = json_string(body, "timestamp")
    if found is None:
        return None
    try:
        found.encode()
    except UnicodeEncodeError:
        return None
    return found


def verify_zalo_signature(
    header_value: str, *, app_id: str, raw_body: bytes, timestamp: str, oa_secret: str
) -> bool:
    """Whether ``X-ZEvent-Signature`` holds ``mac=<hex>`` of this request.

    ``hex`` is the plain SHA-256 (not an HMAC) of ``app_id + raw_body + timestamp +
    oa_secret``, the body as the raw bytes received; compared in constant time.
    """
    scheme, _, mac = header_value.strip().partition("=")
    signed = b"".join((app_id.encode(), raw_body, timestamp.encode(), oa_secret.encode()))
    expected = hashlib.sha256(signed).hexdigest()
    return scheme.strip().lower() == "mac" and hmac.compare_digest(
        mac.strip().lower().encode(), expected.encode()
    )


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen message a Zalo webhook event carries."""
    body = body_bytes(raw)
    event_name = load(ZaloEventName, body, "Zalo event").event_name
    if event_name not in CITIZEN_EVENTS:
        raise PayloadError(
            f"Zalo event {event_name!r} carries no citizen message", RejectionReason.OTHER
        )
    event = load(ZaloMessageEvent, body, f"Zalo {event_name} event")
    message = event.message
    anonymous = event_name in _ANONYMOUS_EVENTS
    positions = [item.payload.coordinates for item in message.attachments]
    point = next((position for position in positions if position is not None), None)
    return [
        ChannelMessage(
            channel=Channel.ZALO,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text=message.text,
            contact=None if anonymous else contact(channel_user_ref=event.sender.id),
            anonymous=anonymous,
            point=None if point is None else GeoPoint(lat=point.latitude, lon=point.longitude),
            attachments=_attachments(message),
            reply_to_channel_message_id=message.quote_msg_id,
        )
    ]


def _attachments(message: ZaloMessage) -> tuple[Attachment, ...]:
    return tuple(
        attachment(
            item.payload.url,
            media_type(item.payload.name or item.payload.url, _FALLBACK_MEDIA_TYPES[item.type]),
            item.payload.name,
        )
        for item in message.attachments
        if item.type in _FALLBACK_MEDIA_TYPES and item.payload.url is not None
    )
