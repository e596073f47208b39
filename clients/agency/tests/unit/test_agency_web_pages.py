"""The agency's web inbox without a broker: Starlette's TestClient in front of the real
``AgencyClient`` whose inbox is a list of events and whose sends are kept in a list.

What an officer notices: the page asks who they are, refuses a wrong password and a
forged form, shows overdue tasks first, a task's text and history and the duplicates
linked to it, offers the triage corrections only to whom may send them, and sends
exactly the update the command would send, or says in Vietnamese why not and keeps what
was typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from phananh_agency import AgencyClient, KafkaSettings, NotInInbox, UpdateNotAllowed, target_of
from phananh_agency.cli import main
from phananh_agency.domain import (
    ClosedTask,
    Task,
    actions_for,
    fold_inbox,
    task_history,
    work_order,
)
from phananh_agency.settings import WebSettings
from phananh_agency.text import deadline_status
from phananh_agency.web import create_web_app, session_cookie
from phananh_contracts import (
    CORRECTION_KINDS,
    AgencyTaskAssignedEvent,
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    DuplicateLinkChanged,
    DuplicateLinkChangedEvent,
    Event,
    TaskHistoryEntry,
)
from pydantic import SecretStr, ValidationError
from starlette.testclient import TestClient

from tests.support.agency import citizen_replied, task_assigned, task_withdrawn, update_refused

pytestmark = pytest.mark.unit

AGENCY = "ubnd-chieng-sinh"
PASSWORD = "mật-khẩu-phường-Chiềng-Sinh-2026"
SECRET = "session-secret-for-the-agency-web-tests-0123456789"
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 in Sơn La
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

assigned = partial(task_assigned, AGENCY)
LATE = "SL-2611-AAAAA1"  # overdue by two days
SOON = "SL-2611-AAAAA2"  # due in three days
LATER = "SL-2611-AAAAA3"  # due in ten days, supported only
GONE = "SL-2611-AAAAA4"  # resolved, left the inbox
DUP = "SL-2611-AAAAA5"  # linked to LATE as its duplicate


def settings(**changes: Any) -> WebSettings:
    values: dict[str, Any] = {"password": SecretStr(PASSWORD), "session_secret": SecretStr(SECRET)}
    values.update(changes)
    return WebSettings.model_validate(values)


def seeded() -> list[Event[Any]]:
    """Three open tasks (given out of order) and one that left the inbox."""
    late = assigned("r-late", LATE, deadline=NOW - timedelta(days=2, hours=1), title="Chợ tạm")
    with_history = late.data.model_copy(
        update={
            "history": (
                TaskHistoryEntry(
                    at=NOW - timedelta(days=9),
                    agency_id="bql-cho-noong-duc",
                    what="Ban quản lý chợ Noong Đúc từ chối: ngoài phạm vi chợ.",
                ),
            ),
            "note": "Chuyển đến sau khi đơn vị khác từ chối.",
            "received_at": NOW - timedelta(days=10),
            "assigned_at": NOW - timedelta(days=8),
        }
    )
    reply = citizen_replied("r-late", LATE, "Hàng bán ở cổng phía đông chợ.", rating=None)
    reply = type(reply).new(
        reply.data.model_copy(update={"received_at": NOW - timedelta(days=1)}),
        source="/services/intake",
    )
    return [
        assigned("r-later", LATER, deadline=NOW + timedelta(days=10), role="supporting"),
        assigned("r-soon", SOON, deadline=NOW + timedelta(days=3, hours=2), title="Rác thải"),
        AgencyTaskAssignedEvent.new(with_history, source="/services/routing"),
        reply,
        update_refused(AGENCY, "r-late", "update-1", at=NOW - timedelta(days=3)),
        assigned("r-gone", GONE, deadline=NOW + timedelta(days=1)),
        task_withdrawn(AGENCY, "r-gone", GONE, "Đã giải quyết", at=NOW - timedelta(days=1)),
        DuplicateLinkChangedEvent.new(
            DuplicateLinkChanged(
                report_id="r-dup",
                tracking_code=DUP,
                agency_id=AGENCY,
                original_report_id="r-late",
                original_tracking_code=LATE,
                linked=True,
                text="Bán thịt lợn ngay hành lang chợ Noong Đúc, mất vệ sinh",
                received_at=NOW - timedelta(days=2),
                at=NOW - timedelta(days=2),
                by_agency_id="ioc-tiep-nhan",
                reason="Cùng vụ việc ở chợ Noong Đúc",
            ),
            source="/services/routing",
        ),
    ]


@dataclass
class Agency:
    """The agency's client with its inbox in memory and its sends kept."""

    events: list[Event[Any]] = field(default_factory=seeded)
    sent: list[AgencyUpdateEvent] = field(default_factory=list)


