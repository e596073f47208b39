"""Delivery guarantees for every Kafka consumer in the platform.

The rules (see docs/architecture.md, "Delivery"):

* A message is committed only after its handler returned, i.e. after the
  handler's effect is durable (subscribers use ``AckPolicy.NACK_ON_ERROR``,
  never FastStream's default ``ACK_FIRST``).
* Errors are classified here, in one place per service:

  - **poison**: the message can never succeed (bytes that are not a valid
    event, a contract violation, a handler that raised ``PoisonMessage``).
    The original key, value and headers go to the service's dead-letter topic
    with the reason added as headers; then the message is committed so it does
    not block its partition.
  - **transient**: the broker or the database is unreachable, or another writer changed
    the state the handler decided on (``ConcurrentChange``). The message is
    sought back and tried again after a capped exponential pause, for as long
    as the outage lasts; nothing is committed meanwhile.
  - **unexpected**: any other exception (most likely a bug). Tried again a few
    times like a transient error, then dead-lettered with the exception as the
    reason, so one bad message cannot stall a partition forever.

Every outcome is counted in ``pakn_consumer_errors_total`` and logged with the
topic, partition, offset, event id and report id; so is every line logged while a
message is handled (see :func:`phananh_platform.logs.message_context`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol, TypeVar

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, NackMessage
from phananh_contracts import ContractViolation, DeadLetterHeader, dead_letter_topic
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

from phananh_platform.logs import message_context

logger = logging.getLogger("phananh.delivery")
T = TypeVar("T")


class ConcurrentChange(Exception):
    """Another writer changed the state first: decide again on fresh state (transient)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConcurrentChange,
    KafkaError,
    ConnectionFailure,
    AutoReconnect,
    ServerSelectionTimeoutError,
    ConnectionError,
    TimeoutError,
)
"""Failures of infrastructure that end by themselves: retry without limit."""


class PoisonMessage(Exception):
    """Raised by a handler when a message can never be processed.

    The message is dead-lettered with ``reason`` and committed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


POISON_ERRORS: tuple[type[BaseException], ...] = (
    PoisonMessage,
    ContractViolation,
    ValidationError,
    UnicodeDecodeError,
    json.JSONDecodeError,
)


class DeadLetterSink(Protocol):
    """Where dead letters go; returns only once the record is durable.

    It may return where the broker put it (aiokafka's ``RecordMetadata``, with
    ``partition`` and ``offset``), so a caller can say exactly where the bytes are.
    """

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> object: ...


@dataclass
class DeliveryMetrics:
    """Counters of consumer outcomes, registered once per registry."""

    registry: CollectorRegistry
    errors: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.errors = Counter(
            "pakn_consumer_errors_total",
            "Messages whose handling failed, by how the failure was classified and resolved.",
            ["service", "topic", "classification", "outcome"],
            registry=self.registry,
        )


@dataclass(frozen=True)
class RecordRef:
    """Where a consumed record came from, for logs and dead-letter headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (milliseconds since the epoch), when it has one."""

    @classmethod
    def of(cls, record: Any) -> RecordRef:
        """From aiokafka's ``ConsumerRecord`` (or anything with its fields)."""
        timestamp = getattr(record, "timestamp", None)
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
            timestamp_ms=(
                timestamp
                if isinstance(timestamp, int) and not isinstance(timestamp, bool) and timestamp >= 0
                else None
            ),
        )

    @functools.cached_property
    def _identity(self) -> tuple[str | None, str | None]:
        """The CloudEvents ``id`` and ``subject`` (the report id), when readable."""
        try:
            decoded = json.loads(self.value or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None, None  # whatever the bytes are, naming the record must not fail
        if not isinstance(decoded, dict):
            return None, None
        event_id, subject = decoded.get("id"), decoded.get("subject")
        return (
            event_id if isinstance(event_id, str) else None,
            subject if isinstance(subject, str) else None,
        )

    @property
    def event_id(self) -> str | None:
        """The CloudEvents id of the record, when its value is readable JSON."""
        return self._identity[0]

    @property
    def report_id(self) -> str | None:
        """The report the record is about (the CloudEvents subject), when it names one."""
        return self._identity[1]

    def log_context(self) -> dict[str, Any]:
        context: dict[str, Any] = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "event_id": self.event_id,
        }
        if self.report_id is not None:
            context["report_id"] = self.report_id
        return context


def dead_letter_headers(
    ref: RecordRef, *, service: str, reason: str, error: BaseException, now: datetime
) -> list[tuple[str, bytes]]:
    """The original headers, followed by the headers that explain the dead letter."""
    added = {
        DeadLetterHeader.REASON: reason[:2000],
        DeadLetterHeader.ERROR_CLASS: type(error).__name__,
        DeadLetterHeader.SOURCE_TOPIC: ref.topic,
        DeadLetterHeader.SOURCE_PARTITION: str(ref.partition),
        DeadLetterHeader.SOURCE_OFFSET: str(ref.offset),
        DeadLetterHeader.FAILED_AT: now.astimezone(UTC).isoformat(),
        DeadLetterHeader.SERVICE: service,
    }
    return [*ref.headers, *((str(name), text.encode()) for name, text in added.items())]


