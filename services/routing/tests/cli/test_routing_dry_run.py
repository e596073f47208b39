"""Trying new rules on the past, against the real broker."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import pytest
import yaml
from phananh_contracts import ALL_TOPICS, ReportReceivedEvent
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.settings import KafkaSettings
from routing.cli.dry_run import run
from routing.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]


async def test_a_dry_run_names_the_past_reports_new_rules_would_route_differently(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    report = REPORT_RECEIVED.data.model_copy(update={"report_id": str(uuid.uuid4())})
    producer = RecordProducer(kafka_settings, client_id="it-dry-run")
    await producer.start()
    try:
        await producer.publish(
            ReportReceivedEvent.new(report, source="/services/intake").to_kafka()
        )
    finally:
        await producer.stop()

    rules = yaml.safe_load((ROOT / "config/son-la/routing.yaml").read_text(encoding="utf-8"))
    rules["version"] = "2025.2-draft"
    market = next(rule for rule in rules["rules"] if rule["id"] == "cho-noong-duc")
    market["supporting"] = []  # the market board would no longer support
    proposed = tmp_path / "routing.yaml"
    proposed.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    settings = Settings(
        kafka=kafka_settings,
        routing_config=ROOT / "config/son-la/routing.yaml",
        city_config=ROOT / "config/son-la/city.yaml",
    )

    out = io.StringIO()
    assert await _run(settings, proposed, out) == 0
    assert f"{report.tracking_code}: supporting bql-cho-noong-duc → none" in out.getvalue()

    broken = tmp_path / "broken.yaml"
    rules["rules"][0]["lead"] = "no-such-agency"
    broken.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert await _run(settings, broken, out) == 2
    assert "no-such-agency" in out.getvalue()


async def _run(settings: Settings, path: Path, out: io.StringIO) -> int:
    # run() drives its own event loop, as the command does; keep it off this test's loop.
    return await asyncio.to_thread(run, settings, path, out=out)