@pytest.fixture
def agency(monkeypatch: pytest.MonkeyPatch) -> Agency:
    memory = Agency()

    async def read(self: AgencyClient) -> tuple[list[Event[Any]], int]:
        return list(memory.events), 0

    async def publish(self: AgencyClient, update: AgencyUpdateEvent) -> None:
        memory.sent.append(update)

    monkeypatch.setattr(AgencyClient, "_read", read)
    monkeypatch.setattr(AgencyClient, "publish", publish)
    return memory


@pytest.fixture
def web(agency: Agency) -> Iterator[TestClient]:
    app = create_web_app(AgencyClient(KafkaSettings(), AGENCY), settings(), clock=lambda: NOW)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(web: TestClient, officer: str = "cb-042") -> str:
    """Signs in; the session's CSRF token."""
    token = csrf_of(web.get("/login").text)
    answer = web.post("/login", data={"csrf": token, "password": PASSWORD, "officer": officer})
    assert answer.status_code == 303, answer.text
    return csrf_of(web.get("/").text)


def codes_in_order(page: str) -> list[str]:
    return re.findall(r'<li class="task[^"]*" data-code="([^"]+)"', page)


def forms_on(page: str) -> list[str]:
    """The commands whose forms a task page offers (unlinking: see ``unlinks_on``)."""
    return re.findall(r'id="action-([a-z-]+)"', page)


def unlinks_on(page: str) -> list[str]:
    """The duplicates a task page offers to unlink."""
    return re.findall(r'id="action-unlink-([A-Z0-9-]+)"', page)


CORRECTIONS = ["recategorize", "replace", "out-of-scope", "link"]
CORRECTION_KINDS_NAMES = [*CORRECTIONS, "unlink"]


# --- signing in ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", f"/tasks/{LATE}"])
def test_every_page_needs_a_sign_in(web: TestClient, path: str) -> None:
    answer = web.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={path.replace('/', '%2F')}"
    login = web.get(answer.headers["location"])
    assert login.status_code == 200
    assert "Đăng nhập hộp thư" in login.text and AGENCY in login.text


