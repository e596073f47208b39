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

from collections.abc import Iterable, Mapping
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


def in_report_order(documents: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Trail documents about one report, oldest first: a report's events come from several
    topics, so its records sit in several chains; ordered by the events' own times, then
    by chain position."""
    return sorted(documents, key=lambda d: (d["occurred_at"], d["chain_id"], d["sequence"]))


def owner_of_code(coded: Iterable[Mapping[str, Any]]) -> str | None:
    """The report a tracking code stands for, given the trail documents carrying it.

    Two reports may share a code (see intake's tracking codes): the first one received
    keeps it. Without a receipt among them, the earliest record naming a report decides;
    a message refused at intake names none (None)."""
    documents = list(coded)
    received = sorted(
        (d["occurred_at"], d["report_id"])
        for d in documents
        if d.get("event_type") == "vn.pakn.report.received" and d.get("report_id")
    )
    if received:
        return str(received[0][1])
    named = sorted((d["occurred_at"], d["report_id"]) for d in documents if d.get("report_id"))
    return str(named[0][1]) if named else None
