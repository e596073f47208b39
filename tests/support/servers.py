"""Real servers for tests: Kafka and a MongoDB-wire database.

Each is resolved in this order:

1. URLs from the environment: ``PHANANH_TEST_KAFKA_BOOTSTRAP_SERVERS`` and
   ``PHANANH_TEST_MONGODB_URL`` (e.g. a shared CI cluster);
2. testcontainers with the official ``apache/kafka`` and ``mongo`` images,
   where a Docker engine answers;
3. the local stack of ``deploy/local`` (``phananh up --infra-only``), reused
   when it already runs, else started for the session and stopped after it.

Under ``CI=true`` a test that needs a server never skips for the lack of one:
it fails, naming what was tried.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

KAFKA_IMAGE = "apache/kafka:4.4.0"
MONGO_IMAGE = "mongo:8.0"


@dataclass
class Servers:
    """Addresses of the servers a test session uses, and how they were obtained."""

    kafka_bootstrap: str | None = None
    mongodb_url: str | None = None
    origin: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, servers: Servers) -> None:
    """Fail under CI, skip elsewhere, saying what was tried."""
    tried = "; ".join(servers.problems) or "nothing was tried"
    message = f"no {what} for this test ({tried})"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _containers(servers: Servers, need_kafka: bool, need_mongo: bool) -> Iterator[None]:
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    with contextlib.ExitStack() as stack:
        if need_kafka:
            port = _free_port()
            kafka = (
                DockerContainer(KAFKA_IMAGE)
                .with_bind_ports(9092, port)
                .with_env("KAFKA_NODE_ID", "1")
                .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
                .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
                .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
                .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
                .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
                .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
                .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
                .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
                .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
                .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
                .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
                .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            )
            stack.enter_context(kafka)
            wait_for_logs(kafka, "Kafka Server started", timeout=120)
            servers.kafka_bootstrap = f"127.0.0.1:{port}"
            servers.origin["kafka"] = f"testcontainers {KAFKA_IMAGE}"
        if need_mongo:
            mongo = stack.enter_context(MongoDbContainer(MONGO_IMAGE))
            servers.mongodb_url = mongo.get_connection_url()
            servers.origin["database"] = f"testcontainers {MONGO_IMAGE}"
        yield


@contextlib.contextmanager
def _local_stack(servers: Servers, need_kafka: bool, need_mongo: bool) -> Iterator[None]:
    from phananh_cli.stack import LocalStack, StackError

    stack = LocalStack(say=lambda _: None)
    if running := [name for name in stack.SERVICES if stack.pid(name) is not None]:
        # They are in the same consumer groups as the services the tests start, and would
        # take the tests' events away from them.
        pytest.exit(
            f"the local stack's services are running ({', '.join(running)}); tests share "
            "their consumer groups. Run `uv run phananh down && uv run phananh up "
            "--infra-only`, then the tests again.",
            returncode=4,
        )
    started: list[str] = []
    try:
        if need_kafka:
            if stack.pid("kafka") is None:
                stack.start_kafka()
                started.append("kafka")
            servers.kafka_bootstrap = stack.kafka_bootstrap
            servers.origin["kafka"] = "local stack (deploy/local)"
        if need_mongo:
            if stack.pid("database") is None:
                stack.start_database()
                started.append("database")
            servers.mongodb_url = stack.database_url
            servers.origin["database"] = f"local stack ({stack.database_kind()})"
    except StackError as error:
        servers.problems.append(f"local stack: {error}")
    try:
        yield
    finally:
        for component in reversed(started):
            stack.stop(component)


@contextlib.contextmanager
def resolve_servers(need_kafka: bool = True, need_mongo: bool = True) -> Iterator[Servers]:
    servers = Servers(
        kafka_bootstrap=os.environ.get("PHANANH_TEST_KAFKA_BOOTSTRAP_SERVERS"),
        mongodb_url=os.environ.get("PHANANH_TEST_MONGODB_URL"),
    )
    if servers.kafka_bootstrap:
        servers.origin["kafka"] = "PHANANH_TEST_KAFKA_BOOTSTRAP_SERVERS"
    if servers.mongodb_url:
        servers.origin["database"] = "PHANANH_TEST_MONGODB_URL"
    need_kafka = need_kafka and not servers.kafka_bootstrap
    need_mongo = need_mongo and not servers.mongodb_url
    if not (need_kafka or need_mongo):
        yield servers
        return
    if _docker_answers():
        with _containers(servers, need_kafka, need_mongo):
            yield servers
        return
    servers.problems.append("no Docker engine answers, so no testcontainers")
    with _local_stack(servers, need_kafka, need_mongo):
        yield servers
