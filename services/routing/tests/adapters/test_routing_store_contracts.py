"""Routing's store contracts, asked of the in-memory twins and of the real stores.

The handler tests run :class:`routing.handlers.CaseHandler` over
``tests.support.routing``'s ``MemoryCases`` and ``MemoryDeadlines``; here the same
writes go to a twin and to ``CaseStore`` / ``DeadlineStore`` on the real MongoDB-wire
database, and both must answer what the handler and the deadline watch rely on: a case
is opened once, a save decided on a stale version is refused, a published outbox is not
published again, a deadline is due at its warning time and its marks last for its term.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import pytest
from phananh_contracts import KafkaRecord
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import ReportStatus
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.settings import MongoSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from routing.adapters.rules_file import load_ruleset
from routing.adapters.store import (
    CaseStore,
    CaseWrite,
    DeadlineFollow,
    DeadlineMark,
    DeadlineStore,
)
from routing.domain.calendar import WorkingCalendar
from routing.domain.case import Case, open_case

from tests.support.mongo_commands import FindsOn
from tests.support.routing import MemoryCases, MemoryDeadlines

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
RULES = load_ruleset(ROOT / "config/son-la/routing.yaml")
RECEIVED = REPORT_RECEIVED.data.received_at


def opened(report_id: str) -> Case:
    """The seed's report (Noong Đúc market) under ``report_id``, its case just opened."""
    report = REPORT_RECEIVED.data.model_copy(update={"report_id": report_id})
    decision = open_case(RULES, WorkingCalendar(), report, now=RECEIVED)
    assert decision is not None and decision.case is not None
    return decision.case


def deadline_of(case: Case) -> datetime:
    assert case.deadline is not None, "an opened case's clock runs"
    return case.deadline


MARKET, OTHER = opened("rpt-market"), opened("rpt-other")
"""Two cases of the seed's report (the other one under another id), due together."""
DEADLINE = deadline_of(MARKET)
"""Tuesday 21 March 2023, 17:00 in Sơn La (five working days from receipt)."""
WARN_AT = DEADLINE - timedelta(hours=8)
"""A whole-second warning time (the database keeps milliseconds)."""


def record(report_id: str, what: str) -> KafkaRecord:
    return KafkaRecord(
        "pakn.report.status.v1",
        report_id.encode(),
        f'{{"what": "{what}"}}'.encode(),
        [("content-type", b"application/cloudevents+json")],
    )


def write(case: Case, expected: int | None, what: str) -> CaseWrite:
    return CaseWrite(case, [record(case.report_id, what)], expected_version=expected)


