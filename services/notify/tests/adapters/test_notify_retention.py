"""Notify's retention on the real database: what is older than the retention goes, the
rest (and anything touched since) stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify.adapters.retention import MIN_DAYS, Retention
from notify.adapters.store import Decision, NewClaim, NotificationLog, OptOuts, ReportBook
from notify.domain.recipients import Recipient
from notify.domain.telling import FileChange, OptOutChange
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

LONG_AGO = datetime.now(UTC) - timedelta(days=500)


def claim(nid: str) -> NewClaim:
    return NewClaim(nid, {"report_id": "r-1", "template_id": "report-received"}, "sms", "sending")


def file_of(report_id: str, pseudonym: str) -> FileChange:
    recipient = Recipient(pseudonym, f"sealed-{pseudonym}", "SL-2611-V3G7M8", report_id)
    return FileChange(report_id, receipt="SL-2611-V3G7M8", recipients=(recipient,))


async def test_what_is_older_than_the_retention_is_deleted_and_the_rest_kept(
    database: AsyncDatabase[Any],
) -> None:
    log, book = NotificationLog(database), ReportBook(database)
    for nid, at in (("old", LONG_AGO), ("new", datetime.now(UTC))):
        await log.claim_all([claim(nid)], now=at, lease_s=60)
        await log.decide_all([Decision(nid, "sent", {"topic": "t"}, {})], now=at)
        await log.published([nid])
    await book.apply([file_of("r-old", "ctz-old"), file_of("r-new", "ctz-new")])
    await book.apply([file_of("r-touched", "ctz-touched")])
    reports = database["notify_reports"]
    await reports.update_many(
        {"report_id": {"$in": ["r-old", "r-touched"]}}, {"$set": {"written_at": LONG_AGO}}
    )
    await ReportBook(database).apply([FileChange("r-touched", agencies={"a": "Agency A"})])
    await OptOuts(database).record_all([OptOutChange("ctz-old", "opt_out", LONG_AGO)])

    pruned = await Retention(database, days=400).prune()

    assert (pruned.notifications, pruned.reports) == (1, 1)
    assert await log.get("old") is None and await log.get("new") is not None
    assert await database["notify_outcomes"].count_documents({"_id": "old"}) == 0
    assert await database["notify_published"].count_documents({"_id": "old"}) == 0
    files = await ReportBook(database).files(["r-old", "r-new", "r-touched"])
    assert not files["r-old"].recipients, "the old report's citizens are forgotten"
    assert files["r-new"].recipients and files["r-touched"].recipients
    assert await database["notify_opt_outs"].count_documents({}) == 1, "opt-outs stay"
    assert await Retention(database, days=400).prune() == pruned.__class__(0, 0)


def test_a_retention_shorter_than_a_report_can_live_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_DAYS} days"):
        Retention(database=None, days=MIN_DAYS - 1)  # type: ignore[arg-type]
