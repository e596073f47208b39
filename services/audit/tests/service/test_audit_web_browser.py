"""The web pages in a real headless browser, over data produced by the running system.

Audit runs in this process as ``create_app`` wires it, on the real Kafka broker and
database, served by uvicorn on a local port; intake runs beside it. The golden path of
the contracts (renamed, and moved to June 2019 so that no other test's reports share the
period) and an overdue report in Tô Hiệu are published on the domain topics; a report is
sent through intake's HTTP front. Debian's chromium (``scripts/install-browser.sh``),
driven by Playwright's Python package, then signs in to the board, changes its filters,
opens a trail, and looks up codes on the citizens' page at a phone's width. Screenshots
go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from audit.app import create_app as create_audit
from audit.domain.checkpoints import generate_signing_key, load_signing_key, public_key_text
from audit.handlers import AUDITED_TOPICS
from audit.settings import Settings as AuditSettings
from intake.app import create_app as create_intake
from intake.settings import Settings as IntakeSettings
from phananh_contracts import ALL_TOPICS, Event
from phananh_contracts import examples as ex
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.settings import KafkaSettings, MongoSettings
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from tests.support.kafka import publish_events
from tests.support.web import chromium, screenshot, served

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
LEADERSHIP = "leadership-web-key-0123456789"
TO_HIEU_KEY = "agency-to-hieu-key-0123456789"
APP_KEY = "app-key-web-tests-0123456789"
SHIFT = timedelta(days=-1372)  # 14/03/2023 -> 11/06/2019, the same weekday
PERIOD = {"from": "2019-06-01", "to": "2019-06-30"}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TO_HIEU = "Ủy ban nhân dân phường Tô Hiệu"
CHIENG_SINH = "Ủy ban nhân dân phường Chiềng Sinh"
SEED = (
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường "
    "Chiềng Sinh, lấn chiếm lối đi và gây mất vệ sinh."
)
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass
class Stack:
    url: str
    resolved_code: str
    overdue_code: str
    intake_code: str
    deadline: datetime
    """The golden report's deadline (shifted)."""


def new_code() -> str:
    return "SL-1906-" + "".join(secrets.choice(CROCKFORD) for _ in range(6))


def _shifted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shifted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shifted(item) for item in value]
    if isinstance(value, str) and _INSTANT.match(value):
        return (datetime.fromisoformat(value) + SHIFT).isoformat()
    return value


def fresh(
    events: list[Event[Any]], code: str, change: Callable[[dict[str, Any]], None] | None = None
) -> list[Event[Any]]:
    """The events with a new report id, tracking code and event ids, moved to 2019."""
    report_id = str(uuid.uuid4())
    renamed = []
    for event in events:
        dumped = _shifted(event.model_dump(mode="json"))
        dumped["id"] = str(uuid.uuid4())
        data = dumped["data"]
        if "report_id" in data:
            data["report_id"] = report_id
            dumped["subject"] = report_id
            dumped["partitionkey"] = report_id
        if "tracking_code" in data:
            data["tracking_code"] = code
        if change is not None:
            change(dumped)
        renamed.append(type(event).model_validate(dumped))
    return renamed


def in_to_hieu(event: dict[str, Any]) -> None:
    data = event["data"]
    if "place" in data:
        data["place"].update(ward_code="03646", ward_name="Tô Hiệu", residential_group="Tổ 3")
        data["category"] = "construction_order"
    for key in ("lead_agency_id", "agency_id"):
        if key in data:
            data[key] = "ubnd-to-hieu"
    for key in ("lead_agency_name", "agency_name"):
        if key in data:
            data[key] = TO_HIEU
    if "matched" in data:
        data["matched"] = {"ward_code": "03646"}
    if "category" in data and "place" not in data:
        data["category"] = "construction_order"


async def wait_until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def publish(kafka: KafkaSettings, events: list[Event[Any]]) -> None:
    await publish_events(kafka, *events, client_id="it-audit-web-source")


