"""Kafka wiring: the broker every service uses, a record producer, topic setup.

Producers are idempotent with ``acks=all``: a publish returns only once the
broker has the record, and a retried send never duplicates it. Consumers are
created through :func:`durable_subscriber_options`, which commit only after
the handler's effect (see :mod:`phananh_platform.delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.admin import SaslHandShakeRequest
from aiokafka.structs import RecordMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from phananh_contracts import CHANNEL_RAW_TOPIC, KafkaRecord, Topic, dead_letter_topic

from phananh_platform.settings import KafkaSettings

logger = logging.getLogger("phananh.kafka")

METADATA_MAX_AGE_MS = 10_000
"""How often a service's consumers ask the cluster which topics and leaders exist
(aiokafka's default is 5 minutes): a pattern subscriber (routing's gate) finds a topic
created since, say a new agency's updates topic, within about this long plus a rebalance,
and reads it from its first record."""
MAX_REQUEST_BYTES = 5 * 1024 * 1024
"""Largest produce request: room for the biggest record any contract topic accepts."""


def create_broker(
    settings: KafkaSettings,
    *,
    client_id: str,
    middlewares: Iterable[Any] = (),
    description: str | None = None,
) -> KafkaBroker:
    """A FastStream Kafka broker with an idempotent, acks=all producer."""
    return KafkaBroker(
        settings.brokers(),  # a list: FastStream would take one string as one address
        security=broker_security(settings),
        client_id=client_id,
        request_timeout_ms=settings.request_timeout_ms,
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        max_request_size=MAX_REQUEST_BYTES,
        max_batch_size=PRODUCE_BATCH_BYTES,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        middlewares=tuple(middlewares),
        description=description,
        logger=logging.getLogger(f"phananh.{client_id}.broker"),
    )


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """FastStream's form of the settings' security protocol and credentials."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = settings.ssl_context() if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    assert settings.username is not None and settings.password is not None  # validated
    kind = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }[settings.sasl_mechanism]
    return kind(
        settings.username,
        settings.password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def durable_subscriber_options(group_id: str) -> dict[str, Any]:
    """Subscriber options that commit only after the handler returned.

    ``NACK_ON_ERROR`` seeks back on an unhandled error; the delivery guard
    turns poison messages into dead letters first, so nothing loops forever.
    New consumer groups start from the earliest record: a service deployed
    after reports arrived still processes them.
    """
    return {
        "group_id": group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        "parser": tolerant_headers,
        "decoder": record_bytes,
    }


BATCH_MAX_RECORDS = 500
"""Records handled between two commits at most (fewer when fewer are waiting)."""
PRODUCE_BATCH_BYTES = 256 * 1024
"""Bytes of one partition's records the producer puts in one request (aiokafka's default,
16 KiB, holds a dozen reports: a batch's publishes would need many requests)."""
BATCH_WAIT_MS = 100
"""How long an idle consumer waits for records before asking again."""
FETCH_PARTITION_BYTES = 256 * 1024
"""Bytes a consumer fetches from one partition at a time (aiokafka's default, 1 MiB,
held ~800 raw reports per partition in memory while a backlog lasted: intake's peak RSS
followed the backlog, 131 MB keeping up at 10,000 reports, 178 MB owing 43,000). A
batch still fills: 256 KiB holds ~190 raw reports, and a service reads several
partitions; a larger record still comes whole (Kafka returns the first one whatever its
size)."""
FETCH_MAX_BYTES = 8 * 1024 * 1024
"""Bytes of one fetch response over all of a consumer's partitions."""


def batch_subscriber_options(
    group_id: str, *, max_records: int = BATCH_MAX_RECORDS
) -> dict[str, Any]:
    """:func:`durable_subscriber_options` for a consumer that takes records in batches.

    ``getmany`` hands over whatever has been fetched (up to ``max_records``) without
    waiting for more, so a batch adds no latency; the batch is committed once, after the
    handler returned, instead of once per record. The handler gets the records
    (``message.raw_message``, a tuple) and hands them to
    :class:`phananh_platform.subscribers.BatchDelivery` (:meth:`ServiceApp.subscribe`).
    """
    return {
        "group_id": group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        "batch": True,
        "max_records": max_records,
        "batch_timeout_ms": BATCH_WAIT_MS,
        "max_partition_fetch_bytes": FETCH_PARTITION_BYTES,
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "parser": tolerant_headers,
        "decoder": record_bytes,
    }


async def tolerant_headers(
    record: Any, parse: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's parsing of a record, even when a header value is not UTF-8.

    FastStream decodes every header value as UTF-8 before any middleware runs; a record
    with a header like ``b"\\xff"`` would fail there, outside the delivery guard, and be
    skipped without a dead letter. Here FastStream gets readable copies of the headers
    (for its own metadata), while the message keeps the original record, so the handler
    decides and a dead letter carries the original headers.
    """
    try:
        return await parse(record)
    except UnicodeDecodeError:
        if isinstance(record, tuple):  # a batch
            message = await parse(tuple(_readable(item) for item in record))
        else:
            message = await parse(_readable(record))
        message.raw_message = record
        return message


def _readable(record: Any) -> Any:
    readable = [(name, value.decode(errors="replace").encode()) for name, value in record.headers]
    return dataclasses.replace(record, headers=readable)


async def record_bytes(message: StreamMessage[Any]) -> bytes:
    """Hand handlers the record's exact bytes; they decode them against the contracts.

    FastStream would otherwise guess a decoding from the headers (JSON into a dict, …),
    and a record from an outside adapter without headers would fail before our
    contract check could name the problem.
    """
    return message.body


class RecordProducer:
    """An idempotent, acks=all producer of exact records (bytes in, bytes out).

    Used for dead letters (original headers are arbitrary bytes) and by tools
    that publish contract records as they are.
    """

    def __init__(self, settings: KafkaSettings, *, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds a producer to the running event loop: create it here.
        self._producer = AIOKafkaProducer(
            **self._settings.client_options(),
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=self._settings.request_timeout_ms,
            max_request_size=MAX_REQUEST_BYTES,
            max_batch_size=PRODUCE_BATCH_BYTES,
        )
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()  # release the half-open connection, then retry
            self._producer = None
            raise

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> RecordMetadata:
        """Publish one record; once the broker acknowledged it, where it was put."""
        if self._producer is None:
            raise RuntimeError("RecordProducer.send() before start()")
        return await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def publish(self, record: KafkaRecord) -> None:
        await self.send(
            record.topic, key=record.key, value=record.value, headers=list(record.headers)
        )

    async def publish_all(self, records: Sequence[KafkaRecord]) -> None:
        """Publish records together; return once the broker acknowledged every one.

        They are handed to the producer at once, so records bound for one broker travel
        in one request instead of one round trip each; records of one partition keep
        their order (the producer is idempotent). If any fails, this raises: the caller
        publishes them all again (same records, so consumers see them once by id).
        """
        if self._producer is None:
            raise RuntimeError("RecordProducer.publish_all() before start()")
        pending = [
            await self._producer.send(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
            for record in records
        ]
        await asyncio.gather(*pending)


async def publish_record(broker: KafkaBroker, record: KafkaRecord) -> None:
    """Publish a contract record through a FastStream broker, waiting for the ack."""
    await broker.publish(
        record.value,
        topic=record.topic,
        key=record.key,
        headers={name: value.decode() for name, value in record.headers},
    )


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left as they are (a partition count is never lowered).
    """
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="phananh-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        if not missing:
            return []
        new_topics = [
            NewTopic(
                name=topic.name,
                num_partitions=topic.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=topic_configs(topic, settings),
            )
            for topic in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another instance raced us
            await admin.create_topics(new_topics)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def topic_configs(topic: Topic, settings: KafkaSettings) -> dict[str, str]:
    """The configuration a topic is created with (cleanup, retention, replicas …).

    The topics that hold contacts in clear (raw channel messages, intake's dead letters)
    are kept as long as the settings say (``PHANANH_KAFKA__RAW_RETENTION_DAYS``,
    ``PHANANH_KAFKA__RAW_DEAD_LETTERS_RETENTION_DAYS``), not the contracts' defaults.
    """
    configs: dict[str, str] = {
        "cleanup.policy": topic.cleanup_policy,
        "min.insync.replicas": str(settings.min_insync_replicas),
    }
    retention_ms = topic.retention_ms
    if topic.name == CHANNEL_RAW_TOPIC.name:
        retention_ms = round(settings.raw_retention_days * _DAY_MS)
    elif topic.name == dead_letter_topic("intake"):
        retention_ms = round(settings.raw_dead_letters_retention_days * _DAY_MS)
    if retention_ms is not None:
        configs["retention.ms"] = str(retention_ms)
    if topic.max_message_bytes is not None:
        configs["max.message.bytes"] = str(topic.max_message_bytes)
    configs.update(topic.configs)
    return configs


_DAY_MS = 24 * 60 * 60 * 1000


class KafkaAccessRefused(RuntimeError):
    """The brokers answer but refuse this client: wrong or missing credentials, or a
    mechanism they do not offer. Waiting cannot cure it; the message says what to set."""


async def kafka_access_problem(settings: KafkaSettings) -> str | None:
    """Why the first broker refuses these settings' client, or None if it does not (it
    accepts it, or cannot be reached at all: then waiting may help).

    aiokafka reports a refused sign-in, like an unreachable broker, as "unable to
    bootstrap"; a service told apart by this asks once more, directly: a failed SASL
    sign-in is named by the broker, and a broker that accepts a SASL handshake from a
    client configured without SASL wants credentials the client does not have.
    """
    host, _, port = settings.brokers()[0].rpartition(":")
    options = settings.client_options()
    options.pop("bootstrap_servers")
    try:
        conn = await create_conn(
            host, int(port), client_id="phananh-access-probe", request_timeout_ms=5_000, **options
        )
    except (
        SaslAuthenticationFailed,
        AuthenticationFailedError,
        UnsupportedSaslMechanismError,
    ) as error:
        who = settings.username or "(no user)"
        return f"the Kafka brokers refused to sign in {who}: {error}"
    except (TimeoutError, KafkaError, OSError):
        if settings.security_protocol in ("PLAINTEXT", "SASL_PLAINTEXT") and await _speaks_tls(
            host, int(port)
        ):
            return (
                f"the Kafka brokers at {settings.bootstrap_servers} speak TLS; set "
                "PHANANH_KAFKA__SECURITY_PROTOCOL=SASL_SSL (or SSL) and, for a private CA, "
                "PHANANH_KAFKA__SSL_CAFILE"
            )
        return None
    try:
        if settings.security_protocol.startswith("SASL_"):
            return None  # signed in
        try:
            answer = await conn.send(SaslHandShakeRequest("SCRAM-SHA-512"))
        except (TimeoutError, KafkaError):
            return None
        if answer.error_code == 0 or answer.enabled_mechanisms:
            mechanisms = ", ".join(answer.enabled_mechanisms)
            return (
                f"the Kafka brokers at {settings.bootstrap_servers} admit only clients that "
                f"sign in (SASL: {mechanisms}); set PHANANH_KAFKA__SECURITY_PROTOCOL, "
                "PHANANH_KAFKA__USERNAME and PHANANH_KAFKA__PASSWORD"
            )
        return None
    finally:
        conn.close()


async def _speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake with ``host:port`` succeeds (its certificate unchecked: this
    only tells what the other side speaks)."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=probe), 5)
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


async def wait_for_kafka(settings: KafkaSettings, *, timeout_s: float) -> None:
    """Wait until the broker answers metadata requests, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            **settings.client_options(),
            client_id="phananh-probe",
            request_timeout_ms=3_000,
        )
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as error:
            last_error = error
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {settings.bootstrap_servers} did not answer: {last_error}")


async def warm_group_coordinator(settings: KafkaSettings, topic: str) -> None:
    """Make the broker create its consumer-offsets topic before services need it.

    On a fresh broker the first consumer group waits for the group
    coordinator; doing it once here keeps the services' first start quiet.
    """
    consumer = AIOKafkaConsumer(
        topic,
        **settings.client_options(),
        group_id="phananh-warmup",
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        for _ in range(60):
            try:
                await consumer.getmany(timeout_ms=200)
                await consumer.commit()
                return
            except (KafkaError, KafkaConnectionError):
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def read_topic(
    settings: KafkaSettings, topic: str, *, client_id: str = "phananh-reader"
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, from its first to the end measured now, oldest first in
    each partition; read without a consumer group, so nothing is committed.

    For tools that look back (dry runs, dead letters, verification); LookupError if the
    topic does not exist.
    """
    consumer = AIOKafkaConsumer(
        topic,  # without a group, every partition is assigned to this consumer
        **settings.client_options(),
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=settings.request_timeout_ms,
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise LookupError(f"the topic {topic} does not exist")
        for _ in range(200):  # assigned once the topic's metadata arrived
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment(), key=lambda partition: partition.partition)
        if not partitions:
            return []
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                batch = await consumer.getmany(partition, timeout_ms=1_000)
                records += [r for r in batch.get(partition, []) if r.offset < ends[partition]]
        return records
    finally:
        await consumer.stop()
