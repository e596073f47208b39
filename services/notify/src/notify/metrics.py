"""Notify's Prometheus metrics (besides the platform's ``pakn_consumer_errors_total``)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass
class NotifyMetrics:
    registry: CollectorRegistry

    def __post_init__(self) -> None:
        self.sent = Counter(
            "pakn_notify_sent_total",
            "Notifications delivered, by provider and template.",
            ["provider", "template"],
            registry=self.registry,
        )
        self.failed = Counter(
            "pakn_notify_failed_total",
            "Notifications that failed, by the last provider tried and the reason "
            "(no_provider, permanent, retries_exhausted, contact_unreadable, "
            "contact_forgotten, contact_key_missing).",
            ["provider", "reason"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "pakn_notify_attempts_total",
            "Provider calls, by provider and result (accepted, transient, permanent).",
            ["provider", "result"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "pakn_notify_fallbacks_total",
            "Times a provider gave up and the next one of the plan was tried.",
            ["provider"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "pakn_notify_skipped_total",
            "Notices nobody was told, by reason (anonymous, opted_out, silent, parked, "
            "not_reporter).",
            ["reason"],
            registry=self.registry,
        )
        self.redelivered = Counter(
            "pakn_notify_redelivered_total",
            "Notifications asked for again after they were decided: nothing was sent twice.",
            registry=self.registry,
        )
        self.keys_destroyed = Counter(
            "pakn_notify_contact_keys_destroyed_total",
            "Contact keys destroyed because their citizen was forgotten (deleted from "
            "notify's store).",
            registry=self.registry,
        )
        self.pruned = Counter(
            "pakn_notify_pruned_total",
            "Documents deleted from notify's store by retention (PHANANH_NOTIFY_RETENTION_DAYS), "
            "by kind: notifications, reports.",
            ["kind"],
            registry=self.registry,
        )
