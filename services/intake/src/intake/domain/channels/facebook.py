"""Facebook Page: one Messenger message or one feed comment/post of the Page webhook.

Facebook batches: one webhook POST may hold several entries, each with several
``messaging`` items (Messenger) or ``changes`` (the Page feed). The HTTP front checks
the signature over the original bytes, then :func:`split_batch` rebuilds one minimal
body per item, which becomes one raw event; :func:`parse` reads such a body::

    {"object": "page", "entry": [{"id": "<PAGE>", "time": 1679900000000, "messaging": [
      {"sender": {"id": "<PSID>"}, "recipient": {"id": "<PAGE>"}, "timestamp": 1679900000000,
       "message": {"mid": "m_…", "text": "Chợ Noong Đúc …", "reply_to": {"mid": "m_…"},
                   "attachments": [{"type": "image", "payload": {"url": "https://…"}},
                                   {"type": "location", "payload": {"coordinates":
                                     {"lat": 21.3035, "long": 103.9472}}}]}}]}]}

    {"object": "page", "entry": [{"id": "<PAGE>", "time": 1679900000, "changes": [
      {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "…",
       "post_id": "…", "parent_id": "…", "message": "…", "photo": "https://…",
       "from": {"id": "…", "name": "Lò Thị Hoa"}}}]}]}

A message's id is its ``mid``; a comment's its ``comment_id``, a visitor post's its
``post_id``. The sender's id (PSID, or the commenter's id) is kept to answer there.
Echoes of the Page's own messages, the Page's own comments, edits, removals and events
without a message (delivery, read, reactions …) are refused with reason ``other``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

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
    load,
    media_type,
    valid_message_id,
)
from intake.domain.model import ChannelMessage, PayloadError

FEED_ITEMS = frozenset({"comment", "post"})
_FALLBACK_MEDIA_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/octet-stream",
}

_SCHEMA = ConfigDict(extra="ignore", frozen=True)


class FacebookBatchEntry(BaseModel):
    """An entry of a webhook batch; its items stay as sent."""

    model_config = _SCHEMA

    id: str = Field(min_length=1)
    time: int | None = None
    messaging: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []


class FacebookBatch(BaseModel):
    """A webhook POST as Facebook sends it."""

    model_config = _SCHEMA

    object: Literal["page"]
    entry: list[FacebookBatchEntry] = Field(min_length=1)


class FacebookCoordinates(BaseModel):
    model_config = _SCHEMA

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    long: float = Field(ge=-180, le=180, allow_inf_nan=False)


class FacebookAttachmentPayload(BaseModel):
    model_config = _SCHEMA

    url: MediaUrl | None = None
    coordinates: FacebookCoordinates | None = None


class FacebookAttachment(BaseModel):
    model_config = _SCHEMA

    type: str
    payload: FacebookAttachmentPayload | None = None


class FacebookReplyTo(BaseModel):
    model_config = _SCHEMA

    mid: MessageId


class FacebookMessage(BaseModel):
    """``message`` of a Messenger event."""

    model_config = _SCHEMA

    mid: MessageId
    text: str = ""
    is_echo: bool = False
    reply_to: FacebookReplyTo | None = None
    attachments: list[FacebookAttachment] = []


class FacebookUser(BaseModel):
    model_config = _SCHEMA

    id: str = Field(min_length=1)
    name: str | None = None


class FacebookMessaging(BaseModel):
    """One Messenger event; only those with a ``message`` carry a citizen's words."""

    model_config = _SCHEMA

    sender: FacebookUser
    message: FacebookMessage | None = None


class FacebookFeedValue(BaseModel):
    """``value`` of a feed change: a comment or post, added, edited or removed."""

    model_config = _SCHEMA

    item: str
    verb: str
    sender: FacebookUser | None = Field(default=None, alias="from")
    comment_id: MessageId | None = None
    post_id: MessageId | None = None
    parent_id: MessageId | None = None
    message: str = ""
    photo: MediaUrl | None = None
    photos: list[MediaUrl] = []


class FacebookChange(BaseModel):
    model_config = _SCHEMA

    field: str
    value: dict[str, Any]


class FacebookEntry(BaseModel):
    """One entry holding exactly one item (see :func:`split_batch`)."""

    model_config = _SCHEMA

    id: str = Field(min_length=1)
    messaging: list[FacebookMessaging] = []
    changes: list[FacebookChange] = []


class FacebookItemBody(BaseModel):
    """The body of one raw Facebook event."""

    model_config = _SCHEMA

    object: Literal["page"]
    entry: list[FacebookEntry] = Field(min_length=1, max_length=1)