def backoff_seconds(attempt: int, cap: float) -> float:
    """Capped exponential pause before the ``attempt``-th retry (1-based)."""
    return float(min(cap, 0.1 * 2 ** max(0, attempt - 1)))


@dataclass
class DeliveryGuard:
    """FastStream broker middleware factory enforcing the delivery rules above."""

    service: str
    sink: DeadLetterSink
    metrics: DeliveryMetrics
    max_unexpected_attempts: int = 5
    backoff_cap_s: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def __call__(self, msg: Any, /, *, context: Any) -> _GuardScope:
        return _GuardScope(msg, context=context, guard=self)

    async def handle_failure(self, ref: RecordRef, error: BaseException) -> None:
        """Decide what happens to a record whose handler raised ``error``.

        Always ends by raising FastStream's ``AckMessage`` (commit) or
        ``NackMessage`` (seek back and try again).
        """
        where = (ref.topic, ref.partition, ref.offset)
        attempt = self._attempts.get(where, 0) + 1
        if isinstance(error, POISON_ERRORS):
            await self._dead_letter(ref, error, "poison", reason=_reason(error))
        transient = isinstance(error, TRANSIENT_ERRORS)
        if not transient and attempt >= self.max_unexpected_attempts:
            reason = f"handler failed {attempt} times: {_reason(error)}"
            await self._dead_letter(ref, error, "unexpected", reason=reason)
        classification = "transient" if transient else "unexpected"
        self._attempts[where] = attempt
        self.metrics.errors.labels(self.service, ref.topic, classification, "retried").inc()
        pause = backoff_seconds(attempt, self.backoff_cap_s)
        logger.warning(
            "handling failed (%s), retrying in %.1fs: %s",
            classification,
            pause,
            _reason(error),
            extra={**ref.log_context(), "attempt": attempt},
        )
        await self.sleep(pause)
        raise NackMessage()

    async def each(
        self,
        records: Sequence[T],
        handle: Callable[[T], Awaitable[object]],
        *,
        ref_of: Callable[[T], RecordRef] = RecordRef.of,
    ) -> None:
        """Handle the records of one batch in order, under the same rules as one record.

        A record that fails for good is dead-lettered and the batch goes on. A transient
        or unexpected failure pauses, then raises ``NackMessage``: the batch is fetched
        again from its first record (the records handled before it are handled again,
        which idempotent handlers make harmless) and nothing is committed meanwhile.
        ``records`` may be consumer records or anything ``ref_of`` tells the origin of.
        """
        for record in records:
            ref = ref_of(record)
            with message_context(ref.log_context):
                try:
                    await handle(record)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    try:
                        await self.handle_failure(ref, error)
                    except AckMessage:
                        continue  # dead-lettered: the batch goes on
            self.forget(ref)

    async def reject(self, ref: RecordRef, error: BaseException) -> None:
        """Dead-letter a record that can never be handled (it does not decode) and go on."""
        try:
            await self._dead_letter(ref, error, "poison", reason=_reason(error))
        except AckMessage:
            return

    def forget(self, ref: RecordRef) -> None:
        self._attempts.pop((ref.topic, ref.partition, ref.offset), None)

    async def _dead_letter(
        self, ref: RecordRef, error: BaseException, classification: str, *, reason: str
    ) -> NoReturn:
        # If the sink itself fails (broker down), the exception escapes, the
        # message is not committed and is tried again later: nothing is lost.
        await self.sink.send(
            dead_letter_topic(self.service),
            key=ref.key,
            value=ref.value,
            headers=dead_letter_headers(
                ref, service=self.service, reason=reason, error=error, now=datetime.now(UTC)
            ),
        )
        self.forget(ref)
        self.metrics.errors.labels(self.service, ref.topic, classification, "dead_lettered").inc()
        logger.error(
            "message dead-lettered: %s",
            reason,
            extra={**ref.log_context(), "dead_letter_topic": dead_letter_topic(self.service)},
        )
        raise AckMessage()


class _GuardScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, guard: DeliveryGuard) -> None:
        super().__init__(msg, context=context)
        self.guard = guard

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        record = msg.raw_message
        if isinstance(record, tuple | list):  # a batch (a list under the test broker)
            return await call_next(msg)
        ref = RecordRef.of(record)
        with message_context(ref.log_context):  # every line logged meanwhile names it
            try:
                result = await call_next(msg)
            except (AckMessage, NackMessage, asyncio.CancelledError):
                raise
            except Exception as error:
                await self.guard.handle_failure(ref, error)
        self.guard.forget(ref)
        return result


def _reason(error: BaseException) -> str:
    if isinstance(error, PoisonMessage | ContractViolation):
        return str(error)
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]