def test_a_form_sent_without_a_session_sends_nothing(web: TestClient, agency: Agency) -> None:
    token = csrf_of(web.get("/login").text)
    answer = web.post(f"/tasks/{LATE}/accept", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert agency.sent == []


def test_a_wrong_password_is_refused_and_the_right_one_opens_a_signed_session(
    web: TestClient,
) -> None:
    token = csrf_of(web.get("/login").text)
    wrong = web.post("/login", data={"csrf": token, "password": PASSWORD[:-1], "officer": "cb-7"})
    assert wrong.status_code == 401
    assert "Mật khẩu không đúng." in wrong.text
    assert 'value="cb-7"' in wrong.text  # the officer's reference is kept
    assert web.get("/").status_code == 303

    right = web.post("/login", data={"csrf": token, "password": PASSWORD, "next": f"/tasks/{SOON}"})
    assert right.status_code == 303 and right.headers["location"] == f"/tasks/{SOON}"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{session_cookie(AGENCY)}=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert PASSWORD not in cookie
    assert web.get("/").status_code == 200


def test_after_sign_in_only_a_local_page_is_opened(web: TestClient) -> None:
    token = csrf_of(web.get("/login").text)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        answer = web.post("/login", data={"csrf": token, "password": PASSWORD, "next": target})
        assert answer.headers["location"] == "/"
        web.cookies.clear()
        token = csrf_of(web.get("/login").text)


def test_an_officer_reference_the_contract_refuses_is_said_at_sign_in(web: TestClient) -> None:
    token = csrf_of(web.get("/login").text)
    answer = web.post("/login", data={"csrf": token, "password": PASSWORD, "officer": "cán bộ 42"})
    assert answer.status_code == 400
    assert "mã cán bộ (officer_ref) không được có khoảng trắng" in answer.text
    assert web.get("/").status_code == 303


def test_a_tampered_or_foreign_session_cookie_is_not_a_sign_in(agency: Agency) -> None:
    ours = create_web_app(AgencyClient(KafkaSettings(), AGENCY), settings(), clock=lambda: NOW)
    other_secret = settings(session_secret=SecretStr("another-agency-page-secret-0123456789ab"))
    theirs = create_web_app(AgencyClient(KafkaSettings(), AGENCY), other_secret)
    with TestClient(theirs, follow_redirects=False) as other:
        sign_in(other)
        cookie = other.cookies[session_cookie(AGENCY)]
    with TestClient(ours, follow_redirects=False) as web:
        web.cookies.set(session_cookie(AGENCY), cookie)
        assert web.get("/").status_code == 303
        web.cookies.set(session_cookie(AGENCY), cookie[:-4] + "AAAA")
        assert web.get("/").status_code == 303


def test_signing_in_too_often_is_refused_for_a_while(agency: Agency) -> None:
    app = create_web_app(
        AgencyClient(KafkaSettings(), AGENCY), settings(login_attempts_per_minute=3)
    )
    with TestClient(app, follow_redirects=False) as web:
        token = csrf_of(web.get("/login").text)
        statuses = [
            web.post("/login", data={"csrf": token, "password": "sai-mat-khau"}).status_code
            for _ in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


def test_signing_out_ends_the_session(web: TestClient) -> None:
    token = sign_in(web)
    answer = web.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "Đã đăng xuất." in web.get("/login").text
    assert web.get("/").status_code == 303


# --- forged forms -------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_form_without_the_session_token_is_refused_and_sends_nothing(
    web: TestClient, agency: Agency, token: str | None
) -> None:
    sign_in(web)
    data = {"note": "Đã xử lý xong."} | ({} if token is None else {"csrf": token})
    answer = web.post(f"/tasks/{LATE}/resolve", data=data)
    assert answer.status_code == 403
    assert "Biểu mẫu không hợp lệ" in answer.text
    assert agency.sent == []


def test_signing_in_needs_the_login_pages_token(web: TestClient) -> None:
    answer = web.post("/login", data={"password": PASSWORD})
    assert answer.status_code == 403
    assert web.get("/").status_code == 303


# --- the inbox and a task -----------------------------------------------------------------


def test_the_inbox_shows_overdue_first_then_by_deadline_with_what_to_know(
    web: TestClient,
) -> None:
    sign_in(web)
    page = web.get("/").text
    assert codes_in_order(page) == [LATE, SOON, LATER]
    assert "3 phản ánh" in page and "1 quá hạn" in page
    late = page[page.index(f'data-code="{LATE}"') :]
    assert "quá hạn 2 ngày" in late[:800] and "Chợ tạm" in late[:800]
    assert "Chiềng Sinh" in late[:800]  # the ward
    assert "hạn 28/11/2026 09:00" in late[:800]
    soon = page[page.index(f'data-code="{SOON}"') :]
    assert "còn 3 ngày" in soon[:800] and "chủ trì" in soon[:800]
    later = page[page.index(f'data-code="{LATER}"') :]
    assert "còn 10 ngày" in later[:800] and "phối hợp" in later[:800]
    assert "Đã rời hộp thư (1)" in page and GONE in page


def test_a_page_is_vietnamese_nfc_for_a_phone_with_secure_headers(web: TestClient) -> None:
    sign_in(web)
    answer = web.get("/")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert unicodedata.is_normalized("NFC", answer.text)
    assert '<html lang="vi">' in answer.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in answer.text
    headers = answer.headers
    assert headers["cache-control"] == "no-store"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    style = web.get("/static/agency.css")
    assert style.status_code == 200 and style.headers["x-content-type-options"] == "nosniff"


def test_a_task_page_shows_the_text_place_and_history_in_order(web: TestClient) -> None:
    sign_in(web)
    page = web.get(f"/tasks/{LATE.lower()}").text  # any case, as the command
    assert f'<h1 id="code">{LATE}</h1>' in page
    assert "Có hộ dân bày bán thịt lợn" in page  # the citizen's text
    assert "Hành lang chợ Noong Đúc" in page and "Tổ 8" in page
    history = page[page.index('id="history"') : page.index("</ol>", page.index('id="history"'))]
    steps = [
        "Người dân gửi phản ánh.",
        "Ban quản lý chợ Noong Đúc từ chối: ngoài phạm vi chợ.",
        "Giao cho đơn vị (chủ trì), hạn 28/11/2026 09:00. Chuyển đến sau khi",
        "Định tuyến từ chối «đã giải quyết»",
        "Người dân trả lời: «Hàng bán ở cổng phía đông chợ.»",
    ]
    positions = [history.index(step) for step in steps]
    assert positions == sorted(positions), history
    assert "Chuyển đến sau khi đơn vị khác từ chối." in history
    assert forms_on(page) == ["accept", "progress", "ask", "reject", "resolve", *CORRECTIONS]


def test_a_supporting_agency_is_not_offered_to_ask_and_a_forged_ask_is_refused(
    web: TestClient, agency: Agency
) -> None:
    token = sign_in(web)
    page = web.get(f"/tasks/{LATER}").text
    assert forms_on(page) == ["accept", "progress", "reject", "resolve"]
    assert "phối hợp (chủ trì: ubnd-thanh-pho)" in page
    answer = web.post(f"/tasks/{LATER}/ask", data={"csrf": token, "note": "Ở cổng nào?"})
    assert answer.status_code == 400
    assert "Chỉ đơn vị chủ trì (ubnd-thanh-pho)" in answer.text
    assert agency.sent == []


def test_a_report_that_left_the_inbox_offers_only_reopening(web: TestClient) -> None:
    sign_in(web)
    page = web.get(f"/tasks/{GONE}").text
    assert "Phản ánh đã rời hộp thư" in page and "Rời hộp thư: Đã giải quyết" in page
    assert forms_on(page) == ["reopen"]


def test_an_unknown_report_is_a_vietnamese_404(web: TestClient) -> None:
    sign_in(web)
    answer = web.get("/tasks/SL-2611-ZZZZZZ")
    assert answer.status_code == 404
    assert "không có trong hộp thư của ubnd-chieng-sinh" in answer.text


# --- sending updates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "code", "form", "kind"),
    [
        ("accept", SOON, {}, AgencyUpdateKind.ACCEPTED),
        ("progress", SOON, {"note": "Đã cử cán bộ kiểm tra"}, AgencyUpdateKind.IN_PROGRESS),
        ("ask", LATE, {"note": "Hàng bán ở cổng nào?"}, AgencyUpdateKind.NEEDS_INFORMATION),
        (
            "reject",
            SOON,
            {"note": "Không thuộc địa bàn", "suggest": "ubnd-to-hieu"},
            AgencyUpdateKind.REJECTED,
        ),
        ("resolve", LATE, {"note": "Đã lập biên bản, chấm dứt vi phạm"}, AgencyUpdateKind.RESOLVED),
        ("reopen", GONE, {"note": "Vi phạm tái diễn"}, AgencyUpdateKind.REOPENED),
    ],
)
def test_each_form_sends_the_update_the_command_sends_then_confirms(
    web: TestClient,
    agency: Agency,
    command: str,
    code: str,
    form: dict[str, str],
    kind: AgencyUpdateKind,
) -> None:
    token = sign_in(web, officer="cb-042")
    answer = web.post(f"/tasks/{code}/{command}", data={"csrf": token, **form})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/tasks/{code}"
    (sent,) = agency.sent
    report_id = fold_inbox(agency.events).find(code).report_id  # type: ignore[union-attr]
    assert sent.data.model_dump(exclude={"updated_at"}) == AgencyUpdate(
        report_id=report_id,
        agency_id=AGENCY,
        kind=kind,
        note=form.get("note"),
        suggested_agency_id=form.get("suggest"),
        officer_ref="cb-042",
        updated_at=NOW,
    ).model_dump(exclude={"updated_at"})
    assert sent.source == f"/agencies/{AGENCY}"
    page = web.get(answer.headers["location"]).text
    assert "Đã gửi «" in page and f"» cho {code}." in page
    assert "Đơn vị gửi «" in page and "(cán bộ cb-042)" in page  # now in its history
    assert "Đã gửi «" not in web.get(answer.headers["location"]).text  # said once


