"""The agencies' loop on the real servers, driven through the reference agency client.

A report routes to the ward, the ward declines it towards the urban-order team, the team
takes it and resolves it with the market board: the citizen's status follows each step.
Asking the citizen stops the clock until the answer, which reaches the agency's inbox.
Updates from agencies that do not hold the report, or that speak for another agency, are
refused and change nothing; malformed ones are parked in routing's dead-letter topic. A
rule set published on the rules topic is used by the running service at once; a broken
one is refused.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from phananh_agency import AgencyClient, Inbox
from phananh_agency import KafkaSettings as AgencyKafkaSettings
from phananh_contracts import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    AgencyUpdateEvent,
    CitizenReplied,
    CitizenRepliedEvent,
    KafkaRecord,
    ReportReceivedEvent,
    agency_updates_topic,
    dead_letter_topic,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.adapters.rules_feed import publication, publish_rules
from routing.adapters.rules_file import city_check
from routing.app import create_app
from routing.domain.rules import parse_ruleset
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
WARD, MARKET, QLTT = "ubnd-chieng-sinh", "bql-cho-noong-duc", "doi-qltt-do-thi"
T = TypeVar("T")


def settings_for(kafka: KafkaSettings, mongo: MongoSettings, scope: str) -> Settings:
    return Settings(
        kafka=kafka,
        mongodb=mongo,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=3600,  # the loop is under test here, not the deadlines
        rules_scope=scope,
    )


@pytest.fixture
def scope() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def routing(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, scope: str
) -> AsyncIterator[Settings]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    settings = settings_for(kafka_settings, mongo_settings, scope)
    async with create_app(settings).running():
        yield settings


@pytest.fixture
def agency_kafka(kafka_bootstrap: str) -> AgencyKafkaSettings:
    """The agencies' own view of the broker (the client shares no settings with routing)."""
    return AgencyKafkaSettings(bootstrap_servers=kafka_bootstrap)


def new_report() -> ReportReceivedEvent:
    """The seed's report with its own id and tracking code (inboxes are shared by tests)."""
    code = "SL-2303-" + "".join(random.choices("0123456789ABCDEFGHJKMNPQRSTVWXYZ", k=6))
    data = REPORT_RECEIVED.data.model_copy(
        update={"report_id": str(uuid.uuid4()), "tracking_code": code}
    )
    return ReportReceivedEvent.new(data, source="/services/intake")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 30) -> T:
    """The first non-None answer of ``probe``, asked every half second."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer after {timeout_s}s")
        await asyncio.sleep(0.5)


async def holding(client: AgencyClient, report_id: str) -> Inbox:
    """The agency's inbox once it holds ``report_id`` open."""

    async def probe() -> Inbox | None:
        inbox = await client.inbox()
        return inbox if any(task.report_id == report_id for task in inbox.open) else None

    return await eventually(probe)


async def test_declined_rerouted_then_resolved_by_the_new_lead_and_the_market_board(
    routing: Settings,
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    agency_kafka: AgencyKafkaSettings,
) -> None:
    report = new_report()
    rid, code = report.data.report_id, report.data.tracking_code
    ward, qltt, market = (AgencyClient(agency_kafka, a) for a in (WARD, QLTT, MARKET))
    mine = lambda e: e.data.report_id == rid  # noqa: E731
    async with (
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
    ):
        await publish(kafka_settings, report.to_kafka())
        inbox = await holding(ward, rid)
        (task,) = [t for t in inbox.open if t.report_id == rid]
        assert (task.role, task.tracking_code) == ("lead", code)
        await holding(market, rid)

        await ward.send(
            code,
            AgencyUpdateKind.REJECTED,
            note="Việc bày bán lấn chiếm hành lang chợ thuộc Đội Quản lý trật tự đô thị.",
            suggested_agency_id=QLTT,
        )
        inbox = await holding(qltt, rid)
        (moved,) = [t for t in inbox.open if t.report_id == rid]
        assert moved.role == "lead" and "từ chối" in (moved.note or "")
        assert all(t.report_id != rid for t in (await ward.inbox()).open)

        await qltt.send(code, AgencyUpdateKind.ACCEPTED, officer_ref="cb-0142")
        await qltt.send(
            code,
            AgencyUpdateKind.RESOLVED,
            note="Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt; chấm dứt việc bày bán.",
        )
        await market.send(code, AgencyUpdateKind.RESOLVED, note="Đã phối hợp kiểm tra, nhắc nhở.")

        found = await statuses.wait_for(mine, count=3)
        rerouted = await assignments.wait_for(mine, count=2)
        settled = [e for e in await statuses.settle(1.0) if mine(e)]

    first, second = (event.data for event in rerouted)
    assert (first.lead_agency_id, second.lead_agency_id) == (WARD, QLTT)
    assert second.reassignment_of == rerouted[0].id
    assert second.supporting_agency_ids == (MARKET,)
    assert [e.data.status.value for e in found] == ["assigned", "in_progress", "resolved"]
    assert found[2].data.note == (
        "Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt; chấm dứt việc bày bán."
    )
    assert found[2].data.agency_name == "Đội Quản lý trật tự đô thị thành phố Sơn La"
    assert len(settled) == 3, "a status was said twice"
    assert all(t.report_id != rid for t in (await qltt.inbox()).open)


