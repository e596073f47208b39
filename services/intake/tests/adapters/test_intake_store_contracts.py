"""Intake's store contract, asked of its in-memory twin and of the real store.

The normalizer's handler tests run over ``tests.support.intake.MemoryIntakeStore``; here
the same batches are written to the twin and to ``IntakeStore`` on the real MongoDB-wire
database, and both must answer what the normalizer and the read model rely on: a tracking
code stays with its first report, handled messages and code holders are known, a bucket
keeps its first entries, an older status does not win, a redelivered batch changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from intake.adapters.store import IntakeStore
from intake.domain.batch import Bucket, CodeHolder, Handled
from intake.domain.dedupe import EarlierReport, bucket_of
from intake.domain.readmodel import assigned, status_changed
from intake.domain.tracking import report_id as report_id_of
from phananh_contracts import ReportAssigned, ReportRejected, ReportStatusChanged
from phananh_contracts.examples import REPORT_ASSIGNED, REPORT_REJECTED
from phananh_contracts.values import ReportStatus
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.intake import MemoryIntakeStore
from tests.support.reports import sample_report

pytestmark = pytest.mark.integration

LIMIT = 3
"""A small bucket limit, so that filling a bucket takes a few reports."""
FIRST, SECOND, THIRD, FOURTH = (sample_report(n) for n in range(1, 5))
"""Four reports from Chiềng Sinh ward a minute apart, all in one hour's bucket."""
BUCKET = bucket_of("03679", FIRST.received_at)
REFUSED: ReportRejected = REPORT_REJECTED.data.model_copy(
    update={"tracking_code": "SL-2303-REJ000", "citizen_notice": "Nội dung quá ngắn."}
)
"""A refused message given a code the citizen can look up."""


def earlier(number: int) -> EarlierReport:
    report = sample_report(number)
    return EarlierReport(
        report_id=report.report_id,
        ward_code="03679",
        category=report.category,
        fingerprint=frozenset({number, 1000 + number, 2000 + number}),
        received_at=report.received_at,
    )


def handled(number: int) -> Handled:
    report = sample_report(number)
    return Handled("report", report.report_id, report.received_at, report.tracking_code)


def key(number: int) -> str:
    return f"app:{sample_report(number).channel_message_id}"


def change(status: ReportStatus, days: int, note: str) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=FIRST.report_id,
        tracking_code=FIRST.tracking_code,
        status=status,
        previous_status=ReportStatus.ASSIGNED,
        agency_id="ubnd-chieng-sinh",
        note=note,
        changed_at=FIRST.received_at + timedelta(days=days),
    )


ASSIGNED: ReportAssigned = REPORT_ASSIGNED.data.model_copy(
    update={"report_id": FIRST.report_id, "assigned_at": FIRST.received_at + timedelta(minutes=1)}
)