def test_a_refused_update_says_why_in_vietnamese_and_keeps_what_was_typed(
    web: TestClient, agency: Agency
) -> None:
    token = sign_in(web)
    note = "Không thuộc địa bàn phường; đề nghị chuyển phường Tô Hiệu."
    answer = web.post(
        f"/tasks/{SOON}/reject", data={"csrf": token, "note": note, "suggest": "UBND Tô Hiệu"}
    )
    assert answer.status_code == 400
    assert "mã đơn vị đề xuất (suggested_agency_id) chỉ gồm chữ thường không dấu" in answer.text
    assert f">{note}</textarea>" in answer.text
    assert 'value="UBND Tô Hiệu"' in answer.text
    assert '<details class="action" id="action-reject" open>' in answer.text

    blank = web.post(f"/tasks/{SOON}/resolve", data={"csrf": token, "note": "   "})
    assert blank.status_code == 400
    assert "«đã giải quyết» cần ghi chú: người dân sẽ đọc nó." in blank.text
    assert agency.sent == []


def test_an_update_about_a_report_not_held_is_refused_with_the_note_shown_back(
    web: TestClient, agency: Agency
) -> None:
    token = sign_in(web)
    answer = web.post(
        "/tasks/SL-2611-ZZZZZZ/resolve", data={"csrf": token, "note": "Đã giải quyết xong."}
    )
    assert answer.status_code == 404
    assert "không có trong hộp thư" in answer.text
    assert "Đã giải quyết xong." in answer.text
    assert agency.sent == []


