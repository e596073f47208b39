"""Intake's MongoDB store on the real database: orders of arrival a city will see."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from intake.adapters.store import IntakeStore, OpenRequests, _entry
from intake.config import load_city_config
from intake.domain.batch import Accepted, CodeHolder, Handled, link_duplicates
from intake.domain.dedupe import bucket_of, fingerprint
from intake.domain.normalize import NewReport
from intake.domain.readmodel import status_changed
from phananh_contracts import ReportStatusChanged
from phananh_contracts.values import ReportStatus
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.mongo_commands import FindsOn
from tests.support.reports import sample_report

pytestmark = pytest.mark.integration
CITY = load_city_config(Path(__file__).resolve().parents[4] / "config/son-la/city.yaml")


@pytest.fixture
async def store(mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings) -> IntakeStore:
    store = IntakeStore(mongo_client[mongo_settings.database], bucket_limit=3)
    await store.ensure_indexes()
    return store


def status(report_id: str, to: ReportStatus, at: Any, note: str) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report_id,
        tracking_code=sample_report(1).tracking_code,
        status=to,
        previous_status=ReportStatus.ASSIGNED,
        agency_id="ubnd-chieng-sinh",
        note=note,
        changed_at=at,
    )


async def test_a_status_that_arrives_before_the_report_is_kept(store: IntakeStore) -> None:
    report = sample_report(1)
    later = report.received_at + timedelta(days=2)
    await store.keep_current(
        [status_changed(status(report.report_id, ReportStatus.RESOLVED, later, "Đã xử lý"))]
    )
    await store.save(reports=[report], rejections=[], appends={})

    view = await OpenRequests(store, {}).by_id(report.tracking_code)
    assert view is not None
    assert (view.status, view.status_notes) == ("closed", "Đã xử lý")
    assert view.description == report.text
    assert view.agency_responsible == "ubnd-chieng-sinh"


async def test_an_older_status_redelivered_after_a_newer_one_does_not_win(
    store: IntakeStore,
) -> None:
    report, other = sample_report(2), sample_report(3)
    await store.save(reports=[report, other], rejections=[], appends={})
    newer = report.received_at + timedelta(days=3)
    older = report.received_at + timedelta(days=1)
    await store.keep_current(
        [status_changed(status(report.report_id, ReportStatus.RESOLVED, newer, "Xong"))]
    )
    # In one batch: the older change is refused, the changes after it still apply.
    await store.keep_current(
        [
            status_changed(status(report.report_id, ReportStatus.IN_PROGRESS, older, "Đang")),
            status_changed(status(other.report_id, ReportStatus.IN_PROGRESS, older, "Đang")),
        ]
    )

    view = await OpenRequests(store, {}).by_id(report.tracking_code)
    assert view is not None and (view.status, view.status_notes) == ("closed", "Xong")
    view = await OpenRequests(store, {}).by_id(other.tracking_code)
    assert view is not None and (view.status, view.status_notes) == ("open", "Đang")

    # The report itself is never rewritten: each change is a status version, and a
    # redelivered change adds none.
    await store.keep_current(
        [status_changed(status(report.report_id, ReportStatus.RESOLVED, newer, "Xong"))]
    )
    statuses = store.statuses.collection
    assert await statuses.count_documents({"report_id": report.report_id}) == 1
    stored = await store.reports.find_one({"_id": report.report_id})
    assert stored is not None and stored["status"] == "open"


def accepted(number: int) -> Accepted:
    report = sample_report(number)
    folded = f"ban hang lan chiem via he cho noong duc so {number}"
    return Accepted(NewReport(report, folded), fingerprint(folded))


async def test_a_full_bucket_keeps_its_first_reports(store: IntakeStore) -> None:
    first_batch = [accepted(10 + n) for n in range(2)]
    second_batch = [accepted(10 + n) for n in range(2, 5)]
    ward = "03679"
    hour = bucket_of(ward, first_batch[0].new.report.received_at)
    for batch in (first_batch, second_batch, second_batch):  # the last one redelivered
        buckets = await store.buckets({hour})
        linked = link_duplicates(batch, buckets, CITY, bucket_limit=store.bucket_limit)
        await store.save(
            reports=[a.new.report for a in batch], rejections=[], appends=linked.appends
        )

    stored = (await store.buckets({hour}))[hour]
    kept = [entry.report_id for entry in stored.entries]
    assert kept == [a.new.report.report_id for a in first_batch + second_batch[:1]]
    assert stored.entries[0].fingerprint == first_batch[0].fingerprint
    assert all(e.duplicate_of == kept[0] for e in stored.entries[1:]), "similar: linked"


async def test_buckets_read_by_one_instance_show_what_another_added(
    store: IntakeStore, mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> None:
    # Each instance keeps the chunks it decoded; a chunk another instance adds later,
    # and chunks dropped from a full memory, must still be read.
    other = IntakeStore(mongo_client[mongo_settings.database], bucket_limit=10)
    forgetful = IntakeStore(mongo_client[mongo_settings.database], bucket_limit=10, decoded_limit=1)
    batches = [[accepted(40 + n)] for n in range(3)]
    hour = bucket_of("03679", batches[0][0].new.report.received_at)
    seen: list[list[str]] = []
    for number, batch in enumerate(batches):
        writer = other if number % 2 else store
        buckets = await writer.buckets({hour})
        linked = link_duplicates(batch, buckets, CITY, bucket_limit=10)
        await writer.save(
            reports=[a.new.report for a in batch], rejections=[], appends=linked.appends
        )
        for reader in (store, forgetful):
            seen.append([e.report_id for e in (await reader.buckets({hour}))[hour].entries])

    ids = [batch[0].new.report.report_id for batch in batches]
    assert seen == [ids[:1], ids[:1], ids[:2], ids[:2], ids, ids]


async def test_a_process_reads_back_only_the_chunks_other_processes_wrote(
    mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> None:
    # At a few reports per batch, reading back the chunk the previous batch wrote was one
    # more round trip per batch; another instance's chunk must still be read.
    reads = FindsOn("intake_recent_chunks")
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_settings.url.get_secret_value(), event_listeners=[reads], tz_aware=True
    )
    try:
        mine = IntakeStore(client[mongo_settings.database], bucket_limit=10)
        other = IntakeStore(mongo_client[mongo_settings.database], bucket_limit=10)
        first, second = accepted(60), accepted(61)
        hour = bucket_of("03679", first.new.report.received_at)
        for writer, batch in ((mine, [first]), (other, [second])):
            buckets = await writer.buckets({hour})
            linked = link_duplicates(batch, buckets, CITY, bucket_limit=10)
            await writer.save(
                reports=[a.new.report for a in batch], rejections=[], appends=linked.appends
            )
            reads.filters.clear()
            entries = (await mine.buckets({hour}))[hour].entries

            assert [e.report_id for e in entries][-1] == batch[0].new.report.report_id
            assert len(reads.filters) == (0 if writer is mine else 1)
    finally:
        await client.close()


async def test_a_bucket_written_before_chunks_had_documents_is_still_read(
    store: IntakeStore,
) -> None:
    # Buckets of an earlier version hold their chunks' JSON inline; a report arriving
    # after the upgrade must still link to the reports they hold.
    earlier = accepted(50)
    hour = bucket_of("03679", earlier.new.report.received_at)
    inline = json.dumps([_entry(earlier.as_earlier())], separators=(",", ":"))
    await store.recent.insert_one({"_id": hour, "chunks": [inline], "size": 1})

    later = accepted(51)
    buckets = await store.buckets({hour})
    linked = link_duplicates([later], buckets, CITY, bucket_limit=store.bucket_limit)

    assert [e.report_id for e in buckets[hour].entries] == [earlier.new.report.report_id]
    report = linked.outcomes[0]
    assert isinstance(report, Accepted)
    assert report.new.report.duplicate_of == earlier.new.report.report_id


async def test_known_messages_and_codes_are_read_together(store: IntakeStore) -> None:
    report = sample_report(20)
    old = sample_report(21)
    key, old_key = "app:app-msg-000020", "app:app-msg-000021"
    await store.save(reports=[report, old], rejections=[], appends={})
    await store.remember(
        {key: Handled("report", report.report_id, report.received_at, report.tracking_code)}
    )
    # Remembered before codes were kept with the message: the code comes from the report.
    await store.messages.insert_one(
        {"_id": old_key, "outcome": "report", "report_id": old.report_id, "at": old.received_at}
    )
    await store.remember({key: Handled("report", report.report_id, report.received_at)})  # again

    codes = {report.tracking_code, "SL-2303-ZZZZZZ"}
    known = await store.known({key, old_key, "app:never"}, codes)
    assert set(known.handled) == {key, old_key}
    assert known.handled[key].tracking_code == report.tracking_code
    assert known.handled[old_key].tracking_code == old.tracking_code
    assert known.codes == {report.tracking_code: CodeHolder(report.report_id, rejected=False)}


async def test_a_code_already_held_by_another_report_stays_with_the_first(
    store: IntakeStore,
) -> None:
    first = sample_report(30)
    second = sample_report(31).model_copy(update={"tracking_code": first.tracking_code})
    await store.save(reports=[first], rejections=[], appends={})
    await store.save(reports=[first, second], rejections=[], appends={})

    known = await store.known(set(), {first.tracking_code})
    assert known.codes[first.tracking_code].report_id == first.report_id


async def test_the_indexes_that_only_serve_queries_are_left_out_where_asked(
    database: AsyncDatabase[Any],
) -> None:
    """On FerretDB's SQLite backend (the local stack) such indexes would only slow inserts."""
    lean = IntakeStore(database, query_indexes=False)
    await lean.ensure_indexes()
    assert set(await database["intake_reports"].index_information()) <= {"_id_"}
    await IntakeStore(database).ensure_indexes()
    named = set(await database["intake_reports"].index_information())
    assert {"tracking_code", "channel_message", "received_at"} <= named
