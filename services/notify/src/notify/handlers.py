"""Notify's subscriptions and handlers: thin — a batch of events in, the domain decides who
is told what, the courier delivers.

Each handler gets a whole fetched batch (decoded by the platform, poison dead-lettered)
and returns only after every outcome event it caused is on Kafka, so the platform commits
after the effect; a redelivered batch finds its notifications decided and sends nothing
again. Per batch: one write and one read of the report files, one read of the opt-outs,
one claim of every notification, one write of the outcomes, one publication.

Events about a report can overtake its receipt (they travel on other topics): they are
kept in the report's file and told when the receipt arrives (see
:mod:`notify.domain.telling`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    CONTACT_KEYS_TOPIC,
    DEADLINES_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    CitizenRepliedEvent,
    ContactKeyDestroyedEvent,
    ContactKeyIssuedEvent,
    ReportReceivedEvent,
    ReportRejectedEvent,
)
from phananh_platform.runtime import ServiceApp
from phananh_platform.subscribers import Batch

from notify.adapters.courier import Courier
from notify.adapters.keys import ContactKeyStore
from notify.adapters.store import OptOuts, ReportBook
from notify.config import NotifyConfig
from notify.domain.notices import reply_intent
from notify.domain.telling import (
    Notification,
    ReportEvent,
    ReportFile,
    Telling,
    event_change,
    event_notifications,
    link_change,
    linked_elsewhere,
    rated_reports,
    receipt_changes,
    receipt_files,
    receipt_notifications,
    rejection_notifications,
    replies_told,
    silenced,
)
from notify.metrics import NotifyMetrics

logger = logging.getLogger("notify.handlers")


def subscribe(service: ServiceApp, handlers: NotifyHandlers) -> None:
    """One consumer group per topic, so that a slow provider on one does not hold the others."""
    service.subscribe(REPORTS_TOPIC, group_id="notify-reports", handle=handlers.reports_received)
    service.subscribe(
        REPORTS_REJECTED_TOPIC, group_id="notify-rejections", handle=handlers.messages_rejected
    )
    service.subscribe(
        CITIZEN_REPLIES_TOPIC, group_id="notify-replies", handle=handlers.citizens_replied
    )
    for topic, group in (
        (ASSIGNMENTS_TOPIC, "notify-assignments"),
        (REPORT_STATUS_TOPIC, "notify-status"),
        (DEADLINES_TOPIC, "notify-deadlines"),
    ):
        service.subscribe(topic, group_id=group, handle=handlers.report_events)
    service.subscribe(
        CONTACT_KEYS_TOPIC, group_id="notify-contact-keys", handle=handlers.contact_keys
    )


@dataclass
class NotifyHandlers:
    config: NotifyConfig
    reports: ReportBook
    opt_outs: OptOuts
    courier: Courier
    metrics: NotifyMetrics
    keys: ContactKeyStore

    async def reports_received(self, batch: Batch[ReportReceivedEvent]) -> None:
        """The receipt to the reporter; a duplicate's reporter joins the original's
        citizens and catches up with what they were told; events kept before the receipt
        are told now."""
        events = [delivery.event for delivery in batch]
        files = await self.reports.apply(
            change for event in events for change in receipt_changes(event)
        )
        others = {key for event in events for key in receipt_files(event)} - files.keys()
        files |= await self.reports.files(others)
        telling = Telling()
        for event in events:
            receipt_notifications(event, files, telling)
        await self._tell(telling)

    async def report_events(self, batch: Batch[ReportEvent]) -> None:
        """An assignment, status change or missed deadline: told to every citizen linked to
        the report, or kept until its receipt arrives."""
        changes = [
            change
            for delivery in batch
            if (change := event_change(delivery.event, delivery.topic, delivery.body))
        ]
        linking = [delivery.event for delivery in batch if linked_elsewhere(delivery.event)]
        if linking:  # an officer linked or unlinked a duplicate: its citizens follow or stop
            own = await self.reports.files(event.data.report_id for event in linking)
            changes += [
                change
                for event in linking
                if (change := link_change(event, own.get(event.data.report_id)))
            ]
        if not changes:
            return  # events that tell the citizens nothing
        files = await self.reports.apply(changes)
        telling = Telling()
        for delivery in batch:
            report_id = delivery.event.data.report_id
            event_notifications(
                delivery.event, files.get(report_id, ReportFile(report_id)), telling
            )
        await self._tell(telling)

    async def messages_rejected(self, batch: Batch[ReportRejectedEvent]) -> None:
        """Why intake refused the message, to its sender, unless the reason is silent."""
        telling = Telling()
        for delivery in batch:
            rejection_notifications(delivery.event, self.config.silent_rejections, telling)
        await self._tell(telling)

    async def citizens_replied(self, batch: Batch[CitizenRepliedEvent]) -> None:
        """Opt-out and opt-in commands are recorded and confirmed; the reporter's ratings
        are thanked (the files of the rated reports say who reported them).

        Routing, not notify, reopens a report after a low rating.
        """
        words = self.config.opt_out
        replies = [
            (delivery.event, reply_intent(delivery.event.data.text, words.stop, words.start))
            for delivery in batch
        ]
        states = await self.opt_outs.states(
            pseudonym for event, _ in replies if (pseudonym := event.data.reporter.pseudonym)
        )
        rated = rated_reports(replies)
        files = await self.reports.files(rated) if rated else {}
        result = replies_told(replies, states, files)
        await self.opt_outs.record_all(result.changes)
        for change in result.changes:
            logger.info("citizen %s", change.intent.replace("_", " "))
        await self._tell(result.telling, result.silenced)

    async def contact_keys(
        self, batch: Batch[ContactKeyIssuedEvent | ContactKeyDestroyedEvent]
    ) -> None:
        """Keys intake filed are kept; a destroyed key is deleted for good (its citizen
        was forgotten): what was sealed under it is never sent again."""
        await self.keys.file([delivery.event.data for delivery in batch])
        for delivery in batch:
            if isinstance(delivery.event, ContactKeyDestroyedEvent):
                self.metrics.keys_destroyed.inc()

    async def _tell(self, telling: Telling, opted_out: Collection[str] | None = None) -> None:
        for reason in telling.skipped:
            self.metrics.skipped.labels(reason).inc()
        notifications: list[Notification] = telling.notifications
        if opted_out is None:
            states = await self.opt_outs.states(
                item.recipient.pseudonym
                for item in notifications
                if not item.notice.ignores_opt_out
            )
            opted_out = silenced(notifications, states)
        await self.courier.deliver_all(notifications, opted_out)
