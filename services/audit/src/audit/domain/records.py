"""The trail record: what audit keeps of one event, and the shape every part agrees on.

One record per event consumed (the event id is unique). Records form hash chains, one
chain per source topic partition (``chain_id = "<topic>:<partition>"``): within a
partition Kafka gives a total order and a single consumer at a time, so a chain has one
writer and a well-defined order with any number of partitions and audit instances.
Signed checkpoints of all chain heads tie the chains together in time.

``payload`` is the event's ``data`` with personal data removed (see ``sanitize``); an
event that failed validation is recorded with ``valid=False``, its reason, and the
digest and dead-letter coordinates of its original bytes (which may hold personal data
and therefore stay out of the trail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record of every chain."""


@dataclass(frozen=True)
class Actor:
    """Who caused the event: a service, an agency, a collaborator or a citizen pseudonym."""

    kind: str
    """'service', 'agency', 'operator', 'collaborator', 'citizen' or 'unknown'."""
    id: str


@dataclass(frozen=True)
class TrailRecord:
    """One link of a hash chain. ``hash`` covers every other field (see chain.py)."""

    chain_id: str
    sequence: int
    event_id: str
    event_type: str
    """The CloudEvents type, or 'invalid' for an event that failed validation."""
    source_topic: str
    source_partition: int
    source_offset: int
    report_id: str | None
    tracking_code: str | None
    actor: Actor
    occurred_at: datetime
    """The event's own time (UTC); for an invalid event, the record's Kafka timestamp."""
    recorded_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    valid: bool = True
    invalid_reason: str | None = None
    prev_hash: str = GENESIS_HASH
    hash: str = ""