async def test_asking_the_citizen_waits_for_the_answer_which_reaches_the_inbox(
    routing: Settings,
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    agency_kafka: AgencyKafkaSettings,
) -> None:
    report = new_report()
    rid, code = report.data.report_id, report.data.tracking_code
    ward = AgencyClient(agency_kafka, WARD)
    mine = lambda e: e.data.report_id == rid  # noqa: E731
    answer = CitizenRepliedEvent.new(
        CitizenReplied(
            report_id=rid,
            tracking_code=code,
            channel=report.data.channel,
            channel_message_id=f"reply-{uuid.uuid4().hex[:8]}",
            received_at=report.data.received_at,
            text="Các hộ bày bán từ 6 giờ đến 8 giờ sáng, cạnh cổng phía đông.",
            reporter=report.data.reporter,
        ),
        source="/services/intake",
    )
    async with TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses:
        await publish(kafka_settings, report.to_kafka())
        await holding(ward, rid)
        await ward.send(
            code, AgencyUpdateKind.NEEDS_INFORMATION, note="Các hộ thường bày bán vào giờ nào?"
        )
        (waiting,) = await statuses.wait_for(
            lambda e: mine(e) and e.data.status.value == "waiting_for_citizen"
        )
        await publish(kafka_settings, answer.to_kafka())
        (resumed,) = await statuses.wait_for(
            lambda e: mine(e) and e.data.status.value == "in_progress"
        )

    assert waiting.data.note == "Các hộ thường bày bán vào giờ nào?"
    assert "bổ sung" in (resumed.data.note or "")

    async def answered() -> bool | None:
        task = (await ward.inbox()).find(rid)
        return True if task is not None and getattr(task, "answers", ()) else None

    await eventually(answered)
    task = (await ward.inbox()).find(rid)
    assert task is not None and "cổng phía đông" in task.answers[0].text  # type: ignore[union-attr]


