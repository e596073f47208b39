"""Who may do what on the platform's Kafka cluster: one principal per service, per agency
and for operators, each with the least it needs.

This is data, read by ``phananh kafka acls`` (which turns it into the cluster's ACLs) and
checked against each service's AsyncAPI document by the tests, so a service that starts
reading or writing another topic fails a test until its access is written down here.

Principals (SASL/SCRAM user names):

- ``svc-<service>`` for each service (``svc-intake``, ``svc-routing``, …);
- ``agency-<agency id>`` for each agency of the routing configuration;
- ``operator`` for people who watch (``phananh watch``, ``phananh dlq list``) and publish
  routing rules; ``admin`` (a super user) creates topics, ACLs and credentials and
  replays dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from phananh_contracts.topics import (
    AGENCY_UPDATES_REFUSED_TOPIC,
    AGENCY_UPDATES_TOPIC,
    ASSIGNMENTS_TOPIC,
    AUDIT_CHECKPOINTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    CITIZEN_REPLIES_TOPIC,
    CONTACT_KEYS_TOPIC,
    DEADLINES_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORT_STATUS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
    RULES_TOPIC,
    agency_inbox_topic,
    agency_updates_topic,
    check_agency_id,
    dead_letter_topic,
)

INBOX_PREFIX = "pakn.inbox."
"""Every agency's inbox topic starts with this (``pakn.inbox.<agency>.v1``)."""
UPDATES_PREFIX = "pakn.updates."
"""Every agency's own updates topic starts with this (``pakn.updates.<agency>.v1``)."""
TOPIC_PREFIX = "pakn."
"""Every topic of the platform starts with this."""

ADMIN_PRINCIPAL = "admin"
"""The operators' super user: creates topics, ACLs and credentials, nothing else."""
OPERATOR_PRINCIPAL = "operator"
"""People watching the platform: read every topic, replay dead letters, publish rules."""


class Operation(StrEnum):
    """Kafka ACL operations the platform grants."""

    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"


