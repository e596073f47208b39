"""Triage corrections from the agency client: each command sends the update routing
expects, duplicates show under the report they are linked to, and bad input sends nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from phananh_agency import AgencyClient, fold_inbox, render_inbox
from phananh_agency.cli import main
from phananh_contracts import (
    AgencyUpdateEvent,
    AgencyUpdateKind,
    DuplicateLinkChanged,
    DuplicateLinkChangedEvent,
    Event,
)

from tests.support.agency import task_assigned

pytestmark = pytest.mark.unit

AGENCY = "ioc-tiep-nhan"
DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
NOW = DEADLINE - timedelta(days=2)
assigned = partial(task_assigned, AGENCY, deadline=DEADLINE, title="Xe tải chở đất gây bụi")


def linked(report_id: str, code: str, *, to: str = "r1", linked: bool = True) -> Event[Any]:
    return DuplicateLinkChangedEvent.new(
        DuplicateLinkChanged(
            report_id=report_id,
            tracking_code=code,
            agency_id=AGENCY,
            original_report_id=to,
            original_tracking_code="SL-2303-AAAAA1",
            linked=linked,
            text="Xe ben chở đất rơi vãi trên đường Lê Duẩn, bụi mù mịt",
            received_at=NOW,
            at=NOW + timedelta(minutes=1 if linked else 5),
        ),
        source="/services/routing",
    )


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Event[Any]], list[AgencyUpdateEvent]]:
    """The inbox holds the first list's events; what is published lands in the second."""
    events: list[Event[Any]] = []
    sent: list[AgencyUpdateEvent] = []

    async def read(self: AgencyClient) -> tuple[list[Event[Any]], int]:
        return list(events), 0

    async def publish(self: AgencyClient, update: AgencyUpdateEvent) -> None:
        sent.append(update)

    monkeypatch.setattr(AgencyClient, "_read", read)
    monkeypatch.setattr(AgencyClient, "publish", publish)
    monkeypatch.delenv("PHANANH_AGENCY_ID", raising=False)
    monkeypatch.delenv("PHANANH_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    return events, sent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["--agency", AGENCY, *argv], now=NOW)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "kind", "fields"),
    [
        (
            ["recategorize", "SL-2303-AAAAA1", "--category", "traffic_safety"],
            AgencyUpdateKind.RECATEGORIZED,
            {"category": "traffic_safety"},
        ),
        (
            ["replace", "sl-2303-aaaaa1", "--ward", "03679", "--group", "Tổ 8"],
            AgencyUpdateKind.RELOCATED,
            {"ward_code": "03679", "residential_group": "Tổ 8"},
        ),
        (["out-of-scope", "r1"], AgencyUpdateKind.OUT_OF_SCOPE, {}),
        (
            ["link", "SL-2303-AAAAA2", "--to", "SL-2303-AAAAA1"],
            AgencyUpdateKind.LINKED,
            {"duplicate_of": "r1"},
        ),
        (
            ["link", "SL-2303-AAAAA2", "--to", "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"],
            AgencyUpdateKind.LINKED,
            {"duplicate_of": "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"},
        ),
        (["unlink", "SL-2303-DDDDD1"], AgencyUpdateKind.UNLINKED, {}),
    ],
)
def test_each_correction_command_sends_its_update_with_the_reason(
    argv: list[str],
    kind: AgencyUpdateKind,
    fields: dict[str, str],
    broker: tuple[list[Event[Any]], list[AgencyUpdateEvent]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, sent = broker
    events += [
        assigned("r1", "SL-2303-AAAAA1"),
        assigned("r2", "SL-2303-AAAAA2"),
        linked("d1", "SL-2303-DDDDD1"),
    ]
    status, out, err = run([*argv, "--reason", "Đọc lại nội dung: sai lĩnh vực"], capsys)
    assert (status, err) == (0, "")
    (update,) = sent
    assert update.data.kind == kind and update.data.note == "Đọc lại nội dung: sai lĩnh vực"
    assert update.data.agency_id == AGENCY
    for name, value in fields.items():
        assert getattr(update.data, name) == value
    expected_report = "d1" if kind == AgencyUpdateKind.UNLINKED else update.data.report_id
    assert update.data.report_id == expected_report
    assert "Đã gửi" in out


def test_the_triage_desk_may_unlink_any_duplicate_by_its_report_id(
    broker: tuple[list[Event[Any]], list[AgencyUpdateEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sent = broker
    status, _, _ = run(["unlink", "01GVKA3C5E7G9J1K3M5P7R9T1V", "--reason", "Khác vụ việc"], capsys)
    assert status == 0 and sent[0].data.report_id == "01GVKA3C5E7G9J1K3M5P7R9T1V"


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["recategorize", "SL-2303-AAAAA1", "--category", "traffic_safety"], 2, "--reason"),
        (["recategorize", "SL-2303-AAAAA1", "--reason", "x"], 2, "--category"),
        (["replace", "SL-2303-AAAAA1", "--reason", "x"], 2, "--ward"),
        (["link", "SL-2303-AAAAA2", "--reason", "x"], 2, "--to"),
        (["out-of-scope", "SL-2303-AAAAA1", "--reason", " "], 1, "cần lý do"),
        (["replace", "SL-2303-AAAAA1", "--ward", "3679", "--reason", "x"], 1, "không hợp lệ"),
        (["link", "SL-2303-AAAAA1", "--to", "SL-2303-AAAAA1", "--reason", "x"], 1, "không hợp lệ"),
        (["link", "SL-2303-AAAAA2", "--to", "SL-2303-ZZZZZZ", "--reason", "x"], 1, "report id"),
        (["unlink", "SL-2303-ZZZZZZ", "--reason", "x"], 1, "report id"),
        (["out-of-scope", "SL-2303-ZZZZZZ", "--reason", "x"], 1, "không có trong hộp thư"),
    ],
)
def test_a_correction_that_cannot_be_sent_sends_nothing(
    argv: list[str],
    status: int,
    says: str,
    broker: tuple[list[Event[Any]], list[AgencyUpdateEvent]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, sent = broker
    events += [assigned("r1", "SL-2303-AAAAA1"), assigned("r2", "SL-2303-AAAAA2")]
    got, out, err = run(argv, capsys)
    assert got == status and says in err and out == ""
    assert sent == []


def test_duplicates_show_under_their_report_until_unlinked(
    broker: tuple[list[Event[Any]], list[AgencyUpdateEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    events, _ = broker
    events += [
        assigned("r1", "SL-2303-AAAAA1"),
        linked("d1", "SL-2303-DDDDD1"),
        linked("d2", "SL-2303-DDDDD2"),
        linked("d2", "SL-2303-DDDDD2", linked=False),
    ]
    inbox = fold_inbox(events)
    assert [d.tracking_code for d in inbox.duplicates] == ["SL-2303-DDDDD1"]
    text = render_inbox(inbox, AGENCY, now=NOW)
    assert "Trùng: SL-2303-DDDDD1" in text and "unlink SL-2303-DDDDD1" in text
    assert "SL-2303-DDDDD2" not in text
    status, out, _ = run(["inbox", "--json"], capsys)
    assert status == 0
    assert [d["tracking_code"] for d in json.loads(out)["duplicates"]] == ["SL-2303-DDDDD1"]