def verify_facebook_signature(header_value: str, *, app_secret: str, raw_body: bytes) -> bool:
    """Whether ``X-Hub-Signature-256`` is ``sha256=<hex HMAC-SHA256(app_secret, raw_body)>``.

    Computed over the bytes received (re-serialized JSON would escape Vietnamese text
    differently) and compared in constant time.
    """
    scheme, _, signature = header_value.strip().partition("=")
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return scheme.strip().lower() == "sha256" and hmac.compare_digest(
        signature.strip().lower().encode(), expected.encode()
    )


def split_batch(raw_body: bytes) -> list[tuple[str | None, str]]:
    """Each item of a webhook batch as ``(message id, body of its own)``.

    The body is a minimal webhook JSON holding that item alone, with the entry's ``id``
    and ``time``. The id is the ``mid``, ``comment_id`` or ``post_id``; None when the
    item has none (receipts, reactions …), and :func:`parse` then refuses it.
    """
    batch = load(FacebookBatch, raw_body, "Facebook webhook batch")
    items = []
    for entry in batch.entry:
        envelope = entry.model_dump(include={"id", "time"}, exclude_none=True)
        for kind, listed in (("messaging", entry.messaging), ("changes", entry.changes)):
            for item in listed:
                body = {"object": "page", "entry": [{**envelope, kind: [item]}]}
                items.append((_item_id(item), json.dumps(body, ensure_ascii=False)))
    return items


def _item_id(item: dict[str, Any]) -> str | None:
    message, value = item.get("message"), item.get("value")
    if isinstance(message, dict):
        return valid_message_id(message.get("mid"))
    if isinstance(value, dict):
        return valid_message_id(value.get("comment_id") or value.get("post_id"))
    return None


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The citizen message of a one-item Facebook body (see :func:`split_batch`)."""
    (entry,) = load(FacebookItemBody, body_bytes(raw), "Facebook webhook item").entry
    if len(entry.messaging) + len(entry.changes) != 1:
        raise PayloadError(
            "a Facebook item body holds exactly one messaging item or one change; "
            "split webhook batches first"
        )
    if entry.messaging:
        return [_from_messenger(raw, entry.messaging[0])]
    return [_from_feed(raw, entry.id, entry.changes[0])]


def _from_messenger(raw: RawChannelMessageReceived, event: FacebookMessaging) -> ChannelMessage:
    message = event.message
    if message is None:
        raise PayloadError(
            "Facebook messaging event without a message (delivery, read, postback …) "
            "carries no citizen message",
            RejectionReason.OTHER,
        )
    if message.is_echo:
        raise PayloadError("echo of a message the Page sent", RejectionReason.OTHER)
    positions = [
        item.payload.coordinates
        for item in message.attachments
        if item.payload is not None and item.payload.coordinates is not None
    ]
    return ChannelMessage(
        channel=Channel.FACEBOOK,
        channel_message_id=raw.channel_message_id,
        received_at=raw.received_at,
        text=message.text,
        contact=contact(channel_user_ref=event.sender.id),
        point=GeoPoint(lat=positions[0].lat, lon=positions[0].long) if positions else None,
        attachments=_attachments(message),
        reply_to_channel_message_id=message.reply_to.mid if message.reply_to else None,
    )


def _from_feed(
    raw: RawChannelMessageReceived, page_id: str, change: FacebookChange
) -> ChannelMessage:
    if change.field != "feed":
        raise PayloadError(
            f"Facebook {change.field!r} change carries no citizen message", RejectionReason.OTHER
        )
    value = load(FacebookFeedValue, change.value, "Facebook feed change")
    if value.item not in FEED_ITEMS:
        raise PayloadError(
            f"Facebook feed item {value.item!r} carries no citizen message", RejectionReason.OTHER
        )
    if value.verb != "add":
        raise PayloadError(
            f"Facebook feed {value.item} {value.verb!r} is not a new message",
            RejectionReason.OTHER,
        )
    if value.sender is None:
        raise PayloadError("Facebook feed change has no sender ('from')")
    if value.sender.id == page_id:
        raise PayloadError(f"the Page's own {value.item}", RejectionReason.OTHER)
    if (value.comment_id if value.item == "comment" else value.post_id) is None:
        raise PayloadError(f"Facebook feed {value.item} has no id")
    photos = [*([value.photo] if value.photo else []), *value.photos]
    return ChannelMessage(
        channel=Channel.FACEBOOK,
        channel_message_id=raw.channel_message_id,
        received_at=raw.received_at,
        text=value.message,
        contact=contact(name=value.sender.name, channel_user_ref=value.sender.id),
        attachments=tuple(attachment(url, media_type(url, "image/jpeg")) for url in photos),
        reply_to_channel_message_id=value.parent_id,
    )


def _attachments(message: FacebookMessage) -> tuple[Attachment, ...]:
    return tuple(
        attachment(item.payload.url, media_type(item.payload.url, _FALLBACK_MEDIA_TYPES[item.type]))
        for item in message.attachments
        if item.type in _FALLBACK_MEDIA_TYPES
        and item.payload is not None
        and item.payload.url is not None
    )
