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


def reply(text: str, at: datetime, rating: int | None = None) -> CitizenRepliedEvent:
    data = CITIZEN_REPLIED.data.model_copy(
        update={"reporter": ME, "text": text, "rating": rating, "received_at": at}
    )
    return CitizenRepliedEvent.new(data, source="/services/intake")


def test_an_opt_out_applies_from_its_place_in_the_batch() -> None:
    thanks_before = reply("5", NOW, rating=5)
    stop = reply("HUY", NOW + timedelta(minutes=1))
    thanks_after = reply("4", NOW + timedelta(minutes=2), rating=4)
    result = replies_told(
        [(thanks_before, None), (stop, "opt_out"), (thanks_after, None)], {"ctz-me": OptOutState()}
    )
    ids = [n.id for n in result.telling.notifications]
    assert len(ids) == 3
    assert result.silenced == {ids[2]}, "only the rating after the opt-out goes unanswered"
    assert [c.intent for c in result.changes] == ["opt_out"]
