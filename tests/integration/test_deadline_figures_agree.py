"""Audit's overdue and on-time figures equal routing's when a wait for the citizen moves a
deadline.

Routing runs as ``create_app`` builds it, on the real broker and database, with its clock
moved by the test. Two copies of the seed's report (due Tuesday 21 March 2023): in both
the ward asks the citizen for information; in one the citizen answers after the original
deadline and the report is resolved before the moved one, the other still waits. Routing
counts the first resolved on time and neither overdue; audit, folding every event routing
published about them (``audit.domain.facts``, as its consumer does), must count the same —
which it can only because routing publishes the moved deadline (``DeadlineMoved``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit.domain.facts import fold_events
from audit.domain.figures import compute_figures
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    DEADLINES_TOPIC,
    REPORT_STATUS_TOPIC,
    AgencyUpdate,
    AgencyUpdateEvent,
    CitizenReplied,
    CitizenRepliedEvent,
    Event,
    ReportReceivedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind
from phananh_platform.kafka import ensure_topics
from phananh_platform.mongo import create_mongo_client
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.adapters.store import DeadlineStore
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher, publish_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WARD, MARKET = "ubnd-chieng-sinh", "bql-cho-noong-duc"
DEADLINE = datetime(2023, 3, 21, 10, 0, tzinfo=UTC)
ASKED = datetime(2023, 3, 14, 3, 0, tzinfo=UTC)
ANSWERED = datetime(2023, 3, 22, 3, 0, tzinfo=UTC)  # after the original deadline
RESOLVED = datetime(2023, 3, 23, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def update(report_id: str, agency: str, kind: AgencyUpdateKind, note: str, at: datetime) -> Any:
    data = AgencyUpdate(report_id=report_id, agency_id=agency, kind=kind, note=note, updated_at=at)
    return AgencyUpdateEvent.new(data, source=f"/agencies/{agency}", time=at)


async def test_audit_counts_overdue_and_on_time_as_routing_does_after_a_pause(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    answered, waiting = (
        ReportReceivedEvent.new(
            REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())}),
            source="/services/intake",
        )
        for _ in range(2)
    )
    ids = {answered.data.report_id, waiting.data.report_id}
    aid = answered.data.report_id

    def ours(event: Event[Any]) -> bool:
        return bool(event.data.report_id in ids)

    settings = Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=0.3,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",
    )
    clock = Clock(ASKED)
    app = create_app(settings, clock=clock)
    client = create_mongo_client(mongo_settings, app_name="it-figures-agree")
    store = DeadlineStore(client[mongo_settings.database])
    published: list[Event[Any]] = []
    try:
        async with (
            app.running(),
            TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
            TopicWatcher(kafka_bootstrap, REPORT_STATUS_TOPIC.name) as statuses,
            TopicWatcher(kafka_bootstrap, DEADLINES_TOPIC.name) as deadlines,
        ):
            # Another test's reports may still be waiting for routing: counted before.
            before = await store.open_counts(RESOLVED)

            async def send(*events: Event[Any]) -> None:
                published.extend(events)
                await publish_events(kafka_settings, *events, client_id="it-figures-agree")

            def status_of(report_id: str, status: str) -> Any:
                return lambda e: e.data.report_id == report_id and e.data.status.value == status

            await send(answered, waiting)
            await assignments.wait_for(ours, count=2)
            for report in (answered, waiting):
                rid = report.data.report_id
                await send(update(rid, WARD, AgencyUpdateKind.NEEDS_INFORMATION, "Xin ảnh?", ASKED))
                await statuses.wait_for(status_of(rid, "waiting_for_citizen"))

            clock.now = ANSWERED  # past the original deadline: the clock is stopped
            reply = CitizenReplied(
                report_id=aid,
                tracking_code=answered.data.tracking_code,
                channel=answered.data.channel,
                channel_message_id=f"reply-{uuid.uuid4().hex[:8]}",
                received_at=ANSWERED,
                text="Tôi gửi thêm ảnh ạ.",
                reporter=answered.data.reporter,
            )
            await send(CitizenRepliedEvent.new(reply, source="/services/intake", time=ANSWERED))
            (moved,) = await deadlines.wait_for(
                lambda e: e.data.report_id == aid and e.type == "vn.pakn.deadline.moved"
            )
            assert moved.data.previous_deadline == DEADLINE and moved.data.deadline > RESOLVED
            await statuses.wait_for(status_of(aid, "in_progress"))

            clock.now = RESOLVED  # after the original deadline, before the moved one
            await send(
                update(aid, WARD, AgencyUpdateKind.RESOLVED, "Đã xử lý xong.", RESOLVED),
                update(aid, MARKET, AgencyUpdateKind.RESOLVED, "Đã phối hợp.", RESOLVED),
            )
            await statuses.wait_for(status_of(aid, "resolved"))
            await deadlines.settle(1.5)  # the watch checked at the new time: nothing due

            routed = [e for _, e in assignments.seen + statuses.seen + deadlines.seen]
            after = await store.open_counts(RESOLVED)
            on_time = app.registry.get_sample_value(
                "pakn_routing_resolved_total", {"agency": WARD, "on_time": "true"}
            )
            late = app.registry.get_sample_value(
                "pakn_routing_resolved_total", {"agency": WARD, "on_time": "false"}
            )
    finally:
        await client.close()

    def overdue(counts: dict[tuple[str, str, bool], int]) -> int:
        return sum(n for (_, _, is_overdue), n in counts.items() if is_overdue)

    routing_overdue = overdue(after) - overdue(before)
    assert (on_time, late, routing_overdue) == (1, 0, 0), "routing: on time, nothing overdue"
    assert on_time is not None and late is not None

    events = [e for e in [*published, *routed] if ours(e)]
    folded = [(e.type, e.data.model_dump(mode="json"), e.time) for e in events]
    facts = fold_events({}, folded).values()
    start, end = datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 4, 1, tzinfo=UTC)
    (figures,) = compute_figures(facts, start, end, RESOLVED)
    assert (figures.received, figures.resolved, figures.in_progress) == (2, 1, 1)
    assert figures.overdue == routing_overdue
    assert figures.on_time_pct == 100.0 * on_time / (on_time + late)

    # Without the moved deadline, audit would count the answered report late.
    unmoved = [f for f in folded if f[0] != "vn.pakn.deadline.moved"]
    (blind,) = compute_figures(fold_events({}, unmoved).values(), start, end, RESOLVED)
    assert (blind.overdue, blind.on_time_pct) == (1, 0.0)