async def test_strangers_and_impersonators_are_refused_and_malformed_updates_parked(
    routing: Settings,
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    agency_kafka: AgencyKafkaSettings,
) -> None:
    report = new_report()
    rid, code = report.data.report_id, report.data.tracking_code
    ward, qltt, market = (AgencyClient(agency_kafka, a) for a in (WARD, QLTT, MARKET))
    malformed = KafkaRecord(  # the ward's system sends garbage, where it may write
        topic=agency_updates_topic(WARD).name,
        key=rid.encode(),
        value=b'{"specversion": "1.0", "type": "vn.pakn.agency.update", "data": {"kind": 42}}',
        headers=[],
    )
    async with (
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_REFUSED_TOPIC.name) as refusals,
        TopicWatcher(kafka_bootstrap, AGENCY_UPDATES_TOPIC.name) as admitted,
        TopicWatcher(kafka_bootstrap, dead_letter_topic("routing")) as parked,
        TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
    ):
        await publish(kafka_settings, report.to_kafka())
        await holding(ward, rid)
        await holding(market, rid)
        # The urban-order team does not hold the report: its client would refuse locally,
        # so its update is sent the way any agency system could send it (on its own topic).
        _, update = await ward.prepare(code, AgencyUpdateKind.RESOLVED, note="Đã xử lý.")
        foreign = update.model_copy(
            update={"data": update.data.model_copy(update={"agency_id": QLTT})}
        )
        await qltt.publish(foreign)
        # The market board, which supports the report, resolves it in the ward's name.
        forged = AgencyUpdateEvent.new(update.data, source=f"/agencies/{MARKET}")
        await market.publish(forged)
        await publish(kafka_settings, malformed)

        (refused,) = await refusals.wait_for(lambda e: e.data.update_event_id == foreign.id)
        refusal = await qltt.wait_for_refusal(foreign.id, timeout_s=30)
        impersonation = await market.wait_for_refusal(forged.id, timeout_s=30)
        dead = await _raw_wait(parked, lambda record: record.value == malformed.value)
        seen = [e for e in await statuses.settle(1.0) if e.data.report_id == rid]
        passed = {e.id for e in await admitted.settle(0.5)}

    assert refused.data.reason.value == "not_holder"
    assert refusal is not None and "không được giao" in refusal.detail
    assert impersonation is not None and impersonation.reason.value == "agency_mismatch"
    assert WARD in impersonation.detail
    assert foreign.id in passed, "it spoke for itself: the case refused it, not the gate"
    assert forged.id not in passed, "an update in another agency's name reached the case"
    headers = dict(dead.headers)
    assert headers["x-dlq-source-topic"] == agency_updates_topic(WARD).name.encode()
    assert [e.data.status.value for e in seen] == ["assigned"], "a refused update changed it"


async def _raw_wait(watcher: TopicWatcher, predicate: Callable[[Any], bool]) -> Any:
    """A raw record (dead letters are not events) matching ``predicate``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch = await watcher.consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                if predicate(record):
                    return record
    raise AssertionError(f"{watcher.topic}: nothing matching after 30s")


async def test_a_published_rule_set_is_used_at_once_and_a_broken_one_is_refused(
    routing: Settings, kafka_settings: KafkaSettings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    document = yaml.safe_load((ROOT / "config/son-la/routing.yaml").read_text(encoding="utf-8"))
    document["version"] = "2025.2-test"
    market_rule = next(rule for rule in document["rules"] if rule["id"] == "cho-noong-duc")
    market_rule["lead"] = QLTT
    market_rule["when"]["categories"] = ["urban_order"]
    market_rule["supporting"] = ["ward-committee", MARKET]
    new_rules = tmp_path / "routing.yaml"
    new_rules.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    market_rule["lead"] = "no-such-agency"
    document["version"] = "2025.3-broken"
    broken.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    check = city_check(routing)

    with pytest.raises(ValueError, match="no-such-agency"):
        await publish_rules(kafka_settings, broken, check, scope=routing.rules_scope, by="it")
    await publish_rules(kafka_settings, new_rules, check, scope=routing.rules_scope, by="it")

    async with TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments:

        async def routed_anew() -> Any:
            report = new_report()
            await publish(kafka_settings, report.to_kafka())
            (assigned,) = await assignments.wait_for(
                lambda e: e.data.report_id == report.data.report_id
            )
            return assigned if assigned.data.ruleset_version == "2025.2-test" else None

        assigned = await eventually(routed_anew)
        # Published past the check (by any producer): the running service refuses it.
        text = broken.read_text(encoding="utf-8")
        forced = publication(
            text, parse_ruleset(text, "broken"), scope=routing.rules_scope, by="it"
        )
        await publish(kafka_settings, forced.to_kafka())
        await asyncio.sleep(2)
        still = await routed_anew()

    assert still is not None, "the broken rule set replaced the one in force"
    assert assigned.data.lead_agency_id == QLTT
    assert assigned.data.supporting_agency_ids == (WARD, MARKET)
    assert assigned.data.rule_id == "cho-noong-duc"
