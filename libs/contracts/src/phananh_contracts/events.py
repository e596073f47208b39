"""Event types: the ``data`` models and their CloudEvents envelopes.

Each event type is a pair: a data model named for the fact (``ReportReceived``) and an
envelope class fixing the CloudEvents ``type`` (``ReportReceivedEvent``). Examples of
every type, along the golden path of one report, are in ``phananh_contracts.examples``.
"""

import base64
import json
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from phananh_contracts.envelope import Event, EventData, ReportEventData
from phananh_contracts.values import (
    CORRECTION_KINDS,
    AgencyUpdateKind,
    Attachment,
    Base64,
    Channel,
    Code,
    EscalationLevel,
    Identifier,
    NfcText,
    Place,
    Priority,
    RejectionReason,
    Reporter,
    ReportStatus,
    TrackingCode,
    UpdateRefusalReason,
    UtcDatetime,
    Value,
    check_base64,
)

_TYPE = "CloudEvents type of this event."
_MESSAGE_ID = "The channel's own id of the message (Zalo msg_id, email Message-ID …)."

ChannelMessageId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
SmallMap = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)],
        Annotated[str, StringConstraints(max_length=1024)],
    ],
    Field(max_length=32),
]
"""At most 32 entries; keys 1–64 characters, values at most 1024."""


# --- pakn.channel.raw.v1 ------------------------------------------------------------


class RawChannelMessageReceived(EventData):
    """A message exactly as a channel adapter received and authenticated it.

    ``body`` is at most 1,000,000 characters; bytes that are not text (a raw email) are
    sent base64-encoded. Adapters store media elsewhere and pass its URL in the body.
    """

    channel: Channel = Field(description="Channel the message came through.")
    channel_message_id: ChannelMessageId = Field(description=_MESSAGE_ID)
    received_at: UtcDatetime = Field(description="When the adapter received the message.")
    content_type: str = Field(
        max_length=255,
        pattern=r"^[a-z]+/[A-Za-z0-9.+-]+(;.*)?$",
        description=(
            "Media type of the body: 'application/json' (webhooks), 'message/rfc822' "
            "(email), 'application/x-www-form-urlencoded' (Open311) …"
        ),
    )
    body: str = Field(max_length=1_000_000, description="The payload, unchanged.")
    body_encoding: Literal["utf-8", "base64"] = Field(
        description="'utf-8' when body is the payload text, 'base64' when it encodes bytes."
    )
    authenticated_as: Identifier = Field(
        description="What verified the message: adapter, API key id or signature scheme."
    )
    reply_to_channel_message_id: ChannelMessageId | None = Field(
        default=None,
        description="The message this one answers on the channel (threading of citizen replies).",
    )
    metadata: SmallMap = Field(
        default_factory=dict,
        description="Small channel facts worth keeping (at most 32 entries), e.g. app version.",
    )
    rejection_reason: RejectionReason | None = Field(
        default=None,
        description=(
            "Set when the adapter authenticated the message but refused it, e.g. "
            "'rate_limited' (its sender was over the limit) on a webhook that must be "
            "answered 200: intake records the message as rejected for this reason and "
            "makes no report or reply of it. Absent for a message to process."
        ),
    )

    @model_validator(mode="after")
    def _base64_body(self) -> Self:
        if self.body_encoding == "base64":
            check_base64(self.body)
        return self


class RawChannelMessageReceivedEvent(Event[RawChannelMessageReceived]):
    """A channel adapter received a message (adapters → intake)."""

    type: Literal["vn.pakn.channel.message.received"] = Field(description=_TYPE)


# --- pakn.reports.v1 and pakn.reports.rejected.v1 -------------------------------------


