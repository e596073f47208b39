"""A whole batch of raw channel events decided at once (pure; the reference city)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from intake.adapters.keys import KeyFiling
from intake.config import load_city_config
from intake.domain.batch import (
    Accepted,
    Arrival,
    Bucket,
    Handled,
    Known,
    Outcome,
    Rejected,
    Replied,
    Skipped,
    candidate_buckets,
    decide,
    link_duplicates,
    lookups,
    parse_batch,
)
from intake.domain.dedupe import EarlierReport, bucket_of, fingerprint
from intake.domain.normalize import Keys
from intake.domain.readmodel import ReadModelUpdate, to_apply
from intake.domain.text import fold
from intake.domain.tracking import report_id, tracking_code
from phananh_contracts import Channel, RawChannelMessageReceived, RejectionReason
from phananh_platform.privacy import ContactSealer, new_contact_key, pseudonym

pytestmark = pytest.mark.unit

CONFIG = load_city_config(Path(__file__).resolve().parents[4] / "config/son-la/city.yaml")
NOW = datetime(2023, 3, 14, 2, 0, tzinfo=UTC)
KEYS = Keys(
    tracking_secret=b"t" * 32,
    pseudonym_key=b"p" * 32,
    seal=KeyFiling(ContactSealer([new_contact_key()]), NOW).seal,
)
MARKET = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh"
LAMP = "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối"


def raw(message_id: str, body: Any, *, minutes: int = 0) -> Arrival:
    return Arrival(
        event_id=f"ev-{message_id}",
        raw=RawChannelMessageReceived(
            channel=Channel.APP,
            channel_message_id=message_id,
            received_at=NOW + timedelta(minutes=minutes),
            content_type="application/json",
            body=body if isinstance(body, str) else json.dumps(body, ensure_ascii=False),
            body_encoding="utf-8",
            authenticated_as="api-key:app:test",
        ),
    )


def app(message_id: str, text: str, *, minutes: int = 0, **fields: Any) -> Arrival:
    body = {"text": text, "anonymous": True, "consent": False, **fields}
    return raw(message_id, body, minutes=minutes)


def code_of(message_id: str, minutes: int = 0) -> str:
    at = NOW + timedelta(minutes=minutes)
    return tracking_code(KEYS.tracking_secret, "SL", "app", message_id, at)


def decided(
    arrivals: list[Arrival], known: Known | None = None, buckets: dict[str, Bucket] | None = None
) -> list[Outcome]:
    parsed = parse_batch(arrivals, CONFIG)
    outcomes = decide(parsed, known or Known(), config=CONFIG, keys=KEYS, now=NOW)
    return link_duplicates(outcomes, buckets or {}, CONFIG).outcomes


def test_the_same_message_twice_in_a_batch_makes_one_report() -> None:
    outcomes = decided([app("m1", MARKET), app("m1", MARKET), app("m2", LAMP)])
    assert [type(o) for o in outcomes] == [Accepted, Skipped, Accepted]


def test_a_message_handled_in_an_earlier_batch_is_skipped() -> None:
    known = Known({"app:m1": Handled("report", report_id("app", "m1"), NOW)})
    assert [type(o) for o in decided([app("m1", MARKET)], known)] == [Skipped]


def test_outcomes_keep_the_order_of_the_batch() -> None:
    arrivals = [app("m1", MARKET), app("m2", "ngắn"), raw("m3", "{not json"), app("m4", LAMP)]
    outcomes = decided(arrivals)
    assert [type(o) for o in outcomes] == [Accepted, Rejected, Rejected, Accepted]
    assert [getattr(o, "key", None) for o in outcomes] == [
        "app:m1",
        "app:m2",
        "app:m3",
        "app:m4",
    ]
    unreadable = outcomes[2]
    assert isinstance(unreadable, Rejected) and unreadable.rejected.tracking_code is None


def test_an_unreadable_payload_seen_before_is_not_rejected_again() -> None:
    known = Known({"app:m3": Handled("rejected:invalid_payload", report_id("app", "m3"), NOW)})
    assert decided([raw("m3", "{not json")], known) == []


def rate_limited(arrival: Arrival) -> Arrival:
    refused = arrival.raw.model_copy(update={"rejection_reason": RejectionReason.RATE_LIMITED})
    return Arrival(arrival.event_id, refused)


def test_a_message_its_sender_sent_over_the_rate_limit_is_rejected_silently() -> None:
    # The front (a webhook must answer 200) marked it; the normalizer records it, reads nothing.
    contact = {"phone": "0912 345 678", "name": "Lò Văn Minh"}
    text = f"{MARKET}, gọi 0912 345 678"
    over = app("m1", text, anonymous=False, consent=True, contact=contact)

    (outcome,) = decided([rate_limited(over)])

    assert isinstance(outcome, Rejected)
    rejected = outcome.rejected
    assert rejected.reason == RejectionReason.RATE_LIMITED
    assert rejected.raw_event_id == "ev-m1"
    assert "rate limit" in rejected.detail
    assert rejected.tracking_code is None, "no code: the citizen was never told one"
    assert rejected.citizen_notice is None, "no notice: a flood is not answered by a flood"
    assert rejected.reporter is not None
    assert rejected.reporter.pseudonym == pseudonym(KEYS.pseudonym_key, "phone:+84912345678")
    assert rejected.original_excerpt, "the audit trail sees what was refused"
    assert "345 678" not in rejected.original_excerpt, "contacts masked as in any rejection"
    assert outcome.handled().outcome == "rejected:rate_limited"


def test_a_rate_limited_message_already_handled_keeps_its_first_outcome() -> None:
    # Accepted before, marked over the limit on a redelivery (or the other way round):
    # the first outcome stands, so no message is both a report and a rejection.
    known = Known({"app:m1": Handled("report", report_id("app", "m1"), NOW)})
    assert [type(o) for o in decided([rate_limited(app("m1", MARKET))], known)] == [Skipped]
    outcomes = decided([app("m2", LAMP), rate_limited(app("m2", LAMP))])
    assert [type(o) for o in outcomes] == [Accepted, Skipped]


def test_a_reply_to_a_report_made_earlier_in_the_same_batch_is_a_reply() -> None:
    code = code_of("m1")
    outcomes = decided([app("m1", MARKET), app("m2", f"Cảm ơn, đã xử lý xong {code}. 5/5")])
    first, reply = outcomes
    assert isinstance(first, Accepted) and isinstance(reply, Replied)
    assert reply.reply.report_id == first.new.report.report_id
    assert reply.reply.rating == 5


def test_a_reply_names_who_sent_it_so_routing_can_tell_the_reporter_from_others() -> None:
    """Routing lets only the reporter rate: a reply from the reporter's number carries the
    report's pseudonym, one from another number (or anonymous) does not."""
    code = code_of("m1")
    signed = {"anonymous": False, "consent": True}
    outcomes = decided(
        [
            app("m1", MARKET, **signed, contact={"phone": "0912 345 678"}),
            app("m2", f"Mã {code}: 1/5", **signed, contact={"phone": "+84 912 345 678"}),
            app("m3", f"Mã {code}: 1/5", **signed, contact={"phone": "0987 654 321"}),
            app("m4", f"Mã {code}: 1/5"),
        ]
    )
    report, mine, theirs, nobodys = outcomes
    assert isinstance(report, Accepted) and isinstance(mine, Replied)
    assert isinstance(theirs, Replied) and isinstance(nobodys, Replied)
    pseudonym = report.new.report.reporter.pseudonym
    assert pseudonym is not None
    assert mine.reply.reporter.pseudonym == pseudonym
    assert theirs.reply.reporter.pseudonym not in (None, pseudonym)
    assert nobodys.reply.reporter.anonymous and nobodys.reply.reporter.pseudonym is None


