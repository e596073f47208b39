"""Which events tell the citizen something, and what: pure decisions on contract events.

A *notice* is what one event means for the citizens of a report: a template and the
facts it needs. Who receives it is decided in :mod:`notify.domain.recipients`.

Event → notice (template):

* report received → ``report-received`` (tracking code, what happens next, intake's
  notices); received as a duplicate → ``report-linked``;
* report assigned → ``report-assigned`` (agency, deadline); a reassignment →
  ``report-reassigned``;
* status ``waiting_for_citizen`` → ``information-requested`` (the agency's question);
  ``resolved`` → ``report-resolved`` (result, rating 1–5); ``rejected`` →
  ``report-rejected`` (why, where to go instead); ``reopened`` → ``report-reopened``;
  ``closed`` → ``report-closed`` unless it follows ``resolved`` (told then);
  ``in_progress`` → ``report-in-progress`` only when work resumes after the citizen
  answered or after a reopening (otherwise the assignment said it); ``received`` and
  ``assigned`` → nothing (the receipt and the assignment say it);
* deadline breached → ``deadline-missed``; warnings and escalations → nothing (internal);
* message rejected by intake → ``message-rejected`` with intake's notice, unless the
  reason is configured silent;
* citizen reply with a rating → ``rating-thanks``, to the report's own reporter only
  (:func:`notify.domain.telling.reply_notifications`); "HUY" … / "DANG KY" … →
  ``opted-out`` / ``opted-in``, to whoever replied.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from phananh_contracts import (
    CitizenReplied,
    DeadlineBreached,
    ReportAssigned,
    ReportReceived,
    ReportRejected,
    ReportStatus,
    ReportStatusChanged,
)
from phananh_contracts.values import RejectionReason

from notify.domain.text import strip_diacritics


class TemplateId(StrEnum):
    """Every message notify can send; each is a template file of the same name."""

    REPORT_RECEIVED = "report-received"
    REPORT_LINKED = "report-linked"
    REPORT_ASSIGNED = "report-assigned"
    REPORT_REASSIGNED = "report-reassigned"
    INFORMATION_REQUESTED = "information-requested"
    REPORT_IN_PROGRESS = "report-in-progress"
    REPORT_RESOLVED = "report-resolved"
    REPORT_REJECTED = "report-rejected"
    REPORT_REOPENED = "report-reopened"
    REPORT_CLOSED = "report-closed"
    DEADLINE_MISSED = "deadline-missed"
    MESSAGE_REJECTED = "message-rejected"
    RATING_THANKS = "rating-thanks"
    OPTED_OUT = "opted-out"
    OPTED_IN = "opted-in"


Audience = Literal["report", "sender"]
"""``report``: every citizen linked to the report; ``sender``: only the event's reporter."""


@dataclass(frozen=True)
class Notice:
    """What to tell, about which report: a template and the facts it renders."""

    template_id: TemplateId
    report_id: str
    audience: Audience
    facts: Mapping[str, object] = field(default_factory=dict)
    ignores_opt_out: bool = False
    """True for the confirmation of an opt-out itself: the last message the citizen gets."""


def receipt_notice(report: ReportReceived) -> Notice:
    """The receipt, to the reporter of this report (also when it duplicates another)."""
    facts: dict[str, object] = {
        "received_at": report.received_at,
        "notices": tuple(report.citizen_notices),
        "title": report.title,
        "urgent": report.priority.value == "urgent",
    }
    if report.duplicate_of is not None:
        return Notice(TemplateId.REPORT_LINKED, report.report_id, "sender", facts)
    return Notice(TemplateId.REPORT_RECEIVED, report.report_id, "sender", facts)


def assignment_notice(assigned: ReportAssigned) -> Notice:
    """Which agency handles the report, and by when; a reassignment names the new one."""
    template = (
        TemplateId.REPORT_REASSIGNED
        if assigned.reassignment_of is not None
        else TemplateId.REPORT_ASSIGNED
    )
    facts = {"agency_name": assigned.lead_agency_name, "deadline": assigned.deadline}
    return Notice(template, assigned.report_id, "report", facts)


_RESUMING_FROM = frozenset({ReportStatus.WAITING_FOR_CITIZEN, ReportStatus.REOPENED})

_STATUS_TEMPLATES: Mapping[ReportStatus, TemplateId] = {
    ReportStatus.WAITING_FOR_CITIZEN: TemplateId.INFORMATION_REQUESTED,
    ReportStatus.RESOLVED: TemplateId.REPORT_RESOLVED,
    ReportStatus.REJECTED: TemplateId.REPORT_REJECTED,
    ReportStatus.REOPENED: TemplateId.REPORT_REOPENED,
    ReportStatus.CLOSED: TemplateId.REPORT_CLOSED,
    ReportStatus.IN_PROGRESS: TemplateId.REPORT_IN_PROGRESS,
}


