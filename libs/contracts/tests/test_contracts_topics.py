import re

import pytest
from phananh_contracts import (
    ALL_TOPICS,
    DEAD_LETTER_HEADERS,
    REPORTS_TOPIC,
    AgencyUpdateEvent,
    ReportReceivedEvent,
    Topic,
    agency_inbox_topic,
    agency_of_updates_topic,
    agency_updates_topic,
    dead_letter_topic,
    is_agency_updates,
    topic_by_name,
    topic_for_event,
)
from phananh_contracts.examples import ALL_EXAMPLES, INBOX_EXAMPLES
from pydantic import BaseModel

pytestmark = pytest.mark.unit

EVENT_TOPICS = [topic for topic in ALL_TOPICS if topic.events]
EVENT_CLASSES = [event for topic in EVENT_TOPICS for event in topic.events]
INBOX = agency_inbox_topic("ubnd-chieng-sinh")
INBOX_ONLY = [event for event in INBOX.events if event not in EVENT_CLASSES]


def test_public_topic_names_and_partitions_do_not_drift() -> None:
    assert {topic.name: topic.partitions for topic in ALL_TOPICS} == {
        "pakn.channel.raw.v1": 6,
        "pakn.reports.v1": 6,
        "pakn.reports.rejected.v1": 3,
        "pakn.citizen.replies.v1": 6,
        "pakn.assignments.v1": 6,
        "pakn.agency.updates.v1": 6,
        "pakn.agency.updates.refused.v1": 3,
        "pakn.routing.rules.v1": 1,
        "pakn.report.status.v1": 6,
        "pakn.deadlines.v1": 6,
        "pakn.notifications.v1": 6,
        "pakn.audit.checkpoints.v1": 1,
        "pakn.contact.keys.v1": 6,
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
    assert {type(event) for event in INBOX_EXAMPLES} == set(INBOX_ONLY)


def test_each_agency_has_its_own_inbox_carrying_what_it_must_see() -> None:
    assert INBOX.name == "pakn.inbox.ubnd-chieng-sinh.v1"
    assert topic_by_name("pakn.inbox.ubnd-chieng-sinh.v1") is INBOX
    assert topic_by_name("pakn.inbox.bql-cho-noong-duc.v1").name.endswith("noong-duc.v1")
    assert {event.event_type() for event in INBOX.events} == {
        "vn.pakn.agency.task.assigned",
        "vn.pakn.agency.task.withdrawn",
        "vn.pakn.citizen.replied",
        "vn.pakn.agency.update.refused",
        "vn.pakn.agency.duplicate.changed",
    }
    with pytest.raises(ValueError, match="not an agency id"):
        agency_inbox_topic("../etc")
    with pytest.raises(KeyError):
        topic_by_name("pakn.inbox.Not An Agency.v1")


def test_each_agency_writes_its_updates_on_its_own_topic_which_names_it() -> None:
    from phananh_contracts.examples import AGENCY_ACCEPTED

    own = agency_updates_topic("ubnd-chieng-sinh")
    assert own.name == "pakn.updates.ubnd-chieng-sinh.v1"
    assert (own.events, own.key, own.partitions) == ((AgencyUpdateEvent,), REPORTS_TOPIC.key, 1)
    assert topic_by_name("pakn.updates.ubnd-chieng-sinh.v1") is own
    assert agency_of_updates_topic(own.name) == "ubnd-chieng-sinh"
    assert agency_of_updates_topic("pakn.updates.doi-qltt.do-thi.v1") == "doi-qltt.do-thi"
    record = AGENCY_ACCEPTED.to_kafka(own)
    assert (record.topic, record.key) == (own.name, AGENCY_ACCEPTED.to_kafka().key)
    assert own.decode(record.value) == AGENCY_ACCEPTED
    # Routing's admitted updates keep the shared topic; an agency's own is not one of them.
    assert topic_for_event(AgencyUpdateEvent).name == "pakn.agency.updates.v1"
    assert not is_agency_updates("pakn.agency.updates.v1")
    for name in ("pakn.updates.Not An Agency.v1", "pakn.updates..v1", "pakn.updates.a.v10"):
        assert not is_agency_updates(name)
        with pytest.raises(ValueError, match="not an agency's updates topic"):
            agency_of_updates_topic(name)
        with pytest.raises(KeyError):
            topic_by_name(name)
    with pytest.raises(ValueError, match="not an agency id"):
        agency_updates_topic("../etc")


def test_an_event_goes_to_an_inbox_only_if_the_inbox_carries_it() -> None:
    from phananh_contracts.examples import REPORT_RECEIVED, TASK_ASSIGNED, UPDATE_REFUSED

    assert TASK_ASSIGNED.to_kafka(INBOX).topic == "pakn.inbox.ubnd-chieng-sinh.v1"
    assert UPDATE_REFUSED.to_kafka().topic == "pakn.agency.updates.refused.v1"
    assert UPDATE_REFUSED.to_kafka(INBOX).key == UPDATE_REFUSED.to_kafka().key
    with pytest.raises(ValueError, match="not carried"):
        REPORT_RECEIVED.to_kafka(INBOX)


def test_the_rules_topic_is_compacted_and_kept() -> None:
    rules = topic_by_name("pakn.routing.rules.v1")
    assert (rules.cleanup_policy, rules.retention_ms, rules.partitions) == ("compact", -1, 1)


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


def test_a_correction_carries_what_it_corrects_and_a_reason() -> None:
    from phananh_contracts import AgencyUpdate
    from phananh_contracts.values import AgencyUpdateKind

    base = {
        "report_id": "01GVHQ6JZ9Y3X5B7C2D4E6F8G0",
        "agency_id": "ioc-tiep-nhan",
        "updated_at": "2023-03-14T01:00:00Z",
    }
    AgencyUpdate.model_validate(
        base | {"kind": "recategorized", "category": "traffic_safety", "note": "Sai loại"}
    )
    AgencyUpdate.model_validate(
        base | {"kind": "relocated", "ward_code": "03679", "residential_group": "Tổ 8", "note": "x"}
    )
    for wrong, message in [
        ({"kind": "recategorized", "note": "x"}, "needs category"),
        ({"kind": "recategorized", "category": "traffic_safety"}, "needs a note"),
        ({"kind": "out_of_scope", "note": "x", "category": "traffic_safety"}, "only for"),
        ({"kind": "linked", "note": "x"}, "needs duplicate_of"),
        (
            {"kind": "linked", "note": "x", "duplicate_of": "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"},
            "itself",
        ),
        ({"kind": "accepted", "ward_code": "03679"}, "only for"),
    ]:
        with pytest.raises(ValueError, match=message):
            AgencyUpdate.model_validate(base | wrong)
    assert AgencyUpdateKind.UNLINKED.value == "unlinked"
