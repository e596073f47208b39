"""The oversight read API on Starlette's TestClient, over in-memory facts and trail."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.adapters.oversight_http import OversightContext, oversight_routes
from audit.domain.facts import AgencyStep, Escalation, ReportFacts, StatusChange
from phananh_contracts import ReportEventData, topic_for_event
from phananh_contracts.examples import ALL_EXAMPLES, REPORT_ID, TRACKING_CODE
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.support.audit import ListedFacts, ListedTrail

pytestmark = pytest.mark.unit

NOW = datetime(2023, 4, 10, 3, 0, tzinfo=UTC)
KEYS = {
    "key-thanh-uy-0123456789": "leadership:thanh-uy",
    "key-kiem-tra-0123456789": "auditor:ubkt",
    "key-ubnd-cs-0123456789": "agency:ubnd-chieng-sinh",
    "key-ca-to-hieu-01234567": "agency:cong-an-to-hieu",
}
LEADER, AUDITOR, WARD_COMMITTEE, POLICE = list(KEYS)
WARDS = {"03646": "Tô Hiệu", "03679": "Chiềng Sinh"}


def report(number: int, ward: str, agency: str, day: int, *, resolved: bool) -> ReportFacts:
    received_at = datetime(2023, 3, day, 2, 0, tzinfo=UTC)
    steps = [AgencyStep(received_at + timedelta(hours=5), agency, "accepted")]
    if resolved:
        steps.append(AgencyStep(received_at + timedelta(days=2), agency, "resolved"))
    return ReportFacts(
        report_id=f"rpt-{number}",
        tracking_code=f"SL-2303-{number:06d}",
        channel="app" if number % 2 else "zalo",
        ward_code=ward,
        ward_name=WARDS[ward],
        category="urban_order" if number % 3 else "traffic_safety",
        received_at=received_at,
        lead_agency_id=agency,
        assigned_at=received_at + timedelta(hours=1),
        deadline=received_at + timedelta(days=10),
        status_changes=(StatusChange(received_at + timedelta(hours=1), "assigned"),),
        agency_steps=tuple(steps),
    )


FACTS = [
    *(report(n, "03679", "ubnd-chieng-sinh", 1 + n % 28, resolved=n <= 19) for n in range(1, 33)),
    *(
        report(n, "03646", "cong-an-to-hieu", 1 + n % 28, resolved=n % 2 == 0)
        for n in range(33, 45)
    ),
    ReportFacts(
        report_id="rpt-april",
        ward_code="03679",
        ward_name="Chiềng Sinh",
        received_at=datetime(2023, 4, 2, tzinfo=UTC),
        lead_agency_id="ubnd-chieng-sinh",
    ),
]


def trail_records() -> list[dict[str, Any]]:
    """Trail documents of the examples' events about the seed report, in chain order."""
    records, previous = [], "0" * 64
    for sequence, event in enumerate(ALL_EXAMPLES):
        if not isinstance(event.data, ReportEventData) or event.data.report_id != REPORT_ID:
            continue
        digest = hashlib.sha256(f"{previous}{event.id}".encode()).hexdigest()
        records.append(
            {
                "_id": event.id,
                "chain_id": f"{topic_for_event(type(event)).name}:0",
                "sequence": sequence,
                "event_id": event.id,
                "event_type": event.type,
                "report_id": REPORT_ID,
                "tracking_code": getattr(event.data, "tracking_code", None),
                "actor": {"kind": "service", "id": event.source},
                "occurred_at": event.time,
                "recorded_at": event.time + timedelta(seconds=1),
                "payload": event.data.model_dump(mode="json"),
                "valid": True,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    return records


@pytest.fixture
def client() -> TestClient:
    ctx = OversightContext(
        facts=ListedFacts(FACTS),
        trail=ListedTrail(trail_records()),
        role_keys=KEYS,
        clock=lambda: NOW,
        ward_names={"03664": "Chiềng An"},
    )
    return TestClient(Starlette(routes=oversight_routes(ctx)))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


MARCH = {"from": "2023-03-01", "to": "2023-03-31"}


# ----------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path",
    [
        "/oversight/v1/figures",
        "/oversight/v1/wards/03679/summary",
        f"/oversight/v1/reports/{TRACKING_CODE}/trail",
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, auth("not-a-key-0123456789"), {"Authorization": f"Basic {LEADER}"}]
)
def test_requests_without_a_known_key_are_refused(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    answer = client.get(path, params=MARCH, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"]["code"] == "unauthorized"


def test_keys_come_as_bearer_or_x_api_key(client: TestClient) -> None:
    assert (
        client.get("/oversight/v1/figures", params=MARCH, headers=auth(AUDITOR)).status_code == 200
    )
    answer = client.get("/oversight/v1/figures", params=MARCH, headers={"X-Api-Key": LEADER})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"


def test_an_agency_reads_the_trail_of_its_own_reports_only(client: TestClient) -> None:
    path = f"/oversight/v1/reports/{TRACKING_CODE}/trail"
    assert client.get(path, headers=auth(WARD_COMMITTEE)).status_code == 200
    refused = client.get(path, headers=auth(POLICE))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "forbidden", "message": "this report is not led by your agency"}
    }


def test_an_agency_gets_figures_of_its_own_reports_and_no_ward_summary(client: TestClient) -> None:
    answer = client.get(
        "/oversight/v1/figures", params={**MARCH, "group_by": "ward"}, headers=auth(POLICE)
    )
    body = answer.json()
    assert body["scope"] == "agency:cong-an-to-hieu"
    assert [row["group"] for row in body["rows"]] == ["03646"]
    assert body["total"]["received"] == 12 and body["total"]["resolved"] == 6
    summary = client.get("/oversight/v1/wards/03646/summary", params=MARCH, headers=auth(POLICE))
    assert summary.status_code == 403


def test_context_refuses_unknown_roles_and_short_keys() -> None:
    for keys in (
        {"key-0123456789abcdef": "mayor"},
        {"key-0123456789abcdef": "agency:"},
        {"short": "auditor"},
    ):
        with pytest.raises(ValueError):
            OversightContext(facts=ListedFacts([]), trail=ListedTrail([]), role_keys=keys)


# ------------------------------------------------------------------------ trail


def test_the_trail_of_a_report_by_tracking_code_or_id(client: TestClient) -> None:
    by_code = client.get(
        f"/oversight/v1/reports/{TRACKING_CODE}/trail", headers=auth(AUDITOR)
    ).json()
    by_id = client.get(f"/oversight/v1/reports/{REPORT_ID}/trail", headers=auth(AUDITOR)).json()
    assert by_code["records"] == by_id["records"]
    assert (by_code["report_id"], by_code["tracking_code"]) == (REPORT_ID, TRACKING_CODE)
    records = by_code["records"]
    assert [r["event_id"] for r in records] == [r["event_id"] for r in trail_records()]
    assert [r["event_type"] for r in records][:2] == [
        "vn.pakn.report.received",
        "vn.pakn.report.assigned",
    ]
    first = records[0]
    assert first["occurred_at"] == "2023-03-14T01:12:31+00:00"
    assert first["actor"] == {"kind": "service", "id": "/services/intake"}
    assert first["payload"]["place"]["ward_name"] == "Chiềng Sinh"
    assert len(first["hash"]) == 64 and "_id" not in first
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))


