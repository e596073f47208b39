"""The oversight read model on the real MongoDB-wire database (FerretDB locally)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.adapters.facts_store import FactsStore
from audit.domain.facts import FoldedEvent, ReportFacts, fold, report_key
from phananh_contracts import (
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    Channel,
    Place,
    Priority,
    Reporter,
    ReportReceived,
    ReportReceivedEvent,
)
from phananh_contracts.examples import REPORT_ID, TRACKING_CODE
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient

from tests.support.audit import MARCH, Record, month_of_records, record
from tests.support.reports import tracking_code

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(
    mongo_settings: MongoSettings, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[FactsStore]:
    database = mongo_client[mongo_settings.database]
    facts = FactsStore(database)
    await facts.ensure_indexes()
    yield facts
    await mongo_client.drop_database(mongo_settings.database)


async def apply_all(store: FactsStore, records: list[Record]) -> None:
    for item in records:
        await store.apply_event(item["event_type"], item["payload"], item["occurred_at"])


def expected_in(records: list[Record], start: datetime, end: datetime) -> dict[str, ReportFacts]:
    return {
        key: facts
        for key, facts in fold(records).items()
        if facts.received_at is not None and start <= facts.received_at < end
    }


async def test_events_applied_live_are_the_facts_of_the_period(store: FactsStore) -> None:
    records = month_of_records()
    await apply_all(store, records)
    found = await store.facts_received_between(*MARCH)
    assert {f.report_id: f for f in found} == expected_in(records, *MARCH)
    received = [f.received_at for f in found if f.received_at is not None]
    assert received == sorted(received) and len(received) == len(found)
    assert all(at.tzinfo is not None for at in received)
    # the seed report, read back with its history of statuses and updates intact
    seed = await store.get(TRACKING_CODE)
    assert seed is not None and seed == await store.get(REPORT_ID)
    assert seed.resolved_at == datetime(2023, 3, 16, 8, 45, tzinfo=UTC) and seed.ratings == (5,)


async def test_applying_an_event_again_writes_nothing(store: FactsStore) -> None:
    records = [
        r for r in month_of_records() if report_key(r["event_type"], r["payload"]) == "rpt-0001"
    ]
    await apply_all(store, records)
    before = await store.collection.find({}).to_list()
    await apply_all(store, records)
    assert await store.collection.find({}).to_list() == before
    # one version per folded event, contiguous: the latest is found by _id lookups
    assert sorted(document["version"] for document in before) == list(range(1, len(records) + 1))


async def test_a_period_is_half_open_and_filters_by_agency_and_ward(store: FactsStore) -> None:
    records = month_of_records()
    await apply_all(store, records)
    expected = expected_in(records, *MARCH)
    some = next(f for f in expected.values() if f.lead_agency_id == "ubnd-03679")
    at, millisecond = some.received_at, timedelta(milliseconds=1)
    assert at is not None
    exact = await store.facts_received_between(at, at + millisecond)
    assert [f.report_id for f in exact] == [some.report_id]
    assert await store.facts_received_between(at - millisecond, at) == []
    by_agency = await store.facts_received_between(*MARCH, lead_agency_id="ubnd-03679")
    assert {f.report_id for f in by_agency} == {
        k for k, f in expected.items() if f.lead_agency_id == "ubnd-03679"
    }
    by_ward = await store.facts_received_between(*MARCH, ward_code="03679")
    assert {f.report_id for f in by_ward} == {
        k for k, f in expected.items() if f.ward_code == "03679"
    }


async def test_rebuild_from_the_trail_gives_the_same_facts(store: FactsStore) -> None:
    records = month_of_records()
    await apply_all(store, records)
    live = await store.facts_received_between(*MARCH)
    await store.collection.update_many({"report_id": "rpt-0002"}, {"$set": {"ward_code": "03646"}})

    async def trail() -> AsyncIterator[Record]:
        for item in random.Random(5).sample(records, len(records)):  # chains interleave
            yield item
        yield {"event_type": "invalid", "payload": {}, "occurred_at": MARCH[0], "valid": False}

    assert await store.rebuild(trail()) == len(fold(records))
    assert await store.facts_received_between(*MARCH) == live


async def test_concurrent_writers_lose_no_update(store: FactsStore) -> None:
    """Audit instances fold one report's events from different topics at the same time."""
    received_at = datetime(2023, 3, 20, 2, 0, 0, 654321, tzinfo=UTC)
    report = ReportReceived(
        report_id="rpt-busy",
        tracking_code=tracking_code(999),
        channel=Channel.HOTLINE,
        channel_message_id="call-1",
        received_at=received_at,
        text="Cháy rừng phía sau bản Hụm.",
        category="natural_resources_environment",
        place=Place(ward_code="03664", ward_name="Chiềng An"),
        priority=Priority.URGENT,
        reporter=Reporter(anonymous=True),
    )
    records = [record(ReportReceivedEvent, report, received_at)]
    for step in range(1, 16):
        at = received_at + timedelta(minutes=step)
        update = AgencyUpdate(
            report_id="rpt-busy",
            agency_id=f"agency-{step % 3}",
            kind=AgencyUpdateKind.IN_PROGRESS,
            note=f"Bước {step}",
            updated_at=at,
        )
        records.append(record(AgencyUpdateEvent, update, at))
    await asyncio.gather(
        *(store.apply_event(r["event_type"], r["payload"], r["occurred_at"]) for r in records)
    )
    busy = await store.get("rpt-busy")
    assert busy == fold(records)["rpt-busy"]
    assert busy is not None and len(busy.agency_steps) == 15
    assert [f.report_id for f in await store.facts_received_between(*MARCH)] == ["rpt-busy"]


