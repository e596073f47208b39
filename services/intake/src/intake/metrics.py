"""Intake's Prometheus metrics (``pakn_intake_*``), counted by the normalizer and, for
its rate limits, by the HTTP front."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from phananh_contracts import Channel, Priority, RejectionReason
from prometheus_client import CollectorRegistry, Counter

from intake.domain.batch import Accepted, Outcome, Rejected, Replied, Skipped
from intake.domain.limits import Scope


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
        self.rate_limited = Counter(
            "pakn_intake_rate_limited_total",
            "Requests and messages the HTTP front refused over a rate limit, by limit.",
            ["scope"],
            registry=self.registry,
        )
        self.rate_limit_unchecked = Counter(
            "pakn_intake_rate_limit_unchecked_total",
            "Requests admitted without a rate-limit check: the database did not answer.",
            ["scope"],
            registry=self.registry,
        )
        for scope in Scope:
            self.rate_limited.labels(scope.value)
            self.rate_limit_unchecked.labels(scope.value)
        # Every channel's series exist (at 0) from the start, so rates and ratios see them.
        for channel in Channel:
            for priority in Priority:
                self.reports.labels(channel.value, priority.value)
            for reason in RejectionReason:
                self.rejected.labels(channel.value, reason.value)

    def count(self, outcomes: Iterable[Outcome]) -> None:
        """Count what a batch's messages became (once published and stored)."""
        for outcome in outcomes:
            match outcome:
                case Accepted(new=new):
                    report = new.report
                    self.reports.labels(report.channel.value, report.priority.value).inc()
                    if report.duplicate_of:
                        self.duplicates.labels(report.channel.value, "near").inc()
                    for reason in report.triage_reasons:
                        self.triage.labels(reason).inc()
                case Rejected(rejected=rejected):
                    self.rejected.labels(rejected.channel.value, rejected.reason.value).inc()
                case Replied(reply=reply):
                    self.replies.labels(reply.channel.value).inc()
                case Skipped(message=message):
                    self.duplicates.labels(message.channel.value, "message").inc()