def test_an_unknown_report_is_404(client: TestClient) -> None:
    answer = client.get("/oversight/v1/reports/SL-2303-ZZZZZZ/trail", headers=auth(LEADER))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------------- figures


def test_figures_of_march_grouped_by_ward(client: TestClient) -> None:
    body = client.get(
        "/oversight/v1/figures", params={**MARCH, "group_by": "ward"}, headers=auth(LEADER)
    ).json()
    assert body["period"] == {
        "from": "2023-03-01",
        "to": "2023-03-31",
        "timezone": "Asia/Ho_Chi_Minh",
    }
    assert body["scope"] == "city"
    rows = {row["group"]: row for row in body["rows"]}
    assert rows["03679"]["name"] == "Chiềng Sinh"
    assert (rows["03679"]["received"], rows["03679"]["resolved"], rows["03679"]["in_progress"]) == (
        32,
        19,
        13,
    )
    assert rows["03679"]["on_time_pct"] == 100.0
    assert rows["03679"]["median_first_response_hours"] == 5.0
    assert body["total"]["received"] == 44  # the report of 2 April is not in March


@pytest.mark.parametrize("group_by", ["all", "ward", "agency", "category", "channel"])
def test_csv_export_parses_back_to_the_json_figures(client: TestClient, group_by: str) -> None:
    params = {**MARCH, "group_by": group_by}
    rows = client.get("/oversight/v1/figures", params=params, headers=auth(LEADER)).json()["rows"]
    answer = client.get(
        "/oversight/v1/figures", params={**params, "format": "csv"}, headers=auth(LEADER)
    )
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith("\ufeff".encode())
    parsed = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(parsed) == len(rows)
    for line, row in zip(parsed, rows, strict=True):
        assert set(line) == set(row)
        assert line == {name: "" if value is None else str(value) for name, value in row.items()}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": "2023-03-31"}, "invalid_period"),
        ({"from": "2023-03-01"}, "invalid_period"),
        ({"from": "2023-02-30", "to": "2023-03-31"}, "invalid_period"),
        ({"from": "20230301", "to": "2023-03-31"}, "invalid_period"),
        ({"from": "01/03/2023", "to": "2023-03-31"}, "invalid_period"),
        ({"from": "2023-03-31", "to": "2023-03-01"}, "invalid_period"),
        ({"from": "2022-01-01", "to": "2023-01-02"}, "invalid_period"),
        ({**MARCH, "group_by": "district"}, "invalid_group_by"),
        ({**MARCH, "format": "xlsx"}, "invalid_format"),
    ],
)
def test_bad_parameters_are_400_with_a_clear_message(
    client: TestClient, params: dict[str, str], code: str
) -> None:
    answer = client.get("/oversight/v1/figures", params=params, headers=auth(LEADER))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]


