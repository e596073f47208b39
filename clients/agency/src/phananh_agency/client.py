"""``AgencyClient``: one agency's inbox read from Kafka and its updates sent to Kafka.

The inbox topic is read from the beginning to its end at the moment of reading, without
a consumer group (nothing to commit, no GROUP ACL needed); updates go to the agency's own
updates topic, ``pakn.updates.<agency-id>.v1`` (routing admits them to
``pakn.agency.updates.v1``), through an idempotent producer that waits for every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from phananh_contracts import (
    AgencyUpdateEvent,
    AgencyUpdateKind,
    AgencyUpdateRefusedEvent,
    ContractViolation,
    Event,
    Topic,
    agency_inbox_topic,
    agency_updates_topic,
)

from phananh_agency.domain import (
    ClosedTask,
    Inbox,
    LinkedDuplicate,
    RefusedUpdate,
    Task,
    fold_inbox,
    new_update,
    report_id_of,
    target_of,
)
from phananh_agency.errors import (
    AccessDenied,
    AgencyClientError,
    InboxNotFound,
    KafkaUnavailable,
)
from phananh_agency.settings import KafkaSettings


class AgencyClient:
    """One agency's view of the platform: read its inbox, send its updates."""

    def __init__(
        self,
        kafka: KafkaSettings,
        agency_id: str,
        *,
        read_timeout_s: float = 60.0,
    ) -> None:
        self.kafka = kafka
        self.agency_id = agency_id
        self.topic: Topic = agency_inbox_topic(agency_id)  # ValueError for a bad id
        self.read_timeout_s = read_timeout_s
        self._read_up_to: dict[TopicPartition, int] | None = None

    async def inbox(self) -> Inbox:
        """The inbox as it is now: read from the beginning to the current end, folded."""
        try:
            events, unreadable = await asyncio.wait_for(self._read(), self.read_timeout_s)
        except TimeoutError:
            raise KafkaUnavailable(
                f"đọc hộp thư {self.topic.name} quá {self.read_timeout_s:g} giây"
            ) from None
        return replace(fold_inbox(events), unreadable=unreadable)

    async def send(
        self,
        report_ref: str,
        kind: AgencyUpdateKind | str,
        note: str | None = None,
        suggested_agency_id: str | None = None,
        officer_ref: str | None = None,
    ) -> AgencyUpdateEvent:
        """Send an update about a report in the inbox (tracking code or report id).

        Checked first (contract, then inbox and role): UpdateNotAllowed or NotInInbox
        and nothing is sent. Returns once the broker has the update.
        """
        _, update = await self.prepare(
            report_ref,
            kind,
            note=note,
            suggested_agency_id=suggested_agency_id,
            officer_ref=officer_ref,
        )
        await self.publish(update)
        return update

    async def prepare(
        self,
        report_ref: str,
        kind: AgencyUpdateKind | str,
        *,
        note: str | None = None,
        suggested_agency_id: str | None = None,
        officer_ref: str | None = None,
        category: str | None = None,
        ward_code: str | None = None,
        residential_group: str | None = None,
        link_to: str | None = None,
        triage_desk: bool | None = None,
    ) -> tuple[Task | ClosedTask | LinkedDuplicate, AgencyUpdateEvent]:
        """The report an update is about and the update, checked but not sent.

        A correction names what it corrects (``category``; ``ward_code`` and
        ``residential_group``; ``link_to``: the report it duplicates, by tracking code
        when the inbox knows it, else by report id). ``triage_desk``: whether this agency
        is the triage desk, when known (``domain.target_of``)."""
        options: dict[str, Any] = {
            "note": note,
            "suggested_agency_id": suggested_agency_id,
            "officer_ref": officer_ref,
            "category": category,
            "ward_code": ward_code,
            "residential_group": residential_group,
        }
        if link_to is not None:
            options["duplicate_of"] = "draft-original"
        draft = new_update(self.agency_id, "draft", kind, **options)  # fail before any I/O
        inbox = await self.inbox()
        target = target_of(
            inbox, report_ref, draft.data.kind, self.agency_id, triage_desk=triage_desk
        )
        if link_to is not None:
            options["duplicate_of"] = report_id_of(inbox, link_to, self.agency_id)
        return target, new_update(self.agency_id, target.report_id, kind, **options)

    async def publish(self, update: AgencyUpdateEvent) -> None:
        """Put an update on the agency's own updates topic, ``pakn.updates.<agency-id>.v1``;
        returns once the broker has it. Routing admits it only if it names this agency."""
        record = update.to_kafka(agency_updates_topic(self.agency_id))
        async with self._kafka_errors():
            producer = AIOKafkaProducer(
                **self.kafka.client_options(),
                client_id=f"phananh-agency-{self.agency_id}",
                enable_idempotence=True,  # a retried send is stored once
                acks="all",
                request_timeout_ms=self.kafka.request_timeout_ms,
            )
            try:
                await producer.start()  # stopped below even if it fails half-way
                await producer.send_and_wait(
                    record.topic, value=record.value, key=record.key, headers=list(record.headers)
                )
            finally:
                await producer.stop()

    async def wait_for_refusal(
        self, update_event_id: str, *, timeout_s: float
    ) -> RefusedUpdate | None:
        """Watch the inbox up to ``timeout_s`` for routing's refusal of one update.

        Starts where the last ``inbox()`` stopped reading (so a refusal that came right
        after sending is not missed), or from the beginning.
        """
        deadline = time.monotonic() + timeout_s
        async with self._reading() as (consumer, partitions):
            if self._read_up_to is None:
                await consumer.seek_to_beginning(*partitions)
            else:
                for partition in partitions:
                    consumer.seek(partition, self._read_up_to.get(partition, 0))
            while (remaining := deadline - time.monotonic()) > 0:
                for record in await _next_records(consumer, timeout_s=min(remaining, 0.5)):
                    event = self._decode(record.value)
                    if (
                        isinstance(event, AgencyUpdateRefusedEvent)
                        and event.data.update_event_id == update_event_id
                    ):
                        return RefusedUpdate.of(event.data)
        return None

    async def _read(self) -> tuple[list[Event[Any]], int]:
        events: list[Event[Any]] = []
        unreadable = 0
        async with self._reading() as (consumer, partitions):
            await consumer.seek_to_beginning(*partitions)
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for record in await _next_records(consumer, *partitions, timeout_s=0.5):
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue  # came after we started: the next read shows it
                    event = self._decode(record.value)
                    if event is None:
                        unreadable += 1
                    else:
                        events.append(event)
            self._read_up_to = ends
        return events, unreadable

    def _decode(self, value: bytes | None) -> Event[Any] | None:
        if value is None:
            return None
        try:
            return self.topic.decode(value)
        except ContractViolation:
            return None

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **self.kafka.client_options(),
            client_id=f"phananh-agency-{self.agency_id}",
            group_id=None,  # no consumer group: nothing to commit, no GROUP ACL needed
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=self.kafka.request_timeout_ms,
        )

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        # Listing topics asks for no topic by name, so it never auto-creates the inbox.
        if self.topic.name not in await consumer.topics():
            raise InboxNotFound(
                f"chưa có hộp thư {self.topic.name}: kiểm tra mã đơn vị {self.agency_id!r} "
                "(định tuyến tạo hộp thư cho mỗi đơn vị trong cấu hình) và quyền READ trên topic."
            )
        first = TopicPartition(self.topic.name, 0)
        consumer.assign([first])
        await consumer.end_offsets([first])  # loads the topic's metadata
        numbers = consumer.partitions_for_topic(self.topic.name) or {0}
        partitions = [TopicPartition(self.topic.name, number) for number in sorted(numbers)]
        if len(partitions) > 1:  # the contract says one; read them all anyway
            consumer.assign(partitions)
        return partitions

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        """A consumer of the inbox with its partitions assigned, stopped afterwards."""
        consumer = self._consumer()
        async with self._kafka_errors():
            try:
                await consumer.start()  # stopped below even if it fails half-way
                yield consumer, await self._assign(consumer)
            finally:
                await consumer.stop()

    @contextlib.asynccontextmanager
    async def _kafka_errors(self) -> AsyncIterator[None]:
        """Turn the broker's errors into messages for officers."""
        try:
            yield
        except (KafkaConnectionError, OSError) as error:
            sign_in = (
                f" và tài khoản {self.kafka.username} (PHANANH_KAFKA__USERNAME, "
                "PHANANH_KAFKA__PASSWORD)"
                if self.kafka.username
                else " (nếu Kafka yêu cầu đăng nhập: PHANANH_KAFKA__SECURITY_PROTOCOL, "
                "PHANANH_KAFKA__USERNAME, PHANANH_KAFKA__PASSWORD)"
            )
            raise KafkaUnavailable(
                f"không kết nối được Kafka tại {self.kafka.bootstrap_servers} ({error}); "
                f"kiểm tra --bootstrap hoặc PHANANH_KAFKA__BOOTSTRAP_SERVERS{sign_in}."
            ) from None
        except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as error:
            raise AccessDenied(
                f"Kafka không cho phép tài khoản {self.kafka.username or '(không đăng nhập)'} "
                f"làm việc này ({type(error).__name__}): mỗi đơn vị chỉ được đọc hộp thư "
                f"pakn.inbox.<mã đơn vị>.v1 và gửi cập nhật vào pakn.updates.<mã đơn vị>.v1 "
                "của chính mình."
            ) from None
        except KafkaError as error:
            raise AgencyClientError(f"Kafka từ chối: {error!r}") from None


async def _next_records(
    consumer: AIOKafkaConsumer, *partitions: TopicPartition, timeout_s: float
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of one fetch, of every partition, waiting at most ``timeout_s``."""
    batch = await consumer.getmany(*partitions, timeout_ms=int(timeout_s * 1000))
    return [record for records in batch.values() for record in records]