class Pattern(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may do ``operation`` on the resource(s) named."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        star = "*" if self.pattern is Pattern.PREFIXED else ""
        return f"User:{self.principal} {self.operation} {self.resource.lower()} {self.name}{star}"


@dataclass(frozen=True)
class ServiceAccess:
    """What one service reads and writes; its consumer groups all start with its name."""

    service: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    read_prefixes: tuple[str, ...] = ()
    write_prefixes: tuple[str, ...] = ()
    create_prefixes: tuple[str, ...] = ()

    @property
    def principal(self) -> str:
        return service_principal(self.service)

    def grants(self) -> list[Grant]:
        grants = [_topic(self.principal, name, Operation.READ) for name in self.reads]
        grants += [_topic(self.principal, name, Operation.WRITE) for name in self.writes]
        grants += [_prefix(self.principal, p, Operation.READ) for p in self.read_prefixes]
        grants += [_prefix(self.principal, p, Operation.WRITE) for p in self.write_prefixes]
        grants += [_prefix(self.principal, p, Operation.CREATE) for p in self.create_prefixes]
        # Its consumer groups (e.g. notify-reports, notify-status …) and nobody else's.
        grants.append(
            Grant(self.principal, Resource.GROUP, self.service, Pattern.PREFIXED, Operation.READ)
        )
        return grants


SERVICE_ACCESS: tuple[ServiceAccess, ...] = (
    ServiceAccess(
        service="intake",
        reads=(CHANNEL_RAW_TOPIC.name, ASSIGNMENTS_TOPIC.name, REPORT_STATUS_TOPIC.name),
        writes=(
            CHANNEL_RAW_TOPIC.name,  # its HTTP channels put what they receive there first
            REPORTS_TOPIC.name,
            REPORTS_REJECTED_TOPIC.name,
            CITIZEN_REPLIES_TOPIC.name,
            CONTACT_KEYS_TOPIC.name,  # the key of each contact it seals
            dead_letter_topic("intake"),
        ),
    ),
    ServiceAccess(
        service="routing",
        reads=(
            REPORTS_TOPIC.name,
            AGENCY_UPDATES_TOPIC.name,
            CITIZEN_REPLIES_TOPIC.name,
            RULES_TOPIC.name,
            DEADLINES_TOPIC.name,  # its own breaches: a breach moves the report up a level
        ),
        writes=(
            ASSIGNMENTS_TOPIC.name,
            REPORT_STATUS_TOPIC.name,
            DEADLINES_TOPIC.name,
            AGENCY_UPDATES_TOPIC.name,  # the updates its gate admitted
            AGENCY_UPDATES_REFUSED_TOPIC.name,
            dead_letter_topic("routing"),
        ),
        read_prefixes=(UPDATES_PREFIX,),
        write_prefixes=(INBOX_PREFIX,),
        create_prefixes=(INBOX_PREFIX, UPDATES_PREFIX),  # one of each per agency it routes to
    ),
    ServiceAccess(
        service="notify",
        reads=(
            REPORTS_TOPIC.name,
            REPORTS_REJECTED_TOPIC.name,
            CITIZEN_REPLIES_TOPIC.name,
            ASSIGNMENTS_TOPIC.name,
            REPORT_STATUS_TOPIC.name,
            DEADLINES_TOPIC.name,
            CONTACT_KEYS_TOPIC.name,  # to open the contacts it tells
        ),
        writes=(NOTIFICATIONS_TOPIC.name, dead_letter_topic("notify")),
    ),
    ServiceAccess(
        service="audit",
        reads=(
            REPORTS_TOPIC.name,
            REPORTS_REJECTED_TOPIC.name,
            CITIZEN_REPLIES_TOPIC.name,
            ASSIGNMENTS_TOPIC.name,
            AGENCY_UPDATES_TOPIC.name,
            AGENCY_UPDATES_REFUSED_TOPIC.name,
            REPORT_STATUS_TOPIC.name,
            DEADLINES_TOPIC.name,
            NOTIFICATIONS_TOPIC.name,
            RULES_TOPIC.name,
            AUDIT_CHECKPOINTS_TOPIC.name,  # `phananh-audit verify --kafka` compares them
        ),
        writes=(AUDIT_CHECKPOINTS_TOPIC.name, dead_letter_topic("audit")),
    ),
)


def service_principal(service: str) -> str:
    """The Kafka principal of a service, e.g. ``svc-routing``."""
    return f"svc-{service}"


def agency_principal(agency_id: str) -> str:
    """The Kafka principal of an agency, e.g. ``agency-ubnd-chieng-sinh``."""
    check_agency_id(agency_id)
    return f"agency-{agency_id}"


def agency_group(agency_id: str) -> str:
    """The consumer group an agency reads its inbox with (the agency client's default)."""
    return f"agency-{agency_id}"


def agency_grants(agency_id: str) -> list[Grant]:
    """An agency reads its own inbox (with its own consumer group) and writes its own
    updates topic; nothing else. Routing admits an update only from the topic of the
    agency it names, so no agency can act for another."""
    principal = agency_principal(agency_id)
    return [
        _topic(principal, agency_inbox_topic(agency_id).name, Operation.READ),
        _topic(principal, agency_updates_topic(agency_id).name, Operation.WRITE),
        Grant(principal, Resource.GROUP, agency_group(agency_id), Pattern.LITERAL, Operation.READ),
    ]


def operator_grants() -> list[Grant]:
    """Operators read every topic (``phananh watch``, ``phananh dlq list``) without a
    consumer group, publish routing rules and destroy a forgotten citizen's contact keys
    (``phananh forget``; they read the keys only wrapped, and cannot open them). They
    cannot write reports or updates, create or delete topics, nor change ACLs: replaying a
    dead letter is done as ``admin``."""
    return [
        _prefix(OPERATOR_PRINCIPAL, TOPIC_PREFIX, Operation.READ),
        _topic(OPERATOR_PRINCIPAL, RULES_TOPIC.name, Operation.WRITE),
        _topic(OPERATOR_PRINCIPAL, CONTACT_KEYS_TOPIC.name, Operation.WRITE),
    ]


def access_plan(agency_ids: list[str] | tuple[str, ...]) -> list[Grant]:
    """Every ACL of the platform for the agencies given, sorted and without repeats."""
    grants = [grant for access in SERVICE_ACCESS for grant in access.grants()]
    grants += [grant for agency in agency_ids for grant in agency_grants(agency)]
    grants += operator_grants()
    return sorted(set(grants))


def principals(agency_ids: list[str] | tuple[str, ...]) -> list[str]:
    """Every principal the plan names (not the admin)."""
    return sorted({grant.principal for grant in access_plan(agency_ids)})


def _topic(principal: str, name: str, operation: Operation) -> Grant:
    return Grant(principal, Resource.TOPIC, name, Pattern.LITERAL, operation)


def _prefix(principal: str, prefix: str, operation: Operation) -> Grant:
    return Grant(principal, Resource.TOPIC, prefix, Pattern.PREFIXED, operation)
