"""Value types that events are made of."""

import base64
import binascii
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _no_number(value: object) -> object:
    # pydantic reads a number as seconds since the epoch; the contract says RFC 3339.
    if isinstance(value, int | float):
        raise ValueError("a date-time is an RFC 3339 string with a timezone, not a number")
    return value


def _to_nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def check_base64(value: str) -> str:
    """Return ``value`` if it is standard base64 (RFC 4648, padded), else raise ValueError."""
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64: {error}") from None
    return value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_no_number), AfterValidator(_to_utc)]
"""A timezone-aware instant, normalized to UTC; naive datetimes and numbers are rejected."""

NfcText = Annotated[str, AfterValidator(_to_nfc)]
"""Human-readable (usually Vietnamese) text, normalized to Unicode NFC on validation.

Legacy Vietnamese encodings (windows-1258) decode to combining tone marks; NFC makes
``"Chiềng"`` one spelling whatever the source.
"""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S+$")]
"""An opaque identifier (report id, event id, pseudonym …): 1–128 characters, no whitespace."""

Code = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
]
"""A machine code from configuration (agency id, category code …): lowercase a–z, 0–9,
``.``, ``_`` and ``-``, e.g. ``"ubnd-chieng-sinh"``, ``"urban_order"``."""

Base64 = Annotated[str, AfterValidator(check_base64)]
"""Standard base64 (RFC 4648, with padding)."""

TrackingCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2,4}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}$"),
    Field(
        description=(
            "Tracking code (mã tra cứu) the citizen uses to follow the report: 2–4 uppercase "
            "letters naming the city, a dash, 4 digits chosen by the issuer (e.g. the year "
            "and month, YYMM), a dash and 6 characters of Crockford base32 in uppercase "
            "(0-9 and A-Z without I, L, O, U), so that it can be read over the phone."
        ),
        examples=["SL-2303-7KQ4M9"],
    ),
]


class Channel(StrEnum):
    """Intake channel (kênh tiếp nhận) a report came through."""

    APP = "app"
    ZALO = "zalo"
    FACEBOOK = "facebook"
    EMAIL = "email"
    HOTLINE = "hotline"
    WEB = "web"
    COLLABORATOR = "collaborator"
    OPEN311 = "open311"


class Priority(StrEnum):
    """How fast a report must be handled; urgent is for sudden incidents (vụ việc đột xuất)."""

    NORMAL = "normal"
    URGENT = "urgent"


class ReportStatus(StrEnum):
    """Lifecycle status of a report, as the citizen sees it."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_CITIZEN = "waiting_for_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


class AgencyUpdateKind(StrEnum):
    """What an agency says about a report assigned to it."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    NEEDS_INFORMATION = "needs_information"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    RECATEGORIZED = "recategorized"
    """A correction: the report belongs to another category (``category``); routing
    decides again with the rules."""
    RELOCATED = "relocated"
    """A correction: the report is about another place (``ward_code``, optionally
    ``residential_group``); routing decides again with the rules."""
    OUT_OF_SCOPE = "out_of_scope"
    """A correction: the report is not a matter for this channel; it is closed as
    rejected, the note (the reason) told to the citizen."""
    LINKED = "linked"
    """A correction: the report duplicates an earlier one (``duplicate_of``); its case is
    withdrawn and its citizen follows that report."""
    UNLINKED = "unlinked"
    """A correction: the report is not a duplicate after all; it gets a case of its own."""


CORRECTION_KINDS = frozenset(
    {
        AgencyUpdateKind.RECATEGORIZED,
        AgencyUpdateKind.RELOCATED,
        AgencyUpdateKind.OUT_OF_SCOPE,
        AgencyUpdateKind.LINKED,
        AgencyUpdateKind.UNLINKED,
    }
)
"""The kinds that correct what intake decided (triage corrections): only the triage desk
holding the report, or the report's lead agency, may send them; each needs a note, the
reason, recorded in the trail."""


class UpdateRefusalReason(StrEnum):
    """Why routing refused an agency's update."""

    UNKNOWN_REPORT = "unknown_report"
    """No report with this id was assigned (yet)."""
    NOT_HOLDER = "not_holder"
    """The agency does not hold this report (never had it, or it was withdrawn)."""
    UNKNOWN_AGENCY = "unknown_agency"
    """The agency, or the agency it suggests, is not in the routing configuration."""
    NOT_ALLOWED_NOW = "not_allowed_now"
    """The update does not fit the report's state (e.g. resolving a closed report)."""
    LEAD_ONLY = "lead_only"
    """Only the lead agency (chủ trì) may ask the citizen or reopen the report."""
    AGENCY_MISMATCH = "agency_mismatch"
    """The update speaks for another agency than the one whose updates topic it was written
    on: an agency sends only its own updates."""
    INVALID_CORRECTION = "invalid_correction"
    """A correction that cannot be made: an unknown category or ward, the same category or
    place as now, a report linked to itself, to one already closed or to a duplicate."""


