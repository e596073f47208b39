"""Intake's Kafka handlers: thin — decode, ask the domain, publish, remember.

Ordering makes them idempotent: a message's outcome is published (acknowledged by the
broker) *before* the message is remembered as handled, and the offset is committed only
after both. A crash anywhere redelivers the raw event; ids derived from the channel
message make the republished events identical, and consumers deduplicate on event id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    REPORT_STATUS_TOPIC,
    Channel,
    CitizenRepliedEvent,
    Priority,
    RawChannelMessageReceived,
    RejectionReason,
    ReportAssignedEvent,
    ReportReceivedEvent,
    ReportRejected,
    ReportRejectedEvent,
    ReportStatusChangedEvent,
    decode_event,
)
from phananh_platform.kafka import RecordProducer
from prometheus_client import CollectorRegistry, Counter

from intake.adapters.store import IntakeStore
from intake.config import CityConfig
from intake.domain.channels import parse_raw
from intake.domain.model import ChannelMessage, PayloadError
from intake.domain.normalize import (
    Keys,
    NewReport,
    Rejection,
    as_reply,
    interpret,
    link_duplicate,
    reply_hint,
    unreadable,
)
from intake.domain.tracking import derived_event_id, report_id

logger = logging.getLogger("intake.handlers")
SOURCE = "/services/intake"


@dataclass
class IntakeMetrics:
    registry: CollectorRegistry

    def __post_init__(self) -> None:
        self.reports = Counter(
            "pakn_intake_reports_total",
            "Reports accepted, by channel and priority.",
            ["channel", "priority"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "pakn_intake_rejected_total",
            "Channel messages refused, by channel and reason.",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.replies = Counter(
            "pakn_intake_replies_total",
            "Citizens' replies on existing reports, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "pakn_intake_duplicates_total",
            "Channel messages seen before (message) and reports linked to an earlier one (near).",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.triage = Counter(
            "pakn_intake_triage_total",
            "Reports needing a person to check place or category, by reason.",
            ["reason"],
            registry=self.registry,
        )
        # Every channel's series exist (at 0) from the start, so rates and ratios see them.
        for channel in Channel:
            for priority in Priority:
                self.reports.labels(channel.value, priority.value)
            for reason in RejectionReason:
                self.rejected.labels(channel.value, reason.value)


@dataclass
class RawHandler:
    """Turns raw channel events into reports, replies and rejections."""

    config: CityConfig
    keys: Keys
    store: IntakeStore
    producer: RecordProducer
    metrics: IntakeMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def __call__(self, body: bytes) -> None:
        event = decode_event(CHANNEL_RAW_TOPIC.name, body)  # poison -> dead letter
        raw = event.data
        assert isinstance(raw, RawChannelMessageReceived)
        try:
            messages = parse_raw(raw)
        except PayloadError as error:
            if await self.store.seen(raw.channel.value, raw.channel_message_id):
                return
            rejected = unreadable(raw, raw_event_id=event.id, error=error, now=self.clock())
            await self._reject(rejected)
            return
        for message in messages:
            await self._handle(message, raw_event_id=event.id)

    async def _handle(self, message: ChannelMessage, *, raw_event_id: str) -> None:
        channel = message.channel.value
        if await self.store.seen(channel, message.channel_message_id):
            self.metrics.duplicates.labels(channel, "message").inc()
            logger.info("channel message seen before", extra={"event_id": raw_event_id})
            return
        if await self._as_reply(message):
            return
        now = self.clock()
        outcome = interpret(
            message, raw_event_id=raw_event_id, config=self.config, keys=self.keys, now=now
        )
        if isinstance(outcome, Rejection):
            await self._reject(outcome.rejected)
            return
        await self._accept(outcome)

    async def _as_reply(self, message: ChannelMessage) -> bool:
        hint = reply_hint(message, self.config)
        if hint is None:
            return False
        target = None
        if hint.tracking_code:
            target = await self.store.report_by_code(hint.tracking_code)
        if target is None and hint.reply_to_channel_message_id:
            target = await self.store.report_by_message(
                message.channel.value, hint.reply_to_channel_message_id
            )
        if target is None:
            return False  # no such report: the message is a new report
        target_id, target_code = target
        reply = as_reply(
            message, target_report_id=target_id, target_code=target_code, keys=self.keys
        )
        if reply is None:
            return False
        fact = f"reply:{message.channel.value}:{message.channel_message_id}"
        event = CitizenRepliedEvent.new(reply, source=SOURCE, id=derived_event_id(target_id, fact))
        await self.producer.publish(event.to_kafka())
        await self.store.remember(
            message.channel.value,
            message.channel_message_id,
            outcome="reply",
            report_id=target_id,
            at=reply.received_at,
        )
        self.metrics.replies.labels(message.channel.value).inc()
        return True

    async def _accept(self, new: NewReport) -> None:
        report = new.report
        if report.place and report.place.ward_code:
            since = report.received_at - timedelta(hours=self.config.dedupe.window_hours)
            earlier = await self.store.earlier(
                report.place.ward_code, report.category, since, report.received_at
            )
            new = link_duplicate(new, earlier, self.config)
            report = new.report
        event = ReportReceivedEvent.new(
            report, source=SOURCE, id=derived_event_id(report.report_id, "received")
        )
        await self.producer.publish(event.to_kafka())
        await self.store.save_report(report, folded_text=new.folded_text)
        await self.store.remember(
            report.channel.value,
            report.channel_message_id,
            outcome="report",
            report_id=report.report_id,
            at=report.received_at,
        )
        self.metrics.reports.labels(report.channel.value, report.priority.value).inc()
        if report.duplicate_of:
            self.metrics.duplicates.labels(report.channel.value, "near").inc()
        for reason in report.triage_reasons:
            self.metrics.triage.labels(reason).inc()
        logger.info(
            "report received",
            extra={"event_id": event.id, "report_id": report.report_id},
        )

    async def _reject(self, rejected: ReportRejected) -> None:
        made_from = report_id(rejected.channel.value, rejected.channel_message_id)
        event = ReportRejectedEvent.new(
            rejected, source=SOURCE, id=derived_event_id(made_from, "rejected")
        )
        await self.producer.publish(event.to_kafka())
        await self.store.save_rejection(rejected, category=None)
        await self.store.remember(
            rejected.channel.value,
            rejected.channel_message_id,
            outcome=f"rejected:{rejected.reason.value}",
            report_id=made_from,
            at=rejected.rejected_at,
        )
        self.metrics.rejected.labels(rejected.channel.value, rejected.reason.value).inc()
        logger.info("message rejected: %s", rejected.reason.value, extra={"event_id": event.id})


@dataclass
class ReadModelHandler:
    """Keeps the Open311 view of reports current with routing's decisions."""

    store: IntakeStore

    async def assignment(self, body: bytes) -> None:
        event = decode_event(ASSIGNMENTS_TOPIC.name, body)
        assert isinstance(event, ReportAssignedEvent)
        await self.store.apply_assignment(event.data)

    async def status(self, body: bytes) -> None:
        event = decode_event(REPORT_STATUS_TOPIC.name, body)
        assert isinstance(event, ReportStatusChangedEvent)
        await self.store.apply_status(event.data)
