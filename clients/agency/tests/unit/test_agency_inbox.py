"""The reference agency client without a broker: the inbox fold, what officers read,
and every update or command refused before anything is sent."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from phananh_agency import (
    EXCERPT_CHARS,
    AgencyClient,
    ClosedTask,
    KafkaSettings,
    NotInInbox,
    Task,
    UpdateNotAllowed,
    fold_inbox,
    inbox_json,
    new_update,
    render_inbox,
    target_of,
)
from phananh_agency.cli import main
from phananh_contracts import AgencyTaskAssignedEvent, AgencyUpdateKind, Event, agency_updates_topic

from tests.support.agency import citizen_replied, task_assigned, task_withdrawn, update_refused

pytestmark = pytest.mark.unit

AGENCY = "ubnd-chieng-sinh"
DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)  # 17:00 in Sơn La
BEFORE = DEADLINE - timedelta(days=2)
AFTER = DEADLINE + timedelta(hours=1)


assigned = partial(task_assigned, AGENCY, deadline=DEADLINE, title="Bán hàng ngoài hành lang chợ")
withdrawn = partial(task_withdrawn, AGENCY, at=DEADLINE - timedelta(days=1))
replied = partial(citizen_replied, rating=None)
refused = partial(update_refused, AGENCY, at=BEFORE)


# --- the fold ---------------------------------------------------------------------------


def test_an_assigned_task_is_open_with_what_the_officer_needs() -> None:
    inbox = fold_inbox([assigned("r1", "SL-2303-AAAAA1", role="supporting")])
    (task,) = inbox.open
    assert (task.report_id, task.tracking_code, task.role) == ("r1", "SL-2303-AAAAA1", "supporting")
    assert task.lead_agency_id == "ubnd-thanh-pho"
    assert task.deadline == DEADLINE
    assert task.category == "urban_order"
    assert task.title == "Bán hàng ngoài hành lang chợ"
    assert task.excerpt.startswith("Có hộ dân bày bán thịt lợn")
    assert inbox.closed == ()


def test_a_long_text_is_cut_to_an_excerpt_on_one_line() -> None:
    event = assigned("r1", "SL-2303-AAAAA1")
    long = event.data.model_copy(update={"text": "Chợ\nNoong   Đúc " * 100})
    (task,) = fold_inbox([AgencyTaskAssignedEvent.new(long, source="/services/routing")]).open
    assert len(task.excerpt) <= EXCERPT_CHARS
    assert task.excerpt.endswith("…")
    assert "\n" not in task.excerpt and "  " not in task.excerpt


def test_a_withdrawn_task_leaves_the_open_list_and_is_kept_as_closed_with_the_reason() -> None:
    inbox = fold_inbox(
        [
            assigned("r1", "SL-2303-AAAAA1"),
            assigned("r2", "SL-2303-AAAAA2"),
            withdrawn("r1", "SL-2303-AAAAA1", "Từ chối được chấp nhận; đã chuyển đơn vị khác."),
        ]
    )
    assert [task.tracking_code for task in inbox.open] == ["SL-2303-AAAAA2"]
    (gone,) = inbox.closed
    assert gone.tracking_code == "SL-2303-AAAAA1"
    assert gone.reason.startswith("Từ chối được chấp nhận")
    assert gone.task is not None and gone.task.role == "lead"


def test_a_task_assigned_again_after_it_was_withdrawn_is_open_again_as_last_assigned() -> None:
    later = DEADLINE + timedelta(days=7)
    inbox = fold_inbox(
        [
            assigned("r1", "SL-2303-AAAAA1", role="supporting"),
            withdrawn("r1", "SL-2303-AAAAA1"),
            assigned("r1", "SL-2303-AAAAA1", role="lead", deadline=later),
        ]
    )
    (task,) = inbox.open
    assert (task.role, task.deadline) == ("lead", later)
    assert inbox.closed == ()


def test_a_withdrawal_whose_assignment_is_gone_from_the_topic_is_still_closed() -> None:
    inbox = fold_inbox([withdrawn("r9", "SL-2303-AAAAA9")])
    assert inbox.open == ()
    assert [(gone.tracking_code, gone.task) for gone in inbox.closed] == [("SL-2303-AAAAA9", None)]


def test_citizen_answers_and_refused_updates_stay_with_their_report() -> None:
    inbox = fold_inbox(
        [
            replied("r1", "SL-2303-AAAAA1", "Trả lời sớm, trước khi được giao"),
            assigned("r1", "SL-2303-AAAAA1"),
            assigned("r2", "SL-2303-AAAAA2"),
            replied("r1", "SL-2303-AAAAA1", "Hàng bán ở cổng phía đông"),
            refused("r1", "update-1"),
            refused("r-other", "update-2"),
        ]
    )
    first = next(task for task in inbox.open if task.report_id == "r1")
    second = next(task for task in inbox.open if task.report_id == "r2")
    assert [answer.text for answer in first.answers] == [
        "Trả lời sớm, trước khi được giao",
        "Hàng bán ở cổng phía đông",
    ]
    assert [refusal.update_event_id for refusal in first.refusals] == ["update-1"]
    assert second.answers == () and second.refusals == ()
    assert inbox.refusal_of("update-2") is not None  # about a report not held: still found
    assert inbox.refusal_of("update-3") is None


def test_an_event_seen_twice_counts_once() -> None:
    answer = replied("r1", "SL-2303-AAAAA1", "Cảm ơn")
    again = assigned("r1", "SL-2303-AAAAA1")
    inbox = fold_inbox([again, answer, answer, again])
    (task,) = inbox.open
    assert len(task.answers) == 1


def test_open_tasks_come_earliest_deadline_first() -> None:
    inbox = fold_inbox(
        [
            assigned("late", "SL-2303-AAAAA1", deadline=DEADLINE + timedelta(days=3)),
            assigned("soon", "SL-2303-AAAAA2", deadline=DEADLINE - timedelta(days=3)),
            assigned("mid", "SL-2303-AAAAA3"),
        ]
    )
    assert [task.report_id for task in inbox.open] == ["soon", "mid", "late"]


def test_a_report_is_found_by_tracking_code_in_any_case_or_by_report_id() -> None:
    inbox = fold_inbox(
        [
            assigned("r1", "SL-2303-AAAAA1"),
            assigned("r2", "SL-2303-AAAAA2"),
            withdrawn("r2", "SL-2303-AAAAA2"),
        ]
    )
    assert isinstance(inbox.find("SL-2303-AAAAA1"), Task)
    assert isinstance(inbox.find(" sl-2303-aaaaa1 "), Task)
    assert isinstance(inbox.find("r1"), Task)
    assert isinstance(inbox.find("SL-2303-AAAAA2"), ClosedTask)
    assert inbox.find("SL-2303-ZZZZZZ") is None


# --- what the officer reads -------------------------------------------------------------


def test_the_text_shows_local_deadlines_marks_overdue_and_hides_closed_tasks() -> None:
    inbox = fold_inbox(
        [
            assigned("r1", "SL-2303-AAAAA1"),
            assigned(
                "r2", "SL-2303-AAAAA2", role="supporting", deadline=DEADLINE + timedelta(days=5)
            ),
            replied("r1", "SL-2303-AAAAA1", "Hàng bán ở cổng phía đông"),
            refused("r1", "update-1"),
            assigned("r3", "SL-2303-AAAAA3"),
            withdrawn("r3", "SL-2303-AAAAA3"),
        ]
    )
    text = render_inbox(inbox, AGENCY, now=AFTER)
    assert text == unicodedata.normalize("NFC", text)
    first, second = (line for line in text.splitlines() if line.startswith("SL-"))
    assert first == "SL-2303-AAAAA1 · chủ trì · hạn 21/03/2023 17:00 · QUÁ HẠN"
    assert second == "SL-2303-AAAAA2 · phối hợp (chủ trì: ubnd-thanh-pho) · hạn 26/03/2023 17:00"
    assert "2 phản ánh đang xử lý, 1 quá hạn" in text
    assert "Người dân trả lời" in text and "Hàng bán ở cổng phía đông" in text
    assert "«đã giải quyết» bị từ chối" in text
    assert "SL-2303-AAAAA3" not in text
    assert "1 phản ánh đã rời hộp thư" in text

    in_time = render_inbox(inbox, AGENCY, now=BEFORE, include_closed=True)
    assert "QUÁ HẠN" not in in_time
    assert "SL-2303-AAAAA3 · 20/03/2023 17:00 · Đã giải quyết" in in_time


def test_an_empty_inbox_says_so() -> None:
    text = render_inbox(fold_inbox([]), AGENCY, now=AFTER)
    assert text == f"Hộp thư của {AGENCY} trống: không có phản ánh nào đang xử lý."


def test_the_json_gives_utc_instants_the_local_deadline_and_overdue() -> None:
    inbox = fold_inbox(
        [
            assigned("r1", "SL-2303-AAAAA1"),
            assigned("r2", "SL-2303-AAAAA2"),
            withdrawn("r2", "SL-2303-AAAAA2"),
        ]
    )
    document = json.loads(json.dumps(inbox_json(inbox, AGENCY, now=AFTER)))
    (task,) = document["open"]
    assert task["tracking_code"] == "SL-2303-AAAAA1"
    assert task["deadline"] == "2023-03-21T10:00:00+00:00"
    assert task["deadline_local"] == "21/03/2023 17:00"
    assert task["overdue"] is True
    assert document["closed_count"] == 1 and "closed" not in document
    everything = inbox_json(inbox, AGENCY, now=AFTER, include_closed=True)
    assert [gone["tracking_code"] for gone in everything["closed"]] == ["SL-2303-AAAAA2"]


# --- updates ----------------------------------------------------------------------------


def test_an_update_is_a_cloudevent_from_the_agency_on_its_own_updates_topic() -> None:
    now = datetime(2023, 3, 15, 2, 0, tzinfo=UTC)
    note = unicodedata.normalize("NFD", "Đã kiểm tra, lập biên bản")
    update = new_update(AGENCY, "r1", "resolved", note=f"  {note} ", officer_ref="cb-042", now=now)
    own = agency_updates_topic(AGENCY)
    record = update.to_kafka(own)
    assert record.topic == own.name == f"pakn.updates.{AGENCY}.v1"
    assert record.key == b"r1"
    decoded: Event[Any] = own.decode(record.value)
    assert decoded.data.agency_id == AGENCY, "routing admits only the agency's own updates"
    assert decoded.source == f"/agencies/{AGENCY}"
    assert decoded.data.kind == AgencyUpdateKind.RESOLVED
    assert decoded.data.note == "Đã kiểm tra, lập biên bản"  # trimmed, NFC
    assert (decoded.data.officer_ref, decoded.data.updated_at, decoded.time) == ("cb-042", now, now)


@pytest.mark.parametrize(
    ("kind", "options", "says"),
    [
        ("resolved", {}, "cần ghi chú"),
        ("needs_information", {}, "cần ghi chú"),
        ("rejected", {"note": "   "}, "cần ghi chú"),
        ("accepted", {"suggested_agency_id": "ubnd-to-hieu"}, "chỉ khi từ chối"),
        (
            "rejected",
            {"note": "Không thuộc thẩm quyền", "suggested_agency_id": AGENCY},
            "đề xuất chính mình",
        ),
        ("rejected", {"note": "x", "suggested_agency_id": "Không Hợp Lệ"}, "suggested_agency_id"),
        ("accepted", {"officer_ref": "cán bộ 42"}, "officer_ref"),
        ("approved", {}, "không có loại cập nhật"),
    ],
)
def test_updates_the_contract_forbids_are_refused_with_a_short_reason(
    kind: str, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(UpdateNotAllowed) as refused_:
        new_update(AGENCY, "r1", kind, **options)
    assert says in refused_.value.message
    assert "\n" not in refused_.value.message


def test_updates_go_to_open_tasks_reopening_to_closed_ones_too_and_asking_is_for_the_lead() -> None:
    inbox = fold_inbox(
        [
            assigned("lead", "SL-2303-AAAAA1"),
            assigned("helper", "SL-2303-AAAAA2", role="supporting"),
            assigned("done", "SL-2303-AAAAA3"),
            withdrawn("done", "SL-2303-AAAAA3", "Đã giải quyết"),
        ]
    )
    assert (
        target_of(inbox, "SL-2303-AAAAA1", AgencyUpdateKind.NEEDS_INFORMATION, AGENCY).report_id
        == "lead"
    )
    assert target_of(inbox, "helper", AgencyUpdateKind.REJECTED, AGENCY).report_id == "helper"
    assert target_of(inbox, "SL-2303-AAAAA3", AgencyUpdateKind.REOPENED, AGENCY).report_id == "done"
    with pytest.raises(NotInInbox, match="SL-2303-ZZZZZZ không có trong hộp thư"):
        target_of(inbox, "SL-2303-ZZZZZZ", AgencyUpdateKind.ACCEPTED, AGENCY)
    with pytest.raises(NotInInbox, match="đã rời hộp thư"):
        target_of(inbox, "SL-2303-AAAAA3", AgencyUpdateKind.RESOLVED, AGENCY)
    for kind in (AgencyUpdateKind.NEEDS_INFORMATION, AgencyUpdateKind.REOPENED):
        with pytest.raises(UpdateNotAllowed, match="chỉ đơn vị chủ trì"):
            target_of(inbox, "SL-2303-AAAAA2", kind, AGENCY)


# --- the library and the command, with the inbox read faked -----------------------------


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[Event[Any]]:
    """The inbox holds these events; publishing fails the test (nothing may be sent)."""
    events: list[Event[Any]] = []

    async def read(self: AgencyClient) -> tuple[list[Event[Any]], int]:
        return list(events), 0

    async def publish(self: AgencyClient, update: Any) -> None:
        pytest.fail(f"published {update.data.kind} although it should have been refused")

    monkeypatch.setattr(AgencyClient, "_read", read)
    monkeypatch.setattr(AgencyClient, "publish", publish)
    monkeypatch.delenv("PHANANH_AGENCY_ID", raising=False)
    monkeypatch.delenv("PHANANH_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    return events


async def test_the_library_refuses_before_sending(no_broker: list[Event[Any]]) -> None:
    no_broker.append(assigned("r1", "SL-2303-AAAAA1"))
    client = AgencyClient(KafkaSettings(), AGENCY)
    with pytest.raises(UpdateNotAllowed):
        await client.send("SL-2303-AAAAA1", "resolved")
    with pytest.raises(NotInInbox):
        await client.send("SL-2303-ZZZZZZ", "accepted")
    with pytest.raises(ValueError, match="not an agency id"):
        AgencyClient(KafkaSettings(), "UBND Chiềng Sinh")


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], now: datetime = AFTER
) -> tuple[int, str, str]:
    status = main(argv, now=now)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_inbox_command_prints_the_open_tasks(
    no_broker: list[Event[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    no_broker += [
        assigned("r1", "SL-2303-AAAAA1"),
        assigned("r2", "SL-2303-AAAAA2"),
        withdrawn("r2", "SL-2303-AAAAA2"),
    ]
    status, out, _ = run(["--agency", AGENCY, "inbox"], capsys)
    assert status == 0
    assert "SL-2303-AAAAA1 · chủ trì · hạn 21/03/2023 17:00 · QUÁ HẠN" in out
    status, out, _ = run(["inbox", "--json", "--all", "--agency", AGENCY], capsys)
    assert status == 0
    document = json.loads(out)
    assert [task["tracking_code"] for task in document["open"]] == ["SL-2303-AAAAA1"]
    assert [gone["tracking_code"] for gone in document["closed"]] == ["SL-2303-AAAAA2"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--agency", AGENCY, "accept", "SL-2303-ZZZZZZ"], "không có trong hộp thư"),
        (["--agency", AGENCY, "resolve", "SL-2303-AAAAA2", "--note", "x"], "đã rời hộp thư"),
        (["--agency", AGENCY, "ask", "SL-2303-AAAAA3", "--note", "Ở đâu?"], "chỉ đơn vị chủ trì"),
        (["--agency", AGENCY, "resolve", "SL-2303-AAAAA1", "--note", " "], "cần ghi chú"),
        (
            ["--agency", AGENCY, "reject", "r1", "--note", "x", "--suggest", AGENCY],
            "đề xuất chính mình",
        ),
    ],
)
def test_refused_updates_exit_1_with_a_message_and_send_nothing(
    argv: list[str], says: str, no_broker: list[Event[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    no_broker += [
        assigned("r1", "SL-2303-AAAAA1"),
        assigned("r2", "SL-2303-AAAAA2"),
        withdrawn("r2", "SL-2303-AAAAA2"),
        assigned("r3", "SL-2303-AAAAA3", role="supporting"),
    ]
    status, out, err = run(argv, capsys)
    assert status == 1
    assert says in err
    assert out == ""


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "required"),
        (["--agency", AGENCY], "required"),
        (["inbox"], "thiếu --agency"),
        (["--agency", "UBND Chiềng Sinh", "inbox"], "mã đơn vị không hợp lệ"),
        (["--agency", AGENCY, "--bootstrap", "kafka", "inbox"], "địa chỉ Kafka không hợp lệ"),
        (["--agency", AGENCY, "resolve", "SL-2303-AAAAA1"], "--note"),
        (["--agency", AGENCY, "ask", "SL-2303-AAAAA1"], "--note"),
        (["--agency", AGENCY, "reject", "SL-2303-AAAAA1"], "--note"),
        (["--agency", AGENCY, "reopen", "SL-2303-AAAAA1"], "--note"),
        (["--agency", AGENCY, "accept", "SL-2303-AAAAA1", "--suggest", "x"], "--suggest"),
        (["--agency", AGENCY, "accept", "SL-2303-AAAAA1", "--wait", "soon"], "--wait"),
        (["--agency", AGENCY, "accept", "SL-2303-AAAAA1", "--wait", "-1"], "--wait"),
        (["--agency", AGENCY, "close", "SL-2303-AAAAA1"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_before_reading_anything(
    argv: list[str], says: str, no_broker: list[Event[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    no_broker.append(assigned("r1", "SL-2303-AAAAA1"))
    status, out, err = run(argv, capsys)
    assert status == 2
    assert says in err
    assert out == ""


def test_the_broker_address_and_agency_come_from_the_environment(
    no_broker: list[Event[Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = AgencyClient.__init__

    def spy(self: AgencyClient, kafka: KafkaSettings, agency_id: str, **options: Any) -> None:
        seen.append(f"{agency_id}@{kafka.bootstrap_servers}")
        original(self, kafka, agency_id, **options)

    monkeypatch.setattr(AgencyClient, "__init__", spy)
    monkeypatch.setenv("PHANANH_KAFKA__BOOTSTRAP_SERVERS", "kafka-1:9093,kafka-2:9093")
    monkeypatch.setenv("PHANANH_AGENCY_ID", AGENCY)
    assert run(["inbox"], capsys)[0] == 0
    assert run(["--bootstrap", "127.0.0.1:19092", "inbox", "--agency", "bql-cho"], capsys)[0] == 0
    assert seen == [f"{AGENCY}@kafka-1:9093,kafka-2:9093", "bql-cho@127.0.0.1:19092"]

    monkeypatch.setenv("PHANANH_KAFKA__REQUEST_TIMEOUT_MS", "10")
    status, _, err = run(["inbox"], capsys)
    assert status == 2
    assert "PHANANH_KAFKA__REQUEST_TIMEOUT_MS" in err