def test_an_unknown_command_is_a_404(web: TestClient, agency: Agency) -> None:
    token = sign_in(web)
    assert web.post(f"/tasks/{SOON}/approve", data={"csrf": token}).status_code == 404
    assert agency.sent == []


# --- triage corrections ----------------------------------------------------------------------

REASON = "Đọc lại nội dung: phản ánh về an toàn giao thông"


@pytest.mark.parametrize(
    ("command", "code", "form", "argv"),
    [
        (
            "recategorize",
            SOON,
            {"category": "traffic_safety"},
            ["recategorize", SOON, "--category", "traffic_safety"],
        ),
        (
            "replace",
            LATE,
            {"ward": "03679", "group": "Tổ 8"},
            ["replace", LATE, "--ward", "03679", "--group", "Tổ 8"],
        ),
        ("replace", LATE, {"ward": "03679", "group": ""}, ["replace", LATE, "--ward", "03679"]),
        ("out-of-scope", SOON, {}, ["out-of-scope", SOON]),
        ("link", SOON, {"to": LATE.lower()}, ["link", SOON, "--to", LATE]),
        (
            "link",
            SOON,
            {"to": "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"},
            ["link", SOON, "--to", "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"],
        ),
        ("unlink", LATE, {"duplicate": DUP}, ["unlink", DUP]),
    ],
)
def test_each_correction_form_sends_the_update_the_command_sends(
    web: TestClient,
    agency: Agency,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    code: str,
    form: dict[str, str],
    argv: list[str],
) -> None:
    token = sign_in(web, officer="cb-042")
    assert command in forms_on(web.get(f"/tasks/{code}").text) or command == "unlink"
    answer = web.post(f"/tasks/{code}/{command}", data={"csrf": token, "note": REASON, **form})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/tasks/{code}"  # unlinking: back to the original
    monkeypatch.delenv("PHANANH_AGENCY_ID", raising=False)
    assert main(["--agency", AGENCY, *argv, "--reason", REASON, "--officer", "cb-042"]) == 0
    from_page, from_command = agency.sent
    assert from_page.data.model_dump(exclude={"updated_at"}) == from_command.data.model_dump(
        exclude={"updated_at"}
    )
    assert from_page.data.kind in CORRECTION_KINDS and from_page.source == f"/agencies/{AGENCY}"
    page = web.get(answer.headers["location"]).text
    assert "Đã gửi «" in page