@pytest.fixture(params=["twin", "database"])
async def store(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    if request.param == "twin":
        return MemoryIntakeStore(bucket_limit=LIMIT)
    real = IntakeStore(database, bucket_limit=LIMIT)
    await real.ensure_indexes()
    return real


async def status_of(store: Any, report_id: str) -> dict[str, Any]:
    """The report's view as the Open311 front lays its latest status over it."""
    (view,) = await store.with_status([{"_id": report_id}])
    return {k: v for k, v in view.items() if k != "_id"}


async def test_a_claimed_tracking_code_stays_with_its_first_report(store: Any) -> None:
    await store.save(reports=[FIRST], rejections=[REFUSED], appends={})
    # Two later reports given the same codes (30 random bits a month: it happens).
    same_code = SECOND.model_copy(update={"tracking_code": FIRST.tracking_code})
    refused_code = THIRD.model_copy(update={"tracking_code": REFUSED.tracking_code})
    await store.save(reports=[same_code, refused_code], rejections=[], appends={})

    known = await store.known([], [FIRST.tracking_code, REFUSED.tracking_code])
    refused_id = report_id_of(REFUSED.channel.value, REFUSED.channel_message_id)
    assert known.codes == {
        FIRST.tracking_code: CodeHolder(FIRST.report_id, rejected=False),
        REFUSED.tracking_code: CodeHolder(refused_id, rejected=True),
    }
    # Within one batch, too, the first of two claims keeps the code.
    twins = [FOURTH, SECOND.model_copy(update={"tracking_code": FOURTH.tracking_code})]
    await store.save(reports=twins, rejections=[], appends={})
    holders = (await store.known([], [FOURTH.tracking_code])).codes
    assert holders == {FOURTH.tracking_code: CodeHolder(FOURTH.report_id, rejected=False)}


async def test_known_returns_the_handled_messages_and_the_holders_asked_for(
    store: Any,
) -> None:
    assert await store.known([key(1)], [FIRST.tracking_code]) == await store.known([], [])
    await store.save(reports=[FIRST, SECOND], rejections=[], appends={})
    await store.remember({key(1): handled(1), key(2): handled(2)})
    # Remembered again (another instance, a redelivery): the first record stays.
    await store.remember({key(1): Handled("reply", "rpt-other", THIRD.received_at)})

    known = await store.known([key(1), key(3)], [FIRST.tracking_code, THIRD.tracking_code])
    assert known.handled == {key(1): handled(1)}
    assert known.codes == {FIRST.tracking_code: CodeHolder(FIRST.report_id, False)}

    # A report remembered before its code was kept with it: the code is its report's.
    await store.save(reports=[THIRD], rejections=[], appends={})
    await store.remember({key(3): Handled("report", THIRD.report_id, THIRD.received_at)})
    (told,) = (await store.known([key(3)], [])).handled.values()
    assert told.tracking_code == THIRD.tracking_code, "a reply threaded on it finds the report"


async def test_a_bucket_keeps_its_first_entries_up_to_the_limit(store: Any) -> None:
    assert await store.buckets([BUCKET]) == {}
    assert store.bucket_limit == LIMIT
    await store.save(reports=[], rejections=[], appends={BUCKET: [earlier(1), earlier(2)]})
    assert await store.buckets([BUCKET, "03679#2023031402"]) == {
        BUCKET: Bucket(2, (earlier(1), earlier(2)))
    }
    third, fourth = {BUCKET: [earlier(3)]}, {BUCKET: [earlier(4)]}
    await store.save(reports=[], rejections=[], appends=third, stored_buckets={BUCKET})
    # Full: a writer that raced (it read the bucket before it filled) adds nothing.
    await store.save(reports=[], rejections=[], appends=fourth, stored_buckets={BUCKET})
    assert await store.buckets([BUCKET]) == {
        BUCKET: Bucket(3, (earlier(1), earlier(2), earlier(3)))
    }


async def test_an_older_status_after_a_newer_one_does_not_win(store: Any) -> None:
    in_progress = change(ReportStatus.IN_PROGRESS, 1, "Đang xử lý.")
    resolved = change(ReportStatus.RESOLVED, 2, "Đã xử lý xong.")
    await store.keep_current([assigned(ASSIGNED), status_changed(in_progress)])
    await store.keep_current([status_changed(resolved)])
    before = await status_of(store, FIRST.report_id)
    assert (before["status"], before["status_notes"]) == ("closed", "Đã xử lý xong.")
    assert before["expected_at"] == ASSIGNED.deadline, "the assignment's date stays"

    # The older change redelivered, alone or after the newer one in a batch.
    await store.keep_current([status_changed(in_progress)])
    await store.keep_current([status_changed(resolved), status_changed(in_progress)])
    assert await status_of(store, FIRST.report_id) == before
    # An assignment always applies (a reassignment names the new agency).
    moved = ASSIGNED.model_copy(
        update={"lead_agency_id": "ubnd-to-hieu", "assigned_at": resolved.changed_at}
    )
    await store.keep_current([assigned(moved)])
    after = await status_of(store, FIRST.report_id)
    assert (after["agency_responsible"], after["status"]) == ("ubnd-to-hieu", "closed")
    assert await status_of(store, "rpt-never-decided") == {}


async def test_a_redelivered_batch_changes_nothing(store: Any) -> None:
    async def batch() -> None:
        await store.save(
            reports=[FIRST, SECOND],
            rejections=[REFUSED],
            appends={BUCKET: [earlier(1), earlier(2)]},
            stored_buckets=(await store.buckets([BUCKET])).keys(),
        )
        await store.remember({key(1): handled(1), key(2): handled(2)})
        await store.keep_current([assigned(ASSIGNED)])

    async def state() -> tuple[Any, ...]:
        known = await store.known(
            [key(1), key(2)], [FIRST.tracking_code, SECOND.tracking_code, REFUSED.tracking_code]
        )
        (bucket,) = (await store.buckets([BUCKET])).values()
        return known, bucket.size, bucket.entries, await status_of(store, FIRST.report_id)

    await batch()
    once = await state()
    await batch()
    assert await state() == once
