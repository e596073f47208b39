import re

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    DEAD_LETTER_HEADERS,
    REPORTS_TOPIC,
    ReportReceivedEvent,
    Topic,
    dead_letter_topic,
    topic_by_name,
    topic_for_event,
)
from phananh_contracts.examples import ALL_EXAMPLES
from pydantic import BaseModel

pytestmark = pytest.mark.unit

EVENT_TOPICS = [topic for topic in ALL_TOPICS if topic.events]
EVENT_CLASSES = [event for topic in EVENT_TOPICS for event in topic.events]


def test_public_topic_names_and_partitions_do_not_drift() -> None:
    assert {topic.name: topic.partitions for topic in ALL_TOPICS} == {
        "pakn.channel.raw.v1": 6,
        "pakn.reports.v1": 6,
        "pakn.reports.rejected.v1": 3,
        "pakn.citizen.replies.v1": 6,
        "pakn.assignments.v1": 6,
        "pakn.agency.updates.v1": 6,
        "pakn.report.status.v1": 6,
        "pakn.deadlines.v1": 6,
        "pakn.notifications.v1": 6,
        "pakn.audit.checkpoints.v1": 1,
        "pakn.dlq.intake.v1": 1,
        "pakn.dlq.routing.v1": 1,
        "pakn.dlq.notify.v1": 1,
        "pakn.dlq.audit.v1": 1,
    }
    assert all(re.fullmatch(r"pakn\.[a-z.]+\.v[0-9]+", topic.name) for topic in ALL_TOPICS)


def test_every_event_type_lives_on_exactly_one_topic() -> None:
    types = [event.event_type() for event in EVENT_CLASSES]

    assert len(set(EVENT_CLASSES)) == len(EVENT_CLASSES)
    assert len(set(types)) == len(types)
    assert all(re.fullmatch(r"vn\.pakn\.[a-z]+(\.[a-z]+)+", name) for name in types)
    assert topic_for_event(ReportReceivedEvent) is REPORTS_TOPIC
    assert topic_by_name("pakn.reports.v1") is REPORTS_TOPIC


@pytest.mark.parametrize("topic", EVENT_TOPICS, ids=lambda topic: topic.name)
def test_every_event_on_a_topic_carries_the_fields_of_its_key(topic: Topic) -> None:
    assert topic.key is not None
    for event in topic.events:
        data_model = event.model_fields["data"].annotation
        assert isinstance(data_model, type) and issubclass(data_model, BaseModel)
        assert set(topic.key.model_fields) <= set(data_model.model_fields), event.__name__


def test_every_event_type_has_an_example() -> None:
    assert {type(event) for event in ALL_EXAMPLES} == set(EVENT_CLASSES)


def test_every_service_has_a_dead_letter_topic_and_raw_contacts_are_not_kept_forever() -> None:
    for service in ("intake", "routing", "notify", "audit"):
        topic = topic_by_name(dead_letter_topic(service))
        assert topic.name == f"pakn.dlq.{service}.v1"
        kept = 30 * 24 * 3600 * 1000 if service == "intake" else -1
        assert (topic.partitions, topic.retention_ms, topic.events, topic.key) == (
            1,
            kept,
            (),
            None,
        )


def test_dead_letter_topic_names_need_a_service_name() -> None:
    with pytest.raises(ValueError, match="not a service name"):
        dead_letter_topic("Intake Service")


def test_dead_letter_headers_are_the_documented_set() -> None:
    assert set(DEAD_LETTER_HEADERS) == {
        "x-dlq-reason",
        "x-dlq-error-class",
        "x-dlq-source-topic",
        "x-dlq-source-partition",
        "x-dlq-source-offset",
        "x-dlq-failed-at",
        "x-dlq-service",
    }


def test_audit_checkpoints_are_kept_forever_and_raw_messages_briefly() -> None:
    assert topic_by_name("pakn.audit.checkpoints.v1").retention_ms == -1
    assert topic_by_name("pakn.channel.raw.v1").retention_ms == 7 * 24 * 3600 * 1000