def test_a_year_of_366_days_is_allowed(client: TestClient) -> None:
    params = {"from": "2023-04-01", "to": "2024-03-31"}  # 2024 is a leap year
    assert (
        client.get("/oversight/v1/figures", params=params, headers=auth(LEADER)).status_code == 200
    )


# ------------------------------------------------------------------ ward summary


def test_the_ward_summary_states_the_seed_sentence(client: TestClient) -> None:
    body = client.get(
        "/oversight/v1/wards/03679/summary", params=MARCH, headers=auth(LEADER)
    ).json()
    assert body["sentence_vi"] == (
        "Từ 01/03/2023 đến 31/03/2023, phường Chiềng Sinh tiếp nhận 32 phản ánh, kiến nghị: "
        "19 đã xử lý xong, 13 đang xử lý."
    )
    assert body["sentence_en"] == (
        "From 01/03/2023 to 31/03/2023, Chiềng Sinh ward received 32 reports: "
        "19 resolved, 13 still being handled."
    )
    assert body["figures"]["group"] == "03679" and body["figures"]["received"] == 32


def test_ward_summaries_of_quiet_unknown_and_malformed_wards(client: TestClient) -> None:
    quiet = client.get("/oversight/v1/wards/03664/summary", params=MARCH, headers=auth(LEADER))
    assert quiet.json()["sentence_vi"] == (
        "Từ 01/03/2023 đến 31/03/2023, phường Chiềng An không tiếp nhận phản ánh, kiến nghị nào."
    )
    unknown = client.get("/oversight/v1/wards/03670/summary", params=MARCH, headers=auth(LEADER))
    assert unknown.status_code == 404
    malformed = client.get(
        "/oversight/v1/wards/chieng-sinh/summary", params=MARCH, headers=auth(LEADER)
    )
    assert malformed.status_code == 400


def test_leadership_reads_who_escalated_what() -> None:
    at = datetime(2023, 3, 21, 10, 1, tzinfo=UTC)
    escalated = replace(
        report(90, "03679", "ubnd-thanh-pho", 14, resolved=False),
        escalation_events=(Escalation(at, "ubnd-thanh-pho", "city", "ubnd-chieng-sinh", "ward"),),
    )
    ctx = OversightContext(
        facts=ListedFacts([*FACTS, escalated]),
        trail=ListedTrail(trail_records()),
        role_keys=KEYS,
        clock=lambda: NOW,
    )
    http = TestClient(Starlette(routes=oversight_routes(ctx)))
    period = {"from": "2023-03-01", "to": "2023-03-31"}
    answer = http.get("/oversight/v1/escalations", params=period, headers={"X-Api-Key": LEADER})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 1 and body["scope"] == "city"
    (step,) = body["escalations"]
    assert step["tracking_code"] == "SL-2303-000090"
    assert (step["from_agency_id"], step["from_level"]) == ("ubnd-chieng-sinh", "ward")
    assert (step["to_agency_id"], step["level"], step["holder"]) == (
        "ubnd-thanh-pho",
        "city",
        "ubnd-thanh-pho",
    )
    assert step["at"] == "2023-03-21T10:01:00+00:00"
    ward = http.get(
        "/oversight/v1/escalations", params=period, headers={"X-Api-Key": WARD_COMMITTEE}
    )
    assert ward.json()["count"] == 0, "an agency sees the reports it leads only"
    assert http.get("/oversight/v1/escalations", params=period).status_code == 401
