"""Public-opinion collaborators (cộng tác viên dư luận xã hội): periodic or urgent reports.

``POST /channels/collaborators/reports`` with ``Content-Type: application/json``, as
:class:`CollaboratorReport` describes it::

    {
      "collaborator_id": "ctv-chieng-sinh-08",
      "kind": "periodic_summary",                        or "urgent_incident"
      "report_id": "BC-2023-03-CS08",                    the collaborator's document id
      "period": {"from": "2023-03-01", "to": "2023-03-15"},   optional
      "items": [
        {"text": "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc …",
         "ward": "Chiềng Sinh", "address": "Chợ Noong Đúc, tổ 8",
         "category": "urban_order", "lat": 21.3035, "lon": 103.9472},
        …
      ]
    }

Each item is a report of its own, with the message id ``<report_id>#<n>`` (n counting
the items from 1). Items of an ``urgent_incident`` are urgent. The collaborator is
identified by ``collaborator_id``: no contact, and never anonymous.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from phananh_contracts import Channel, GeoPoint, RawChannelMessageReceived
from phananh_contracts.values import Code, Identifier
from pydantic import BaseModel, ConfigDict, Field, model_validator

from intake.domain.channels._payload import (
    MessageId,
    OptionalAddress,
    OptionalLine,
    body_bytes,
    json_message_id,
    load,
)
from intake.domain.model import ChannelMessage

_SCHEMA = ConfigDict(extra="ignore", frozen=True)


class CollaboratorPeriod(BaseModel):
    """The period a summary covers, both days included."""

    model_config = _SCHEMA

    start: date = Field(alias="from", description="First day (YYYY-MM-DD).")
    end: date = Field(alias="to", description="Last day (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self


class CollaboratorItem(BaseModel):
    """One issue the collaborator reports."""

    model_config = _SCHEMA

    text: str = Field(description="The issue, as the collaborator wrote it.")
    ward: OptionalLine = Field(default=None, description="Ward or commune.")
    address: OptionalAddress = Field(default=None, description="Village, group, address …")
    category: Code | None = Field(default=None, description="Category code, if the CTV chose.")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class CollaboratorReport(BaseModel):
    """A collaborator's written report: a periodic summary or an urgent incident."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Collaborator report")

    collaborator_id: Identifier = Field(description="The collaborator's id in the network.")
    kind: Literal["periodic_summary", "urgent_incident"] = Field(description="Kind of report.")
    report_id: MessageId = Field(description="The collaborator's id of this document.")
    period: CollaboratorPeriod | None = Field(default=None, description="Period covered.")
    items: list[CollaboratorItem] = Field(min_length=1, description="The issues reported.")


def message_id(body: bytes) -> str | None:
    """The ``report_id`` of a collaborator report body, if it has a valid one."""
    return json_message_id(body, "report_id")


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """One message per item of a collaborator's report."""
    report = load(CollaboratorReport, body_bytes(raw), "collaborator report")
    return [
        ChannelMessage(
            channel=Channel.COLLABORATOR,
            channel_message_id=f"{raw.channel_message_id}#{number}",
            received_at=raw.received_at,
            text=item.text,
            point=None
            if item.lat is None or item.lon is None
            else GeoPoint(lat=item.lat, lon=item.lon),
            address_text=item.address,
            ward_hint=item.ward,
            category_hint=item.category,
            urgent=report.kind == "urgent_incident",
            collaborator_id=report.collaborator_id,
        )
        for number, item in enumerate(report.items, start=1)
    ]