@pytest.fixture(scope="module")
async def stack(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[Stack]:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    await ensure_topics(kafka, ALL_TOPICS)
    signing_key = generate_signing_key()
    audit = create_audit(
        AuditSettings(
            kafka=kafka,
            mongodb=MongoSettings(
                url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}"
            ),
            city_config=ROOT / "config" / "son-la" / "city.yaml",
            routing_config=ROOT / "config" / "son-la" / "routing.yaml",
            audit_signing_key=SecretStr(signing_key),
            audit_public_keys=[public_key_text(load_signing_key(signing_key).public_key())],
            audit_checkpoint_interval_s=1.0,
            oversight_keys={
                "leadership:thanh-uy": SecretStr(LEADERSHIP),
                "agency:ubnd-to-hieu": SecretStr(TO_HIEU_KEY),
            },
            web_lookup_burst=100,
            retry_backoff_max_s=1.0,
        )
    )
    intake = create_intake(
        IntakeSettings(
            kafka=kafka,
            mongodb=MongoSettings(
                url=SecretStr(mongodb_url), database=f"test_{uuid.uuid4().hex[:12]}"
            ),
            city_config=ROOT / "config" / "son-la" / "city.yaml",
            tracking_secret=SecretStr("tracking-secret-for-web-tests-0123456789"),
            contact_keys=[SecretStr(new_contact_key())],
            pseudonym_key=SecretStr("pseudonym-key-for-web-tests-0123456789"),
            api_keys={"app:sonla-smart": SecretStr(APP_KEY)},
            retry_backoff_max_s=1.0,
        )
    )
    golden = [
        ex.REPORT_RECEIVED,
        ex.REPORT_ASSIGNED,
        ex.STATUS_ASSIGNED,
        ex.ACKNOWLEDGEMENT_SENT,
        ex.AGENCY_ACCEPTED,
        ex.AGENCY_IN_PROGRESS,
        ex.AGENCY_RESOLVED,
        ex.STATUS_RESOLVED,
        ex.RESOLUTION_SENT,
        ex.CITIZEN_REPLIED,
    ]
    resolved_code, overdue_code = new_code(), new_code()
    resolved = fresh(golden, resolved_code)
    overdue = fresh(
        [ex.REPORT_RECEIVED, ex.REPORT_ASSIGNED, ex.STATUS_ASSIGNED, ex.DEADLINE_BREACHED],
        overdue_code,
        in_to_hieu,
    )
    assert all(e.to_kafka().topic in {t.name for t in AUDITED_TOPICS} for e in resolved + overdue)

    async with audit.running(), intake.running(), served(audit.asgi()) as url:
        await publish(kafka, resolved + overdue)
        transport = httpx.ASGITransport(app=intake.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as front:
            answer = await front.post(
                "/channels/app/reports",
                json={"text": SEED, "anonymous": True, "consent": False},
                headers={"Authorization": f"Bearer {APP_KEY}"},
            )
            assert answer.status_code == 202, answer.text
            (intake_code,) = answer.json()["tracking_codes"]

        async with httpx.AsyncClient(base_url=url, headers={"X-Api-Key": LEADERSHIP}) as api:

            async def counted() -> bool:
                figures = await api.get("/oversight/v1/figures", params=PERIOD)
                total = figures.json()["total"] if figures.status_code == 200 else {}
                return (
                    total.get("received") == 2
                    and total.get("ratings_count") == 1
                    and (total.get("resolved") == 1 and total.get("overdue") == 1)
                )

            async def trail_of(code: str, count: int) -> bool:
                found = await api.get(f"/oversight/v1/reports/{code}/trail")
                return found.status_code == 200 and len(found.json()["records"]) >= count

            await wait_until(counted, "the June 2019 figures")
            await wait_until(lambda: trail_of(intake_code, 1), "the report sent through intake")

            async def signed() -> bool:
                page = await api.get(f"/board/reports/{resolved_code}")
                return page.status_code == 200 and 'data-state="unsigned"' not in page.text

            await wait_until(signed, "a checkpoint signing the golden report's records")
        yield Stack(
            url=url,
            resolved_code=resolved_code,
            overdue_code=overdue_code,
            intake_code=intake_code,
            deadline=resolved[1].data.deadline,
        )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def figure(page: Page, name: str) -> str:
    return (await page.locator(f'[data-figure="{name}"]').inner_text()).strip()


async def test_the_board_signs_in_filters_and_opens_a_trail(stack: Stack, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{stack.url}/board")
    await expect(page).to_have_url(re.compile(r"/board/login"))
    await page.fill("#key", "not-the-key-0123456789")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_have_text("Khóa truy cập không đúng.")
    await page.fill("#key", LEADERSHIP)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/board$"))
    cookie = next(c for c in await context.cookies() if c["name"] == "phananh_board")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert LEADERSHIP not in cookie["value"]

    # June 2019, every ward: the golden report (resolved on time, rated 5) and an overdue one.
    await page.fill("input[name=from]", PERIOD["from"])
    await page.fill("input[name=to]", PERIOD["to"])
    await page.click("#filters button[type=submit]")
    await expect(page.locator('[data-figure="received"]')).to_have_text("2")
    assert await figure(page, "resolved") == "1"
    assert await figure(page, "in_progress") == "1"
    assert await figure(page, "overdue") == "1"
    assert await figure(page, "on_time_pct") == "100,0%"
    assert await figure(page, "satisfaction_avg") == "5,00/5"
    assert await page.locator("#chart rect").count() == 6  # two wards, three bars each
    assert await page.locator("#figures-table tbody tr").count() == 2
    overdue = page.locator("#overdue li")
    await expect(overdue).to_have_count(1)
    await expect(overdue).to_contain_text(stack.overdue_code)
    await expect(overdue.locator(".holder")).to_have_text(TO_HIEU)
    await screenshot(page, "board-all-wards")

    # One ward: the figures on the page follow the filter.
    await page.select_option("#f-ward", "03679")
    await page.click("#filters button[type=submit]")
    await expect(page.locator('[data-figure="overdue"]')).to_have_text("0")
    assert await figure(page, "received") == "1"
    assert await figure(page, "resolved") == "1"
    await expect(page.locator("#overdue")).to_have_count(0)
    await screenshot(page, "board-chieng-sinh")

    # The lead agency Tô Hiệu: its overdue report, whose trail opens.
    await page.select_option("#f-ward", "")
    await page.select_option("#f-agency", "ubnd-to-hieu")
    await page.click("#filters button[type=submit]")
    await expect(page.locator('[data-figure="overdue"]')).to_have_text("1")
    assert await figure(page, "resolved") == "0"
    assert await figure(page, "on_time_pct") == "—"
    await page.click(f"#overdue a:has-text('{stack.overdue_code}')")
    await expect(page.locator("h1")).to_contain_text(stack.overdue_code)
    await expect(page.locator("#lead-agency")).to_have_text(TO_HIEU)
    await expect(page.locator("#trail li")).to_have_count(4)
    await expect(page.locator("#verify-verdict")).to_contain_text("toàn vẹn")
    await screenshot(page, "board-trail-overdue")

    # The golden report's trail: every chain holding it intact and signed.
    await page.goto(f"{stack.url}/board/reports/{stack.resolved_code}")
    proofs = page.locator("#proofs li")
    assert await proofs.count() >= 4
    states = {await item.get_attribute("data-state") for item in await proofs.all()}
    assert states == {"signed"}, states
    await expect(proofs.first).to_contain_text("Toàn vẹn, đã được ký số")
    await expect(page.locator("#trail li")).to_have_count(10)
    await screenshot(page, "board-trail-resolved")

    # Signing out ends the session.
    await page.click("nav button[type=submit]")
    await page.goto(f"{stack.url}/board")
    await expect(page).to_have_url(re.compile(r"/board/login"))
    await context.close()


async def test_an_agency_sees_only_its_reports(stack: Stack, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{stack.url}/board/login")
    await page.fill("#key", TO_HIEU_KEY)
    await page.click("button[type=submit]")
    await page.goto(f"{stack.url}/board?from={PERIOD['from']}&to={PERIOD['to']}")
    await expect(page.locator('[data-figure="received"]')).to_have_text("1")
    answer = await page.goto(f"{stack.url}/board/reports/{stack.resolved_code}")
    assert answer is not None and answer.status == 403
    await expect(page.locator("h1")).to_have_text("Không có quyền")
    await context.close()


async def test_a_citizen_follows_a_report_on_a_phone(stack: Stack, browser: Browser) -> None:
    context = await browser.new_context(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page = await context.new_page()
    await page.goto(f"{stack.url}/tra-cuu")
    await page.fill("#ma", stack.resolved_code.lower())
    await page.click("form.lookup button")
    history = page.locator("#steps")
    await expect(history).to_contain_text("Đã tiếp nhận")
    await expect(history).to_contain_text(CHIENG_SINH)
    expected = (stack.deadline + timedelta(hours=7)).strftime("%d/%m/%Y")
    await expect(history).to_contain_text(f"Hạn giải quyết dự kiến: {expected}")
    await expect(page.locator("#result")).to_have_text(ex.RESOLUTION_NOTE)
    await expect(page.locator("#current-status")).to_have_text("Đã có kết quả giải quyết")
    await expect(history).to_contain_text("Đánh giá: 5/5")
    await expect(page.locator("#rate-instruction")).to_have_text(
        f"Mã {stack.resolved_code}: đánh giá 5/5"
    )
    text = await page.locator("main").inner_text()
    assert "0912" not in text and "Lò Văn Minh" not in text and "thịt lợn" not in text
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    await screenshot(page, "citizen-resolved-375px")

    # The code intake gave a report sent through the app a moment ago.
    await page.goto(f"{stack.url}/tra-cuu?ma={stack.intake_code}")
    await expect(page.locator("#steps li").first).to_contain_text("Đã tiếp nhận")
    await expect(page.locator("#steps")).to_contain_text("Chiềng Sinh")
    await expect(page.locator("#rate")).to_have_count(0)  # nothing to rate yet
    await screenshot(page, "citizen-intake-code-375px")

    # A malformed code and an unknown one are told apart, in Vietnamese.
    answer = await page.goto(f"{stack.url}/tra-cuu?ma=abc")
    assert answer is not None and answer.status == 400
    await expect(page.locator("#lookup-error")).to_contain_text("không đúng định dạng")
    answer = await page.goto(f"{stack.url}/tra-cuu?ma=SL-1906-ZZZZZ0")
    assert answer is not None and answer.status == 404
    await expect(page.locator("#lookup-error")).to_contain_text("Không tìm thấy")
    await screenshot(page, "citizen-unknown-375px")
    await context.close()
