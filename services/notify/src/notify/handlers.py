"""Notify's Kafka handlers: thin — decode, ask the domain who is told what, deliver.

Each handler returns only after every outcome event it caused is on Kafka, so the
consumer commits after the effect; a redelivered event finds its notifications decided
and sends nothing again.

Events about a report can overtake its receipt (they travel on other topics): they are
kept in the report's file and told when the receipt arrives. Both sides write first and
read after, so whichever comes second sees the other; a notification told by both is
still sent once (its claim).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from phananh_contracts import (
    CITIZEN_REPLIES_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    CitizenRepliedEvent,
    DeadlineBreachedEvent,
    Event,
    ReportAssignedEvent,
    ReportReceivedEvent,
    ReportRejectedEvent,
    ReportStatusChangedEvent,
    decode_event,
)

from notify.adapters.store import OptOuts, ReportBook, ReportFile
from notify.config import NotifyConfig
from notify.dispatch import Dispatcher, NotifyMetrics, Trigger
from notify.domain.notices import (
    Notice,
    assignment_notice,
    breach_notice,
    receipt_notice,
    rejection_notice,
    rejection_report_id,
    reply_intent,
    reply_notice,
    status_notice,
)
from notify.domain.recipients import (
    Recipient,
    distinct_recipients,
    recipient_of,
    root_report_id,
)

logger = logging.getLogger("notify.handlers")


def _trigger(event: Event[Any]) -> Trigger:
    return Trigger(event_id=event.id, event_type=event.type)


@dataclass
class NotifyHandlers:
    config: NotifyConfig
    reports: ReportBook
    opt_outs: OptOuts
    dispatcher: Dispatcher
    metrics: NotifyMetrics

    # --- pakn.reports.v1 -------------------------------------------------------------

    async def report_received(self, body: bytes) -> None:
        """The receipt to the reporter; a duplicate's reporter joins the original."""
        event = decode_event(REPORTS_TOPIC.name, body)  # poison -> dead letter
        assert isinstance(event, ReportReceivedEvent)
        report = event.data
        recipient = recipient_of(
            report.reporter, tracking_code=report.tracking_code, own_report_id=report.report_id
        )
        file = await self.reports.register_receipt(
            report.report_id, report.tracking_code, recipient
        )
        root = root_report_id(report.report_id, report.duplicate_of)
        if recipient is not None and root != report.report_id:
            await self.reports.link(root, recipient)
        if recipient is None:
            self.metrics.skipped.labels("anonymous").inc()
        else:
            await self.dispatcher.deliver(receipt_notice(report), recipient, _trigger(event))
        await self._tell_kept(file)
        if recipient is not None and root != report.report_id:
            # A duplicate's reporter catches up with what the original's citizens were
            # told so far (assignment, questions, result), each once.
            await self._tell_kept(await self.reports.file(root), only=recipient)

    async def _tell_kept(self, file: ReportFile, only: Recipient | None = None) -> None:
        """Tell the events kept in ``file`` (in the order they happened), if it is received."""
        if not file.received:
            return
        for kept in sorted(file.triggers, key=lambda trigger: str(trigger["time"])):
            event = decode_event(kept["topic"], kept["value"].encode("utf-8"))
            await self._tell_report(event, file, only=only)

    # --- pakn.assignments.v1, pakn.report.status.v1, pakn.deadlines.v1 ---------------------

    async def report_event(self, topic: str, body: bytes) -> None:
        """An event about a report: told to every citizen linked to it."""
        event = decode_event(topic, body)
        if self._notice(event, None) is None:
            return  # status and deadline events that tell the citizen nothing
        data = event.data
        agencies: dict[str, str] = {}
        if isinstance(event, ReportAssignedEvent) and event.data.lead_agency_name:
            agencies[event.data.lead_agency_id] = event.data.lead_agency_name
        if isinstance(event, ReportStatusChangedEvent) and event.data.agency_id:
            agencies[event.data.agency_id] = event.data.agency_name or ""
        agencies = {agency: name for agency, name in agencies.items() if name}
        kept = {
            "event_id": event.id,
            "topic": topic,
            "time": event.time.isoformat(),
            "value": body.decode("utf-8"),
        }
        file = await self.reports.record_trigger(data.report_id, kept, agencies)
        if not file.received:
            self.metrics.skipped.labels("parked").inc()
            logger.info(
                "event before the receipt: kept until it arrives",
                extra={"event_id": event.id, "report_id": data.report_id},
            )
            return
        await self._tell_report(event, file)

    async def _tell_report(
        self, event: Event[Any], file: ReportFile, only: Recipient | None = None
    ) -> None:
        notice = self._notice(event, file)
        if notice is None:
            return
        recipients = (only,) if only is not None else distinct_recipients(file.recipients)
        if not recipients:
            self.metrics.skipped.labels("anonymous").inc()
        for recipient in recipients:
            await self.dispatcher.deliver(notice, recipient, _trigger(event))

    @staticmethod
    def _notice(event: Event[Any], file: ReportFile | None) -> Notice | None:
        match event:
            case ReportAssignedEvent():
                return assignment_notice(event.data)
            case ReportStatusChangedEvent():
                return status_notice(event.data)
            case DeadlineBreachedEvent():
                name = file.agencies.get(event.data.agency_id) if file is not None else None
                return breach_notice(event.data, name)
        return None

    # --- pakn.reports.rejected.v1 ------------------------------------------------------

    async def report_rejected(self, body: bytes) -> None:
        """Why intake refused the message, to its sender, unless the reason is silent."""
        event = decode_event(REPORTS_REJECTED_TOPIC.name, body)
        assert isinstance(event, ReportRejectedEvent)
        rejected = event.data
        notice = rejection_notice(rejected, self.config.silent_rejections)
        if notice is None:
            self.metrics.skipped.labels("silent").inc()
            return
        recipient = recipient_of(
            rejected.reporter,
            tracking_code=rejected.tracking_code,
            own_report_id=rejection_report_id(rejected),
        )
        if recipient is None:
            self.metrics.skipped.labels("anonymous").inc()
            return
        await self.dispatcher.deliver(notice, recipient, _trigger(event))

    # --- pakn.citizen.replies.v1 -------------------------------------------------------

    async def citizen_replied(self, body: bytes) -> None:
        """Opt-out and opt-in commands are recorded and confirmed; ratings are thanked.

        Routing, not notify, reopens a report after a low rating.
        """
        event = decode_event(CITIZEN_REPLIES_TOPIC.name, body)
        assert isinstance(event, CitizenRepliedEvent)
        replied = event.data
        intent = reply_intent(replied.text, self.config.opt_out.stop, self.config.opt_out.start)
        pseudonym = replied.reporter.pseudonym
        if intent is not None and pseudonym is not None:
            await self.opt_outs.record(pseudonym, stop=intent == "opt_out", at=replied.received_at)
            logger.info("citizen %s", intent.replace("_", " "), extra={"event_id": event.id})
        notice = reply_notice(replied, intent)
        if notice is None:
            return
        recipient = recipient_of(
            replied.reporter, tracking_code=replied.tracking_code, own_report_id=replied.report_id
        )
        if recipient is None:
            self.metrics.skipped.labels("anonymous").inc()
            return
        await self.dispatcher.deliver(notice, recipient, _trigger(event))
