"""Notify's store contracts, asked of the in-memory twins and of the real stores.

The handler tests run notify's handlers and courier over ``tests.support.notify``'s
``MemoryReportBook``, ``MemoryOptOuts`` and ``MemoryNotificationLog``; here the same
changes, claims and decisions go to a twin and to ``ReportBook`` / ``OptOuts`` /
``NotificationLog`` on the real MongoDB-wire database, and both must answer what the
handlers and the courier rely on: files keep early events and link each citizen once,
the latest opt-out or opt-in wins, a notification is claimed once, held while its lease
runs, taken over after, and once decided comes back done with its first outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify.adapters.store import (
    Decision,
    NewClaim,
    NotificationLog,
    OptOuts,
    ReportBook,
)
from notify.domain.recipients import Recipient
from notify.domain.telling import FileChange, OptOutChange, ReportFile, event_change
from phananh_contracts import ASSIGNMENTS_TOPIC, REPORT_STATUS_TOPIC
from phananh_contracts.examples import REPORT_ASSIGNED, REPORT_ID, STATUS_RESOLVED, TRACKING_CODE
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.notify import MemoryNotificationLog, MemoryOptOuts, MemoryReportBook

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
LEASE_S = 60
OUTCOME = {"topic": "pakn.notifications.v1", "key": REPORT_ID, "value": '{"sent": true}'}


def twin_or_real(request: pytest.FixtureRequest, twin: Any, real: Any) -> Any:
    return twin if request.param == "twin" else real


@pytest.fixture(params=["twin", "database"])
def book(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    return twin_or_real(request, MemoryReportBook(), ReportBook(database))


@pytest.fixture(params=["twin", "database"])
def opt_outs(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    return twin_or_real(request, MemoryOptOuts(), OptOuts(database))


@pytest.fixture(params=["twin", "database"])
def log(request: pytest.FixtureRequest, database: AsyncDatabase[Any]) -> Any:
    return twin_or_real(request, MemoryNotificationLog(), NotificationLog(database))


def citizen(pseudonym: str, own_report_id: str = REPORT_ID) -> Recipient:
    return Recipient(pseudonym, f"sealed-{pseudonym}", TRACKING_CODE, own_report_id)


def kept(event: Any, topic: Any) -> FileChange:
    """The change the handler makes of an event about the report (it keeps the event)."""
    change = event_change(event, topic.name, event.to_kafka().value)
    assert change is not None
    return change


ASSIGNED = kept(REPORT_ASSIGNED, ASSIGNMENTS_TOPIC)
RESOLVED = kept(STATUS_RESOLVED, REPORT_STATUS_TOPIC)
RECEIPT = FileChange(REPORT_ID, receipt=TRACKING_CODE, recipients=(citizen("ctz-a"),))
DUPLICATE_REPORTER = FileChange(REPORT_ID, recipients=(citizen("ctz-b", "rpt-duplicate"),))


def claim(nid: str, *, provider: str | None = "sms", state: str = "sending") -> NewClaim:
    facts = {"report_id": REPORT_ID, "template_id": "report-received"}
    return NewClaim(nid, facts, provider, state)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def test_a_file_keeps_early_events_and_links_each_citizen_once(book: Any) -> None:
    # Events about the report overtook its receipt: kept, the report not yet received.
    early = await book.apply([RESOLVED])
    assert not early[REPORT_ID].received and early[REPORT_ID].kept == (STATUS_RESOLVED,)

    written = await book.apply([RECEIPT, DUPLICATE_REPORTER, ASSIGNED])
    file = written[REPORT_ID]
    assert file.received and file.tracking_code == TRACKING_CODE
    assert [r.pseudonym for r in file.recipients] == ["ctz-a", "ctz-b"]
    assert file.kept == (REPORT_ASSIGNED, STATUS_RESOLVED), "in the order they happened"
    assert file.agencies == {
        REPORT_ASSIGNED.data.lead_agency_id: REPORT_ASSIGNED.data.lead_agency_name
    }
    # A second receipt (another code) does not change the first.
    again = FileChange(REPORT_ID, receipt="SL-2303-OTHER0", recipients=(citizen("ctz-a"),))
    assert (await book.apply([again]))[REPORT_ID].tracking_code == TRACKING_CODE
    files = await book.files([REPORT_ID, "rpt-never-seen"])
    assert files == {REPORT_ID: file, "rpt-never-seen": ReportFile("rpt-never-seen")}


async def test_redelivered_changes_write_nothing_observable(book: Any) -> None:
    first = await book.apply([RESOLVED, RECEIPT, DUPLICATE_REPORTER, ASSIGNED])
    for changes in ([RESOLVED, RECEIPT, DUPLICATE_REPORTER, ASSIGNED], [ASSIGNED], [RECEIPT]):
        written = await book.apply(changes)
        assert written == {REPORT_ID: first[REPORT_ID]}, "the file as it stands, once"
    assert await book.files([REPORT_ID]) == first
    assert await book.apply([]) == {}


async def test_the_latest_opt_out_or_opt_in_wins_in_any_order(opt_outs: Any) -> None:
    assert await opt_outs.states(["ctz-a"]) == {}
    await opt_outs.record_all([OptOutChange("ctz-a", "opt_in", at(300))])
    await opt_outs.record_all([OptOutChange("ctz-a", "opt_out", NOW)])  # arrived late
    assert not (await opt_outs.states(["ctz-a"]))["ctz-a"].opted_out
    await opt_outs.record_all(
        [
            OptOutChange("ctz-a", "opt_out", at(540)),
            OptOutChange("ctz-a", "opt_out", at(420)),
            OptOutChange("ctz-b", "opt_out", NOW),
        ]
    )
    await opt_outs.record_all([OptOutChange("ctz-b", "opt_in", at(-60))])  # an older opt-in
    states = await opt_outs.states(["ctz-a", "ctz-b", "ctz-c"])
    assert set(states) == {"ctz-a", "ctz-b"}
    assert (states["ctz-a"].stop_at, states["ctz-a"].start_at) == (at(540), at(300))
    assert states["ctz-a"].opted_out and states["ctz-b"].opted_out


async def test_a_notification_is_claimed_once_and_held_while_its_lease_runs(log: Any) -> None:
    fresh = await log.claim_all(
        [claim("n-1"), claim("n-quiet", state="skipped")], now=NOW, lease_s=LEASE_S
    )
    assert all(not c.held and c.done is None and c.attempts_before == 0 for c in fresh.values())
    stored = await log.get("n-1")
    assert stored is not None and (stored["state"], stored["attempts"]) == ("sending", 1)
    assert stored["last_provider"] == "sms", "the first attempt counted with the claim"
    assert await log.get("n-never-claimed") is None

    # Redelivered while the first delivery still runs; the opted-out one is decided.
    again = await log.claim_all(
        [claim("n-1"), claim("n-quiet", state="skipped"), claim("n-2")],
        now=at(LEASE_S - 1),
        lease_s=LEASE_S,
    )
    assert again["n-1"].held and again["n-1"].done is None
    quiet = again["n-quiet"].done
    assert quiet is not None and (quiet["state"], quiet["published"]) == ("skipped", True)
    assert not again["n-2"].held and again["n-2"].done is None
    # A long batch renews its leases: still held after the first lease would have ended.
    await log.renew(["n-1"], until=at(10 * LEASE_S))
    renewed = await log.claim_all([claim("n-1")], now=at(5 * LEASE_S), lease_s=LEASE_S)
    assert renewed["n-1"].held


async def test_an_expired_claim_is_taken_over_with_its_attempt_count_continued(
    log: Any,
) -> None:
    await log.claim_all([claim("n-1"), claim("n-2", provider=None)], now=NOW, lease_s=LEASE_S)
    await log.attempt("n-1", "zalo-zns", now=at(1))  # a retry, counted before it is made
    await log.attempt("n-never-claimed", "sms", now=at(1))  # nothing to count: no error
    assert await log.get("n-never-claimed") is None

    # The process died mid-send; once the lease ended, a redelivery takes over.
    later = await log.claim_all(
        [claim("n-1"), claim("n-2", provider=None)], now=at(LEASE_S + 1), lease_s=LEASE_S
    )
    taken = later["n-1"]
    assert taken.taken_over and taken.resumed and taken.attempts_before == 2
    assert (await log.get("n-1") or {})["attempts"] == 3, "the resumed attempt counted"
    no_provider = later["n-2"]
    assert no_provider.taken_over and no_provider.attempts_before == 0
    assert (await log.get("n-2") or {})["attempts"] == 0, "no provider, nothing attempted"
    # The new lease holds it against a third delivery.
    third = await log.claim_all([claim("n-1")], now=at(LEASE_S + 2), lease_s=LEASE_S)
    assert third["n-1"].held


async def test_a_decided_notification_comes_back_done_published_or_not(log: Any) -> None:
    await log.claim_all([claim("n-1"), claim("n-2")], now=NOW, lease_s=LEASE_S)
    recorded = await log.decide_all(
        [
            Decision("n-1", "sent", OUTCOME, {"provider": "sms"}),
            Decision("n-2", "skipped", None, {}),  # taken over, then opted out
        ],
        now=at(5),
    )
    assert [d.notification_id for d in recorded] == ["n-1", "n-2"]

    # Decided, not yet marked published, lease running: its delivery is publishing it.
    meanwhile = await log.claim_all([claim("n-1"), claim("n-2")], now=at(10), lease_s=LEASE_S)
    assert meanwhile["n-1"].held
    skipped = meanwhile["n-2"].done
    assert skipped is not None and skipped["state"] == "skipped", "nothing to publish: done"
    # The lease ended without the mark (a crash before publishing): done, to publish.
    late = (await log.claim_all([claim("n-1")], now=at(3600), lease_s=LEASE_S))["n-1"].done
    assert late is not None and (late["state"], late["published"]) == ("sent", False)
    assert late["outcome"] == OUTCOME and late["provider"] == "sms"
    await log.published(["n-1"])
    await log.published(["n-1"])  # a redelivered batch marks it again
    done = (await log.claim_all([claim("n-1")], now=at(3601), lease_s=LEASE_S))["n-1"].done
    assert done is not None and (done["state"], done["published"]) == ("sent", True)
    assert (await log.get("n-1") or {})["published"] is True


async def test_a_notification_decided_twice_keeps_its_first_outcome(log: Any) -> None:
    await log.claim_all([claim("n-1"), claim("n-2")], now=NOW, lease_s=LEASE_S)
    first = Decision("n-1", "sent", OUTCOME, {"provider": "sms"})
    assert await log.decide_all([first], now=at(5)) == [first]

    # A delivery that outlived its lease decides n-1 again, along with a fresh n-2.
    second = {**OUTCOME, "value": '{"failed": true}'}
    fresh = Decision("n-2", "sent", None, {"provider": "email"})
    recorded = await log.decide_all(
        [Decision("n-1", "failed", second, {"provider": "zalo-zns", "permanent": True}), fresh],
        now=at(600),
    )
    assert recorded == [first, fresh], "the first outcome is the one recorded and published"
    stored = await log.get("n-1")
    assert stored is not None and (stored["state"], stored["outcome"]) == ("sent", OUTCOME)
    assert "permanent" not in stored