@pytest.fixture(params=["twin", "database"])
async def cases(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    return MemoryCases() if request.param == "twin" else CaseStore(database)


@pytest.fixture(params=["twin", "database"])
async def deadlines(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    if request.param == "twin":
        return MemoryDeadlines()
    # The clock of the processes that follow deadlines: before every time asked about.
    store = DeadlineStore(database, clock=lambda: WARN_AT - timedelta(days=1))
    await store.ensure_indexes()
    return store


async def test_a_new_case_is_opened_once_and_the_ones_there_already_are_named(
    cases: Any,
) -> None:
    assert await cases.open_new([write(MARKET, None, "first")]) == set()
    # Redelivered with another report: the stored case is named, not written again.
    again = await cases.open_new([write(MARKET, None, "second"), write(OTHER, None, "other")])
    assert again == {MARKET.report_id}
    stored = await cases.get_many([MARKET.report_id, OTHER.report_id, "rpt-never-seen"])
    assert set(stored) == {MARKET.report_id, OTHER.report_id}
    market = stored[MARKET.report_id]
    assert (market.case, market.version) == (MARKET, 1)
    assert market.outbox == (record(MARKET.report_id, "first"),), "the first write's outbox"
    assert await cases.get("rpt-never-seen") is None
    assert await cases.open_new([]) == set()


async def test_a_save_decided_on_a_stale_version_is_refused_and_the_others_are_kept(
    cases: Any,
) -> None:
    await cases.open_new([write(MARKET, None, "opened"), write(OTHER, None, "opened")])
    in_progress = MARKET.model_copy(update={"status": ReportStatus.IN_PROGRESS})
    await cases.save_all([write(in_progress, 1, "in progress")])

    # Another instance decided on version 1 meanwhile; the other case's update is in the batch.
    resolved = MARKET.model_copy(update={"status": ReportStatus.RESOLVED})
    other_moved = OTHER.model_copy(update={"status": ReportStatus.IN_PROGRESS})
    with pytest.raises(ConcurrentChange):
        await cases.save_all([write(resolved, 1, "resolved"), write(other_moved, 1, "other")])
    market = await cases.get(MARKET.report_id)
    assert market is not None and (market.case, market.version) == (in_progress, 2)
    other = await cases.get(OTHER.report_id)
    assert other is not None and (other.case, other.version) == (other_moved, 2)
    assert other.outbox == (record(OTHER.report_id, "other"),), "kept, to publish after the retry"

    # A new case another writer opened first is refused too.
    with pytest.raises(ConcurrentChange):
        await cases.save_all([write(MARKET, None, "opened again")])
    again = await cases.get(MARKET.report_id)
    assert again is not None and again.version == 2


async def test_an_outbox_marked_published_reads_back_empty_until_the_next_version(
    cases: Any,
) -> None:
    await cases.open_new([write(MARKET, None, "opened"), write(OTHER, None, "opened")])
    await cases.clear_outboxes([(MARKET.report_id, 1)])
    await cases.clear_outboxes([(MARKET.report_id, 1)])  # a redelivered batch marks again
    stored = await cases.get_many([MARKET.report_id, OTHER.report_id])
    assert stored[MARKET.report_id].outbox == ()
    assert stored[OTHER.report_id].outbox == (record(OTHER.report_id, "opened"),), "unpublished"

    # A mark names its version: the next decision's outbox is published again.
    in_progress = MARKET.model_copy(update={"status": ReportStatus.IN_PROGRESS})
    await cases.save_all([write(in_progress, 1, "in progress")])
    market = await cases.get(MARKET.report_id)
    assert market is not None and market.outbox == (record(MARKET.report_id, "in progress"),)
    await cases.clear_outboxes([(MARKET.report_id, 2)])
    published = await cases.get(MARKET.report_id)
    assert published is not None and published.outbox == ()


def follow(case: Case, warn_at: datetime | None, known_term: int | None) -> DeadlineFollow:
    return DeadlineFollow(case, warn_at, known_term)


async def test_a_followed_deadline_is_due_at_its_warning_time_and_not_before(
    deadlines: Any,
) -> None:
    await deadlines.follow_all([follow(MARKET, WARN_AT, None)])
    await deadlines.follow_all([follow(MARKET, WARN_AT, None)])  # redelivered
    assert await deadlines.due(WARN_AT - timedelta(seconds=1)) == []
    (tracked,) = await deadlines.due(WARN_AT)
    assert (tracked.report_id, tracked.agency_id, tracked.term) == (
        MARKET.report_id,
        MARKET.lead.agency_id,
        0,
    )
    assert (tracked.deadline, tracked.warn_at) == (DEADLINE, WARN_AT)
    assert not tracked.warned and not tracked.breached, "a new case starts unwarned"

    # Warned, it is still watched for its breach; breached, it is due no more.
    await deadlines.mark_all([DeadlineMark(MARKET.report_id, 0, {"warned": True})])
    (warned,) = await deadlines.due(DEADLINE)
    assert warned.warned and not warned.breached
    marks = {"warned": True, "breached": True}
    await deadlines.mark_all([DeadlineMark(MARKET.report_id, 0, marks)])
    assert await deadlines.due(DEADLINE + timedelta(days=30)) == []


async def test_marks_are_kept_within_a_term_and_a_new_term_starts_unwarned(
    deadlines: Any,
) -> None:
    await deadlines.follow_all([follow(MARKET, WARN_AT, None), follow(OTHER, WARN_AT, None)])
    await deadlines.mark_all([DeadlineMark(MARKET.report_id, 0, {"warned": True})])

    # A later decision in the same term (an agency started work): the warning stands.
    in_progress = MARKET.model_copy(update={"status": ReportStatus.IN_PROGRESS})
    await deadlines.follow_all([follow(in_progress, WARN_AT, 0)])
    due = {t.report_id: t for t in await deadlines.due(WARN_AT)}
    assert due[MARKET.report_id].warned and not due[OTHER.report_id].warned

    # Reopened after a low rating: the next term, its own deadline, nothing warned yet.
    later = DEADLINE + timedelta(days=7)
    reopened = MARKET.model_copy(
        update={"term": 1, "deadline": later, "status": ReportStatus.ASSIGNED}
    )
    await deadlines.follow_all([follow(reopened, later - timedelta(hours=8), 0)])
    assert MARKET.report_id not in {t.report_id for t in await deadlines.due(DEADLINE)}
    # A mark of the old term arriving late does not touch the new one.
    await deadlines.mark_all([DeadlineMark(MARKET.report_id, 0, {"warned": True})])
    (tracked,) = [t for t in await deadlines.due(later) if t.report_id == MARKET.report_id]
    assert (tracked.term, tracked.deadline, tracked.warned) == (1, later, False)


async def test_a_paused_deadline_and_a_closed_case_are_not_due(deadlines: Any) -> None:
    await deadlines.follow_all([follow(MARKET, WARN_AT, None), follow(OTHER, WARN_AT, None)])
    await deadlines.mark_all([DeadlineMark(MARKET.report_id, 0, {"warned": True})])

    # Waiting for the citizen: the clock stops, the deadline is not due.
    waiting = MARKET.model_copy(
        update={"status": ReportStatus.WAITING_FOR_CITIZEN, "deadline": None}
    )
    await deadlines.follow_all([follow(waiting, None, 0)])
    assert [t.report_id for t in await deadlines.due(DEADLINE)] == [OTHER.report_id]
    # The citizen answered: running again, moved, with its warning kept.
    moved = DEADLINE + timedelta(days=1)
    resumed = MARKET.model_copy(update={"status": ReportStatus.IN_PROGRESS, "deadline": moved})
    await deadlines.follow_all([follow(resumed, WARN_AT, 0)])
    due = {t.report_id: t for t in await deadlines.due(DEADLINE)}
    assert due[MARKET.report_id].deadline == moved and due[MARKET.report_id].warned

    # Resolved: closed, never due again; a case closed before it was watched leaves nothing.
    resolved = resumed.model_copy(update={"status": ReportStatus.RESOLVED})
    closed_at_once = opened("rpt-closed").model_copy(update={"status": ReportStatus.CLOSED})
    await deadlines.follow_all([follow(resolved, WARN_AT, 0), follow(closed_at_once, None, None)])
    assert [t.report_id for t in await deadlines.due(moved + timedelta(days=30))] == [
        OTHER.report_id
    ]


async def test_after_its_first_check_the_watch_finds_deadlines_through_their_minutes(
    database: AsyncDatabase[Any], mongo_settings: MongoSettings
) -> None:
    """Every check reading every open deadline would cost more as reports pile up (a scan
    on FerretDB); after the first, a check reads the minutes since the last one."""
    finds = FindsOn("routing_deadlines")
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_settings.url.get_secret_value(), event_listeners=[finds], tz_aware=True
    )
    try:
        now = [WARN_AT - timedelta(hours=2)]
        watch = DeadlineStore(client[database.name], clock=lambda: now[0])
        other = DeadlineStore(database, clock=lambda: now[0])  # another routing instance
        assert await watch.due(now[0]) == []  # the first check reads every open deadline

        await other.follow_all([follow(MARKET, WARN_AT, None)])
        assert await watch.due(WARN_AT - timedelta(seconds=1)) == []
        assert [t.report_id for t in await watch.due(WARN_AT)] == [MARKET.report_id]

        # Followed after its warning time had passed (routing was behind): noted now.
        now[0] = WARN_AT + timedelta(hours=1)
        await other.follow_all([follow(OTHER, WARN_AT, None)])
        due = await watch.due(now[0] + timedelta(seconds=30))
        assert sorted(t.report_id for t in due) == sorted([MARKET.report_id, OTHER.report_id])

        # Breached: no longer due, and no longer asked for.
        await other.mark_all(
            [DeadlineMark(r, 0, {"warned": True, "breached": True}) for r in (MARKET.report_id,)]
        )
        due = await watch.due(now[0] + timedelta(hours=2))
        assert [t.report_id for t in due] == [OTHER.report_id]
        assert all(set(f) == {"_id"} for f in finds.filters[1:]), "by _id after the first"
        assert "warn_at" in finds.filters[0]
    finally:
        await client.close()


async def test_minutes_written_before_the_upgrade_still_bring_their_deadlines_due(
    database: AsyncDatabase[Any],
) -> None:
    """A minute of an earlier version names its reports itself (no chunks); a watch of
    this version must still find them, with those followed since."""
    now = [WARN_AT - timedelta(hours=2)]
    watch = DeadlineStore(database, clock=lambda: now[0])
    assert await watch.due(now[0]) == []  # the first check: every open deadline
    await watch.follow_all([follow(MARKET, WARN_AT, None), follow(OTHER, WARN_AT, None)])
    minute = f"{WARN_AT.astimezone(UTC):%Y-%m-%dT%H:%M}"
    await database["routing_due"].replace_one(
        {"_id": minute}, {"reports": [MARKET.report_id]}, upsert=True
    )  # as the earlier version wrote it: MARKET alone, no chunks
    await database["routing_due_chunks"].delete_many({})
    await watch.follow_all([follow(opened("rpt-third"), WARN_AT, None)])

    due = await watch.due(WARN_AT)
    assert sorted(t.report_id for t in due) == sorted([MARKET.report_id, "rpt-third"])


async def test_a_minute_named_by_many_batches_keeps_its_size_and_brings_them_all_due(
    database: AsyncDatabase[Any],
) -> None:
    """All of a day's reports share a deadline minute (17:00): a minute that listed what
    every batch wrote was rewritten, larger, by every batch. Now it keeps one counter per
    routing process, and the watch still finds every report of every batch."""
    now = [WARN_AT - timedelta(hours=2)]
    watch = DeadlineStore(database, clock=lambda: now[0])
    assert await watch.due(now[0]) == []  # the first check: every open deadline
    writers = [DeadlineStore(database, clock=lambda: now[0]) for _ in range(2)]
    minute = f"{WARN_AT.astimezone(UTC):%Y-%m-%dT%H:%M}"
    sizes = []
    for n in range(40):  # forty batches, a report each, two routing processes
        await writers[n % 2].follow_all([follow(opened(f"rpt-{n:02d}"), WARN_AT, None)])
        document = await database["routing_due"].find_one({"_id": minute})
        assert document is not None
        sizes.append(len(bson.encode(document)))
    assert sizes[-1] == sizes[1], "the minute's document does not grow with the batches"
    assert document["writers"] == {writers[0].writer: 20, writers[1].writer: 20}

    due = await watch.due(WARN_AT)
    assert sorted(t.report_id for t in due) == [f"rpt-{n:02d}" for n in range(40)]


async def test_minutes_listing_their_chunks_still_bring_their_deadlines_due(
    database: AsyncDatabase[Any],
) -> None:
    """The version before counters listed a minute's chunks in its document."""
    now = [WARN_AT - timedelta(hours=2)]
    watch = DeadlineStore(database, clock=lambda: now[0])
    assert await watch.due(now[0]) == []
    await watch.follow_all([follow(MARKET, WARN_AT, None)])
    minute = f"{WARN_AT.astimezone(UTC):%Y-%m-%dT%H:%M}"
    await database["routing_due_chunks"].insert_one(
        {"_id": f"{minute}#0123abcd", "reports": ["rpt-listed"]}
    )
    await database["routing_due"].update_one(
        {"_id": minute}, {"$addToSet": {"chunks": f"{minute}#0123abcd"}}
    )  # as the earlier version wrote it, beside this version's counter
    await watch.follow_all([follow(opened("rpt-listed"), WARN_AT, None)])  # its deadline
    # Only the earlier version's list names it in the minute: this version's chunk goes.
    await database["routing_due_chunks"].delete_one({"_id": f"{minute}#{watch.writer}.2"})

    due = await watch.due(WARN_AT)
    assert sorted(t.report_id for t in due) == sorted([MARKET.report_id, "rpt-listed"])


async def test_the_open_cases_figures_count_by_agency_ward_and_lateness(
    database: AsyncDatabase[Any],
) -> None:
    """What the operators' open and overdue gauges show, counted in the database."""
    now = DEADLINE

    def deadline(report_id: str, agency: str, ward: str | None, **state: Any) -> dict[str, Any]:
        return {
            "_id": report_id,
            "agency_id": agency,
            "ward_code": ward,
            "term": 0,
            "closed": False,
            "paused": False,
            "deadline": now - timedelta(hours=1),
            "warn_at": now - timedelta(hours=9),
            "warned": True,
            "breached": True,
        } | state

    await database["routing_deadlines"].insert_many(
        [
            deadline("r1", "ubnd-chieng-sinh", "03679"),  # overdue
            deadline("r2", "ubnd-chieng-sinh", "03679", deadline=now + timedelta(days=2)),
            deadline("r3", "ubnd-chieng-sinh", "03679", paused=True),  # clock stopped
            deadline("r4", "ubnd-chieng-sinh", "03679", closed=True),  # resolved
            deadline("r5", "ubnd-to-hieu", None),  # overdue, place unknown
        ]
    )
    assert await DeadlineStore(database).open_counts(now) == {
        ("ubnd-chieng-sinh", "03679", True): 1,
        ("ubnd-chieng-sinh", "03679", False): 2,
        ("ubnd-to-hieu", "", True): 1,
    }
