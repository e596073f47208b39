"""The city app ("Sơn La smart"): a JSON report, as :class:`AppReport` describes it.

``POST /channels/app/reports`` with ``Content-Type: application/json``::

    {
      "client_message_id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d1b7a8e90",   optional, see below
      "text": "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc …",
      "title": "Bán hàng lấn chiếm hành lang chợ",                    optional
      "category": "urban_order",                                      optional code hint
      "location": {"lat": 21.3035, "lon": 103.9472,
                   "address": "Chợ Noong Đúc, tổ 8"},                  optional
      "ward": "Chiềng Sinh",                                          optional
      "photos": ["https://media.sonla.example/u/8841/cho.jpg"],       optional, at most 20
      "contact": {"name": "Lò Văn Minh", "phone": "0912 345 678",
                  "email": "minh@example.vn"},                        optional
      "anonymous": false,
      "consent": true,
      "reply_to": "SL-2303-7KQ4M9"                                    optional
    }

``client_message_id`` makes client retries idempotent: the same id gives the same
report and tracking code. Without ``consent`` (to be contacted and to have personal data
processed) the contact is dropped and the report is anonymous, as it is when
``anonymous`` is true. ``reply_to`` names the report (tracking code) or the message the
citizen answers. Unknown fields are ignored, so newer app versions can send more.
The JSON Schema is ``AppReport.model_json_schema()``.
"""

from __future__ import annotations

from phananh_contracts import Channel, GeoPoint, RawChannelMessageReceived
from phananh_contracts.values import Code
from pydantic import BaseModel, ConfigDict, Field

from intake.domain.channels._payload import (
    MediaUrl,
    MessageId,
    OptionalAddress,
    OptionalLine,
    OptionalTitle,
    attachment,
    body_bytes,
    contact,
    json_message_id,
    load,
    media_type,
)
from intake.domain.model import ChannelMessage

_SCHEMA = ConfigDict(extra="ignore", frozen=True)


class AppLocation(BaseModel):
    """Where the citizen says the issue is (the phone's position or a point on the map)."""

    model_config = _SCHEMA

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude (WGS 84).")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude (WGS 84).")
    address: OptionalAddress = Field(default=None, description="Address typed or geocoded.")


class AppContact(BaseModel):
    """How the city may reach the citizen."""

    model_config = _SCHEMA

    name: OptionalLine = Field(default=None, description="Full name.")
    phone: OptionalLine = Field(default=None, description="Phone number as typed.")
    email: OptionalLine = Field(default=None, description="Email address.")


class AppReport(BaseModel):
    """A citizen's report sent from the city app."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        title="Sơn La smart report",
        json_schema_extra={
            "examples": [
                {
                    "client_message_id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d1b7a8e90",
                    "text": (
                        "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, "
                        "tổ 8, phường Chiềng Sinh"
                    ),
                    "category": "urban_order",
                    "location": {"lat": 21.3035, "lon": 103.9472, "address": "Chợ Noong Đúc"},
                    "ward": "Chiềng Sinh",
                    "photos": ["https://media.sonla.example/u/8841/cho.jpg"],
                    "contact": {"name": "Lò Văn Minh", "phone": "0912345678"},
                    "anonymous": False,
                    "consent": True,
                }
            ]
        },
    )

    client_message_id: MessageId | None = Field(
        default=None,
        description="The app's id of this report; retries with the same id are one report.",
    )
    text: str = Field(description="The report, as the citizen wrote it.")
    title: OptionalTitle = Field(default=None, description="Short title, at most 200 characters.")
    category: Code | None = Field(
        default=None, description="Category code the citizen picked, e.g. 'urban_order'."
    )
    location: AppLocation | None = Field(default=None, description="Where the issue is.")
    ward: OptionalLine = Field(default=None, description="Ward or commune the citizen picked.")
    photos: list[MediaUrl] = Field(
        default=[],
        max_length=20,
        description="URLs of the photos, already uploaded to the app's media store.",
    )
    contact: AppContact | None = Field(default=None, description="The citizen's contact.")
    anonymous: bool = Field(description="True when the citizen does not want to be identified.")
    consent: bool = Field(
        description="The citizen agrees to be contacted and to have personal data processed."
    )
    reply_to: MessageId | None = Field(
        default=None,
        description="Tracking code of the report, or id of the message, this one answers.",
    )


def message_id(body: bytes) -> str | None:
    """The ``client_message_id`` of a report body, if it has a valid one."""
    return json_message_id(body, "client_message_id")


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The report an app payload carries."""
    report = load(AppReport, body_bytes(raw), "app report")
    anonymous = report.anonymous or not report.consent
    given, location = report.contact, report.location
    return [
        ChannelMessage(
            channel=Channel.APP,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text=report.text,
            title=report.title,
            contact=None
            if anonymous or given is None
            else contact(phone=given.phone, email=given.email, name=given.name),
            anonymous=anonymous,
            point=None if location is None else GeoPoint(lat=location.lat, lon=location.lon),
            address_text=None if location is None else location.address,
            ward_hint=report.ward,
            category_hint=report.category,
            attachments=tuple(
                attachment(url, media_type(url, "image/jpeg")) for url in report.photos
            ),
            reply_to_channel_message_id=report.reply_to,
        )
    ]
