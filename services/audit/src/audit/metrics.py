"""The audit trail's figures: how late events reach it, and how long its chains are.

* ``pakn_audit_write_lag_seconds`` (histogram): from an event's own time to the moment
  its record was written, observed for every record this instance wrote (not for
  redeliveries, which write nothing). A replay of old events shows as a long lag, as it
  should: the trail got them late.
* ``pakn_audit_chain_length{chain}`` (gauge): records in each hash chain (one chain per
  source topic partition). Reading every chain head is slow on FerretDB (a scan per
  chain), so the heads are read at start and then every ``CHAIN_REMEASURE_S`` at most
  often; in between, each record this instance writes adds one to its chain. Chains only
  grow, so the figure never goes down; with several audit instances it may lag behind
  the others' writes until the next reading (dashboards take ``max``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from phananh_contracts import ChainHead
from phananh_platform.metrics import SnapshotGauge
from prometheus_client import CollectorRegistry, Histogram

from audit.domain.chain import EventFacts, SourcePosition

WRITE_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
"""Seconds: from live traffic (well under a second) to a day-long replay."""

CHAIN_REMEASURE_S = 300.0
"""Shortest pause between two readings of every chain head (the checkpointer's pace)."""


class AppendingTrail(Protocol):
    async def append(
        self, facts: EventFacts, position: SourcePosition, *, recorded_at: datetime
    ) -> bool: ...

    async def is_recorded(self, event_id: str) -> bool: ...

    async def append_many(
        self, items: Sequence[tuple[EventFacts, SourcePosition]], *, recorded_at: datetime
    ) -> list[bool]: ...

    async def heads(self) -> list[ChainHead]: ...


@dataclass
class MeasuredTrail:
    """The trail store, observing the write lag and the length of the chains it writes."""

    trail: AppendingTrail
    registry: CollectorRegistry
    write_lag: Histogram = field(init=False)
    chain_length: SnapshotGauge = field(init=False)
    _lengths: dict[str, int] | None = field(default=None, init=False)
    """Records per chain; None until the heads were read once."""

    def __post_init__(self) -> None:
        self.write_lag = Histogram(
            "pakn_audit_write_lag_seconds",
            "Seconds from an event's time to its record in the audit trail.",
            buckets=WRITE_LAG_BUCKETS,
            registry=self.registry,
        )
        self.chain_length = SnapshotGauge(
            "pakn_audit_chain_length",
            "Records in each hash chain of the audit trail (one chain per topic partition).",
            ["chain"],
            registry=self.registry,
        )

    async def append(
        self, facts: EventFacts, position: SourcePosition, *, recorded_at: datetime
    ) -> bool:
        written = await self.trail.append(facts, position, recorded_at=recorded_at)
        if written:
            self._observe(facts, position, recorded_at)
            if self._lengths is not None:
                self._publish()
        return written

    async def append_many(
        self, items: Sequence[tuple[EventFacts, SourcePosition]], *, recorded_at: datetime
    ) -> list[bool]:
        written = await self.trail.append_many(items, recorded_at=recorded_at)
        for (facts, position), wrote in zip(items, written, strict=True):
            if wrote:
                self._observe(facts, position, recorded_at)
        if any(written) and self._lengths is not None:
            self._publish()
        return written

    def _observe(self, facts: EventFacts, position: SourcePosition, recorded_at: datetime) -> None:
        lag = (recorded_at - facts.occurred_at).total_seconds()
        self.write_lag.observe(max(0.0, lag))
        if self._lengths is not None:
            chain = position.chain_id
            self._lengths[chain] = self._lengths.get(chain, 0) + 1

    async def is_recorded(self, event_id: str) -> bool:
        return await self.trail.is_recorded(event_id)

    async def measure_chains(self) -> None:
        """Read every chain head; sequences start at 1, so a head's is its chain's length."""
        heads = await self.trail.heads()
        known = self._lengths or {}
        merged = dict(known)
        for head in heads:  # writes during the reading may be in either figure: keep the larger
            merged[head.chain_id] = max(head.sequence, known.get(head.chain_id, 0))
        self._lengths = merged
        self._publish()

    def _publish(self) -> None:
        assert self._lengths is not None
        self.chain_length.replace({(chain,): float(n) for chain, n in self._lengths.items()})