class RejectionReason(StrEnum):
    """Why intake refused a channel message."""

    INVALID_PAYLOAD = "invalid_payload"
    BAD_SIGNATURE = "bad_signature"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SPAM = "spam"
    DUPLICATE_MESSAGE = "duplicate_message"
    UNSUPPORTED_CHANNEL = "unsupported_channel"
    OUT_OF_SCOPE = "out_of_scope"
    """A complaint or denunciation (khiếu nại, tố cáo): the law gives it another channel."""
    RATE_LIMITED = "rate_limited"
    """Its sender had sent more messages than the channel's limit allows in the window."""
    OTHER = "other"


class EscalationLevel(StrEnum):
    """Administrative level an overdue report is escalated to."""

    WARD = "ward"
    CITY = "city"
    PROVINCE = "province"
    LEADERSHIP = "leadership"


class Value(BaseModel):
    """Base of value objects: immutable; unknown fields ignored (see ``Event``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class GeoPoint(Value):
    """A WGS 84 position."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lat": 21.3035, "lon": 103.9472}]})

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude in degrees.")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude in degrees.")


class Place(Value):
    """Where the reported issue is, as precisely as intake could tell."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ward_code": "03679",
                    "ward_name": "Chiềng Sinh",
                    "residential_group": "Tổ 8",
                    "address_text": "Hành lang chợ Noong Đúc, phường Chiềng Sinh",
                    "point": {"lat": 21.3035, "lon": 103.9472},
                }
            ]
        }
    )

    ward_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{5}$",
        description="Official 5-digit code of the ward or commune (after the 2025 merger).",
    )
    ward_name: NfcText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "Current ward or commune name, e.g. 'Chiềng Sinh'; absent when intake could not "
            "tell the ward (the report then needs triage, and keeps the address and point)."
        ),
    )
    residential_group: NfcText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Residential group, village or sub-area (tổ dân phố, bản, tiểu khu).",
    )
    address_text: NfcText | None = Field(
        default=None, min_length=1, max_length=500, description="Free-text address as given."
    )
    point: GeoPoint | None = Field(default=None, description="Coordinates, when known.")


class Attachment(Value):
    """A photo, video or file the citizen sent, stored by intake."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://media.pakn.example/reports/01GVHQ6JZ9Y3X5B7C2D4E6F8G0/1.jpg",
                    "media_type": "image/jpeg",
                    "name": "cho-noong-duc.jpg",
                }
            ]
        }
    )

    url: str = Field(
        max_length=2048,
        pattern=r"^[a-z][a-z0-9+.-]*://\S+$",
        description="Absolute URL of the stored copy.",
    )
    media_type: str = Field(
        max_length=255,
        pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$",
        description="IANA media type, e.g. 'image/jpeg'.",
    )
    name: NfcText | None = Field(
        default=None, min_length=1, max_length=255, description="Original file name, if any."
    )


class Reporter(Value):
    """Who sent a report, without personal data in clear.

    The contact (phone, email) and the channel user reference needed to answer on the
    same channel (e.g. a Zalo ``user_id_by_app`` or a Facebook PSID) travel only inside
    ``contact_ciphertext``, which only notify can decrypt. ``pseudonym`` is a stable keyed
    hash of the contact: it links reports of the same person without revealing them.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "anonymous": False,
                    "pseudonym": "5f0c3a9e7b2d4c81a6e9f0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1",
                    "contact_ciphertext": "gAAAAABkEJ1xq3pJ2Yv0c8Qm6l1ZyT4wRk9sN7uE5bH3dF2aC0xV",
                },
                {"anonymous": True},
            ]
        }
    )

    anonymous: bool = Field(
        description="True when the citizen chose not to be contacted; then no contact is kept."
    )
    pseudonym: Identifier | None = Field(
        default=None,
        description=(
            "Stable keyed hash (HMAC) of the normalized contact, never the contact itself; "
            "the recipient identity notifications are keyed on."
        ),
    )
    contact_ciphertext: str | None = Field(
        default=None,
        min_length=1,
        max_length=8192,
        description=(
            "Contact details and the channel user reference (to reply on the same channel), "
            "encrypted for notify; opaque to every other service."
        ),
    )

    @model_validator(mode="after")
    def _contact_rules(self) -> Self:
        if self.anonymous and self.contact_ciphertext is not None:
            raise ValueError("anonymous reporters carry no contact_ciphertext")
        if self.contact_ciphertext is not None and self.pseudonym is None:
            raise ValueError("a reporter with contact_ciphertext needs a pseudonym")
        return self
