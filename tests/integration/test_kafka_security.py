"""Kafka security on a real broker that admits only signed-in principals (SASL/SCRAM-SHA-512)
and enforces the access plan's ACLs (StandardAuthorizer), started by the project's own
stack code: each agency reads its own inbox and writes its own updates topic and nothing
else; a service without its credentials does not start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from phananh_agency import AgencyClient
from phananh_agency.errors import AccessDenied, InboxNotFound
from phananh_cli.kafka_security import agency_ids, sync_acls
from phananh_contracts import (
    AGENCY_UPDATES_TOPIC,
    CONTACT_KEYS_TOPIC,
    REPORTS_TOPIC,
    agency_inbox_topic,
    agency_updates_topic,
)
from phananh_contracts.examples import TASK_ASSIGNED
from phananh_platform.kafka import RecordProducer, ensure_topics, wait_for_kafka
from phananh_platform.settings import KafkaSettings

from tests.support.agency import task_assigned
from tests.support.secured import SecuredKafka, secured_kafka

pytestmark = pytest.mark.integration

OURS = "ubnd-chieng-sinh"
THEIRS = "ubnd-to-hieu"


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    with secured_kafka(tmp_path_factory.mktemp("secured-kafka")) as running:
        yield running


@pytest.fixture(scope="module")
async def inboxes(kafka: SecuredKafka) -> AsyncIterator[dict[str, str]]:
    """Both agencies' inbox and updates topics, created as routing creates them (with its
    own principal), and one task in each inbox, put there by routing's principal."""
    reports = {agency: str(uuid.uuid4()) for agency in (OURS, THEIRS)}
    routing = kafka.as_principal("svc-routing")
    topics = [
        f(agency) for agency in (OURS, THEIRS) for f in (agency_inbox_topic, agency_updates_topic)
    ]
    await ensure_topics(routing, topics)
    producer = RecordProducer(routing, client_id="test-routing")
    await producer.start()
    try:
        for agency, report_id in reports.items():
            task = task_assigned(agency, report_id, TASK_ASSIGNED.data.tracking_code)
            await producer.publish(task.to_kafka(agency_inbox_topic(agency)))
    finally:
        await producer.stop()
    yield reports


