"""The web pages on Starlette's TestClient over in-memory trail and facts; the pure parts
(citizen history, segment proofs, sessions, rate limits) on their own."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.adapters.web import WebContext, normalize_code, vietnamese_number, web_routes
from audit.adapters.web_guard import BoardSessions, RateLimiter
from audit.domain.chain import SourcePosition, event_facts, head_of, next_record, to_document
from audit.domain.checkpoints import (
    build_checkpoint,
    generate_signing_key,
    keyring,
    load_signing_key,
    signed_checkpoint,
)
from audit.domain.citizen_history import citizen_history
from audit.domain.facts import AgencyStep, Escalation, ReportFacts, StatusChange
from audit.domain.report_proof import ProofState, SignedHead, prove_segment
from phananh_contracts import ChainHead
from phananh_contracts import examples as ex
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.support.audit import ListedFacts, ListedTrail, chained

pytestmark = pytest.mark.unit

NOW = datetime(2023, 4, 10, 3, 0, tzinfo=UTC)
LEADER = "key-thanh-uy-0123456789"
TO_HIEU = "key-ubnd-to-hieu-012345"
KEYS = {LEADER: "leadership:thanh-uy", TO_HIEU: "agency:ubnd-to-hieu"}
SIGNING_KEY = load_signing_key(generate_signing_key())
GOLDEN = [e for e in ex.GOLDEN_PATH if getattr(e.data, "report_id", None) == ex.REPORT_ID]
STORY = [*GOLDEN, ex.CITIZEN_REPLIED]
TRAIL = chained(STORY)


def facts(number: int, ward: str, name: str, agency: str, *, resolved: bool) -> ReportFacts:
    received = datetime(2023, 3, 1 + number, 2, 0, tzinfo=UTC)
    steps = [AgencyStep(received + timedelta(hours=5), agency, "accepted")]
    if resolved:
        steps.append(AgencyStep(received + timedelta(days=2), agency, "resolved"))
    return ReportFacts(
        report_id=f"rpt-{number}",
        tracking_code=f"SL-2303-00000{number}",
        channel="app",
        ward_code=ward,
        ward_name=name,
        category="urban_order",
        received_at=received,
        lead_agency_id=agency,
        assigned_at=received + timedelta(hours=1),
        deadline=received + timedelta(days=5),
        status_changes=(StatusChange(received + timedelta(hours=1), "assigned"),),
        agency_steps=tuple(steps),
    )


FACTS = [
    facts(1, "03679", "Chiềng Sinh", "ubnd-chieng-sinh", resolved=True),
    facts(2, "03679", "Chiềng Sinh", "ubnd-chieng-sinh", resolved=True),
    facts(3, "03646", "Tô Hiệu", "ubnd-to-hieu", resolved=False),
]


def context(**changes: Any) -> WebContext:
    base = WebContext(
        facts=ListedFacts(FACTS),
        trail=ListedTrail(TRAIL),
        role_keys=KEYS,
        sessions=BoardSessions(KEYS, 3600),
        lookups=RateLimiter(1 / 60, 3),
        logins=RateLimiter(1 / 60, 3),
        agency_names={"ubnd-to-hieu": "Ủy ban nhân dân phường Tô Hiệu"},
        clock=lambda: NOW,
    )
    return replace(base, **changes)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=web_routes(context())), follow_redirects=False) as http:
        yield http


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


# ----------------------------------------------------------------------- citizen history


def test_the_history_tells_the_story_in_vietnamese_and_nothing_personal() -> None:
    history = citizen_history(ex.TRACKING_CODE, TRAIL)
    assert history is not None
    labels = [step.label for step in history.steps]
    assert labels == [
        "Đã tiếp nhận",
        "Đã chuyển cơ quan xử lý",
        "Đã có kết quả giải quyết",
        "Bạn đã phản hồi",
    ]
    assigned = history.steps[1]
    assert assigned.agency_name == "Ủy ban nhân dân phường Chiềng Sinh"
    assert assigned.expected_date == "21/03/2023"  # 10:00 UTC is 17:00 in Sơn La
    assert assigned.when == "14/03/2023 08:12"
    assert history.result == ex.RESOLUTION_NOTE
    assert history.rating == 5 and history.can_rate and not history.open
    assert history.expected_date is None  # resolved: no date to wait for
    told = repr(history)
    assert "thịt lợn" not in told and ex.PSEUDONYM not in told and "cảm ơn" not in told


def test_a_report_still_open_shows_its_agency_and_expected_date() -> None:
    history = citizen_history(ex.TRACKING_CODE, chained(GOLDEN[:4]))
    assert history is not None
    assert history.status_label == "Đã chuyển cơ quan xử lý" and history.open
    assert history.agency_name == "Ủy ban nhân dân phường Chiềng Sinh"
    assert history.expected_date == "21/03/2023"
    assert history.result is None and not history.can_rate


# ----------------------------------------------------------------------- lookup page


def test_the_lookup_page_shows_the_history_of_a_code_typed_loosely(client: TestClient) -> None:
    page = client.get("/tra-cuu", params={"ma": " sl-2303-7kq4m9 "})
    assert page.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert "Đã tiếp nhận" in page.text and "Hạn giải quyết dự kiến: 21/03/2023" in page.text
    assert f"Mã {ex.TRACKING_CODE}: đánh giá 5/5" in page.text
    assert 'id="rate-form"' not in page.text  # no relay configured: instructions only
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_malformed_and_unknown_codes_are_told_in_vietnamese(client: TestClient) -> None:
    malformed = client.get("/tra-cuu", params={"ma": "<b>abc</b>"})
    assert malformed.status_code == 400
    assert "không đúng định dạng" in malformed.text
    assert "<b>abc</b>" not in malformed.text and "&lt;b&gt;abc&lt;/b&gt;" in malformed.text
    unknown = client.get("/tra-cuu", params={"ma": "SL-2303-000000"})
    assert unknown.status_code == 404
    assert "Không tìm thấy phản ánh, kiến nghị có mã SL-2303-000000" in unknown.text
    # A report id is not a tracking code: the public page never looks one up.
    assert client.get("/tra-cuu", params={"ma": ex.REPORT_ID}).status_code == 400


def test_repeated_guessing_is_rate_limited(client: TestClient) -> None:
    answers = [client.get("/tra-cuu", params={"ma": f"SL-2303-00000{n}"}) for n in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[-1].headers["retry-after"] == "60"
    assert "quá nhiều lần" in answers[-1].text
    assert client.get("/tra-cuu").status_code == 200  # the empty form costs nothing


def test_notes_are_escaped_and_the_rating_form_goes_to_the_relay() -> None:
    hostile = [
        to_document(replace(record, payload={**record.payload, "note": "<script>x()</script>"}))
        if record.event_type == "vn.pakn.report.status.changed"
        else to_document(record)
        for record in map(_record, TRAIL)
    ]
    relay = "https://congdichvu.sonla.example/pakn/phan-hoi"
    ctx = context(trail=ListedTrail(hostile), reply_url=relay)
    with TestClient(Starlette(routes=web_routes(ctx))) as http:
        page = http.get("/tra-cuu", params={"ma": ex.TRACKING_CODE})
    assert "<script>x()" not in page.text and "&lt;script&gt;x()&lt;/script&gt;" in page.text
    assert f'action="{relay}"' in page.text and 'name="text"' in page.text
    # The relay cannot prove who writes: the page says such a rating does not count.
    assert "Chỉ đánh giá gửi từ chính kênh bạn đã dùng để phản ánh mới được tính" in page.text
    assert (
        "form-action 'self' https://congdichvu.sonla.example"
        in page.headers["content-security-policy"]
    )


def _record(document: Mapping[str, Any]) -> Any:
    from audit.domain.chain import record_from_document

    return record_from_document(document)


# ----------------------------------------------------------------------- board


def sign_in(http: TestClient, key: str) -> None:
    answer = http.post("/board/login", data={"key": key, "next": "/board?from=2023-03-01"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/board?from=2023-03-01"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/board" in cookie
    assert key not in cookie


def test_the_board_asks_to_sign_in_and_refuses_a_wrong_key(client: TestClient) -> None:
    answer = client.get("/board?from=2023-03-01")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/board/login?next=%2Fboard%3Ffrom%3D2023-03-01"
    wrong = client.post("/board/login", data={"key": "nope-0123456789abcdef"})
    assert wrong.status_code == 401 and "Khóa truy cập không đúng." in wrong.text
    header = client.get("/board", headers={"X-Api-Key": "nope-0123456789abcdef"})
    assert header.status_code == 401
    away = client.post("/board/login", data={"key": LEADER, "next": "https://evil.example/"})
    assert away.headers["location"] == "/board"


def test_filters_change_the_figures(client: TestClient) -> None:
    sign_in(client, LEADER)
    period = {"from": "2023-03-01", "to": "2023-03-31"}
    everything = client.get("/board", params=period).text
    assert figure(everything, "received") == "3"
    assert figure(everything, "overdue") == "1"
    assert "Ủy ban nhân dân phường Tô Hiệu" in everything  # the overdue report's holder
    ward = client.get("/board", params={**period, "ward": "03679"}).text
    assert (figure(ward, "received"), figure(ward, "overdue")) == ("2", "0")
    assert figure(ward, "on_time_pct") == "100,0%"
    agency = client.get("/board", params={**period, "agency": "ubnd-to-hieu"}).text
    assert (figure(agency, "received"), figure(agency, "resolved")) == ("1", "0")
    bad = client.get("/board", params={**period, "ward": "<x>"})
    assert bad.status_code == 400 and "Bộ lọc không hợp lệ" in bad.text


def test_the_board_shows_who_escalated_what() -> None:
    at = datetime(2023, 3, 21, 10, 1, tzinfo=UTC)
    climbed = replace(
        facts(4, "03679", "Chiềng Sinh", "ban-thuong-vu-thanh-uy", resolved=False),
        escalation_events=(
            Escalation(at, "ubnd-thanh-pho", "city", "ubnd-chieng-sinh", "ward"),
            Escalation(
                at + timedelta(days=7),
                "ban-thuong-vu-thanh-uy",
                "leadership",
                "ubnd-thanh-pho",
                "city",
            ),
        ),
    )
    names = {
        "ubnd-chieng-sinh": "Ủy ban nhân dân phường Chiềng Sinh",
        "ubnd-thanh-pho": "Ủy ban nhân dân thành phố Sơn La",
        "ban-thuong-vu-thanh-uy": "Ban Thường vụ Thành ủy Sơn La",
    }
    ctx = context(facts=ListedFacts([*FACTS, climbed]), agency_names=names)
    with TestClient(Starlette(routes=web_routes(ctx)), follow_redirects=False) as http:
        sign_in(http, LEADER)
        page = http.get("/board", params={"from": "2023-03-01", "to": "2023-03-31"}).text
    section = page[page.index('id="escalations"') :]
    assert "Phản ánh chuyển cấp trên (2)" in page
    items = re.findall(r'<li data-report="rpt-4" data-level="(\w+)">(.*?)</li>', section, re.S)
    assert [level for level, _ in items] == ["leadership", "city"], "latest first"
    top, city = (text for _, text in items)
    assert "Ủy ban nhân dân thành phố Sơn La</b> (cấp thành phố) → chuyển" in top
    assert "Ban Thường vụ Thành ủy Sơn La</b> chủ trì" in top
    assert "Ủy ban nhân dân phường Chiềng Sinh</b> (cấp phường)" in city
    assert "SL-2303-000004" in city


def test_an_agency_key_sees_its_own_reports_only(client: TestClient) -> None:
    sign_in(client, TO_HIEU)
    page = client.get("/board", params={"from": "2023-03-01", "to": "2023-03-31"}).text
    assert figure(page, "received") == "1"
    trail = client.get(f"/board/reports/{ex.TRACKING_CODE}")
    assert trail.status_code == 403 and "Không có quyền" in trail.text


def test_a_trail_opens_with_the_state_of_its_chains() -> None:
    heads = {}
    for document in TRAIL:
        heads[document["chain_id"]] = ChainHead(
            chain_id=document["chain_id"],
            sequence=document["sequence"],
            record_hash=document["hash"],
        )
    checkpoint = build_checkpoint(
        sorted(heads.values(), key=lambda h: h.chain_id),
        signing_key=SIGNING_KEY,
        writer_id="test",
        created_at=datetime(2023, 3, 20, tzinfo=UTC),
    )
    stored = signed_checkpoint(checkpoint, origin="database")
    ctx = context(
        trail=ListedTrail(TRAIL, [stored]), public_keys=keyring([SIGNING_KEY.public_key()])
    )
    with TestClient(Starlette(routes=web_routes(ctx))) as http:
        page = http.get(f"/board/reports/{ex.TRACKING_CODE}", headers={"X-Api-Key": LEADER})
        assert page.status_code == 200
        assert page.text.count('data-state="signed"') == len(heads)
        assert "Nhật ký của hồ sơ này toàn vẹn" in page.text
        assert ex.PSEUDONYM not in page.text and "contact_ciphertext" not in page.text
        assert http.get("/board/reports/nothing", headers={"X-Api-Key": LEADER}).status_code == 404
    # Without a trusted key the same checkpoint proves nothing: intact, not signed.
    with TestClient(Starlette(routes=web_routes(replace(ctx, public_keys={})))) as http:
        page = http.get(f"/board/reports/{ex.TRACKING_CODE}", headers={"X-Api-Key": LEADER})
        assert 'data-state="signed"' not in page.text and 'data-state="unsigned"' in page.text


# ----------------------------------------------------------------------- proofs


def _chain(documents: list[dict[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    event = ex.STATUS_ASSIGNED
    head = None
    out = []
    for offset in range(count):
        renamed = event.model_copy(update={"id": f"event-{offset}"})
        record = next_record(
            head, event_facts(renamed), SourcePosition("t", 0, offset), recorded_at=NOW
        )
        head = head_of(record)
        out.append(to_document(record))
    return out


def test_a_segment_is_signed_unsigned_or_broken() -> None:
    chain = _chain([])
    signed = SignedHead(5, chain[4]["hash"], "cp-1", "2023-03-20T00:00:00Z")
    assert prove_segment("t:0", [2, 3], chain[1:], signed).state == ProofState.SIGNED
    assert prove_segment("t:0", [2, 3], chain[1:], None).state == ProofState.UNSIGNED
    edited = [*chain[1:3], {**chain[3], "event_type": "forged"}, chain[4]]
    found = prove_segment("t:0", [2, 3], edited, signed)
    assert found.state == ProofState.BROKEN and "edited" in (found.problem or "")
    deleted = [chain[1], chain[2], chain[4]]
    assert "missing" in (prove_segment("t:0", [2, 3], deleted, signed).problem or "")
    rewritten = SignedHead(5, "0" * 64, "cp-1", "2023-03-20T00:00:00Z")
    assert "rewritten" in (prove_segment("t:0", [2, 3], chain[1:], rewritten).problem or "")
    truncated = prove_segment("t:0", [2, 3], chain[1:3], signed)
    assert truncated.state == ProofState.BROKEN


# ----------------------------------------------------------------------- guards


def test_sessions_are_signed_expire_and_end_with_the_keys() -> None:
    clock = [1_000.0]
    sessions = BoardSessions(KEYS, 60, clock=lambda: clock[0])
    cookie = sessions.issue("leadership:thanh-uy")
    assert sessions.read(cookie) == "leadership:thanh-uy"
    body, signature = cookie.split(".")
    assert sessions.read(f"{body}x.{signature}") is None
    assert sessions.read("garbage") is None and sessions.read(None) is None
    assert BoardSessions({"other-key-0123456789": "leadership:thanh-uy"}, 60).read(cookie) is None
    clock[0] += 61
    assert sessions.read(cookie) is None


def test_the_token_bucket_refills_per_client() -> None:
    clock = [0.0]
    limiter = RateLimiter(0.5, 2, max_clients=2, clock=lambda: clock[0])
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == 2.0
    assert limiter.take("b") == 0.0  # another client has its own bucket
    clock[0] += 2
    assert limiter.take("a") == 0.0
    limiter.take("c")  # the table keeps two clients: the least recently seen goes
    assert len(limiter._buckets) == 2


def test_codes_and_numbers_read_the_vietnamese_way() -> None:
    assert normalize_code(" sl-2303-７kq4m9\u00a0") == "SL-2303-7KQ4M9"
    assert vietnamese_number(12345) == "12.345"
    assert vietnamese_number(92.5) == "92,5"
    assert vietnamese_number(1234.5) == "1.234,5"
    assert vietnamese_number(None) == "—"
