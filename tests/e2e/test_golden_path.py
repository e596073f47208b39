"""The seed's story, end to end, on the platform running as separate processes.

A citizen reports through the city app that a household sells fresh pork and fish
outside the corridor of Noong Đúc market, group 8, Chiềng Sinh ward. Intake places it and
gives a tracking code; routing gives it to the ward's People's Committee with the market
board supporting and a deadline; notify tells the citizen on the app; the agencies
resolve it with the reference agency client, each on its own updates topic, and routing's
gate admits both; notify sends the result and asks for a rating; audit holds the whole
trail, verify passes, and the ward's figures count it as resolved. Nowhere outside notify
does the citizen's phone number appear in clear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from phananh_contracts import (
    AGENCY_UPDATES_TOPIC,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_platform.kafka import kafka_access_problem
from phananh_platform.settings import KafkaSettings

from tests.support.kafka import TopicWatcher
from tests.support.platform import Platform, running_platform
from tests.support.privacy import find_contacts
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PHONE = "0912 345 678"
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng "
    "Sinh, lấn chiếm lối đi và gây mất vệ sinh. Liên hệ tôi: " + PHONE
)
RESULT = "Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt; chấm dứt việc bày bán."


@pytest.fixture(params=["open", "secured"])
async def platform(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    """The platform on an open broker, and on one that admits only signed-in principals
    over TLS and enforces the access plan (each service as its own principal, each agency
    with the credentials ``phananh kafka credentials`` gives it)."""
    security = "sasl_ssl" if request.param == "secured" else "none"
    name = f"golden-path-{request.param}"
    async with running_platform(tmp_path, name=name, kafka_security=security) as running:
        anyone = KafkaSettings(bootstrap_servers=running.kafka_bootstrap)
        refused = await kafka_access_problem(anyone)  # a client without TLS or credentials
        assert (refused is not None) == (security != "none"), refused  # secured, or open
        yield running


def agency_env(platform: Platform, agency: str) -> dict[str, str]:
    """What the agency's machine is given: on a secured broker, the lines
    ``phananh kafka credentials --agency`` prints for it."""
    if not platform.stack.secured:
        return {}
    printed = platform.run("phananh", "kafka", "credentials", "--agency", agency, principal="admin")
    assert printed.returncode == 0, printed.stderr
    lines = [line for line in printed.stdout.splitlines() if line and not line.startswith("#")]
    env = dict(line.split("=", 1) for line in lines)
    assert env["PHANANH_KAFKA__USERNAME"] == f"agency-{agency}"
    return env


async def test_the_seed_report_is_handled_told_and_proven(platform: Platform) -> None:
    app_key = platform.secret("PHANANH_API_KEYS")["app:sonla-smart"]
    leader_key = platform.secret("PHANANH_OVERSIGHT_KEYS")["leadership:thanh-uy"]
    pushes = lambda: platform.http.to("/app/push")  # noqa: E731

    async with (
        TopicWatcher(platform.kafka, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(platform.kafka, REPORT_STATUS_TOPIC.name) as statuses,
        TopicWatcher(platform.kafka, AGENCY_UPDATES_TOPIC.name) as admitted,
        TopicWatcher(platform.kafka, agency_updates_topic("ubnd-chieng-sinh").name) as ward_sent,
    ):
        status, answer = await asyncio.to_thread(
            platform.post,
            "intake",
            "/channels/app/reports",
            {"text": SEED, "anonymous": False, "consent": True, "contact": {"phone": PHONE}},
            {"Authorization": f"Bearer {app_key}"},
        )
        assert status == 202 or status == 200, answer
        (code,) = answer["tracking_codes"]

        (assigned,) = await assignments.wait_for(
            lambda e: e.data.tracking_code == code, timeout_s=60
        )
        assert assigned.data.lead_agency_id == "ubnd-chieng-sinh"
        assert assigned.data.supporting_agency_ids == ("bql-cho-noong-duc",)
        assert assigned.data.category == "urban_order"
        assert assigned.data.matched["ward_code"] == "03679"

        # Receipt and assignment reach the citizen on the app, in Vietnamese.
        told = await eventually(lambda: len(pushes()) >= 2 and pushes(), "two app messages")
        texts = [request.body["body"] for request in told]
        assert all(r.body["recipient"]["phone"] == "+84912345678" for r in told)
        assert any(code in text for text in texts)
        assert any("Chiềng Sinh" in text for text in texts)

        # The ward and the market board resolve it with the reference agency client.
        ward = agency_env(platform, "ubnd-chieng-sinh")
        inbox = platform.run("phananh-agency", "--agency", "ubnd-chieng-sinh", "inbox", env=ward)
        assert inbox.returncode == 0 and code in inbox.stdout, inbox.stderr
        for agency, note in (("ubnd-chieng-sinh", RESULT), ("bql-cho-noong-duc", "Đã phối hợp.")):
            sent = platform.run(
                "phananh-agency",
                *("--agency", agency, "resolve", code, "--note", note),
                env=agency_env(platform, agency),
            )
            assert sent.returncode == 0, sent.stderr

        (resolved,) = await statuses.wait_for(
            lambda e: e.data.tracking_code == code and e.data.status.value == "resolved"
        )
        assert resolved.data.note == RESULT
        # The ward wrote its update where only it may write; routing's gate admitted it.
        (result_sent,) = await ward_sent.wait_for(lambda e: e.data.note == RESULT)
        await admitted.wait_for(lambda e: e.id == result_sent.id)

    # The result, with a request to rate it, reaches the citizen.
    def result_told() -> Any:
        return [r for r in pushes() if RESULT in r.body["body"]]

    (result,) = await eventually(result_told, "the result on the app")
    assert "1" in result.body["body"] and "5" in result.body["body"]
    assert "đánh giá" in result.body["body"].lower()

    # Audit: the whole trail, verified, and the ward's figures count it as resolved.
    headers = {"X-Api-Key": leader_key}

    async def full_trail() -> Any:
        status, body = await asyncio.to_thread(
            platform.get, "audit", f"/oversight/v1/reports/{code}/trail", headers
        )
        records = body.get("records", []) if status == 200 else []
        types = {record["event_type"] for record in records}
        # The agencies' updates pass routing's gate first: the trail may hold them, and the
        # assignment's status, before the status they caused.
        resolved = any((r.get("payload") or {}).get("status") == "resolved" for r in records)
        wanted = {
            "vn.pakn.report.received",
            "vn.pakn.report.assigned",
            "vn.pakn.agency.update",
            "vn.pakn.report.status.changed",
            "vn.pakn.notification.sent",
        }
        return body if wanted <= types and resolved else None

    trail = await eventually(full_trail, "the full trail")
    statuses_seen = [
        r["payload"]["status"]
        for r in trail["records"]
        if r["event_type"] == "vn.pakn.report.status.changed"
    ]
    assert statuses_seen == ["assigned", "resolved"]

    verify = platform.run("phananh-audit", "verify", "--kafka", principal="svc-audit")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    status, summary = await asyncio.to_thread(
        platform.get,
        "audit",
        f"/oversight/v1/wards/03679/summary?from={today}&to={today}",
        headers,
    )
    assert status == 200
    assert (summary["figures"]["received"], summary["figures"]["resolved"]) == (1, 1)
    assert "1 đã xử lý xong" in summary["sentence_vi"]

    # Privacy: the phone number is in clear nowhere but in notify's messages.
    leaks = await find_contacts(platform, ["0912345678", "912345678", "+84912345678"])
    assert leaks == [], f"the citizen's phone number found in clear: {leaks}"
    assert agency_inbox_topic("ubnd-chieng-sinh").name  # the inboxes were scanned too
