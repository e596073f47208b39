"""Hotline: a call-centre ticket an operator typed while taking a citizen's call.

``POST /channels/hotline/tickets`` with ``Content-Type: application/json``, as
:class:`HotlineTicket` describes it::

    {
      "ticket_id": "HL-20230314-0042",                 the call centre's id (required)
      "caller_number": "0212 3852 114",                optional
      "caller_name": "Cầm Văn Thanh",                  optional
      "summary": "Người dân báo cháy chợ Noong Đúc …", required
      "urgent": true,                                  the operator's urgency flag
      "address": "Chợ Noong Đúc, tổ 8",                optional
      "ward": "Chiềng Sinh",                           optional
      "operator_id": "dtv-07",                         required
      "call_started_at": "2023-03-14T08:05:00+07:00"   optional, with a timezone
    }

The caller is identified by number and name (a withheld number leaves no contact; the
report is not anonymous for that). ``operator_id`` and ``call_started_at`` stay in the
raw event for the audit trail.
"""

from __future__ import annotations

from phananh_contracts import Channel, RawChannelMessageReceived
from phananh_contracts.values import Identifier
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from intake.domain.channels._payload import (
    MessageId,
    OptionalAddress,
    OptionalLine,
    body_bytes,
    contact,
    json_message_id,
    load,
)
from intake.domain.model import ChannelMessage


class HotlineTicket(BaseModel):
    """A hotline call as the operator recorded it."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Hotline ticket")

    ticket_id: MessageId = Field(description="The call centre's ticket id (idempotency key).")
    caller_number: OptionalLine = Field(default=None, description="Caller's number, if shown.")
    caller_name: OptionalLine = Field(default=None, description="Name the caller gave.")
    summary: str = Field(description="What the caller reported, in the operator's words.")
    urgent: bool = Field(description="The operator flagged a sudden incident (vụ việc đột xuất).")
    address: OptionalAddress = Field(default=None, description="Where, as the caller said.")
    ward: OptionalLine = Field(default=None, description="Ward or commune the caller named.")
    operator_id: Identifier = Field(description="Id of the operator who took the call.")
    call_started_at: AwareDatetime | None = Field(
        default=None, description="When the call began (ISO 8601 with a timezone)."
    )


def message_id(body: bytes) -> str | None:
    """The ``ticket_id`` of a ticket body, if it has a valid one."""
    return json_message_id(body, "ticket_id")


def parse(raw: RawChannelMessageReceived) -> list[ChannelMessage]:
    """The report a hotline ticket records."""
    ticket = load(HotlineTicket, body_bytes(raw), "hotline ticket")
    return [
        ChannelMessage(
            channel=Channel.HOTLINE,
            channel_message_id=raw.channel_message_id,
            received_at=raw.received_at,
            text=ticket.summary,
            contact=contact(phone=ticket.caller_number, name=ticket.caller_name),
            address_text=ticket.address,
            ward_hint=ticket.ward,
            urgent=ticket.urgent,
        )
    ]