async def test_instances_that_remember_stale_versions_lose_no_update(
    store: FactsStore, mongo_settings: MongoSettings, mongo_client: AsyncMongoClient[Any]
) -> None:
    """Each instance remembers the versions it wrote; another instance's newer ones, and a
    restart (nothing remembered, a pointer that lags), still lose nothing."""
    records = month_of_records()[:120]
    other = FactsStore(mongo_client[mongo_settings.database])
    for number, item in enumerate(records[:-3]):
        writer = store if number % 2 == 0 else other
        await writer.apply_event(item["event_type"], item["payload"], item["occurred_at"])
    restarted = FactsStore(mongo_client[mongo_settings.database])
    await apply_all(restarted, records[-3:])
    await apply_all(store, records)  # a redelivery of everything writes nothing new

    for key, facts in fold(records).items():
        assert await restarted.get(key) == facts
        assert await store.get(key) == facts


def batches(records: list[Record], size: int) -> list[list[FoldedEvent]]:
    events = [(r["event_type"], r["payload"], r["occurred_at"]) for r in records]
    return [events[start : start + size] for start in range(0, len(events), size)]


async def versions_stored(store: FactsStore) -> int:
    return await store.collection.count_documents({})


async def test_a_batch_folds_each_report_into_one_new_version_and_a_redelivery_into_none(
    store: FactsStore, mongo_settings: MongoSettings, mongo_client: AsyncMongoClient[Any]
) -> None:
    records = month_of_records()
    for batch in batches(records, 50):
        await store.apply_events(batch)
    expected = fold(records)
    for key, facts in expected.items():
        assert await store.get(key) == facts
    stored = await versions_stored(store)
    assert stored < len(records)  # a report's events of one batch make one version

    for batch in batches(records, 50):  # redelivered, to this instance and to a restarted one
        await store.apply_events(batch)
    restarted = FactsStore(mongo_client[mongo_settings.database])
    await restarted.apply_events(batches(records, len(records))[0])
    assert await versions_stored(store) == stored
    for key, facts in expected.items():
        assert await restarted.get(key) == facts


async def test_two_instances_folding_batches_of_the_same_reports_lose_no_event(
    store: FactsStore, mongo_settings: MongoSettings, mongo_client: AsyncMongoClient[Any]
) -> None:
    """A report's events come from several topics, so two instances fold batches of the
    same reports at once: a version the other made first is read and folded on."""
    records = month_of_records()
    other = FactsStore(mongo_client[mongo_settings.database])
    mine, theirs = records[0::2], records[1::2]
    for first, second in itertools.zip_longest(
        batches(mine, 20), batches(theirs, 20), fillvalue=[]
    ):
        await asyncio.gather(store.apply_events(first), other.apply_events(second))
    for key, facts in fold(records).items():
        assert await store.get(key) == facts


async def test_reports_another_instance_folded_are_read_back_in_batches(
    store: FactsStore,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An instance that never saw a report (restarted, or it left its memory: a backlog of
    many reports) folds the report's next events on the stored version, read together with
    the batch's others, not one event at a time with a read each."""
    records = month_of_records()
    first, rest = records[: len(records) // 2], records[len(records) // 2 :]
    for batch in batches(first, 50):
        await store.apply_events(batch)
    restarted = FactsStore(mongo_client[mongo_settings.database])

    async def one_by_one(*_: Any) -> None:
        raise AssertionError("a report went through apply_event, event by event")

    monkeypatch.setattr(restarted, "apply_event", one_by_one)
    for batch in batches(rest, 100):
        await restarted.apply_events(batch)
    for key, facts in fold(records).items():
        assert await restarted.get(key) == facts
