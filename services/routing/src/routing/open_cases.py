"""Open and overdue reports by lead agency and ward: gauges measured from the store.

Measured every ``metrics_refresh_s`` (not on every scrape: FerretDB answers the query by
a scan). Every routing instance reports the same figures, so dashboards take ``max``.
An overdue report is an open one whose deadline passed while its clock runs; a ward
whose reports are all on time is reported with 0 overdue, so ratios see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from phananh_platform.metrics import LabelValues, SnapshotGauge
from prometheus_client import CollectorRegistry

from routing.adapters import DeadlineStore

UNKNOWN_WARD = "unknown"
"""The ward label of reports intake could not place."""


@dataclass
class OpenCases:
    deadlines: DeadlineStore
    registry: CollectorRegistry
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    open: SnapshotGauge = field(init=False)
    overdue: SnapshotGauge = field(init=False)

    def __post_init__(self) -> None:
        self.open = SnapshotGauge(
            "pakn_routing_open_cases",
            "Reports not yet resolved, by lead agency and ward code.",
            ["agency", "ward"],
            registry=self.registry,
        )
        self.overdue = SnapshotGauge(
            "pakn_routing_overdue_cases",
            "Reports not yet resolved whose deadline passed, by lead agency and ward code.",
            ["agency", "ward"],
            registry=self.registry,
        )

    async def measure(self) -> None:
        counts = await self.deadlines.open_counts(self.clock())
        open_: dict[LabelValues, float] = {}
        overdue: dict[LabelValues, float] = {}
        for (agency, ward, is_overdue), count in counts.items():
            labels = (agency, ward or UNKNOWN_WARD)
            open_[labels] = open_.get(labels, 0) + count
            overdue[labels] = overdue.get(labels, 0) + (count if is_overdue else 0)
        self.open.replace(open_)
        self.overdue.replace(overdue)