class ReportReceived(ReportEventData):
    """A citizen's report (phản ánh, kiến nghị), normalized from any channel."""

    tracking_code: TrackingCode
    channel: Channel = Field(description="Channel the report came through.")
    channel_message_id: ChannelMessageId = Field(description=_MESSAGE_ID)
    received_at: UtcDatetime = Field(description="When the channel adapter received it.")
    text: NfcText = Field(
        min_length=1, max_length=4000, description="The citizen's text, NFC-normalized."
    )
    title: NfcText | None = Field(
        default=None, min_length=1, max_length=200, description="Short title, if given."
    )
    category: Code = Field(description="Category code from configuration, e.g. 'urban_order'.")
    category_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Confidence of an automatic classification; absent when a person chose.",
    )
    place: Place | None = Field(default=None, description="Where the issue is, when known.")
    priority: Priority = Field(description="How fast the report must be handled.")
    reporter: Reporter = Field(description="Who sent it, pseudonymized.")
    attachments: tuple[Attachment, ...] = Field(
        default=(), max_length=20, description="Photos, videos and files, at most 20."
    )
    collaborator_id: Identifier | None = Field(
        default=None,
        description="Id of the public-opinion collaborator (CTV DLXH) who filed it, if any.",
    )
    duplicate_of: Identifier | None = Field(
        default=None, description="Id of an earlier report this one duplicates, if any."
    )
    language: str = Field(
        default="vi",
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="BCP 47 language tag of the text.",
    )
    needs_triage: bool = Field(
        default=False,
        description="A person must check place or category before routing trusts them.",
    )
    triage_reasons: tuple[Code, ...] = Field(
        default=(),
        max_length=10,
        description="Why triage is needed, e.g. 'unknown_place', 'low_confidence_category'.",
    )
    citizen_notices: tuple[NfcText, ...] = Field(
        default=(),
        max_length=5,
        description=(
            "Vietnamese notices intake wants the reporter to receive with the receipt, "
            "e.g. to call 113/114/115 in an emergency."
        ),
    )
    original_text: NfcText | None = Field(
        default=None,
        max_length=20_000,
        description=(
            "The text as the channel delivered it (HTML stripped), with phone numbers and "
            "email addresses masked: what the citizen wrote, kept for the audit trail."
        ),
    )

    @model_validator(mode="after")
    def _not_own_duplicate(self) -> Self:
        if self.duplicate_of == self.report_id:
            raise ValueError("a report cannot be a duplicate of itself")
        return self


class ReportReceivedEvent(Event[ReportReceived]):
    """Intake accepted a report (intake → routing, notify, audit)."""

    type: Literal["vn.pakn.report.received"] = Field(description=_TYPE)


class ReportRejected(EventData):
    """Intake refused a channel message; it never became a report."""

    channel: Channel = Field(description="Channel the message came through.")
    channel_message_id: ChannelMessageId = Field(description=_MESSAGE_ID)
    raw_event_id: Identifier | None = Field(
        default=None,
        description=(
            "Id of the raw channel event; absent when the adapter refused the message "
            "before publishing it (e.g. bad_signature)."
        ),
    )
    reason: RejectionReason = Field(description="Why it was refused.")
    detail: NfcText = Field(
        min_length=1, max_length=1000, description="Human-readable explanation."
    )
    rejected_at: UtcDatetime = Field(description="When it was refused.")
    tracking_code: TrackingCode | None = Field(
        default=None,
        description="The code the channel already returned to the sender, if any.",
    )
    reporter: Reporter | None = Field(
        default=None, description="Who sent it, pseudonymized, when known (to tell them why)."
    )
    citizen_notice: NfcText | None = Field(
        default=None,
        max_length=1000,
        description="Vietnamese message for the sender: why, and where to go instead.",
    )
    original_excerpt: NfcText | None = Field(
        default=None,
        max_length=2000,
        description="The start of the message text, contacts masked, for the audit trail.",
    )


class ReportRejectedEvent(Event[ReportRejected]):
    """Intake rejected a message (intake → notify, audit)."""

    type: Literal["vn.pakn.report.rejected"] = Field(description=_TYPE)


