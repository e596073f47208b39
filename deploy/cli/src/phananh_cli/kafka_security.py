"""Kafka principals, their SCRAM credentials and ACLs, kept as the access plan says.

The plan (``phananh_contracts.access``) names one principal per service, per agency and
for operators, each with the least it needs. Here it meets the cluster through
confluent-kafka's admin client (librdkafka), which speaks the Kafka admin protocol for
ACLs and SCRAM credentials; everything runs as the ``admin`` super user.

- :func:`sync_acls` makes the cluster's ACLs of the platform's principals equal the plan:
  missing ones are created, ACLs of these principals the plan no longer holds (an agency
  removed from the configuration) are deleted; ACLs of other principals are left alone.
- :func:`set_password` creates or rotates a principal's SCRAM-SHA-512 credential.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from phananh_contracts.access import (
    ADMIN_PRINCIPAL,
    OPERATOR_PRINCIPAL,
    Grant,
    Operation,
    Pattern,
    Resource,
    access_plan,
)
from phananh_contracts.connection import KafkaConnection

SCRAM_ITERATIONS = 8192
"""PBKDF2 rounds of a stored SCRAM-SHA-512 credential (Kafka's own tools use 4096)."""
TIMEOUT_S = 30.0

MANAGED = re.compile(rf"(svc-|agency-).+|{OPERATOR_PRINCIPAL}")
"""Principals whose ACLs this module owns (and may delete)."""


class SecurityError(RuntimeError):
    """The cluster refused or did not answer; the message says what to check."""


def admin_client(connection: KafkaConnection) -> AdminClient:
    """librdkafka's admin client for the connection (which should sign in as admin)."""
    config: dict[str, Any] = {
        "bootstrap.servers": connection.bootstrap_servers,
        "security.protocol": connection.security_protocol,
        "socket.timeout.ms": connection.request_timeout_ms,
        "log_level": 3,
    }
    if connection.security_protocol.startswith("SASL_"):
        assert connection.username is not None and connection.password is not None
        config["sasl.mechanism"] = connection.sasl_mechanism
        config["sasl.username"] = connection.username
        config["sasl.password"] = connection.password.get_secret_value()
    if connection.security_protocol in ("SSL", "SASL_SSL"):
        if connection.ssl_cafile:
            config["ssl.ca.location"] = connection.ssl_cafile
        if connection.ssl_certfile:
            config["ssl.certificate.location"] = connection.ssl_certfile
        if connection.ssl_keyfile:
            config["ssl.key.location"] = connection.ssl_keyfile
    return AdminClient(config)


def agency_ids(routing_config: Path) -> list[str]:
    """The agency ids of a routing configuration file (its ``agencies`` list)."""
    document = yaml.safe_load(routing_config.read_text(encoding="utf-8"))
    agencies = document.get("agencies") if isinstance(document, dict) else None
    if not isinstance(agencies, list):
        raise SecurityError(f"{routing_config} has no `agencies` list")
    return [str(agency["id"]) for agency in agencies]


def new_password() -> str:
    return secrets.token_urlsafe(24)


def set_password(connection: KafkaConnection, principal: str, password: str) -> None:
    """Create or replace ``principal``'s SCRAM-SHA-512 credential (rotation: connections
    already signed in stay until they reconnect; new ones need the new password)."""
    set_passwords(connection, {principal: password})


def set_passwords(connection: KafkaConnection, passwords: dict[str, str]) -> None:
    """:func:`set_password` for several principals at once."""
    if ADMIN_PRINCIPAL in passwords:
        raise SecurityError("the admin's credential is set when the cluster is formatted")
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            principal,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            password.encode(),
        )
        for principal, password in passwords.items()
    ]
    admin = admin_client(connection)  # kept until its futures are done
    _wait(admin.alter_user_scram_credentials(upserts), f"the passwords of {', '.join(passwords)}")


