"""The agency's web inbox on the real broker, and in a real headless browser.

Routing is played by the test: it writes the agency's inbox and reads what the page
sends on the agency's own updates topic, ``pakn.updates.<agency-id>.v1``. The page is the
app ``phananh-agency --agency ID web`` serves, with the real ``AgencyClient``: first
behind Starlette's TestClient, then served by uvicorn on a local port and driven by
Debian's chromium (``scripts/install-browser.sh``) through Playwright, at a phone's
width (375x812) and a desktop's. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from phananh_agency import AgencyClient
from phananh_agency import KafkaSettings as AgencyKafkaSettings
from phananh_agency.settings import WebSettings
from phananh_agency.web import create_web_app
from phananh_contracts import (
    AgencyUpdateKind,
    DuplicateLinkChanged,
    DuplicateLinkChangedEvent,
    Event,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr
from starlette.testclient import TestClient

from tests.support.agency import citizen_replied, task_assigned, task_withdrawn
from tests.support.kafka import TopicWatcher, publish
from tests.support.web import chromium, screenshot, served

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
PASSWORD = "mật-khẩu-trang-phường-0123"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOW = datetime.now(UTC).replace(microsecond=0)


def new_code() -> str:
    return "SL-2611-" + "".join(secrets.choice(CROCKFORD) for _ in range(6))


class Report:
    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.code = new_code()


@pytest.fixture
async def agency(kafka_settings: KafkaSettings) -> AsyncIterator[str]:
    """A fresh agency with its inbox and updates topic (as routing creates them)."""
    agency_id = f"test-web-{uuid.uuid4().hex[:8]}"
    topics = [agency_inbox_topic(agency_id), agency_updates_topic(agency_id)]
    await ensure_topics(kafka_settings, topics)
    yield agency_id
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([topic.name for topic in topics])
    finally:
        await admin.close()


async def to_inbox(kafka: KafkaSettings, agency_id: str, *events: Event[Any]) -> None:
    """Routing's part: write events to the agency's inbox."""
    inbox = agency_inbox_topic(agency_id)
    await publish(kafka, *(event.to_kafka(inbox) for event in events), client_id="it-agency-web")


def web_app(kafka_bootstrap: str, agency_id: str) -> Any:
    client = AgencyClient(AgencyKafkaSettings(bootstrap_servers=kafka_bootstrap), agency_id)
    settings = WebSettings(
        password=SecretStr(PASSWORD),
        session_secret=SecretStr(secrets.token_hex(32)),
    )
    return create_web_app(client, settings)


def ours(agency_id: str) -> Any:
    return lambda event: event.source == f"/agencies/{agency_id}"


# --- behind TestClient ----------------------------------------------------------------------


async def test_each_form_publishes_its_update_on_the_agencys_own_topic(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    lead, helping, gone = Report(), Report(), Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, lead.id, lead.code),
        task_assigned(agency, helping.id, helping.code, role="supporting"),
        task_assigned(agency, gone.id, gone.code),
        task_withdrawn(agency, gone.id, gone.code, "Đã giải quyết"),
    )
    forms = [
        (lead.code, "accept", {}),
        (lead.code, "progress", {"note": "Đã cử cán bộ kiểm tra"}),
        (lead.code, "ask", {"note": "Hàng bán ở cổng nào?"}),
        (helping.code, "reject", {"note": "Không thuộc thẩm quyền", "suggest": "ubnd-to-hieu"}),
        (lead.code, "resolve", {"note": "Đã lập biên bản, chấm dứt vi phạm"}),
        (gone.code, "reopen", {"note": "Vi phạm tái diễn"}),
    ]
    async with TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates:
        with TestClient(web_app(kafka_bootstrap, agency), follow_redirects=False) as web:
            token = CSRF.search(web.get("/login").text).group(1)  # type: ignore[union-attr]
            signed = web.post(
                "/login", data={"csrf": token, "password": PASSWORD, "officer": "cb-042"}
            )
            assert signed.status_code == 303
            token = CSRF.search(web.get("/").text).group(1)  # type: ignore[union-attr]
            for code, command, form in forms:
                answer = web.post(f"/tasks/{code}/{command}", data={"csrf": token, **form})
                assert answer.status_code == 303, answer.text
                assert "Đã gửi «" in web.get(answer.headers["location"]).text
            refused = web.post(f"/tasks/{helping.code}/ask", data={"csrf": token, "note": "?"})
            assert refused.status_code == 400 and "Chỉ đơn vị chủ trì" in refused.text
            forged = web.post(f"/tasks/{lead.code}/resolve", data={"csrf": "x", "note": "Xong"})
            assert forged.status_code == 403
        found = await updates.wait_for(ours(agency), count=len(forms))
        seen = await updates.settle(1.5)

    found.sort(key=lambda event: event.time)
    said = [
        (e.data.report_id, e.data.kind, e.data.note, e.data.suggested_agency_id, e.data.officer_ref)
        for e in found
    ]
    assert said == [
        (lead.id, AgencyUpdateKind.ACCEPTED, None, None, "cb-042"),
        (lead.id, AgencyUpdateKind.IN_PROGRESS, "Đã cử cán bộ kiểm tra", None, "cb-042"),
        (lead.id, AgencyUpdateKind.NEEDS_INFORMATION, "Hàng bán ở cổng nào?", None, "cb-042"),
        (
            helping.id,
            AgencyUpdateKind.REJECTED,
            "Không thuộc thẩm quyền",
            "ubnd-to-hieu",
            "cb-042",
        ),
        (lead.id, AgencyUpdateKind.RESOLVED, "Đã lập biên bản, chấm dứt vi phạm", None, "cb-042"),
        (gone.id, AgencyUpdateKind.REOPENED, "Vi phạm tái diễn", None, "cb-042"),
    ]
    assert {e.data.agency_id for e in found} == {agency}
    assert len([e for e in seen if ours(agency)(e)]) == len(forms), "a refused form sent"


async def test_a_page_the_broker_cannot_serve_says_so_in_vietnamese(agency: str) -> None:
    app = web_app("127.0.0.1:1", agency)  # nothing listens there
    with TestClient(app, follow_redirects=False) as web:
        token = CSRF.search(web.get("/login").text).group(1)  # type: ignore[union-attr]
        web.post("/login", data={"csrf": token, "password": PASSWORD})
        answer = web.get("/")
    assert answer.status_code == 503
    assert "Không đọc được hộp thư" in answer.text
    assert "không kết nối được Kafka tại 127.0.0.1:1" in answer.text


# --- in chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def no_sideways_scroll(page: Page, width: int) -> None:
    scrolled = await page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"the page is {scrolled}px wide on a {width}px screen"


async def sign_in(page: Page, url: str, officer: str) -> None:
    await page.goto(f"{url}/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    await page.fill("#password", "mật-khẩu-sai-0123456789")
    await page.fill("#officer", officer)
    await page.click("form.stack button[type=submit]")
    await expect(page.locator("#error")).to_have_text("Mật khẩu không đúng.")
    await expect(page.locator("#officer")).to_have_value(officer)
    await page.fill("#password", PASSWORD)
    await page.click("form.stack button[type=submit]")
    await expect(page).to_have_url(f"{url}/")
    await expect(page.locator("#flash")).to_have_text("Đã đăng nhập.")


async def test_an_officer_resolves_a_task_on_a_phone_and_works_the_inbox_on_a_desktop(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str, browser: Browser
) -> None:
    late, soon, helping = Report(), Report(), Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, soon.id, soon.code, deadline=NOW + timedelta(days=3, hours=1)),
        task_assigned(
            agency,
            helping.id,
            helping.code,
            role="supporting",
            deadline=NOW + timedelta(days=6, hours=1),
            title="Rác thải ven suối Nậm La",
        ),
        task_assigned(agency, late.id, late.code, deadline=NOW - timedelta(days=2, hours=1)),
        citizen_replied(late.id, late.code, "Hàng vẫn bày bán ở cổng phía đông chợ.", rating=None),
    )
    note = "Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt; chấm dứt việc bày bán."
    async with (
        served(web_app(kafka_bootstrap, agency)) as url,
        TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates,
    ):
        # On a phone: sign in, the overdue task first, open it, resolve it.
        phone = await browser.new_context(
            viewport={"width": 375, "height": 812},
            device_scale_factor=2,
            is_mobile=True,
            locale="vi-VN",
        )
        page = await phone.new_page()
        await sign_in(page, url, officer="cb-042")
        tasks = page.locator("#tasks li")
        await expect(tasks).to_have_count(3)
        codes = [await item.get_attribute("data-code") for item in await tasks.all()]
        assert codes == [late.code, soon.code, helping.code]
        await expect(tasks.nth(0).locator(".due")).to_have_text("quá hạn 2 ngày")
        await expect(tasks.nth(1).locator(".due")).to_have_text("còn 3 ngày")
        await expect(tasks.nth(2).locator(".role")).to_have_text("phối hợp")
        await expect(page.locator("#summary")).to_contain_text("1 quá hạn")
        cookie = next(c for c in await phone.cookies() if c["name"].startswith("phananh_agency"))
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        await no_sideways_scroll(page, 375)
        await screenshot(page, "agency-web-inbox-375px")

        await tasks.nth(0).locator("a").click()
        await expect(page.locator("#code")).to_have_text(late.code)
        await expect(page.locator("#text")).to_contain_text("Có hộ dân bày bán thịt lợn")
        await expect(page.locator("#place")).to_contain_text("Chiềng Sinh")
        await expect(page.locator("#history")).to_contain_text(
            "Người dân trả lời: «Hàng vẫn bày bán ở cổng phía đông chợ.»"
        )
        await no_sideways_scroll(page, 375)
        await screenshot(page, "agency-web-task-375px")

        await page.click("#action-resolve summary")
        await page.fill("#note-resolve", note)
        await screenshot(page, "agency-web-resolve-form-375px")
        await page.click("#action-resolve button[type=submit]")
        await expect(page.locator("#flash")).to_contain_text(
            f"Đã gửi «đã giải quyết» cho {late.code}."
        )
        await expect(page.locator("#history .sent")).to_contain_text(
            f"Đơn vị gửi «đã giải quyết» (cán bộ cb-042): {note}"
        )
        await no_sideways_scroll(page, 375)
        await screenshot(page, "agency-web-resolved-375px")
        (resolved,) = await updates.wait_for(ours(agency))
        assert (resolved.data.report_id, resolved.data.kind, resolved.data.note) == (
            late.id,
            AgencyUpdateKind.RESOLVED,
            note,
        )
        await phone.close()

        # Routing closes it; on a desktop the inbox shows what is left, and a refused
        # form says why and keeps what was typed.
        await to_inbox(
            kafka_settings, agency, task_withdrawn(agency, late.id, late.code, "Đã giải quyết")
        )
        desktop = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await desktop.new_page()
        await sign_in(page, url, officer="cb-007")
        tasks = page.locator("#tasks li")
        await expect(tasks).to_have_count(2)
        await expect(tasks.nth(0)).to_contain_text(soon.code)
        await expect(page.locator("#closed summary")).to_have_text("Đã rời hộp thư (1)")
        await screenshot(page, "agency-web-inbox-desktop")

        await page.click(f"#tasks a:has-text('{soon.code}')")
        await page.click("#action-reject summary")
        await page.fill("#note-reject", "Không thuộc địa bàn phường.")
        await page.fill("#suggest-reject", "UBND Tô Hiệu")
        await page.click("#action-reject button[type=submit]")
        await expect(page.locator("#error")).to_contain_text("mã đơn vị đề xuất")
        await expect(page.locator("#note-reject")).to_have_value("Không thuộc địa bàn phường.")
        await expect(page.locator("#suggest-reject")).to_have_value("UBND Tô Hiệu")
        await screenshot(page, "agency-web-refused-desktop")
        await page.fill("#suggest-reject", "ubnd-to-hieu")
        await page.click("#action-reject button[type=submit]")
        await expect(page.locator("#flash")).to_contain_text(f"Đã gửi «từ chối» cho {soon.code}.")
        await screenshot(page, "agency-web-rejected-desktop")

        await page.click("header button[type=submit]")  # sign out
        await expect(page).to_have_url(f"{url}/login")
        await page.goto(f"{url}/tasks/{soon.code}")
        await expect(page).to_have_url(re.compile(r"/login\?next="))
        await desktop.close()

        found = await updates.wait_for(ours(agency), count=2)
    assert [(e.data.kind, e.data.officer_ref) for e in found] == [
        (AgencyUpdateKind.RESOLVED, "cb-042"),
        (AgencyUpdateKind.REJECTED, "cb-007"),
    ]


async def test_the_lead_corrects_the_place_and_unlinks_a_duplicate_on_a_phone(
    agency: str, kafka_settings: KafkaSettings, kafka_bootstrap: str, browser: Browser
) -> None:
    lead, duplicate = Report(), Report()
    await to_inbox(
        kafka_settings,
        agency,
        task_assigned(agency, lead.id, lead.code, deadline=NOW + timedelta(days=3)),
        DuplicateLinkChangedEvent.new(
            DuplicateLinkChanged(
                report_id=duplicate.id,
                tracking_code=duplicate.code,
                agency_id=agency,
                original_report_id=lead.id,
                original_tracking_code=lead.code,
                linked=True,
                text="Chợ Noong Đúc lại có người bán thịt ngoài hành lang",
                received_at=NOW - timedelta(hours=2),
                at=NOW - timedelta(hours=1),
                by_agency_id="ioc-tiep-nhan",
                reason="Cùng vụ việc",
            ),
            source="/services/routing",
        ),
    )
    async with (
        served(web_app(kafka_bootstrap, agency)) as url,
        TopicWatcher(kafka_bootstrap, agency_updates_topic(agency).name) as updates,
    ):
        phone = await browser.new_context(
            viewport={"width": 375, "height": 812}, is_mobile=True, locale="vi-VN"
        )
        page = await phone.new_page()
        await sign_in(page, url, officer="cb-042")
        await page.click(f"#tasks a:has-text('{lead.code}')")
        await expect(page.locator("#duplicates")).to_contain_text(duplicate.code)

        await page.click("#action-replace summary")
        await page.fill("#ward-replace", "3679")
        await page.fill("#group-replace", "Tổ 8")
        await page.fill("#note-replace", "Chợ Noong Đúc thuộc phường Chiềng Sinh")
        await page.click("#action-replace button[type=submit]")
        await expect(page.locator("#error")).to_contain_text("gồm đúng 5 chữ số")
        await expect(page.locator("#ward-replace")).to_have_value("3679")
        await expect(page.locator("#group-replace")).to_have_value("Tổ 8")
        await no_sideways_scroll(page, 375)
        await screenshot(page, "agency-web-correction-refused-375px")
        await page.fill("#ward-replace", "03679")
        await page.click("#action-replace button[type=submit]")
        await expect(page.locator("#flash")).to_contain_text(
            f"Đã gửi «điều chỉnh địa điểm» cho {lead.code}."
        )

        await page.click(f"#action-unlink-{duplicate.code} summary")
        await page.fill(f"#note-unlink-{duplicate.code}", "Khác vụ việc: chợ khác")
        await page.click(f"#action-unlink-{duplicate.code} button[type=submit]")
        await expect(page.locator("#flash")).to_contain_text(
            f"Đã gửi «tách khỏi phản ánh gốc» cho {duplicate.code}."
        )
        await expect(page.locator("#code")).to_have_text(lead.code)
        await no_sideways_scroll(page, 375)
        await screenshot(page, "agency-web-corrections-375px")
        await phone.close()
        found = await updates.wait_for(ours(agency), count=2)
    said = [
        (e.data.report_id, e.data.kind, e.data.ward_code, e.data.residential_group) for e in found
    ]
    assert said == [
        (lead.id, AgencyUpdateKind.RELOCATED, "03679", "Tổ 8"),
        (duplicate.id, AgencyUpdateKind.UNLINKED, None, None),
    ]