class CitizenReplied(ReportEventData):
    """A citizen answered on an existing report (a message carrying its tracking code)."""

    tracking_code: TrackingCode
    channel: Channel = Field(description="Channel the reply came through.")
    channel_message_id: ChannelMessageId = Field(description=_MESSAGE_ID)
    received_at: UtcDatetime = Field(description="When the channel adapter received it.")
    text: NfcText = Field(
        min_length=1, max_length=4000, description="The reply, NFC-normalized, contacts masked."
    )
    rating: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Satisfaction rating 1–5 when the reply carries one (e.g. 'đánh giá 4/5').",
    )
    reporter: Reporter = Field(description="Who replied, pseudonymized.")


class CitizenRepliedEvent(Event[CitizenReplied]):
    """A citizen replied on their report (intake → routing, notify, audit)."""

    type: Literal["vn.pakn.citizen.replied"] = Field(description=_TYPE)


# --- pakn.assignments.v1 --------------------------------------------------------------


class ReportAssigned(ReportEventData):
    """Routing chose the agencies handling a report and its deadline."""

    tracking_code: TrackingCode
    lead_agency_id: Code = Field(description="Agency in charge (chủ trì).")
    lead_agency_name: NfcText | None = Field(
        default=None,
        max_length=256,
        description="Vietnamese name of the lead agency, as configured, to tell the citizen.",
    )
    supporting_agency_ids: tuple[Code, ...] = Field(
        default=(), description="Agencies that coordinate (phối hợp); distinct, without the lead."
    )
    deadline: UtcDatetime = Field(description="When the lead agency must have resolved it.")
    priority: Priority = Field(description="Priority the deadline was computed for.")
    category: Code = Field(description="Category the rule matched on.")
    rule_id: Identifier = Field(description="Id of the routing rule that matched.")
    ruleset_version: Identifier = Field(description="Version of the routing configuration.")
    matched: SmallMap = Field(
        default_factory=dict,
        description="The report facts the rule matched, e.g. {'ward_code': '03679'}.",
    )
    assigned_at: UtcDatetime = Field(description="When the assignment was made.")
    reassignment_of: Identifier | None = Field(
        default=None, description="Event id of the assignment this one replaces, if any."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.lead_agency_id in self.supporting_agency_ids:
            raise ValueError("the lead agency cannot also be a supporting agency")
        if len(set(self.supporting_agency_ids)) != len(self.supporting_agency_ids):
            raise ValueError("supporting_agency_ids must be distinct")
        if self.deadline <= self.assigned_at:
            raise ValueError("deadline must be after assigned_at")
        return self


class ReportAssignedEvent(Event[ReportAssigned]):
    """A report was assigned or reassigned (routing → notify, audit, agencies)."""

    type: Literal["vn.pakn.report.assigned"] = Field(description=_TYPE)


# --- pakn.agency.updates.v1 -----------------------------------------------------------

_NOTE_REQUIRED = frozenset(
    {
        AgencyUpdateKind.REJECTED,
        AgencyUpdateKind.NEEDS_INFORMATION,
        AgencyUpdateKind.RESOLVED,
        *CORRECTION_KINDS,
    }
)
_ONLY_WITH = {
    "category": AgencyUpdateKind.RECATEGORIZED,
    "ward_code": AgencyUpdateKind.RELOCATED,
    "residential_group": AgencyUpdateKind.RELOCATED,
    "duplicate_of": AgencyUpdateKind.LINKED,
}


class AgencyUpdate(ReportEventData):
    """What an agency did about a report assigned to it."""

    agency_id: Code = Field(description="The agency speaking.")
    kind: AgencyUpdateKind = Field(description="What the agency says.")
    note: NfcText | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description=(
            "Explanation, shown to the citizen; required when kind is rejected, "
            "needs_information or resolved. For a correction (recategorized, relocated, "
            "out_of_scope, linked, unlinked) it is required too: the reason, recorded in "
            "the trail (and told to the citizen when the report is out of scope)."
        ),
    )
    suggested_agency_id: Code | None = Field(
        default=None, description="When rejecting: the agency that should handle it instead."
    )
    officer_ref: Identifier | None = Field(
        default=None, description="The agency's own reference of the officer in charge."
    )
    updated_at: UtcDatetime = Field(description="When the agency made the update.")
    category: Code | None = Field(
        default=None,
        description="When recategorizing (required then): the report's right category code.",
    )
    ward_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{5}$",
        description="When relocating (required then): the 5-digit code of the right ward.",
    )
    residential_group: NfcText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "When relocating: the residential group, village or sub-area (tổ dân phố, "
            "bản, tiểu khu) in that ward; absent: none is known."
        ),
    )
    duplicate_of: Identifier | None = Field(
        default=None,
        description=(
            "When linking (required then): the report id of the earlier report this one duplicates."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind in _NOTE_REQUIRED and self.note is None:
            raise ValueError(f"an update of kind {self.kind} needs a note")
        for name, kind in _ONLY_WITH.items():
            if getattr(self, name) is not None and self.kind != kind:
                raise ValueError(f"{name} is only for updates of kind {kind}")
        required = {
            AgencyUpdateKind.RECATEGORIZED: "category",
            AgencyUpdateKind.RELOCATED: "ward_code",
            AgencyUpdateKind.LINKED: "duplicate_of",
        }.get(self.kind)
        if required is not None and getattr(self, required) is None:
            raise ValueError(f"an update of kind {self.kind} needs {required}")
        if self.duplicate_of is not None and self.duplicate_of == self.report_id:
            raise ValueError("a report cannot be linked to itself")
        if self.suggested_agency_id is not None and self.kind != AgencyUpdateKind.REJECTED:
            raise ValueError("suggested_agency_id is only for updates of kind rejected")
        if self.suggested_agency_id == self.agency_id:
            raise ValueError("an agency cannot suggest itself")
        return self


class AgencyUpdateEvent(Event[AgencyUpdate]):
    """An agency published an update (agencies → routing, audit)."""

    type: Literal["vn.pakn.agency.update"] = Field(description=_TYPE)


# --- pakn.inbox.<agency>.v1 (one inbox per agency) and refused updates ----------------


class TaskHistoryEntry(Value):
    """One step of a report's handling, as an agency's inbox shows it."""

    at: UtcDatetime = Field(description="When it happened.")
    agency_id: Code | None = Field(
        default=None, description="The agency that acted or was concerned, if any."
    )
    what: NfcText = Field(min_length=1, max_length=500, description="What happened, in Vietnamese.")


class AgencyTaskAssigned(ReportEventData):
    """A report an agency must now handle, with everything it needs to act (no contact)."""

    tracking_code: TrackingCode
    agency_id: Code = Field(description="The agency whose inbox this is.")
    role: Literal["lead", "supporting"] = Field(
        description="lead: in charge (chủ trì), resolves the report; supporting: coordinates."
    )
    lead_agency_id: Code = Field(description="The agency in charge (chủ trì).")
    deadline: UtcDatetime = Field(description="When the report must be resolved.")
    priority: Priority = Field(description="How fast it must be handled.")
    category: Code = Field(description="Category code from configuration.")
    title: NfcText | None = Field(default=None, max_length=500, description="Short title.")
    text: NfcText = Field(
        min_length=1, max_length=20_000, description="The citizen's report, contacts masked."
    )
    place: Place | None = Field(default=None, description="Where the issue is, when known.")
    attachments: tuple[Attachment, ...] = Field(
        default=(), max_length=20, description="Photos, videos or documents."
    )
    received_at: UtcDatetime = Field(description="When the citizen sent it.")
    assigned_at: UtcDatetime = Field(description="When it reached this agency.")
    note: NfcText | None = Field(
        default=None,
        max_length=1000,
        description="Why it came here, e.g. after another agency declined it.",
    )
    history: tuple[TaskHistoryEntry, ...] = Field(
        default=(),
        max_length=50,
        description=(
            "What happened to the report before it came here, oldest first (e.g. the "
            "levels it was escalated through, what each agency did); empty for a new report."
        ),
    )


class AgencyTaskAssignedEvent(Event[AgencyTaskAssigned]):
    """A report entered an agency's inbox (routing → that agency)."""

    type: Literal["vn.pakn.agency.task.assigned"] = Field(description=_TYPE)


class AgencyTaskWithdrawn(ReportEventData):
    """A report left an agency's inbox: the agency no longer holds it."""

    tracking_code: TrackingCode
    agency_id: Code = Field(description="The agency whose inbox this is.")
    reason: NfcText = Field(min_length=1, max_length=1000, description="Why it was withdrawn.")
    withdrawn_at: UtcDatetime = Field(description="When it was withdrawn.")


class AgencyTaskWithdrawnEvent(Event[AgencyTaskWithdrawn]):
    """A report left an agency's inbox (routing → that agency)."""

    type: Literal["vn.pakn.agency.task.withdrawn"] = Field(description=_TYPE)


class DuplicateLinkChanged(ReportEventData):
    """A report was linked to (or unlinked from) a report an agency holds, as its duplicate.

    ``report_id`` is the duplicate's; the agency holds ``original_report_id``. It is told
    so that it can check the link, and undo a wrong one (an update of kind ``unlinked``
    about ``report_id``)."""

    tracking_code: TrackingCode
    agency_id: Code = Field(description="The agency whose inbox this is.")
    original_report_id: Identifier = Field(description="The report the agency holds.")
    original_tracking_code: TrackingCode
    linked: bool = Field(
        description="True: the report was linked as a duplicate; false: the link was undone."
    )
    text: NfcText = Field(
        min_length=1, max_length=4000, description="The duplicate's text, contacts masked."
    )
    received_at: UtcDatetime = Field(description="When the duplicate's citizen sent it.")
    by_agency_id: Code | None = Field(
        default=None,
        description="The agency that linked or unlinked it; absent when intake linked it.",
    )
    reason: NfcText | None = Field(
        default=None, max_length=1000, description="Why, as the agency said it."
    )
    at: UtcDatetime = Field(description="When the link was made or undone.")

    @model_validator(mode="after")
    def _another_report(self) -> Self:
        if self.original_report_id == self.report_id:
            raise ValueError("a report is not a duplicate of itself")
        return self


class DuplicateLinkChangedEvent(Event[DuplicateLinkChanged]):
    """A duplicate of a report an agency holds was linked or unlinked (routing → that
    agency)."""

    type: Literal["vn.pakn.agency.duplicate.changed"] = Field(description=_TYPE)


class AgencyUpdateRefused(ReportEventData):
    """Routing refused an agency's update; the report did not change."""

    agency_id: Code = Field(description="The agency that sent the update.")
    update_event_id: Identifier = Field(description="Event id of the refused update.")
    update_kind: AgencyUpdateKind = Field(description="What the update said.")
    reason: UpdateRefusalReason = Field(description="Why it was refused.")
    detail: NfcText = Field(min_length=1, max_length=1000, description="Explanation.")
    refused_at: UtcDatetime = Field(description="When it was refused.")


class AgencyUpdateRefusedEvent(Event[AgencyUpdateRefused]):
    """An agency update was refused (routing → that agency's inbox, audit)."""

    type: Literal["vn.pakn.agency.update.refused"] = Field(description=_TYPE)


# --- pakn.routing.rules.v1 (compacted) --------------------------------------------------


class RuleSetPublished(EventData):
    """A routing rule set every routing instance must use from now on."""

    scope: Identifier = Field(
        default="routing", description="The configuration it replaces; the record key."
    )
    ruleset_version: Identifier = Field(description="The rule set's version.")
    document: str = Field(
        min_length=1, max_length=900_000, description="The rule set as YAML, UTF-8, unchanged."
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the document's UTF-8 bytes, hex."
    )
    published_by: Identifier = Field(description="Who published it (operator or tool).")
    published_at: UtcDatetime = Field(description="When it was published.")


class RuleSetPublishedEvent(Event[RuleSetPublished]):
    """A new routing rule set (operators → routing instances, audit)."""

    type: Literal["vn.pakn.routing.ruleset.published"] = Field(description=_TYPE)


# --- pakn.contact.keys.v1 (compacted) --------------------------------------------------


class ContactKeyIssued(EventData):
    """A key that opens one sealed contact, filed under the citizen it belongs to.

    Intake seals each contact it keeps under a fresh key (crypto-shredding): the sealed
    contact (``Reporter.contact_ciphertext``, ``ck1.<key_id>.<token>``) travels on topics
    and stays in the trail and in notify's store, while its key lives only here, wrapped
    under the contact master keys that intake and notify hold. Forgetting a citizen
    replaces each of their keys by :class:`ContactKeyDestroyed`; compaction then erases the
    key, and every copy of the contact becomes unreadable.
    """

    key_id: Identifier = Field(description="Id of the key; the record key.")
    pseudonym: Identifier = Field(description="The citizen the key belongs to (pseudonym).")
    tracking_code: TrackingCode | None = Field(
        default=None, description="Tracking code of the report the contact came with."
    )
    wrapped_key: str = Field(
        min_length=1,
        max_length=1024,
        description="The key, encrypted under the contact master keys (Fernet token).",
    )
    issued_at: UtcDatetime = Field(description="When intake made the key.")


class ContactKeyIssuedEvent(Event[ContactKeyIssued]):
    """Intake sealed a contact under a new key (intake → notify)."""

    type: Literal["vn.pakn.contact.key.issued"] = Field(description=_TYPE)


class ContactKeyDestroyed(EventData):
    """A citizen's key is gone: every contact sealed under it stays unreadable for good.

    It replaces the key's :class:`ContactKeyIssued` on the compacted topic (same record
    key), so the broker's log cleaner removes the key itself; this record, which holds no
    secret, stays as the proof of erasure.
    """

    key_id: Identifier = Field(description="Id of the destroyed key; the record key.")
    pseudonym: Identifier = Field(description="The citizen the key belonged to.")
    request_id: Identifier = Field(description="The erasure request that destroyed it.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Why, as the operator recorded it (e.g. the citizen's request)."
    )
    destroyed_by: Identifier = Field(description="Who ran the erasure (operator or tool).")
    destroyed_at: UtcDatetime = Field(description="When the key was destroyed.")


class ContactKeyDestroyedEvent(Event[ContactKeyDestroyed]):
    """A contact key was destroyed on a citizen's request (operator → notify)."""

    type: Literal["vn.pakn.contact.key.destroyed"] = Field(description=_TYPE)


# --- pakn.report.status.v1 ------------------------------------------------------------


class ReportStatusChanged(ReportEventData):
    """The status a citizen sees changed."""

    tracking_code: TrackingCode
    status: ReportStatus = Field(description="The new status.")
    previous_status: ReportStatus | None = Field(
        default=None, description="The status before, absent for the first one."
    )
    agency_id: Code | None = Field(default=None, description="The agency behind the change.")
    agency_name: NfcText | None = Field(
        default=None, max_length=256, description="Vietnamese name of that agency, as configured."
    )
    note: NfcText | None = Field(
        default=None, min_length=1, max_length=4000, description="Explanation for the citizen."
    )
    changed_at: UtcDatetime = Field(description="When the status changed.")
    duplicate_of: Identifier | None = Field(
        default=None,
        description=(
            "Set when this change linked the report, by hand, to an earlier report as its "
            "duplicate (the report is closed): its citizens follow that report from now on."
        ),
    )
    unlinked_from: Identifier | None = Field(
        default=None,
        description=(
            "Set when this change undid the report's link as a duplicate of that report: "
            "it has a case of its own now, and its citizens stop following that report."
        ),
    )

    @model_validator(mode="after")
    def _changed(self) -> Self:
        if self.status == self.previous_status:
            raise ValueError("status must differ from previous_status")
        if self.duplicate_of is not None and self.unlinked_from is not None:
            raise ValueError("a change links or unlinks, not both")
        return self


class ReportStatusChangedEvent(Event[ReportStatusChanged]):
    """A report's status changed (routing → notify, audit, dashboards)."""

    type: Literal["vn.pakn.report.status.changed"] = Field(description=_TYPE)


# --- pakn.deadlines.v1 ----------------------------------------------------------------


class _DeadlineFact(ReportEventData):
    agency_id: Code = Field(description="The agency responsible for the deadline.")
    deadline: UtcDatetime = Field(description="The deadline concerned.")
    at: UtcDatetime = Field(description="When this was detected.")


class DeadlineWarning(_DeadlineFact):
    """A deadline is close and the report is not resolved."""

    @model_validator(mode="after")
    def _before_deadline(self) -> Self:
        if self.at >= self.deadline:
            raise ValueError("a warning comes before the deadline")
        return self


class DeadlineWarningEvent(Event[DeadlineWarning]):
    """A deadline is close (routing → notify, audit)."""

    type: Literal["vn.pakn.deadline.warning"] = Field(description=_TYPE)


class DeadlineBreached(_DeadlineFact):
    """A deadline passed and the report is not resolved (quá hạn)."""

    @model_validator(mode="after")
    def _after_deadline(self) -> Self:
        if self.at < self.deadline:
            raise ValueError("a breach comes at or after the deadline")
        return self


class DeadlineBreachedEvent(Event[DeadlineBreached]):
    """A deadline was missed (routing → notify, audit)."""

    type: Literal["vn.pakn.deadline.breached"] = Field(description=_TYPE)


class ReportEscalated(_DeadlineFact):
    """An overdue report was raised to the next level; ``agency_id`` missed the deadline."""

    to_agency_id: Code = Field(description="The agency or leadership body now informed.")
    level: EscalationLevel = Field(description="The level escalated to.")
    reason: NfcText = Field(min_length=1, max_length=1000, description="Why it was escalated.")
    from_level: EscalationLevel | None = Field(
        default=None,
        description=(
            "The level the report was at when ``agency_id`` missed the deadline; absent in "
            "escalations that are not a step of the escalation ladder (ping-pong)."
        ),
    )
    new_deadline: UtcDatetime | None = Field(
        default=None,
        description=(
            "The deadline of the new term ``to_agency_id`` got as the report's new lead "
            "(chủ trì); absent when it did not become the lead."
        ),
    )

    @model_validator(mode="after")
    def _to_another_agency(self) -> Self:
        if self.to_agency_id == self.agency_id:
            raise ValueError("a report is escalated to another agency")
        return self


class DeadlineMoved(_DeadlineFact):
    """A report's deadline moved without a new assignment: the clock stopped while the
    report waited for the citizen and restarted; ``deadline`` is the new one, moved by the
    working time spent waiting."""

    previous_deadline: UtcDatetime | None = Field(
        default=None, description="The deadline before the clock stopped."
    )


class DeadlineMovedEvent(Event[DeadlineMoved]):
    """A deadline moved after a pause (routing → audit)."""

    type: Literal["vn.pakn.deadline.moved"] = Field(description=_TYPE)


class ReportEscalatedEvent(Event[ReportEscalated]):
    """A report was escalated (routing → notify, audit, leadership)."""

    type: Literal["vn.pakn.report.escalated"] = Field(description=_TYPE)


# --- pakn.notifications.v1 ------------------------------------------------------------


class _NotificationFact(ReportEventData):
    notification_id: str = Field(
        min_length=1,
        max_length=512,
        pattern=r"^\S+$",
        description=(
            "Idempotency key of the notification: "
            "'{report_id}:{trigger_event_type}:{recipient_pseudonym}:{trigger_event_id}' "
            "(for a message intake refused, report_id is its tracking code, or 'msg-' and 32 "
            "hex characters of the SHA-256 of 'channel:channel_message_id')."
        ),
    )
    trigger_event_id: Identifier = Field(description="Id of the event that caused it.")
    trigger_event_type: str = Field(
        pattern=r"^vn\.pakn\.[a-z0-9._]+$", description="Type of the event that caused it."
    )
    recipient_pseudonym: Identifier = Field(description="Pseudonym of the recipient.")
    channel: Code = Field(
        description=(
            "Delivery channel: the intake channel answered on ('app', 'zalo', 'facebook', "
            "'email' …) or 'sms'."
        )
    )
    provider: Code = Field(description="Provider that carried it, e.g. 'zalo-oa', 'smtp'.")
    template_id: Identifier = Field(description="Message template used.")
    attempts: int = Field(ge=1, description="Delivery attempts made so far.")
    at: UtcDatetime = Field(description="When the last attempt ended.")


class NotificationSent(_NotificationFact):
    """A citizen was told about their report."""


class NotificationSentEvent(Event[NotificationSent]):
    """A notification was delivered to its provider (notify → audit)."""

    type: Literal["vn.pakn.notification.sent"] = Field(description=_TYPE)


class NotificationFailed(_NotificationFact):
    """A notification could not be delivered."""

    reason: NfcText = Field(min_length=1, max_length=1000, description="What went wrong.")
    permanent: bool = Field(description="True when retrying cannot help (e.g. unknown user).")


class NotificationFailedEvent(Event[NotificationFailed]):
    """A notification failed (notify → audit, operators)."""

    type: Literal["vn.pakn.notification.failed"] = Field(description=_TYPE)


# --- pakn.audit.checkpoints.v1 --------------------------------------------------------


class ChainHead(Value):
    """The last record of one hash chain in the audit trail."""

    chain_id: Identifier = Field(description="Id of the hash chain.")
    sequence: int = Field(ge=0, description="Sequence number of its last record.")
    record_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of that record, lowercase hex."
    )


class AuditCheckpoint(EventData):
    """Signed heads of the audit hash chains, so the trail can be verified from outside.

    ``signature`` is the Ed25519 signature of ``signed_bytes()``: this data as JSON without
    ``signature``, keys sorted, no whitespace, UTF-8. Verify against the received JSON
    object (minus ``signature``), not a re-serialization, so that fields added later count.
    """

    checkpoint_id: Identifier = Field(description="Unique id of the checkpoint.")
    writer_id: Identifier = Field(description="The audit writer that made it.")
    heads: tuple[ChainHead, ...] = Field(min_length=1, description="Head of every chain.")
    created_at: UtcDatetime = Field(description="When the checkpoint was made.")
    algorithm: Literal["Ed25519"] = Field(description="Signature algorithm.")
    public_key_id: Identifier = Field(description="Id of the public key that verifies it.")
    signature: Base64 = Field(description="Signature (64 bytes), standard base64.")

    @field_validator("signature")
    @classmethod
    def _signature_length(cls, value: str) -> str:
        if len(base64.b64decode(value)) != 64:
            raise ValueError("an Ed25519 signature is 64 bytes")
        return value

    @model_validator(mode="after")
    def _distinct_chains(self) -> Self:
        if len({head.chain_id for head in self.heads}) != len(self.heads):
            raise ValueError("each chain has one head")
        return self

    def signed_bytes(self) -> bytes:
        """The bytes ``signature`` signs."""
        unsigned = self.model_dump(mode="json", exclude={"signature"})
        return json.dumps(
            unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


class AuditCheckpointEvent(Event[AuditCheckpoint]):
    """Audit signed a checkpoint (audit → anyone verifying the trail)."""

    type: Literal["vn.pakn.audit.checkpoint"] = Field(description=_TYPE)