async def test_an_agency_reads_its_own_inbox_with_its_credentials(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    inbox = await AgencyClient(kafka.agency(OURS), OURS).inbox()
    assert [task.report_id for task in inbox.open] == [inboxes[OURS]]


async def test_an_agency_is_refused_another_agencys_inbox(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    ours = kafka.agency(OURS)
    # The agency client, pointed at the other inbox with our credentials: it cannot even
    # see that the topic exists, and says so.
    with pytest.raises((InboxNotFound, AccessDenied)):
        await AgencyClient(ours, THEIRS).inbox()
    # A plain consumer asking for the topic by name is refused by the broker.
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one(ours, agency_inbox_topic(THEIRS).name)


@pytest.mark.parametrize(
    "topic", [REPORTS_TOPIC.name, AGENCY_UPDATES_TOPIC.name, agency_updates_topic(OURS).name]
)
async def test_an_agency_reads_no_other_topic(
    kafka: SecuredKafka, inboxes: dict[str, str], topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one(kafka.agency(OURS), topic)


async def test_an_agency_writes_its_own_updates_topic_and_no_other(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    ours = kafka.agency(OURS)
    await _write_one(ours, agency_updates_topic(OURS).name)  # allowed
    for topic in (
        agency_updates_topic(THEIRS).name,  # acting as another agency
        AGENCY_UPDATES_TOPIC.name,  # around routing's check
        agency_inbox_topic(THEIRS).name,
        REPORTS_TOPIC.name,
    ):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write_one(ours, topic)


async def test_an_agency_cannot_delete_topics(kafka: SecuredKafka, inboxes: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(**kafka.agency(OURS).client_options())
    await admin.start()
    try:
        with pytest.raises(KafkaError):
            await _deleted(admin, [agency_inbox_topic(OURS).name, REPORTS_TOPIC.name])
    finally:
        await admin.close()
    operator = AIOKafkaAdminClient(**kafka.as_principal("operator").client_options())
    await operator.start()
    try:
        with pytest.raises(KafkaError):  # operators watch; they do not delete either
            await _deleted(operator, [REPORTS_TOPIC.name])
        existing = set(await operator.list_topics())
    finally:
        await operator.close()
    assert {agency_inbox_topic(OURS).name, REPORTS_TOPIC.name} <= existing


async def test_only_intake_files_contact_keys_notify_reads_them_operators_destroy_them(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    """The wrapped keys of citizens' contacts: an agency can neither read nor forge them;
    operators (``phananh forget``) write the destroyed records."""
    keys = CONTACT_KEYS_TOPIC.name
    await ensure_topics(kafka.as_principal("svc-intake"), [CONTACT_KEYS_TOPIC])
    await _write_one(kafka.as_principal("svc-intake"), keys)
    await _read_one(kafka.as_principal("svc-notify"), keys)
    await _write_one(kafka.as_principal("operator"), keys)
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one(kafka.agency(OURS), keys)
    for principal in ("svc-notify", "svc-routing"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write_one(kafka.as_principal(principal), keys)
    with pytest.raises(TopicAuthorizationFailedError):
        await _write_one(kafka.agency(OURS), keys)


async def test_a_service_reads_and_writes_only_its_own_topics(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    notify = kafka.as_principal("svc-notify")
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one(notify, agency_inbox_topic(OURS).name)
    with pytest.raises(TopicAuthorizationFailedError):
        await _write_one(notify, REPORTS_TOPIC.name)  # only intake accepts reports


async def test_the_acls_follow_the_agencies_of_the_configuration(
    kafka: SecuredKafka, inboxes: dict[str, str]
) -> None:
    """An agency removed from routing.yaml loses its ACLs at the next `phananh kafka acls`
    (and only its own); put back, it gets them again."""
    admin = kafka.as_principal("admin")
    everyone = agency_ids(kafka.stack.routing_config)
    fewer = [agency for agency in everyone if agency != THEIRS]
    removed = await asyncio.to_thread(sync_acls, admin, fewer)
    try:
        assert {grant.principal for grant in removed.deleted} == {f"agency-{THEIRS}"}
        assert not removed.created
        with pytest.raises(TopicAuthorizationFailedError):
            await _read_one(kafka.agency(THEIRS), agency_inbox_topic(THEIRS).name)
    finally:
        restored = await asyncio.to_thread(sync_acls, admin, everyone)
    assert sorted(restored.created) == sorted(removed.deleted) and not restored.deleted


@pytest.mark.parametrize(
    ("credentials", "says"),
    [
        ("none", "admit only clients that sign in"),
        ("wrong", "refused to sign in svc-routing"),
    ],
)
def test_a_service_without_its_credentials_does_not_start(
    kafka: SecuredKafka, tmp_path: Path, credentials: str, says: str
) -> None:
    env = routing_env(kafka)
    if credentials == "none":
        for name in ("SECURITY_PROTOCOL", "SASL_MECHANISM", "USERNAME", "PASSWORD"):
            env.pop(f"PHANANH_KAFKA__{name}")
    else:
        env["PHANANH_KAFKA__PASSWORD"] = "not-the-password"
    finished = run_routing(env)
    assert finished.returncode == 3, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert says in finished.stdout + finished.stderr


def routing_env(kafka: SecuredKafka) -> dict[str, str]:
    """routing's environment on the secured broker, signed in as svc-routing."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PHANANH_KAFKA__")}
    return env | {
        **kafka.stack.service_env("svc-routing"),
        "PHANANH_HTTP__PORT": "0",
        "PHANANH_LOG_FORMAT": "text",
    }


def run_routing(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    executable = str(Path(sys.executable).parent / "phananh-routing")
    return subprocess.run(
        [executable], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def _read_one(settings: KafkaSettings, topic: str) -> None:
    consumer = AIOKafkaConsumer(
        topic, **settings.client_options(), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        for _ in range(10):  # the broker's refusal comes with the first fetches
            await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def _write_one(settings: KafkaSettings, topic: str) -> None:
    producer = AIOKafkaProducer(**settings.client_options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), timeout=30)
    finally:
        await producer.stop()


async def _deleted(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    response = await admin.delete_topics(topics)
    for _, code, *_ in getattr(response, "topic_error_codes", []):
        if code:
            raise KafkaError(f"delete refused with error code {code}")


# ------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """The secured broker with TLS on the clients' listener (SASL_SSL), its certificate
    signed by a CA the stack made."""
    with secured_kafka(tmp_path_factory.mktemp("tls-kafka"), security="sasl_ssl") as running:
        yield running


async def test_principals_sign_in_over_tls_trusting_the_brokers_ca(tls_kafka: SecuredKafka) -> None:
    operator = tls_kafka.as_principal("operator")
    assert operator.security_protocol == "SASL_SSL" and operator.ssl_cafile
    await wait_for_kafka(operator, timeout_s=30)
    await ensure_topics(tls_kafka.as_principal("svc-routing"), [agency_updates_topic(OURS)])
    agency = tls_kafka.agency(OURS)
    assert agency.security_protocol == "SASL_SSL"
    await _write_one(agency, agency_updates_topic(OURS).name)  # its own topic, over TLS


async def test_a_client_that_does_not_trust_the_brokers_certificate_cannot_connect(
    tls_kafka: SecuredKafka,
) -> None:
    operator = tls_kafka.as_principal("operator")
    untrusting = operator.model_copy(update={"ssl_cafile": None})  # the system's CAs only
    with pytest.raises(TimeoutError):
        await wait_for_kafka(untrusting, timeout_s=5)
    in_clear = operator.model_copy(update={"security_protocol": "SASL_PLAINTEXT"})
    with pytest.raises(TimeoutError):
        await wait_for_kafka(in_clear, timeout_s=5)


def test_a_service_that_does_not_speak_tls_to_a_tls_broker_does_not_start(
    tls_kafka: SecuredKafka,
) -> None:
    env = routing_env(tls_kafka) | {"PHANANH_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    env.pop("PHANANH_KAFKA__SSL_CAFILE")
    finished = run_routing(env)
    assert finished.returncode == 3, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "speak TLS" in finished.stdout + finished.stderr
