"""In-memory twins of audit's stores, for tests of what reads them (web pages, oversight API).

Each answers as its database-backed original does (``TrailStore``, ``FactsStore``): the
contract tests in ``services/audit/tests/adapters/test_audit_reader_contracts.py`` put
the same data in both and compare the answers, so a twin that drifts fails there.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.domain.chain import SourcePosition, event_facts, head_of, next_record, to_document
from audit.domain.checkpoints import SignedCheckpoint, UnreadableCheckpoint
from audit.domain.facts import ReportFacts
from audit.domain.records import in_report_order, owner_of_code
from phananh_contracts import (
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    ChainHead,
    Channel,
    CitizenReplied,
    CitizenRepliedEvent,
    Event,
    EventData,
    Place,
    Priority,
    ReportAssigned,
    ReportAssignedEvent,
    Reporter,
    ReportReceived,
    ReportReceivedEvent,
    ReportStatus,
    ReportStatusChanged,
    ReportStatusChangedEvent,
    topic_for_event,
)
from phananh_contracts.examples import ALL_EXAMPLES

from tests.support.reports import tracking_code


def chained(events: Sequence[Event[Any]]) -> list[dict[str, Any]]:
    """Trail documents of the events, chained per topic partition 0 as audit writes them,
    each recorded a second after it happened."""
    heads: dict[str, ChainHead] = {}
    documents = []
    for offset, event in enumerate(events):
        position = SourcePosition(topic_for_event(type(event)).name, 0, offset)
        record = next_record(
            heads.get(position.chain_id),
            event_facts(event),
            position,
            recorded_at=event.time + timedelta(seconds=1),
        )
        heads[position.chain_id] = head_of(record)
        documents.append(to_document(record))
    return documents


class ListedTrail:
    """The trail over a list of its documents (``WebTrail`` and ``TrailReader``)."""

    def __init__(
        self,
        documents: Sequence[Mapping[str, Any]],
        checkpoints: Sequence[SignedCheckpoint] = (),
    ) -> None:
        self.documents = [dict(d) for d in documents]
        self.stored_checkpoints = list(checkpoints)

    async def records_of_report(self, ref: str) -> list[dict[str, Any]]:
        coded = next((d for d in self.documents if d.get("tracking_code") == ref), None)
        report_id = coded["report_id"] if coded is not None and coded.get("report_id") else ref
        return in_report_order(d for d in self.documents if d.get("report_id") == report_id)

    async def records_of_tracking_code(self, code: str) -> list[dict[str, Any]]:
        coded = [d for d in self.documents if d.get("tracking_code") == code]
        if not coded:
            return []
        report_id = owner_of_code(coded)
        records = {d["event_id"]: d for d in coded if d.get("report_id") == report_id}
        if report_id is not None:
            records |= {d["event_id"]: d for d in self.documents if d["report_id"] == report_id}
        return in_report_order(records.values())

    async def chain_segment(
        self, chain_id: str, first: int, last: int | None = None, *, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        found = [
            d
            for d in self.documents
            if d["chain_id"] == chain_id
            and d["sequence"] >= first
            and (last is None or d["sequence"] <= last)
        ]
        return sorted(found, key=lambda d: d["sequence"])[:limit]

    async def checkpoints_since(
        self, moment: datetime, *, limit: int = 20
    ) -> list[SignedCheckpoint | UnreadableCheckpoint]:
        since = [c for c in self.stored_checkpoints if _created_at(c) >= moment]
        return list(sorted(since, key=_created_at)[:limit])


def _created_at(checkpoint: SignedCheckpoint) -> datetime:
    return datetime.fromisoformat(checkpoint.created_at)


class ListedFacts:
    """The read model over a list of reports' facts (``FactsReader``)."""

    def __init__(self, facts: Sequence[ReportFacts]) -> None:
        self.facts = list(facts)

    async def facts_received_between(
        self,
        start: datetime,
        end: datetime,
        *,
        lead_agency_id: str | None = None,
        ward_code: str | None = None,
    ) -> list[ReportFacts]:
        return sorted(
            (
                f
                for f in self.facts
                if f.received_at is not None
                and start <= f.received_at < end
                and lead_agency_id in (None, f.lead_agency_id)
                and ward_code in (None, f.ward_code)
            ),
            key=lambda f: (f.received_at, f.report_id),
        )


