"""Who is told what for a whole batch: pure decisions, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from notify.domain.notices import TemplateId
from notify.domain.recipients import Recipient
from notify.domain.telling import (
    OptOutState,
    ReportFile,
    Telling,
    event_change,
    event_notifications,
    receipt_changes,
    receipt_notifications,
    replies_told,
)
from phananh_contracts import CitizenRepliedEvent, Reporter, ReportReceivedEvent
from phananh_contracts.examples import CITIZEN_REPLIED, REPORT_ASSIGNED, REPORT_RECEIVED

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
ME = Reporter(anonymous=False, pseudonym="ctz-me", contact_ciphertext="sealed")


def received(**changes: object) -> ReportReceivedEvent:
    data = REPORT_RECEIVED.data.model_copy(update={"reporter": ME, **changes})
    return ReportReceivedEvent.new(data, source="/services/intake")


def test_a_receipt_tells_its_reporter_then_what_was_kept_before_it_in_order() -> None:
    event = received()
    report_id = event.data.report_id
    me = Recipient("ctz-me", "sealed", event.data.tracking_code, report_id)
    file = ReportFile(report_id, received=True, recipients=(me,), kept=(REPORT_ASSIGNED,))
    telling = Telling()
    receipt_notifications(event, {report_id: file}, telling)
    receipt_notifications(event, {report_id: file}, telling)  # the same record twice
    templates = [n.notice.template_id for n in telling.notifications]
    assert templates[:2] == [TemplateId.REPORT_RECEIVED, TemplateId.REPORT_ASSIGNED]
    assert len({n.id for n in telling.notifications}) == 2, "one id per message: sent once"


def test_a_duplicates_reporter_joins_the_original_and_an_early_event_is_parked() -> None:
    event = received(duplicate_of="original")
    changes = receipt_changes(event)
    assert [c.report_id for c in changes] == [event.data.report_id, "original"]
    assert changes[1].recipients[0].tracking_code == event.data.tracking_code

    change = event_change(REPORT_ASSIGNED, "pakn.assignments.v1", b"{}")
    assert change is not None and change.kept is not None
    telling = Telling()
    event_notifications(REPORT_ASSIGNED, ReportFile(REPORT_ASSIGNED.data.report_id), telling)
    assert telling.notifications == [] and telling.skipped == ["parked"]


def reply(
    text: str, at: datetime, rating: int | None = None, by: Reporter = ME
) -> CitizenRepliedEvent:
    data = CITIZEN_REPLIED.data.model_copy(
        update={"reporter": by, "text": text, "rating": rating, "received_at": at}
    )
    return CitizenRepliedEvent.new(data, source="/services/intake")


def reported_by_me() -> dict[str, ReportFile]:
    """The file of the report replied to: I sent it."""
    report_id = CITIZEN_REPLIED.data.report_id
    me = Recipient("ctz-me", "sealed", CITIZEN_REPLIED.data.tracking_code, report_id)
    return {report_id: ReportFile(report_id, received=True, recipients=(me,))}


def test_an_opt_out_applies_from_its_place_in_the_batch() -> None:
    thanks_before = reply("5", NOW, rating=5)
    stop = reply("HUY", NOW + timedelta(minutes=1))
    thanks_after = reply("4", NOW + timedelta(minutes=2), rating=4)
    result = replies_told(
        [(thanks_before, None), (stop, "opt_out"), (thanks_after, None)],
        {"ctz-me": OptOutState()},
        reported_by_me(),
    )
    ids = [n.id for n in result.telling.notifications]
    assert len(ids) == 3
    assert result.silenced == {ids[2]}, "only the rating after the opt-out goes unanswered"
    assert [c.intent for c in result.changes] == ["opt_out"]


def test_only_the_reporter_is_thanked_for_a_rating_which_only_theirs_counts() -> None:
    """Routing lets only the reporter's rating close or reopen the report: thanking someone
    else ("… đã được ghi nhận và chuyển đến cơ quan xử lý") would mislead them."""
    stranger = Reporter(anonymous=False, pseudonym="ctz-stranger", contact_ciphertext="sealed")
    theirs = reply("1/5", NOW, rating=1, by=stranger)
    mine = reply("1/5", NOW + timedelta(minutes=1), rating=1)
    files = reported_by_me()

    result = replies_told([(theirs, None), (mine, None)], {}, files)

    told = [(n.notice.template_id, n.recipient.pseudonym) for n in result.telling.notifications]
    assert told == [(TemplateId.RATING_THANKS, "ctz-me")]
    assert result.telling.skipped == ["not_reporter"]

    # A duplicate's reporter is linked to the report, but did not send it.
    report_id = CITIZEN_REPLIED.data.report_id
    linked = Recipient("ctz-stranger", "sealed", "SL-2303-DUPLIC", "a-duplicate")
    with_duplicate = {report_id: ReportFile(report_id, True, recipients=(linked,))}
    assert replies_told([(theirs, None)], {}, with_duplicate).telling.notifications == []
    assert replies_told([(mine, None)], {}, {}).telling.notifications == [], "file unknown"
    # Opting out is for anyone, about themselves.
    stop = reply("HUY", NOW, by=stranger)
    (confirmed,) = replies_told([(stop, "opt_out")], {}, {}).telling.notifications
    assert confirmed.recipient.pseudonym == "ctz-stranger"


def test_a_duplicate_linked_by_hand_hears_the_originals_news_until_it_is_unlinked() -> None:
    from notify.domain.telling import LinkMark, link_change
    from phananh_contracts import ReportStatusChangedEvent
    from phananh_contracts.examples import STATUS_LINKED

    original = REPORT_ASSIGNED.data.report_id
    duplicate = STATUS_LINKED.data.report_id
    mine = Recipient("ctz-me", "sealed", STATUS_LINKED.data.tracking_code, duplicate)
    theirs = Recipient("ctz-first", "sealed", "SL-2303-7KQ4M9", original)

    change = link_change(STATUS_LINKED, ReportFile(duplicate, True, recipients=(mine,)))
    assert change is not None and change.report_id == original
    assert change.recipients == (mine,) and change.link is not None and change.link.linked
    file = ReportFile(original, True, recipients=(theirs, mine), links=(change.link,))
    telling = Telling()
    event_notifications(REPORT_ASSIGNED, file, telling)
    assert [n.recipient.pseudonym for n in telling.notifications] == ["ctz-first", "ctz-me"]

    unlinked = ReportStatusChangedEvent.new(
        STATUS_LINKED.data.model_copy(
            update={
                "duplicate_of": None,
                "unlinked_from": original,
                "status": "assigned",
                "previous_status": "closed",
            }
        ),
        source="/services/routing",
        time=STATUS_LINKED.time + timedelta(hours=1),
    )
    undo = link_change(unlinked, None)
    assert undo is not None and undo.recipients == () and undo.link is not None
    assert not undo.link.linked
    later = ReportFile(original, True, recipients=(theirs, mine), links=(change.link, undo.link))
    assert [r.pseudonym for r in later.citizens] == ["ctz-first"]
    # A duplicate intake linked (no mark) and then unlinked by hand stops hearing too.
    only_undo = ReportFile(original, True, recipients=(theirs, mine), links=(undo.link,))
    assert [r.pseudonym for r in only_undo.citizens] == ["ctz-first"]
    assert LinkMark(duplicate, True, "9999", "x").linked
