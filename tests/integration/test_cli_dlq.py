"""``phananh dlq``: an operator finds a dead letter, reads why, and replays it once fixed.

A report routing dead-lettered (here: put on its dead-letter topic the way the delivery
guard does after a bug made the handler fail) is listed with its reason and source,
shown in full, and replayed to its source topic, where the running routing service
assigns it. Replaying it again changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    REPORTS_TOPIC,
    ReportReceivedEvent,
    dead_letter_topic,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.delivery import RecordRef, dead_letter_headers
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.settings import Settings

from tests.support.kafka import TopicWatcher

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def phananh(kafka: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHANANH_KAFKA__BOOTSTRAP_SERVERS": kafka}
    return subprocess.run(
        [sys.executable, "-m", "phananh_cli.main", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_a_dead_letter_is_listed_shown_and_replayed_to_the_service(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    data = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())})
    report = ReportReceivedEvent.new(data, source="/services/intake").to_kafka()
    ref = RecordRef(
        topic=REPORTS_TOPIC.name,
        partition=2,
        offset=417,
        key=report.key,
        value=report.value,
        headers=tuple(report.headers),
    )
    headers = dead_letter_headers(
        ref,
        service="routing",
        reason="handler failed 5 times: WriteError: nested arrays are not supported",
        error=RuntimeError("stand-in"),
        now=datetime.now(UTC),
    )
    producer = RecordProducer(kafka_settings, client_id="it-dlq")
    await producer.start()
    try:
        placed = await producer.send(
            dead_letter_topic("routing"), key=report.key, value=report.value, headers=headers
        )
    finally:
        await producer.stop()

    listed = phananh(kafka_bootstrap, "dlq", "list", "routing", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    (row,) = [r for r in rows if r["offset"] == placed.offset]
    assert row["source"] == "pakn.reports.v1/2/417"
    assert "nested arrays" in row["reason"]
    assert row["event_id"] == json.loads(report.value)["id"]

    shown = phananh(kafka_bootstrap, "dlq", "show", "routing", str(placed.offset))
    assert shown.returncode == 0 and data.report_id in shown.stdout

    settings = Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=3600,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",
    )
    mine = lambda e: e.data.report_id == data.report_id  # noqa: E731
    async with (
        create_app(settings).running(),
        TopicWatcher(kafka_bootstrap, ASSIGNMENTS_TOPIC.name) as assignments,
    ):
        replayed = phananh(kafka_bootstrap, "dlq", "replay", "routing", str(placed.offset))
        assert replayed.returncode == 0, replayed.stderr
        assert "to pakn.reports.v1" in replayed.stdout
        (assigned,) = await assignments.wait_for(mine)
        again = phananh(kafka_bootstrap, "dlq", "replay", "routing", str(placed.offset))
        assert again.returncode == 0
        seen = [e for e in await assignments.settle(2.0) if mine(e)]

    assert assigned.data.lead_agency_id == "ubnd-chieng-sinh"
    assert len(seen) == 1, "replaying twice assigned the report twice"

    unknown = phananh(kafka_bootstrap, "dlq", "show", "routing", "99999999")
    assert unknown.returncode == 1 and "no dead letter at offset 99999999" in unknown.stderr
    wrong = phananh(kafka_bootstrap, "dlq", "list", "billing")
    assert wrong.returncode == 2 and "unknown service 'billing'" in wrong.stderr
