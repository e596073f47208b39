"""A Kafka broker that admits only signed-in principals and enforces the access plan's
ACLs, started the way ``PHANANH_LOCAL_KAFKA_SECURITY=sasl phananh up`` starts it (the same
:class:`LocalStack`, in a scratch directory on free ports)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from phananh_cli.kafka_security import new_password, set_password
from phananh_cli.stack import LocalStack, Paths, Ports
from phananh_contracts.access import agency_principal
from phananh_platform.settings import KafkaSettings

from tests.support.platform import ROOT, free_port


@dataclass
class SecuredKafka:
    stack: LocalStack

    @property
    def bootstrap(self) -> str:
        return self.stack.kafka_bootstrap

    def as_principal(self, principal: str) -> KafkaSettings:
        """Settings signing in as a principal of the stack (admin, operator, svc-*)."""
        return self.stack.kafka_settings(principal)

    def anonymous(self) -> KafkaSettings:
        """No credentials (over TLS, trusting the stack's CA, when the broker uses TLS)."""
        settings = KafkaSettings(bootstrap_servers=self.bootstrap)
        if self.stack.tls:
            ca = str(self.stack.kafka_ca_file)
            return settings.model_copy(update={"security_protocol": "SSL", "ssl_cafile": ca})
        return settings

    def agency(self, agency_id: str) -> KafkaSettings:
        """An agency's settings, with a password set as ``phananh kafka credentials``
        sets it."""
        password = new_password()
        principal = agency_principal(agency_id)
        set_password(self.as_principal("admin"), principal, password)
        return self.anonymous().for_principal(principal, password)  # SASL_SSL over TLS

    def env(self, principal: str) -> dict[str, str]:
        return self.stack.kafka_env(principal)


@contextmanager
def secured_kafka(directory: Path, *, security: str = "sasl") -> Iterator[SecuredKafka]:
    """The secured broker (``sasl``, or ``sasl_ssl`` for TLS too) with the contract
    topics, the services' and operator's credentials and the plan's ACLs for the reference
    city's agencies; stopped after."""
    ports = Ports(kafka=free_port(), kafka_controller=free_port(), database=free_port())
    stack = LocalStack(
        Paths(root=ROOT, data=directory / "data"),
        ports,
        say=lambda _: None,
        kafka_security=security,
    )
    try:
        stack.start_kafka()
        stack.create_topics()
        stack.secure_kafka()
        yield SecuredKafka(stack)
    finally:
        stack.stop("kafka")
