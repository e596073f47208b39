"""One contract per reading protocol, run against the in-memory twin and the real store.

The web pages and the oversight API are tested over ``tests.support.audit``'s twins
(``ListedTrail``, ``ListedFacts``); these tests put the same trail documents and the
same events in a twin and in ``TrailStore`` / ``FactsStore`` on the real MongoDB-wire
database, and ask both the same questions. A twin that answers differently from its
original (as one once ignored the ward filter) fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.adapters.facts_store import FactsStore
from audit.adapters.oversight_http import FactsReader
from audit.adapters.trail_store import TrailStore
from audit.adapters.web import WebTrail
from audit.domain.checkpoints import (
    build_checkpoint,
    generate_signing_key,
    load_signing_key,
    signed_checkpoint,
)
from audit.domain.facts import fold
from phananh_contracts import AuditCheckpoint, ChainHead, ReportReceivedEvent
from phananh_contracts import examples as ex
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.audit import MARCH, ListedFacts, ListedTrail, chained, month_of_records

pytestmark = pytest.mark.integration

SIGNING_KEY = load_signing_key(generate_signing_key())
GOLDEN = [e for e in ex.GOLDEN_PATH if getattr(e.data, "report_id", None) == ex.REPORT_ID]
LATER_SAME_CODE = ReportReceivedEvent.new(
    ex.REPORT_RECEIVED.data.model_copy(
        update={
            "report_id": "rpt-same-code-later",
            "channel_message_id": "later-1",
            "received_at": ex.REPORT_RECEIVED.data.received_at + timedelta(days=2),
        }
    ),
    source="/services/intake",
).model_copy(update={"time": ex.REPORT_RECEIVED.time + timedelta(days=2)})
"""A second report given the seed's tracking code two days later: the first keeps it."""
TRAIL = chained([*GOLDEN, ex.CITIZEN_REPLIED, LATER_SAME_CODE])


def checkpoints() -> list[AuditCheckpoint]:
    """Three checkpoints a day apart, from 20 March 2023, over the trail's heads."""
    heads: dict[str, ChainHead] = {}
    for document in TRAIL:
        heads[document["chain_id"]] = ChainHead(
            chain_id=document["chain_id"],
            sequence=document["sequence"],
            record_hash=document["hash"],
        )
    ordered = sorted(heads.values(), key=lambda h: h.chain_id)
    return [
        build_checkpoint(
            ordered[: n + 1],
            signing_key=SIGNING_KEY,
            writer_id="contract",
            created_at=datetime(2023, 3, 20 + n, tzinfo=UTC),
        )
        for n in range(3)
    ]


CHECKPOINTS = checkpoints()


@pytest.fixture(params=["twin", "database"])
async def trail(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> WebTrail:
    made = CHECKPOINTS
    if request.param == "twin":
        return ListedTrail(TRAIL, [signed_checkpoint(c, origin="database") for c in made])
    store = TrailStore(database)
    await store.ensure_indexes()
    await store.trail.insert_many([dict(document) for document in TRAIL])
    for checkpoint in made:
        assert await store.store_checkpoint(checkpoint)
    return store


@pytest.fixture(params=["twin", "database"])
async def facts(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> FactsReader:
    records = month_of_records()
    if request.param == "twin":
        return ListedFacts(list(fold(records).values()))
    store = FactsStore(database)
    await store.ensure_indexes()
    for item in records:
        await store.apply_event(item["event_type"], item["payload"], item["occurred_at"])
    return store


def ids(documents: Any) -> list[str]:
    return [document["event_id"] for document in documents]


async def test_a_reports_records_are_found_by_id_or_code_in_the_order_things_happened(
    trail: WebTrail,
) -> None:
    by_id = await trail.records_of_report(ex.REPORT_ID)
    assert ids(by_id) == [e.id for e in [*GOLDEN, ex.CITIZEN_REPLIED]]
    assert ids(await trail.records_of_report(ex.TRACKING_CODE)) == ids(by_id)
    assert await trail.records_of_report("rpt-never-seen") == []


async def test_a_shared_tracking_code_stays_with_the_report_received_first(
    trail: WebTrail,
) -> None:
    coded = await trail.records_of_tracking_code(ex.TRACKING_CODE)
    assert ids(coded) == [e.id for e in [*GOLDEN, ex.CITIZEN_REPLIED]]
    assert LATER_SAME_CODE.id not in ids(coded)
    assert await trail.records_of_tracking_code("SL-0000-XXXXXX") == []


async def test_a_chain_segment_is_bounded_in_sequence_and_size(trail: WebTrail) -> None:
    chain_id = TRAIL[0]["chain_id"]
    whole = [d for d in TRAIL if d["chain_id"] == chain_id]
    assert len(whole) >= 2, "the seed's topic holds several records"
    first, second = whole[0]["sequence"], whole[1]["sequence"]
    segment = await trail.chain_segment(chain_id, second)
    assert [d["hash"] for d in segment] == [d["hash"] for d in whole[1:]]
    only = await trail.chain_segment(chain_id, first, first)
    assert [d["hash"] for d in only] == [whole[0]["hash"]]
    assert len(await trail.chain_segment(chain_id, first, limit=1)) == 1
    assert await trail.chain_segment("pakn.nothing.v1:0", 0) == []


async def test_checkpoints_since_a_moment_come_oldest_first_and_limited(trail: WebTrail) -> None:
    made = CHECKPOINTS
    since = await trail.checkpoints_since(datetime(2023, 3, 21, tzinfo=UTC))
    assert [c.checkpoint_id for c in since] == [c.checkpoint_id for c in made[1:]]
    assert len(await trail.checkpoints_since(datetime(2023, 3, 1, tzinfo=UTC), limit=1)) == 1
    assert await trail.checkpoints_since(datetime(2023, 4, 1, tzinfo=UTC)) == []


async def test_facts_of_a_period_are_half_open_in_reception_order(facts: FactsReader) -> None:
    found = await facts.facts_received_between(*MARCH)
    expected = {
        key: value
        for key, value in fold(month_of_records()).items()
        if value.received_at is not None and MARCH[0] <= value.received_at < MARCH[1]
    }
    assert {f.report_id: f for f in found} == expected
    received = [f.received_at for f in found]
    assert received == sorted(received)  # type: ignore[type-var]
    first = found[0].received_at
    assert first is not None
    millisecond = timedelta(milliseconds=1)
    assert [f.report_id for f in await facts.facts_received_between(first, first + millisecond)]
    assert await facts.facts_received_between(first - millisecond, first) == []


async def test_facts_filter_by_lead_agency_and_by_ward(facts: FactsReader) -> None:
    everything = await facts.facts_received_between(*MARCH)
    by_agency = await facts.facts_received_between(*MARCH, lead_agency_id="ubnd-03679")
    by_ward = await facts.facts_received_between(*MARCH, ward_code="03679")
    assert by_agency and by_ward
    assert [f.report_id for f in by_agency] == [
        f.report_id for f in everything if f.lead_agency_id == "ubnd-03679"
    ]
    assert [f.report_id for f in by_ward] == [
        f.report_id for f in everything if f.ward_code == "03679"
    ]
    assert len(by_ward) < len(everything), "the ward filter leaves other wards out"