def test_the_duplicates_of_a_task_are_shown_with_an_unlink_form_for_its_lead(
    web: TestClient,
) -> None:
    sign_in(web)
    page = web.get(f"/tasks/{LATE}").text
    duplicates = page[page.index('id="duplicates"') :]
    assert "Phản ánh trùng được gộp vào" in page
    assert DUP in duplicates and "Bán thịt lợn ngay hành lang chợ Noong Đúc" in duplicates
    assert "bởi ioc-tiep-nhan: Cùng vụ việc ở chợ Noong Đúc" in duplicates
    assert unlinks_on(page) == [DUP]
    for label in (
        "Đổi lĩnh vực",
        "Đổi địa bàn",
        "Ngoài phạm vi",
        "Gộp vào phản ánh khác",
        "Tách khỏi phản ánh trùng",
    ):
        assert f"<summary>{label}</summary>" in page
    assert '<option value="urban_order">' in page  # the categories seen, suggested
    assert DUP not in web.get(f"/tasks/{SOON}").text


def test_a_supporting_agency_sees_no_correction_and_a_forged_one_sends_nothing(
    web: TestClient, agency: Agency
) -> None:
    token = sign_in(web)
    page = web.get(f"/tasks/{LATER}").text
    assert not set(CORRECTION_KINDS_NAMES) & set(forms_on(page))
    answer = web.post(f"/tasks/{LATER}/out-of-scope", data={"csrf": token, "note": REASON})
    assert answer.status_code == 400
    assert "hoặc bộ phận tiếp nhận" in answer.text and f">{REASON}</textarea>" in answer.text
    assert agency.sent == []


def test_the_triage_desk_is_offered_corrections_on_reports_it_supports(agency: Agency) -> None:
    app = create_web_app(
        AgencyClient(KafkaSettings(), AGENCY), settings(triage_desk=True), clock=lambda: NOW
    )
    with TestClient(app, follow_redirects=False) as web:
        token = sign_in(web)
        assert forms_on(web.get(f"/tasks/{LATER}").text)[-4:] == CORRECTIONS
        answer = web.post(f"/tasks/{LATER}/out-of-scope", data={"csrf": token, "note": REASON})
    assert answer.status_code == 303
    (sent,) = agency.sent
    assert (sent.data.kind, sent.data.report_id) == (AgencyUpdateKind.OUT_OF_SCOPE, "r-later")