def test_a_reply_threaded_on_the_channel_to_a_stored_report_is_a_reply() -> None:
    stored = Handled("report", "rpt-1", NOW - timedelta(days=1), "SL-2303-ABCDEF")
    known = Known({"app:m0": stored})
    (reply,) = decided([app("m2", "Vẫn chưa thấy ai đến xử lý", reply_to="m0")], known)
    assert isinstance(reply, Replied) and reply.reply.tracking_code == "SL-2303-ABCDEF"
    assert lookups(parse_batch([app("m2", "x", reply_to="m0")], CONFIG))[0] == {
        "app:m2",
        "app:m0",
    }


def test_a_similar_report_later_in_the_same_batch_is_linked_to_the_first() -> None:
    outcomes = decided(
        [
            app("m1", MARKET),
            app("m2", LAMP, minutes=1),
            app("m3", MARKET + " từ sáng", minutes=2),
            app("m4", MARKET + " cả ngày", minutes=3),
        ]
    )
    first, lamp, second, third = outcomes
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert isinstance(third, Accepted) and isinstance(lamp, Accepted)
    assert first.new.report.duplicate_of is None and lamp.new.report.duplicate_of is None
    assert second.new.report.duplicate_of == first.new.report.report_id
    assert third.new.report.duplicate_of == first.new.report.report_id


