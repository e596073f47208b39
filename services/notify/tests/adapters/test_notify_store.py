"""Notify's store on the real MongoDB-wire database: claims, report files, opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify.adapters.store import Decision, NewClaim, NotificationLog, OptOuts, ReportBook
from notify.domain.recipients import Recipient
from notify.domain.telling import FileChange, KeptEvent, OptOutChange
from phananh_contracts.examples import REPORT_ASSIGNED
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def claim(nid: str, state: str = "sending") -> NewClaim:
    return NewClaim(nid, {"report_id": "r-1", "template_id": "report-received"}, "sms", state)


async def test_a_batch_is_claimed_once_and_an_interrupted_delivery_is_taken_over_later(
    database: AsyncDatabase[Any],
) -> None:
    log = NotificationLog(database)
    fresh = await log.claim_all([claim("n-1"), claim("n-2")], now=NOW, lease_s=60)
    assert all(c.done is None and not c.held and not c.resumed for c in fresh.values())
    assert (await log.get("n-1") or {})["attempts"] == 1, "the first attempt counted at claim"
    await log.attempt("n-1", "zalo-zns", now=NOW)  # a retry, counted before it is made
    await log.decide_all([Decision("n-2", "sent", None, {"provider": "sms"})], now=NOW)

    # The process died mid-send of n-1: while the lease runs, nobody else sends it.
    again = await log.claim_all(
        [claim("n-1"), claim("n-2"), claim("n-3")], now=NOW + timedelta(seconds=30), lease_s=60
    )
    assert again["n-1"].held
    assert again["n-2"].done is not None and again["n-2"].done["state"] == "sent"
    assert again["n-3"].done is None and not again["n-3"].held
    later = await log.claim_all([claim("n-1")], now=NOW + timedelta(seconds=61), lease_s=60)
    assert later["n-1"].resumed and later["n-1"].taken_over and later["n-1"].attempts_before == 2
    assert (await log.get("n-1") or {})["attempts"] == 3, "the resumed attempt counted too"

    outcome = {"topic": "pakn.notifications.v1", "key": "r-1", "value": "{}"}
    await log.decide_all([Decision("n-1", "sent", outcome, {"provider": "sms"})], now=NOW)
    # Decided but not yet marked published while its lease runs: its delivery is
    # publishing it now, so a redelivered batch waits rather than publish it a second time.
    meanwhile = await log.claim_all([claim("n-1")], now=NOW + timedelta(seconds=90), lease_s=60)
    assert meanwhile["n-1"].held
    done = await log.claim_all([claim("n-1")], now=NOW + timedelta(hours=1), lease_s=60)
    assert done["n-1"].done is not None and done["n-1"].done["state"] == "sent"
    assert done["n-1"].done["outcome"] == outcome, "the stored event, to publish"
    assert done["n-1"].done["published"] is False  # crashed before it went out: publish it
    await log.published(["n-1"])
    await log.published(["n-1"])  # a redelivered batch marks it again: no error
    last = await log.claim_all([claim("n-1")], now=NOW + timedelta(hours=2), lease_s=60)
    assert last["n-1"].done is not None and last["n-1"].done["published"] is True
    assert (await log.get("n-1") or {})["provider"] == "sms"


async def test_a_notification_decided_twice_keeps_its_first_outcome(
    database: AsyncDatabase[Any],
) -> None:
    log = NotificationLog(database)
    await log.claim_all([claim("n-1"), claim("n-2")], now=NOW, lease_s=60)
    first = {"topic": "pakn.notifications.v1", "key": "r-1", "value": '{"first": true}'}
    await log.decide_all([Decision("n-1", "sent", first, {"provider": "sms"})], now=NOW)

    # A delivery that outlived its lease decides n-1 again, along with a fresh n-2.
    second = {"topic": "pakn.notifications.v1", "key": "r-1", "value": '{"second": true}'}
    recorded = await log.decide_all(
        [
            Decision("n-1", "failed", second, {"provider": "zalo-zns"}),
            Decision("n-2", "sent", None, {"provider": "email"}),
        ],
        now=NOW + timedelta(minutes=10),
    )
    assert recorded == [
        Decision("n-1", "sent", first, {"provider": "sms"}),
        Decision("n-2", "sent", None, {"provider": "email"}),
    ], "the first outcome is the one recorded and published"
    assert (await log.get("n-1") or {})["state"] == "sent"


async def test_a_long_batch_renews_the_leases_of_deliveries_still_in_progress(
    database: AsyncDatabase[Any],
) -> None:
    log = NotificationLog(database)
    await log.claim_all([claim("n-1"), claim("n-2")], now=NOW, lease_s=60)
    await log.decide_all([Decision("n-2", "sent", None, {})], now=NOW)
    await log.renew(["n-1", "n-2"], until=NOW + timedelta(seconds=600))
    later = await log.claim_all([claim("n-1")], now=NOW + timedelta(seconds=300), lease_s=60)
    assert later["n-1"].held, "a renewed lease still holds the notification"


def recipient(pseudonym: str, report_id: str) -> Recipient:
    return Recipient(pseudonym, f"sealed-{pseudonym}", "SL-2611-V3G7M8", report_id)


async def test_a_report_file_keeps_early_events_and_links_each_citizen_once(
    database: AsyncDatabase[Any],
) -> None:
    book = ReportBook(database)
    value = REPORT_ASSIGNED.to_kafka().value.decode("utf-8")
    kept = KeptEvent(REPORT_ASSIGNED.id, "pakn.assignments.v1", "2026-11-03T02:00:00", value)
    early = FileChange("r-1", kept=kept, agencies={"ubnd-chieng-sinh": "UBND Chiềng Sinh"})
    written = await book.apply([early])
    assert not written["r-1"].received and written["r-1"].kept == (REPORT_ASSIGNED,)

    for _ in range(2):  # redelivered: nothing doubles
        written = await book.apply(
            [
                FileChange(
                    "r-1", receipt="SL-2611-V3G7M8", recipients=(recipient("ctz-a", "r-1"),)
                ),
                FileChange("r-1", recipients=(recipient("ctz-b", "r-2"),)),
                early,
            ]
        )
        assert [r.pseudonym for r in written["r-1"].recipients] == ["ctz-a", "ctz-b"]
    # Another process reads what was stored, not this book's memory.
    files = await ReportBook(database).files(["r-1", "r-never-seen"])
    file = files["r-1"]
    assert file.received and file.tracking_code == "SL-2611-V3G7M8"
    assert [r.pseudonym for r in file.recipients] == ["ctz-a", "ctz-b"]
    assert file.kept == (REPORT_ASSIGNED,)
    assert file.agencies == {"ubnd-chieng-sinh": "UBND Chiềng Sinh"}
    assert not files["r-never-seen"].received and files["r-never-seen"].recipients == ()
    versions = await database["notify_reports"].count_documents({"report_id": "r-1"})
    assert versions == 2, "the redelivered changes wrote no third version"


async def test_two_writers_changing_one_file_both_keep_their_changes(
    database: AsyncDatabase[Any],
) -> None:
    first, second = ReportBook(database), ReportBook(database)
    await first.apply([FileChange("r-1", receipt="SL-2611-V3G7M8")])
    await second.apply([FileChange("r-1", recipients=(recipient("ctz-b", "r-2"),))])
    # first still remembers version 1: its next version is refused, read again and merged
    written = await first.apply([FileChange("r-1", recipients=(recipient("ctz-c", "r-3"),))])
    assert [r.pseudonym for r in written["r-1"].recipients] == ["ctz-b", "ctz-c"]
    assert written["r-1"].received

    # Many versions (more than one read asks for) and a file from before versions.
    for number in range(12):
        await second.apply([FileChange("r-1", agencies={f"agency-{number}": "Sở"})])
    await database["notify_reports"].insert_one(
        {"_id": "r-old", "received": True, "tracking_code": "SL-2610-OLD", "recipients": []}
    )
    files = await ReportBook(database).files(["r-1", "r-old"])
    assert len(files["r-1"].agencies) == 12 and len(files["r-1"].recipients) == 2
    assert files["r-old"].received and files["r-old"].tracking_code == "SL-2610-OLD"
    again = await ReportBook(database).apply(
        [FileChange("r-old", recipients=(recipient("ctz-d", "r-4"),))]
    )
    assert again["r-old"].tracking_code == "SL-2610-OLD", "the old file is version 0"


async def test_the_latest_opt_out_or_opt_in_wins_whatever_the_order(
    database: AsyncDatabase[Any],
) -> None:
    opt_outs = OptOuts(database)
    assert await opt_outs.states(["ctz-a"]) == {}
    await opt_outs.record_all([OptOutChange("ctz-a", "opt_in", NOW + timedelta(minutes=5))])
    await opt_outs.record_all([OptOutChange("ctz-a", "opt_out", NOW)])  # arrives late
    assert not (await opt_outs.states(["ctz-a"]))["ctz-a"].opted_out
    await opt_outs.record_all(
        [
            OptOutChange("ctz-a", "opt_out", NOW + timedelta(minutes=9)),
            OptOutChange("ctz-a", "opt_out", NOW + timedelta(minutes=7)),
            OptOutChange("ctz-b", "opt_out", NOW),
        ]
    )
    states = await opt_outs.states(["ctz-a", "ctz-b", "ctz-c"])
    assert states["ctz-a"].opted_out and states["ctz-a"].stop_at == NOW + timedelta(minutes=9)
    assert states["ctz-b"].opted_out and "ctz-c" not in states
