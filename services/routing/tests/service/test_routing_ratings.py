"""Only the reporter rates, on the real servers: intake and routing side by side.

A citizen reports through intake's HTTP front from one phone number; the agencies resolve
the report; someone else, who knows the tracking code, rates it 1/5 from another number,
and nothing changes; the reporter rates it 1/5 from their own number, and it reopens.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from intake.app import create_app as create_intake
from intake.settings import Settings as IntakeSettings
from phananh_contracts import (
    ALL_TOPICS,
    CITIZEN_REPLIES_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_TOPIC,
    AgencyUpdate,
    AgencyUpdateEvent,
)
from phananh_contracts.values import AgencyUpdateKind
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from routing.app import create_app as create_routing
from routing.domain.case import fact_id
from routing.settings import Settings as RoutingSettings

from tests.support.kafka import TopicWatcher, publish_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
APP_KEY = "app-key-for-rating-tests-0123456789"
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường "
    "Chiềng Sinh, lấn chiếm lối đi và gây mất vệ sinh."
)
REPORTER_PHONE, STRANGER_PHONE = "0912 345 678", "0987 654 321"
WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"


@dataclass
class Front:
    http: httpx.AsyncClient

    async def send(self, text: str, phone: str) -> str:
        """A message from the app, signed with ``phone``; the tracking code it got or quoted."""
        answer = await self.http.post(
            "/channels/app/reports",
            json={"text": text, "anonymous": False, "consent": True, "contact": {"phone": phone}},
            headers={"Authorization": f"Bearer {APP_KEY}"},
        )
        assert answer.status_code == 202, answer.text
        codes = answer.json().get("tracking_codes") or [""]
        return str(codes[0])


@pytest.fixture
async def front(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, mongodb_url: str
) -> AsyncIterator[Front]:
    """Intake (its HTTP front) and routing, running on the real servers."""
    await ensure_topics(kafka_settings, ALL_TOPICS)
    intake = create_intake(
        IntakeSettings(
            kafka=kafka_settings,
            mongodb=MongoSettings(
                url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}"
            ),
            city_config=ROOT / "config/son-la/city.yaml",
            tracking_secret=SecretStr("tracking-secret-for-rating-tests-0123456789"),
            contact_keys=[SecretStr(new_contact_key())],
            pseudonym_key=SecretStr("pseudonym-key-for-rating-tests-0123456789"),
            api_keys={"app:sonla-smart": SecretStr(APP_KEY)},
            retry_backoff_max_s=1.0,
        )
    )
    routing = create_routing(
        RoutingSettings(
            kafka=kafka_settings,
            mongodb=mongo_settings,
            routing_config=ROOT / "config/son-la/routing.yaml",
            city_config=ROOT / "config/son-la/city.yaml",
            rules_scope=f"test-{uuid.uuid4().hex[:12]}",
        )
    )
    async with intake.running(), routing.running():
        transport = httpx.ASGITransport(app=intake.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield Front(http)


def resolved(report_id: str, agency_id: str) -> AgencyUpdateEvent:
    """``agency_id`` reports its part done, as routing's gate admits it."""
    now = datetime.now(UTC)
    update = AgencyUpdate(
        report_id=report_id,
        agency_id=agency_id,
        kind=AgencyUpdateKind.RESOLVED,
        note="Đã lập biên bản, chấm dứt việc bày bán ngoài hành lang chợ.",
        updated_at=now,
    )
    return AgencyUpdateEvent.new(update, source=f"/agencies/{agency_id}", time=now)


async def test_the_reporters_low_rating_reopens_a_strangers_changes_nothing(
    front: Front, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    async with (
        TopicWatcher(kafka_bootstrap, REPORTS_TOPIC.name) as reports,
        TopicWatcher(kafka_bootstrap, CITIZEN_REPLIES_TOPIC.name) as replies,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
    ):
        code = await front.send(SEED, REPORTER_PHONE)
        (report,) = await reports.wait_for(lambda e: e.data.tracking_code == code)
        rid = report.data.report_id
        mine: Any = lambda e: e.data.report_id == rid  # noqa: E731
        await statuses.wait_for(lambda e: mine(e) and e.data.status.value == "assigned")
        await publish_events(
            kafka_settings, resolved(rid, WARD), resolved(rid, MARKET), client_id="it-agencies"
        )
        await statuses.wait_for(lambda e: mine(e) and e.data.status.value == "resolved")

        await front.send(f"Mã {code}: vẫn còn bán, đánh giá 1/5", STRANGER_PHONE)
        (theirs,) = await replies.wait_for(mine)
        await front.send(f"Mã {code}: chưa xử lý dứt điểm, đánh giá 1/5", REPORTER_PHONE)
        (reporters,) = await replies.wait_for(lambda e: mine(e) and e.id != theirs.id)
        await statuses.wait_for(lambda e: mine(e) and e.data.status.value == "reopened")
        seen = [e for e in await statuses.settle(2.0) if mine(e)]

    assert theirs.data.rating == reporters.data.rating == 1
    assert theirs.data.reporter.pseudonym != report.data.reporter.pseudonym
    assert reporters.data.reporter.pseudonym == report.data.reporter.pseudonym
    assert [e.data.status.value for e in seen] == ["assigned", "resolved", "reopened"]
    (reopened,) = [e for e in seen if e.data.status.value == "reopened"]
    assert reopened.id == fact_id(reporters.id, "status:reopened"), (
        "the report was reopened by the stranger's rating, not the reporter's"
    )
    assert "1/5" in (reopened.data.note or "")
