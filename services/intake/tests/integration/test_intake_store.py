"""Intake's MongoDB store on the real database: orders of arrival a city will see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intake.adapters import store as store_module
from intake.adapters.store import IntakeStore, OpenRequests
from phananh_contracts import ReportStatusChanged
from phananh_contracts.values import ReportStatus
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient

from tests.support.reports import sample_report

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings) -> IntakeStore:
    store = IntakeStore(mongo_client[mongo_settings.database])
    await store.ensure_indexes()
    return store


def status(report_id: str, to: ReportStatus, at: datetime, note: str) -> ReportStatusChanged:
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
    await store.apply_status(status(report.report_id, ReportStatus.RESOLVED, later, "Đã xử lý"))
    await store.save_report(report, folded_text="cho noong duc")

    view = await OpenRequests(store, {}).by_id(report.tracking_code)
    assert view is not None
    assert (view.status, view.status_notes) == ("closed", "Đã xử lý")
    assert view.description == report.text
    assert view.agency_responsible == "ubnd-chieng-sinh"


async def test_an_older_status_redelivered_after_a_newer_one_does_not_win(
    store: IntakeStore,
) -> None:
    report = sample_report(2)
    await store.save_report(report, folded_text="x")
    newer = report.received_at + timedelta(days=3)
    await store.apply_status(status(report.report_id, ReportStatus.RESOLVED, newer, "Xong"))
    older = report.received_at + timedelta(days=1)
    await store.apply_status(status(report.report_id, ReportStatus.IN_PROGRESS, older, "Đang"))

    view = await OpenRequests(store, {}).by_id(report.tracking_code)
    assert view is not None and (view.status, view.status_notes) == ("closed", "Xong")


async def test_a_full_day_bucket_keeps_its_first_reports(
    store: IntakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUCKET_LIMIT", 3)
    reports = [sample_report(10 + n) for n in range(5)]
    for report in reports:
        await store.save_report(report, folded_text=f"ban hang {report.report_id}")
    first = reports[0]
    assert first.place is not None and first.place.ward_code is not None
    earlier = await store.earlier(
        first.place.ward_code,
        first.category,
        first.received_at - timedelta(hours=1),
        datetime.now(UTC),
    )
    assert {e.report_id for e in earlier} == {r.report_id for r in reports[:3]}
