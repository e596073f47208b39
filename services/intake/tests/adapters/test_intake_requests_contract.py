"""The Open311 read model's contract, asked of its in-memory twin and of the real store.

The Open311 front is tested over ``tests.support.intake.ListedRequests``; here the same
reports are saved through ``IntakeStore`` on the real MongoDB-wire database and given to
the twin, and both must answer every lookup the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from intake.adapters.http.context import ServiceRequestLookup
from intake.adapters.store import IntakeStore, OpenRequests
from intake.domain.readmodel import status_changed
from phananh_contracts import Channel, ReportStatusChanged
from phananh_contracts.values import ReportStatus
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient

from tests.support.intake import ListedRequests
from tests.support.reports import sample_report

pytestmark = pytest.mark.integration

NAMES = {"urban_order": "Trật tự đô thị", "street_lighting": "Chiếu sáng công cộng"}
REPORTS = [
    sample_report(n).model_copy(
        update={
            "channel": Channel.OPEN311 if n % 3 else Channel.ZALO,
            "channel_message_id": f"token-{n:04d}",
            "category": "urban_order" if n % 2 else "street_lighting",
        }
    )
    for n in range(1, 13)
]
"""Twelve reports a minute apart: two in three through Open311, the others by Zalo."""
RESOLVED = [r for r in REPORTS if r.channel is Channel.OPEN311][:3]


def resolution(report: Any) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report.report_id,
        tracking_code=report.tracking_code,
        status=ReportStatus.RESOLVED,
        previous_status=ReportStatus.ASSIGNED,
        agency_id="ubnd-chieng-sinh",
        note="Đã xử lý xong.",
        changed_at=report.received_at + timedelta(days=1),
    )


@pytest.fixture(params=["twin", "database"])
async def requests(
    request: pytest.FixtureRequest,
    mongo_client: AsyncMongoClient[Any],
    mongo_settings: MongoSettings,
) -> Any:
    store = IntakeStore(mongo_client[mongo_settings.database])
    await store.ensure_indexes()
    await store.save(reports=REPORTS, rejections=[], appends={})
    await store.keep_current([status_changed(resolution(r)) for r in RESOLVED])
    real = OpenRequests(store, NAMES)
    lookup: ServiceRequestLookup = real
    if request.param == "twin":
        views = {r.report_id: await real.by_id(r.tracking_code) for r in REPORTS}
        lookup = ListedRequests(
            *(views[r.report_id] for r in REPORTS if r.channel is Channel.OPEN311),
            unlisted=[views[r.report_id] for r in REPORTS if r.channel is not Channel.OPEN311],
        )
    yield lookup
    await mongo_client.drop_database(mongo_settings.database)


def codes(views: Any) -> list[str]:
    return [view.service_request_id for view in views]


async def test_a_request_is_found_by_its_code_whatever_its_channel(requests: Any) -> None:
    for report in REPORTS:
        view = await requests.by_id(report.tracking_code)
        assert view is not None and view.description == report.text
    assert await requests.by_id("SL-0000-NOPE00") is None


async def test_a_token_finds_only_a_request_submitted_through_open311(requests: Any) -> None:
    submitted = next(r for r in REPORTS if r.channel is Channel.OPEN311)
    by_zalo = next(r for r in REPORTS if r.channel is not Channel.OPEN311)
    view = await requests.by_token(submitted.channel_message_id)
    assert view is not None and view.service_request_id == submitted.tracking_code
    assert await requests.by_token(by_zalo.channel_message_id) is None


async def test_the_listing_shows_open311_requests_newest_first_with_every_filter(
    requests: Any,
) -> None:
    submitted = sorted(
        (r for r in REPORTS if r.channel is Channel.OPEN311),
        key=lambda r: r.received_at,
        reverse=True,
    )
    assert codes(await requests.search()) == [r.tracking_code for r in submitted]
    assert codes(await requests.search(limit=2)) == [r.tracking_code for r in submitted[:2]]
    lighting = await requests.search(service_code="street_lighting")
    assert codes(lighting) == [
        r.tracking_code for r in submitted if r.category == "street_lighting"
    ]
    closed = await requests.search(status="closed")
    assert sorted(codes(closed)) == sorted(r.tracking_code for r in RESOLVED)
    both = await requests.search(status="open, closed")
    assert codes(both) == [r.tracking_code for r in submitted]
    start, end = submitted[-2].received_at, submitted[-3].received_at  # both ends included
    window = await requests.search(start=start, end=end)
    assert codes(window) == [submitted[-3].tracking_code, submitted[-2].tracking_code]


async def test_asking_by_codes_reaches_every_channel_but_nothing_else(requests: Any) -> None:
    wanted = [REPORTS[0].tracking_code, REPORTS[2].tracking_code, "SL-0000-NOPE00"]
    found = await requests.search(ids=wanted)
    assert sorted(codes(found)) == sorted(wanted[:2])
