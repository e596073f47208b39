"""Routing creates each agency's inbox and updates topic keeping records as long as the
configuration says (agencies rebuild their inbox from it), and refuses to start when that
is shorter than its rules' longest term needs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from phananh_contracts import ALL_TOPICS, agency_inbox_topic, agency_updates_topic
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from routing.app import create_app
from routing.domain.rules import RuleSetError
from routing.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
DAY_MS = 24 * 60 * 60 * 1000


def routing_config(directory: Path, agency_id: str) -> Path:
    """The reference rules with one more agency, never seen by the broker before."""
    document: dict[str, Any] = yaml.safe_load(
        (ROOT / "config/son-la/routing.yaml").read_text(encoding="utf-8")
    )
    document["agencies"].append(
        {"id": agency_id, "name": "Đơn vị thử nghiệm", "level": "city", "parent": "ubnd-thanh-pho"}
    )
    path = directory / "routing.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def settings_for(kafka: KafkaSettings, mongodb: MongoSettings, config: Path, days: int) -> Settings:
    return Settings(
        kafka=kafka,
        mongodb=mongodb,
        routing_config=config,
        city_config=ROOT / "config/son-la/city.yaml",
        deadline_check_interval_s=3600,
        rules_scope=f"test-{uuid.uuid4().hex[:12]}",
        agency_topics_retention_days=days,
    )


async def retention_ms(kafka: KafkaSettings, topic: str) -> int:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        (described,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for entry in described.resources[0][4]}
    return int(entries["retention.ms"])


async def test_a_new_agencys_topics_keep_records_as_long_as_configured(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, tmp_path: Path
) -> None:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    agency = f"test-{uuid.uuid4().hex[:10]}"
    config = routing_config(tmp_path, agency)
    async with create_app(settings_for(kafka_settings, mongo_settings, config, 500)).running():
        pass
    for topic in (agency_inbox_topic(agency), agency_updates_topic(agency)):
        assert await retention_ms(kafka_settings, topic.name) == 500 * DAY_MS, topic.name


def test_routing_refuses_to_start_when_the_agencies_topics_would_forget_open_tasks(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, tmp_path: Path
) -> None:
    config = routing_config(tmp_path, f"test-{uuid.uuid4().hex[:10]}")
    with pytest.raises(RuleSetError, match="PHANANH_AGENCY_TOPICS_RETENTION_DAYS=30"):
        create_app(settings_for(kafka_settings, mongo_settings, config, 30))
