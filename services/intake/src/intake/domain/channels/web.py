"""Web form: the city portal's report form, posted as JSON or form-encoded.

``POST /channels/web/reports`` with ``Content-Type: application/json`` or
``application/x-www-form-urlencoded`` (the raw event's ``content_type`` says which), with
the fields of :class:`WebReport`, in English::

    text=Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc …   required
    title=Lấn chiếm hành lang chợ                                          optional
    name=Lò Văn Minh  phone=0912345678  email=minh@example.vn             optional
    ward=Chiềng Sinh  address=Chợ Noong Đúc, tổ 8                          optional
    anonymous=true                                                         optional

Blank fields count as absent. ``anonymous`` takes true/false, on/off, yes/no or 1/0
(a checkbox sends ``on``); an anonymous report keeps no contact. In a form, a field
given twice counts with its last value.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from phananh_contracts import Channel, RawChannelMessageReceived
from pydantic import BaseModel, ConfigDict, Field

from intake.domain.channels._payload import (
    OptionalAddress,
    OptionalLine,
    OptionalTitle,
    body_bytes,
    contact,
    load,
)
from intake.domain.model import ChannelMessage, PayloadError

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class WebReport(BaseModel):
    """The fields of the portal's report form."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Web form report")

    text: str = Field(description="The report, as the citizen wrote it.")
    title: OptionalTitle = Field(default=None, description="Short title, at most 200 characters.")
    name: OptionalLine = Field(default=None, description="The citizen's name.")
    phone: OptionalLine = Field(default=None, description="Phone number as typed.")
    email: OptionalLine = Field(default=None, description="Email address.")
    ward: OptionalLine = Field(default=None, description="Ward or commune picked in the form.")
    address: OptionalAddress = Field(default=None, description="Where the issue is.")
    anonymous: bool = Field(default=False, description="Do not identify the citizen.")


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The report a web form submission carries."""
    report = load(WebReport, _fields(raw), "web form")
    return [
        ChannelMessage(
            channel=Channel.WEB,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text=report.text,
            title=report.title,
            contact=None
            if report.anonymous
            else contact(phone=report.phone, email=report.email, name=report.name),
            anonymous=report.anonymous,
            address_text=report.address,
            ward_hint=report.ward,
        )
    ]


def _fields(raw: RawChannelMessageReceived) -> bytes | dict[str, str]:
    media_type = raw.content_type.partition(";")[0].strip().lower()
    if media_type == JSON_CONTENT_TYPE:
        return body_bytes(raw)
    if media_type == FORM_CONTENT_TYPE:
        try:
            return dict(parse_qsl(body_bytes(raw).decode(), errors="strict"))
        except UnicodeDecodeError:
            raise PayloadError("the form is not UTF-8 (percent-decoded or not)") from None
    raise PayloadError(
        f"a web form is {JSON_CONTENT_TYPE} or {FORM_CONTENT_TYPE}, not {media_type!r}"
    )