def test_a_stored_similar_report_within_the_window_is_the_original() -> None:
    earlier = EarlierReport(
        "rpt-0", "03679", "urban_order", fingerprint(fold(MARKET)), NOW - timedelta(hours=70)
    )
    too_old = EarlierReport(
        "rpt-old", "03679", "urban_order", fingerprint(fold(MARKET)), NOW - timedelta(hours=73)
    )
    outcomes = decide(
        parse_batch([app("m1", MARKET)], CONFIG), Known(), config=CONFIG, keys=KEYS, now=NOW
    )
    wanted = candidate_buckets(outcomes, CONFIG)
    assert bucket_of("03679", earlier.received_at) in wanted
    assert bucket_of("03679", NOW) in wanted
    assert len(wanted) == 73, "the ward's buckets, one an hour of the 72-hour window"
    buckets = {
        bucket_of("03679", earlier.received_at): Bucket(1, (earlier,)),
        bucket_of("03679", too_old.received_at): Bucket(1, (too_old,)),
    }
    (linked,) = link_duplicates(outcomes, buckets, CONFIG).outcomes
    assert isinstance(linked, Accepted) and linked.new.report.duplicate_of == "rpt-0"


def test_a_full_bucket_takes_no_more_reports() -> None:
    arrivals = [app(f"m{n}", f"{MARKET} lần {n}", minutes=n) for n in range(4)]
    outcomes = decide(parse_batch(arrivals, CONFIG), Known(), config=CONFIG, keys=KEYS, now=NOW)
    hour = bucket_of("03679", NOW)
    linked = link_duplicates(outcomes, {hour: Bucket(1)}, CONFIG, bucket_limit=3)
    assert [e.report_id for e in linked.appends[hour]] == [
        report_id("app", "m0"),
        report_id("app", "m1"),
    ]


def test_the_read_model_applies_each_report_s_changes_once_newest_status_winning() -> None:
    def status(report: str, hours: int, state: str) -> ReadModelUpdate:
        at = NOW + timedelta(hours=hours)
        return ReadModelUpdate(report, {"status": state, "updated_at": at}, at)

    assign = ReadModelUpdate("r1", {"agency_responsible": "a", "updated_at": NOW})
    updates = [assign, status("r1", 2, "closed"), status("r1", 1, "open"), status("r2", 1, "open")]
    applied = to_apply(updates, {"r2": NOW + timedelta(hours=3)})
    assert applied == [
        ReadModelUpdate(
            "r1",
            {"agency_responsible": "a", "status": "closed", "updated_at": NOW + timedelta(hours=2)},
            NOW + timedelta(hours=2),
            creates=True,
        )
    ], "r2 holds a newer change: its older one is left out"