@pytest.mark.parametrize(
    ("command", "form", "status", "says"),
    [
        (
            "replace",
            {"ward": "3679", "group": "Tổ 8"},
            400,
            "mã phường, xã (ward_code) gồm đúng 5 chữ số",
        ),
        ("recategorize", {"category": "An toàn giao thông"}, 400, "mã lĩnh vực (category)"),
        ("recategorize", {"category": ""}, 400, "đổi lĩnh vực cần mã lĩnh vực mới"),
        ("link", {"to": LATE}, 400, "không thể gộp một phản ánh vào chính nó"),
        ("link", {"to": "SL-2611-ZZZZZZ"}, 404, "hãy dùng mã phản ánh (report id)"),
        ("out-of-scope", {"note": "  "}, 400, "«không thuộc phạm vi tiếp nhận» cần lý do"),
        ("unlink", {"duplicate": "SL-2611-ZZZZZZ"}, 404, "không phải phản ánh trùng"),
        ("unlink", {"duplicate": DUP, "note": " "}, 400, "«tách khỏi phản ánh gốc» cần lý do"),
    ],
)
def test_a_refused_correction_says_why_and_keeps_what_was_typed(
    web: TestClient,
    agency: Agency,
    command: str,
    form: dict[str, str],
    status: int,
    says: str,
) -> None:
    token = sign_in(web)
    data = {"csrf": token, "note": REASON, **form}
    answer = web.post(f"/tasks/{LATE}/{command}", data=data)
    assert answer.status_code == status
    assert says in answer.text
    assert 'role="alert">' in answer.text and f'<h1 id="code">{LATE}</h1>' in answer.text
    if data["note"].strip():
        assert f">{data['note']}</textarea>" in answer.text
    for name, value in form.items():
        if name not in ("note", "duplicate") and value:
            assert f'value="{value}"' in answer.text
    if command != "unlink":
        assert f'<details class="action" id="action-{command}" open>' in answer.text
    elif form["duplicate"] == DUP:
        assert f'<details class="action" id="action-unlink-{DUP}" open>' in answer.text
    assert agency.sent == []


# --- the domain the pages use -------------------------------------------------------------


@pytest.mark.parametrize("triage_desk", [False, True])
def test_the_forms_offered_are_the_updates_target_of_accepts(triage_desk: bool) -> None:
    """Everything offered is accepted; everything accepted is offered, except reopening a
    task still open (the command allows it, routing judges it): offered once it left.
    Unlinking offered on a task means its duplicates: each of them is accepted."""
    inbox = fold_inbox(seeded())
    for entry in (*inbox.open, *inbox.closed):
        offered = actions_for(entry, triage_desk=triage_desk)
        for kind in AgencyUpdateKind:
            refs = [entry.tracking_code]
            if kind == AgencyUpdateKind.UNLINKED:
                refs = [found.tracking_code for found in inbox.duplicates_of(entry.report_id)]
            for ref in refs:
                try:
                    target_of(inbox, ref, kind, AGENCY, triage_desk=triage_desk)
                    accepted = True
                except (NotInInbox, UpdateNotAllowed):
                    accepted = False
                if isinstance(entry, Task) and kind == AgencyUpdateKind.REOPENED:
                    assert kind not in offered
                else:
                    assert accepted == (kind in offered), (entry.tracking_code, kind, ref)


