"""Settings from the environment and the structured log lines."""

from __future__ import annotations

import json
import logging

import pytest
from phananh_platform.logs import JsonFormatter
from phananh_platform.settings import MongoSettings, ServiceSettings, load_settings
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_nested_environment_variables_configure_a_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHANANH_KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv(
        "PHANANH_MONGODB__URL", "mongodb://pakn:s3cret@mongo:27017/?authSource=admin"
    )
    monkeypatch.setenv("PHANANH_MONGODB__DATABASE", "pakn_sonla")
    monkeypatch.setenv("PHANANH_HTTP__PORT", "8080")

    settings = ServiceSettings()

    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.mongodb.database == "pakn_sonla"
    assert settings.http.port == 8080
    assert "s3cret" not in repr(settings), "the database password leaked into a repr"


def test_each_service_owns_its_database_unless_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Intake(ServiceSettings):
        service = "intake"

    class Audit(ServiceSettings):
        service = "audit"

    monkeypatch.setenv("PHANANH_MONGODB__URL", "mongodb://mongo:27017/")
    assert Intake().mongodb.database == "pakn_intake"
    assert Audit().mongodb.database == "pakn_audit"

    shared = MongoSettings()
    assert Intake(mongodb=shared).mongodb.database == "pakn_intake"
    assert Audit(mongodb=shared).mongodb.database == "pakn_audit", "one service's name leaked"

    monkeypatch.setenv("PHANANH_MONGODB__DATABASE", "pakn_sonla")
    assert Audit().mongodb.database == "pakn_sonla"


def test_the_placeholder_password_from_env_example_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHANANH_MONGODB__URL", "mongodb://pakn:change-me@mongo:27017/")
    with pytest.raises(ValidationError, match="placeholder password"):
        ServiceSettings()


def test_log_lines_are_json_with_the_message_coordinates() -> None:
    formatter = JsonFormatter(service="routing", instance="host:1")
    record = logging.LogRecord("phananh", logging.WARNING, __file__, 1, "retrying %s", ("x",), None)
    record.__dict__.update(topic="pakn.reports.v1", partition=3, offset=17, event_id="evt-1")

    line = json.loads(formatter.format(record))

    assert line["message"] == "retrying x"
    assert line["service"] == "routing"
    assert (line["topic"], line["partition"], line["offset"], line["event_id"]) == (
        "pakn.reports.v1",
        3,
        17,
        "evt-1",
    )
    assert line["level"] == "WARNING"


def test_a_service_without_its_settings_exits_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHANANH_HTTP__PORT", "not-a-port")
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings, "phananh-test")
    assert exited.value.code == 2
    assert "PHANANH_HTTP__PORT: Input should be a valid integer" in capsys.readouterr().err


def test_topics_holding_contacts_in_clear_are_kept_as_long_as_the_settings_say() -> None:
    from phananh_contracts import ALL_TOPICS, CHANNEL_RAW_TOPIC, REPORTS_TOPIC, dead_letter_topic
    from phananh_platform.kafka import topic_configs
    from phananh_platform.settings import KafkaSettings

    day_ms = 24 * 60 * 60 * 1000
    default, short = (
        KafkaSettings(),
        KafkaSettings(raw_retention_days=2, raw_dead_letters_retention_days=0.5),
    )
    by_name = {topic.name: topic for topic in ALL_TOPICS}
    raw, letters = CHANNEL_RAW_TOPIC, by_name[dead_letter_topic("intake")]

    assert topic_configs(raw, default)["retention.ms"] == str(7 * day_ms)
    assert topic_configs(letters, default)["retention.ms"] == str(30 * day_ms)
    assert topic_configs(raw, short)["retention.ms"] == str(2 * day_ms)
    assert topic_configs(letters, short)["retention.ms"] == str(day_ms // 2)
    assert "retention.ms" not in topic_configs(REPORTS_TOPIC, short), "others: broker default"
    assert topic_configs(by_name[dead_letter_topic("routing")], short)["retention.ms"] == "-1"