# --- the read model's input: a month of reports --------------------------------------

MARCH = (datetime(2023, 2, 28, 17, tzinfo=UTC), datetime(2023, 3, 31, 17, tzinfo=UTC))
WARDS = {"03646": "Tô Hiệu", "03664": "Chiềng An", "03670": "Chiềng Cơi", "03679": "Chiềng Sinh"}
Record = dict[str, Any]


def record(event_class: type[Event[Any]], data: EventData, at: datetime) -> Record:
    """A trail-like record of one event: what both the live path and a rebuild fold."""
    return {
        "event_type": event_class.event_type(),
        "payload": data.model_dump(mode="json"),
        "occurred_at": at,
        "valid": True,
    }


def month_of_records() -> list[Record]:
    """The examples' events plus 40 reports of March 2023, at microsecond precision."""
    rng = random.Random(31)
    records = [
        {"event_type": e.type, "payload": e.data.model_dump(mode="json"), "occurred_at": e.time}
        for e in ALL_EXAMPLES
    ]
    for number in range(1, 41):
        received_at = datetime(2023, 3, 1, tzinfo=UTC) + timedelta(
            seconds=rng.uniform(0, 30 * 86400)
        )
        ward = rng.choice(list(WARDS))
        report_id, code, agency = f"rpt-{number:04d}", tracking_code(number), f"ubnd-{ward}"
        received = ReportReceived(
            report_id=report_id,
            tracking_code=code,
            channel=rng.choice(list(Channel)),
            channel_message_id=f"m-{number}",
            received_at=received_at,
            text="Đèn chiếu sáng ngõ 12 bị hỏng nhiều ngày.",
            category="urban_order",
            place=Place(ward_code=ward, ward_name=WARDS[ward]),
            priority=Priority.NORMAL,
            reporter=Reporter(anonymous=True),
        )
        assigned_at = received_at + timedelta(minutes=rng.uniform(1, 60))
        records.append(record(ReportReceivedEvent, received, received_at))
        assigned = ReportAssigned(
            report_id=report_id,
            tracking_code=code,
            lead_agency_id=agency,
            deadline=assigned_at + timedelta(days=7),
            priority=Priority.NORMAL,
            category="urban_order",
            rule_id="urban",
            ruleset_version="1",
            assigned_at=assigned_at,
        )
        records.append(record(ReportAssignedEvent, assigned, assigned_at))
        accepted_at = assigned_at + timedelta(hours=rng.uniform(1, 30))
        accepted = AgencyUpdate(
            report_id=report_id,
            agency_id=agency,
            kind=AgencyUpdateKind.ACCEPTED,
            updated_at=accepted_at,
        )
        records.append(record(AgencyUpdateEvent, accepted, accepted_at))
        if number % 3:
            resolved_at = accepted_at + timedelta(days=rng.uniform(1, 10))
            status = ReportStatusChanged(
                report_id=report_id,
                tracking_code=code,
                status=ReportStatus.RESOLVED,
                changed_at=resolved_at,
            )
            records.append(record(ReportStatusChangedEvent, status, resolved_at))
            replied_at = resolved_at + timedelta(hours=3)
            reply = CitizenReplied(
                report_id=report_id,
                tracking_code=code,
                channel=Channel.ZALO,
                channel_message_id=f"r-{number}",
                received_at=replied_at,
                text=f"Đã sửa xong, đánh giá {1 + number % 5}/5.",
                rating=1 + number % 5,
                reporter=Reporter(anonymous=True),
            )
            records.append(record(CitizenRepliedEvent, reply, replied_at))
    return records