def status_notice(changed: ReportStatusChanged) -> Notice | None:
    """The message a status change means for the citizens, or None for silence."""
    status = changed.status
    if status == ReportStatus.IN_PROGRESS and changed.previous_status not in _RESUMING_FROM:
        return None
    if status == ReportStatus.CLOSED and changed.previous_status == ReportStatus.RESOLVED:
        return None
    template = _STATUS_TEMPLATES.get(status)
    if template is None:  # received, assigned: the receipt and the assignment said it
        return None
    facts = {
        "agency_name": changed.agency_name,
        "note": changed.note,
        "changed_at": changed.changed_at,
    }
    return Notice(template, changed.report_id, "report", facts)


def breach_notice(breach: DeadlineBreached, agency_name: str | None) -> Notice:
    """A missed deadline: the citizen is told, with an apology; ``agency_name`` if known."""
    facts = {"agency_name": agency_name, "deadline": breach.deadline}
    return Notice(TemplateId.DEADLINE_MISSED, breach.report_id, "report", facts)


def rejection_report_id(rejected: ReportRejected) -> str:
    """What a rejected message's notifications are keyed on: it never became a report.

    Its tracking code when the channel returned one (the citizen and the audit know it by
    that), else ``msg-`` and a digest of the channel and the channel's message id.
    """
    if rejected.tracking_code is not None:
        return rejected.tracking_code
    digest = hashlib.sha256(
        f"{rejected.channel.value}:{rejected.channel_message_id}".encode()
    ).hexdigest()
    return f"msg-{digest[:32]}"


def rejection_notice(
    rejected: ReportRejected, silent_reasons: Iterable[RejectionReason]
) -> Notice | None:
    """Why intake refused the message and where to go instead, unless the reason is silent.

    Silent reasons are those where a message would help nobody (a channel redelivering a
    message already answered, a forged signature, spam); a rejection with no Vietnamese
    notice has nothing to tell the citizen either.
    """
    if rejected.reason in set(silent_reasons) or rejected.citizen_notice is None:
        return None
    facts = {
        "notice": rejected.citizen_notice,
        "reason": rejected.reason.value,
        "rejected_at": rejected.rejected_at,
    }
    return Notice(TemplateId.MESSAGE_REJECTED, rejection_report_id(rejected), "sender", facts)


ReplyIntent = Literal["opt_out", "opt_in"]

_TRACKING_CODE = re.compile(r"\b[A-Z]{2,4}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}\b", re.IGNORECASE)


def keyword_form(text: str) -> str:
    """``text`` as keywords are compared: no tracking code, no diacritics, upper case,
    letters and digits only, single spaces (``"Mã SL-2303-7KQ4M9: Hủy!"`` → ``"MA HUY"``)."""
    without_code = _TRACKING_CODE.sub(" ", text)
    folded = strip_diacritics(without_code).upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", folded).split())


def reply_intent(text: str, opt_out: Iterable[str], opt_in: Iterable[str]) -> ReplyIntent | None:
    """Whether a reply is an opt-out or opt-in command: the whole reply is the keyword,
    optionally after ``Mã <code>``. A sentence that merely contains "hủy" is not one."""
    words = keyword_form(text)
    words = words.removeprefix("MA ").strip() if words.startswith("MA ") else words
    if words in {keyword_form(keyword) for keyword in opt_out}:
        return "opt_out"
    if words in {keyword_form(keyword) for keyword in opt_in}:
        return "opt_in"
    return None


def reply_notice(replied: CitizenReplied, intent: ReplyIntent | None) -> Notice | None:
    """The answer to a citizen's reply: a confirmation of opt-out/in, thanks for a rating."""
    if intent == "opt_out":
        return Notice(TemplateId.OPTED_OUT, replied.report_id, "sender", {}, ignores_opt_out=True)
    if intent == "opt_in":
        return Notice(TemplateId.OPTED_IN, replied.report_id, "sender", {})
    if replied.rating is not None:
        facts = {"rating": replied.rating}
        return Notice(TemplateId.RATING_THANKS, replied.report_id, "sender", facts)
    return None


def message_context(notice: Notice, tracking_code: str | None) -> dict[str, object]:
    """What a template sees: the notice's facts and the recipient's own tracking code."""
    return {**notice.facts, "tracking_code": tracking_code}