def remove_principal(connection: KafkaConnection, principal: str) -> None:
    """Delete a principal's credential (it can no longer sign in)."""
    deletion = UserScramCredentialDeletion(principal, ScramMechanism.SCRAM_SHA_512)
    admin = admin_client(connection)
    _wait(admin.alter_user_scram_credentials([deletion]), f"the credential of {principal}")


@dataclass(frozen=True)
class AclChange:
    created: list[Grant]
    deleted: list[Grant]


def sync_acls(connection: KafkaConnection, agencies: Iterable[str]) -> AclChange:
    """Make the cluster's ACLs of the platform's principals what the plan says."""
    wanted = set(access_plan(tuple(agencies)))
    admin = admin_client(connection)
    current = {
        grant
        for binding in _wait(admin.describe_acls(_ANY), "the ACLs")
        if (grant := _grant_of(binding)) is not None and MANAGED.fullmatch(grant.principal)
    }
    missing = sorted(wanted - current)
    stale = sorted(current - wanted)
    if missing:
        _wait_all(admin.create_acls([_binding(grant) for grant in missing]), "creating ACLs")
    if stale:
        filters = [_filter(grant) for grant in stale]
        _wait_all(admin.delete_acls(filters), "deleting ACLs")
    return AclChange(created=missing, deleted=stale)


_ANY = AclBindingFilter(
    ResourceType.ANY,
    None,  # type: ignore[arg-type]  # None matches any name, principal and host
    ResourcePatternType.ANY,
    None,  # type: ignore[arg-type]
    None,  # type: ignore[arg-type]
    AclOperation.ANY,
    AclPermissionType.ANY,
)
_RESOURCES = {Resource.TOPIC: ResourceType.TOPIC, Resource.GROUP: ResourceType.GROUP}
_PATTERNS = {
    Pattern.LITERAL: ResourcePatternType.LITERAL,
    Pattern.PREFIXED: ResourcePatternType.PREFIXED,
}
_OPERATIONS = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.CREATE: AclOperation.CREATE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
}


def _binding(grant: Grant) -> AclBinding:
    return AclBinding(*_acl_fields(grant))


def _filter(grant: Grant) -> AclBindingFilter:
    """The filter matching exactly the ACL of ``grant`` (to delete it)."""
    return AclBindingFilter(*_acl_fields(grant))


def _acl_fields(grant: Grant) -> tuple[Any, ...]:
    """An ALLOW ACL's fields, in the order confluent-kafka's constructors take them."""
    return (
        _RESOURCES[grant.resource],
        grant.name,
        _PATTERNS[grant.pattern],
        f"User:{grant.principal}",
        "*",
        _OPERATIONS[grant.operation],
        AclPermissionType.ALLOW,
    )


def _grant_of(binding: AclBinding) -> Grant | None:
    """The plan's form of an ACL, or None for one the plan never makes (a DENY, a host)."""
    resources = {value: key for key, value in _RESOURCES.items()}
    patterns = {value: key for key, value in _PATTERNS.items()}
    operations = {value: key for key, value in _OPERATIONS.items()}
    if (
        binding.permission_type != AclPermissionType.ALLOW
        or binding.host != "*"
        or not binding.principal.startswith("User:")
        or binding.restype not in resources
        or binding.resource_pattern_type not in patterns
        or binding.operation not in operations
    ):
        return None
    return Grant(
        binding.principal.removeprefix("User:"),
        resources[binding.restype],
        binding.name,
        patterns[binding.resource_pattern_type],
        operations[binding.operation],
    )


def _wait(futures: Any, what: str) -> Any:
    """The result of one admin future (or of each in a dict of them)."""
    try:
        if isinstance(futures, dict):
            return [future.result(timeout=TIMEOUT_S) for future in futures.values()]
        return futures.result(timeout=TIMEOUT_S)
    except KafkaException as error:
        raise SecurityError(f"{what}: {error.args[0].str()}") from None
    except TimeoutError:
        raise SecurityError(f"{what}: the cluster did not answer in {TIMEOUT_S:.0f}s") from None


def _wait_all(futures: dict[Any, Any], what: str) -> None:
    _wait(futures, what)
