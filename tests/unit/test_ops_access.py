"""The access plan (``phananh_contracts.access``) against what each service really does,
as its AsyncAPI document says (generated from its subscriptions and declared publications,
and kept current by test_ops_asyncapi): a service given too little cannot work on a
secured cluster; one given more than it uses breaks least privilege."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from phananh_contracts import AUDIT_CHECKPOINTS_TOPIC, RULES_TOPIC
from phananh_contracts.access import (
    INBOX_PREFIX,
    SERVICE_ACCESS,
    UPDATES_PREFIX,
    Operation,
    Pattern,
    Resource,
    ServiceAccess,
    access_plan,
    agency_grants,
)

pytestmark = pytest.mark.unit

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"

READ_OUTSIDE_SUBSCRIPTIONS = {
    # routing follows the rule sets with a consumer of its own (no group), not a subscriber
    "routing": {RULES_TOPIC.name},
    # `phananh-audit verify --kafka` compares the trail with the signed checkpoints
    "audit": {AUDIT_CHECKPOINTS_TOPIC.name},
}
"""Topics a service reads outside its subscriptions, and why."""


def operations(service: str) -> list[tuple[str, str, str | None]]:
    """(action, topic, group) of every operation of the service's AsyncAPI document."""
    document: dict[str, Any] = yaml.safe_load((ASYNCAPI / f"{service}.yaml").read_text())
    found = []
    for operation in document["operations"].values():
        name = unquote(operation["channel"]["$ref"].rsplit("/", 1)[-1])
        channel = document["channels"][name]
        topic = channel.get("bindings", {}).get("kafka", {}).get("topic") or channel["address"]
        group = operation.get("bindings", {}).get("kafka", {}).get("groupId", {}).get("enum")
        found.append((operation["action"], topic, group[0] if group else None))
    return found


def allowed(access: ServiceAccess, operation: Operation, topic: str) -> bool:
    literal = access.reads if operation is Operation.READ else access.writes
    prefixes = access.read_prefixes if operation is Operation.READ else access.write_prefixes
    if topic in literal:
        return True
    # a per-agency topic appears as pakn.inbox.{agency_id}.v1 in the document
    return any(topic.startswith(prefix) for prefix in prefixes)


@pytest.mark.parametrize("access", SERVICE_ACCESS, ids=lambda access: access.service)
def test_each_service_may_do_what_its_asyncapi_document_says_it_does(
    access: ServiceAccess,
) -> None:
    for action, topic, group in operations(access.service):
        operation = Operation.READ if action == "receive" else Operation.WRITE
        assert allowed(access, operation, topic), f"{access.service} cannot {action} {topic}"
        if group is not None:  # its groups are covered by the prefixed group grant
            assert group.startswith(access.service), f"group {group} outside {access.service}*"


@pytest.mark.parametrize("access", SERVICE_ACCESS, ids=lambda access: access.service)
def test_no_service_may_do_more_than_it_does(access: ServiceAccess) -> None:
    used = operations(access.service)
    received = {topic for action, topic, _ in used if action == "receive"}
    sent = {topic for action, topic, _ in used if action == "send"}
    unused_reads = (
        set(access.reads) - received - READ_OUTSIDE_SUBSCRIPTIONS.get(access.service, set())
    )
    assert not unused_reads, f"{access.service} may read {unused_reads} but never does"
    assert not set(access.writes) - sent, f"{access.service} may write topics it never writes"
    for prefix in access.read_prefixes:
        assert any(topic.startswith(prefix) for topic in received), prefix
    for prefix in access.write_prefixes:
        assert any(topic.startswith(prefix) for topic in sent), prefix


def test_only_routing_creates_topics_and_only_the_agencies_own() -> None:
    creators = {
        grant.principal for grant in access_plan(["x"]) if grant.operation is Operation.CREATE
    }
    assert creators == {"svc-routing"}
    routing = next(access for access in SERVICE_ACCESS if access.service == "routing")
    assert set(routing.create_prefixes) == {INBOX_PREFIX, UPDATES_PREFIX}


def test_an_agency_is_granted_its_inbox_its_updates_topic_and_its_group_only() -> None:
    grants = agency_grants("ubnd-chieng-sinh")
    assert {(g.resource, g.name, g.pattern, g.operation) for g in grants} == {
        (Resource.TOPIC, "pakn.inbox.ubnd-chieng-sinh.v1", Pattern.LITERAL, Operation.READ),
        (Resource.TOPIC, "pakn.updates.ubnd-chieng-sinh.v1", Pattern.LITERAL, Operation.WRITE),
        (Resource.GROUP, "agency-ubnd-chieng-sinh", Pattern.LITERAL, Operation.READ),
    }
    assert {grant.principal for grant in grants} == {"agency-ubnd-chieng-sinh"}


def test_no_one_but_routing_writes_the_admitted_updates_topic() -> None:
    admitted = "pakn.agency.updates.v1"
    writers = {
        grant.principal
        for grant in access_plan(["ubnd-chieng-sinh", "ubnd-to-hieu"])
        if grant.operation is Operation.WRITE
        and (
            grant.name == admitted
            or (grant.pattern is Pattern.PREFIXED and admitted.startswith(grant.name))
        )
    }
    assert writers == {"svc-routing"}