def test_corrections_are_offered_to_the_lead_and_to_the_triage_desk_only() -> None:
    inbox = fold_inbox(seeded())
    late, later = inbox.find(LATE), inbox.find(LATER)
    assert isinstance(late, Task) and isinstance(later, Task) and later.role == "supporting"
    assert set(actions_for(late)) >= CORRECTION_KINDS
    assert not CORRECTION_KINDS & set(actions_for(later))
    assert set(actions_for(later, triage_desk=True)) >= CORRECTION_KINDS
    # Not knowing (the command): routing judges; knowing it is not the desk: refused here.
    assert target_of(inbox, LATER, AgencyUpdateKind.OUT_OF_SCOPE, AGENCY) == later
    with pytest.raises(UpdateNotAllowed, match="bộ phận tiếp nhận"):
        target_of(inbox, LATER, AgencyUpdateKind.OUT_OF_SCOPE, AGENCY, triage_desk=False)


def test_work_order_puts_overdue_first_even_before_an_earlier_open_deadline() -> None:
    tasks = fold_inbox(seeded()).open
    assert [task.tracking_code for task in work_order(tasks, NOW)] == [LATE, SOON, LATER]
    # Past every deadline, all are overdue: by deadline.
    late = NOW + timedelta(days=30)
    assert [task.tracking_code for task in work_order(tasks, late)] == [LATE, SOON, LATER]


@pytest.mark.parametrize(
    ("offset", "says"),
    [
        (timedelta(days=-2, hours=-1), "quá hạn 2 ngày"),
        (timedelta(hours=-3), "quá hạn"),
        (timedelta(0), "quá hạn"),
        (timedelta(minutes=20), "còn dưới 1 giờ"),
        (timedelta(hours=5, minutes=59), "còn 5 giờ"),
        (timedelta(days=3, hours=2), "còn 3 ngày"),
    ],
)
def test_deadline_status_as_officers_say_it(offset: timedelta, says: str) -> None:
    assert deadline_status(NOW + offset, NOW) == says


def test_the_history_of_a_closed_task_ends_with_its_withdrawal() -> None:
    (gone,) = fold_inbox(seeded()).closed
    assert isinstance(gone, ClosedTask) and isinstance(gone.task, Task)
    sent = AgencyUpdate(
        report_id="r-gone",
        agency_id=AGENCY,
        kind=AgencyUpdateKind.RESOLVED,
        note="Đã xử lý",
        updated_at=NOW - timedelta(days=2),
    )
    other = sent.model_copy(update={"report_id": "r-other"})
    kinds = [step.kind for step in task_history(gone, [sent, other])]
    assert kinds == ["received", "assigned", "sent", "withdrawn"]


# --- settings and the command -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"password": SecretStr("ngan-qua")}, "at least 12 characters"),
        ({"password": SecretStr("change-me-please-now")}, "placeholder"),
        ({"password": SecretStr("aaaaaaaaaaaaaaaa")}, "too few characters"),
        ({"session_secret": SecretStr("short-secret")}, "at least 32 characters"),
    ],
)
def test_weak_or_placeholder_secrets_are_refused(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        settings(**changes)


def test_the_web_command_refuses_a_missing_password_or_another_agencys_principal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PHANANH_AGENCY_WEB_PASSWORD", raising=False)
    monkeypatch.setenv("PHANANH_AGENCY_WEB_SESSION_SECRET", SECRET)
    assert main(["--agency", AGENCY, "web"]) == 2
    assert "PHANANH_AGENCY_WEB_PASSWORD: Field required" in capsys.readouterr().err

    monkeypatch.setenv("PHANANH_AGENCY_WEB_PASSWORD", PASSWORD)
    monkeypatch.setenv("PHANANH_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("PHANANH_KAFKA__USERNAME", "agency-ubnd-to-hieu")
    monkeypatch.setenv("PHANANH_KAFKA__PASSWORD", "kafka-password-0123456789")
    assert main(["--agency", AGENCY, "web"]) == 2
    assert "không phải agency-ubnd-chieng-sinh" in capsys.readouterr().err


def test_the_health_check_answers_without_a_session_and_shows_no_task(web: TestClient) -> None:
    answer = web.get("/healthz")

    assert (answer.status_code, answer.text) == (200, "ok")
    assert LATE not in answer.text and "set-cookie" not in answer.headers
