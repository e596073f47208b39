"""Notify's store on the real MongoDB-wire database: claims, report files, opt-outs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify.adapters.store import ClaimHeld, NotificationLog, OptOuts, ReportBook
from notify.domain.recipients import Recipient
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
async def database(
    mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> AsyncIterator[AsyncDatabase[Any]]:
    yield mongo_client[mongo_settings.database]
    await mongo_client.drop_database(mongo_settings.database)


async def test_a_notification_is_claimed_once_and_an_interrupted_one_is_taken_over_later(
    database: AsyncDatabase[Any],
) -> None:
    log = NotificationLog(database)
    facts = {"report_id": "r-1", "template_id": "report-received"}
    fresh = await log.claim("n-1", facts, now=NOW, lease_s=60)
    assert fresh.done is None and not fresh.resumed
    await log.attempt("n-1", "zalo-oa", now=NOW)

    # The process died mid-send: while the lease runs, nobody else sends.
    with pytest.raises(ClaimHeld):
        await log.claim("n-1", facts, now=NOW + timedelta(seconds=30), lease_s=60)
    resumed = await log.claim("n-1", facts, now=NOW + timedelta(seconds=61), lease_s=60)
    assert resumed.resumed and resumed.attempts_before == 1

    outcome = {"topic": "pakn.notifications.v1", "key": "r-1", "value": "{}"}
    await log.decide("n-1", "sent", outcome=outcome, details={"provider": "sms"}, now=NOW)
    done = await log.claim("n-1", facts, now=NOW + timedelta(hours=1), lease_s=60)
    assert done.done is not None and done.done["state"] == "sent"
    assert done.done["published"] is False  # the outcome event still has to go out
    await log.published("n-1")
    again = await log.claim("n-1", facts, now=NOW + timedelta(hours=2), lease_s=60)
    assert again.done is not None and again.done["published"] is True


def recipient(pseudonym: str, report_id: str) -> Recipient:
    return Recipient(pseudonym, f"sealed-{pseudonym}", "SL-2611-V3G7M8", report_id)


async def test_a_report_file_keeps_early_events_and_links_each_citizen_once(
    database: AsyncDatabase[Any],
) -> None:
    book = ReportBook(database)
    trigger = {"event_id": "e-1", "topic": "pakn.assignments.v1", "time": "t", "value": "{}"}
    early = await book.record_trigger("r-1", trigger, {"ubnd-chieng-sinh": "UBND Chiềng Sinh"})
    assert not early.received and early.triggers == (trigger,)

    for _ in range(2):  # redelivered: nothing doubles
        file = await book.register_receipt("r-1", "SL-2611-V3G7M8", recipient("ctz-a", "r-1"))
        await book.link("r-1", recipient("ctz-b", "r-2"))
        await book.record_trigger("r-1", trigger, {"ubnd-chieng-sinh": "UBND Chiềng Sinh"})
    file = await book.file("r-1")
    assert file.received and file.tracking_code == "SL-2611-V3G7M8"
    assert [r.pseudonym for r in file.recipients] == ["ctz-a", "ctz-b"]
    assert file.triggers == (trigger,)
    assert file.agencies == {"ubnd-chieng-sinh": "UBND Chiềng Sinh"}


async def test_the_latest_opt_out_or_opt_in_wins_whatever_the_order(
    database: AsyncDatabase[Any],
) -> None:
    opt_outs = OptOuts(database)
    assert not await opt_outs.opted_out("ctz-a")
    await opt_outs.record("ctz-a", stop=False, at=NOW + timedelta(minutes=5))  # arrives first
    await opt_outs.record("ctz-a", stop=True, at=NOW)
    assert not await opt_outs.opted_out("ctz-a")
    await opt_outs.record("ctz-a", stop=True, at=NOW + timedelta(minutes=9))
    assert await opt_outs.opted_out("ctz-a")
