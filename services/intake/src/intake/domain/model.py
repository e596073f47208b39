"""What a channel parser extracts from a raw payload, before normalization; and what
intake tells Open311 clients of a report (:class:`ServiceRequestView`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from phananh_contracts import Attachment, Channel, GeoPoint, RejectionReason


@dataclass(frozen=True)
class Contact:
    """How to reach the sender, exactly as the channel gave it (normalized later).

    Travels only inside intake; on shared topics it is encrypted for notify.
    """

    phone: str | None = None
    email: str | None = None
    name: str | None = None
    channel_user_ref: str | None = None
    """The sender's id on the channel, needed to answer there (Zalo user id, Facebook PSID)."""

    def is_empty(self) -> bool:
        return not (self.phone or self.email or self.channel_user_ref)


@dataclass(frozen=True)
class ChannelMessage:
    """One citizen message as a channel carried it: the input of normalization.

    A raw payload yields one message, except a collaborator's periodic summary, which
    yields one per item (``channel_message_id`` then ends in ``#<item number>``).
    """

    channel: Channel
    channel_message_id: str
    received_at: datetime
    text: str
    title: str | None = None
    contact: Contact | None = None
    anonymous: bool = False
    """The sender asked not to be identified (or the channel is anonymous)."""
    point: GeoPoint | None = None
    address_text: str | None = None
    ward_hint: str | None = None
    """A ward or commune name the sender picked (web form select, Open311 attribute)."""
    category_hint: str | None = None
    """A category code the sender picked (app category, Open311 service_code)."""
    attachments: tuple[Attachment, ...] = ()
    urgent: bool = False
    """Marked urgent at the source (hotline operator flag, collaborator incident report)."""
    collaborator_id: str | None = None
    reply_to_channel_message_id: str | None = None


class PayloadError(ValueError):
    """A payload that cannot yield a citizen message; becomes a rejection, never a crash."""

    def __init__(self, detail: str, reason: RejectionReason = RejectionReason.INVALID_PAYLOAD):
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


@dataclass(frozen=True)
class ServiceRequestView:
    """What intake knows of one report, as Open311's GET requests answers it."""

    service_request_id: str
    """The tracking code (mã tra cứu)."""
    token: str
    status: str
    """'open' or 'closed'."""
    service_code: str
    service_name: str
    description: str
    requested_datetime: datetime
    updated_datetime: datetime
    status_notes: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    expected_datetime: datetime | None = None
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
