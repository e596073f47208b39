"""The one way a service takes events from Kafka: typed, batch-first subscribers.

A service says, in its ``handlers.py``, which topics feed which handler::

    def subscribe(service: ServiceApp, cases: CaseHandler) -> None:
        service.subscribe(REPORTS_TOPIC, AGENCY_UPDATES_TOPIC, group_id="routing-cases",
                          handle=cases.decide)

and the handler receives the decoded events of a whole fetched batch::

    async def decide(self, batch: Batch[Event[Any]]) -> None:
        decisions = domain.decide_all([d.event for d in batch], ...)   # pure
        await self.store.write_all(decisions)                          # bulk writes
        await self.producer.publish_all(records_of(decisions))         # pipelined

The platform does everything around it, the same way for every service
(:class:`BatchDelivery`):

1. **Decode** every record against its topic's contract (CloudEvents envelope, pydantic
   models). A record that does not decode is dead-lettered with its original bytes and
   headers and the reason; the others go on.
2. **Hand the batch over at once**: the handler decides on all of it, writes each
   collection once (bulk, unique keys for idempotency), publishes every resulting record
   and awaits the acknowledgements together.
3. **Commit once**, after the handler returned: its effects are durable.
4. **Failures**: a transient failure (broker, database, a concurrent writer) pauses and
   fetches the batch again, whole; handlers are idempotent, so what was done before the
   failure is harmless the second time. Any other failure isolates the culprit: the batch
   is handled again one delivery at a time, under :class:`~phananh_platform.delivery.
   DeliveryGuard`'s rules, so one poison record is dead-lettered and the rest pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from phananh_contracts import Event, topic_by_name

from phananh_platform.delivery import (
    POISON_ERRORS,
    TRANSIENT_ERRORS,
    DeliveryGuard,
    RecordRef,
)
from phananh_platform.logs import message_context

logger = logging.getLogger("phananh.subscribers")

E = TypeVar("E", bound=Event[Any], covariant=True)


@dataclass(frozen=True, slots=True)
class Delivery(Generic[E]):
    """One consumed record: the event it carries and where it came from."""

    event: E
    ref: RecordRef

    @property
    def topic(self) -> str:
        return self.ref.topic

    @property
    def body(self) -> bytes:
        """The record's exact value (to forward or keep an event as it was written)."""
        return self.ref.value or b""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A record that does not decode against its topic's contract, and why.

    Handed to handlers that subscribed with ``keep_undecodable=True`` (audit records them in
    the trail at their place); the platform dead-letters it after the handler returned.
    """

    ref: RecordRef
    error: BaseException

    @property
    def topic(self) -> str:
        return self.ref.topic

    @property
    def body(self) -> bytes:
        return self.ref.value or b""


Batch: TypeAlias = Sequence[Delivery[E]]
"""The decoded records of one fetch, in order per partition."""

BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]
"""``async def handle(batch)``: a batch of :class:`Delivery` (and, for subscribers that
keep them, :class:`Undecodable`), in order per partition."""


def decode_record(record: Any) -> Delivery[Event[Any]]:
    """The delivery of one consumed record; a contract error (poison) if it does not decode."""
    ref = RecordRef.of(record)
    return Delivery(topic_by_name(ref.topic).decode(ref.value or b""), ref)


@dataclass
class BatchDelivery:
    """Runs one subscriber's handler over fetched batches under the delivery rules."""

    guard: DeliveryGuard
    handle: BatchHandler
    keep_undecodable: bool = False
    """Hand undecodable records to the handler, in their place, as :class:`Undecodable`
    (dead-lettered once the handler returned) instead of leaving them out."""

    async def __call__(self, records: Sequence[Any]) -> None:
        deliveries = await self._decode(records)
        if not deliveries:
            return
        if self.keep_undecodable:
            await self._handle(deliveries)
            await self._dead_letter([d for d in deliveries if isinstance(d, Undecodable)])
            return
        await self._handle(deliveries)

    async def _handle(self, deliveries: list[Any]) -> None:
        try:
            with message_context(deliveries[0].ref.log_context):
                await self.handle(deliveries)
        except asyncio.CancelledError:
            raise
        except TRANSIENT_ERRORS as error:
            # the whole batch again, after a pause (the guard counts, logs and nacks)
            await self.guard.handle_failure(deliveries[0].ref, error)
        except Exception as error:
            if len(deliveries) == 1:
                await self.guard.handle_failure(deliveries[0].ref, error)
            logger.info(
                "a batch of %d failed (%s); handling it one record at a time",
                len(deliveries),
                type(error).__name__,
            )
            await self.guard.each(deliveries, self._one, ref_of=_ref_of_delivery)
            return
        for delivery in deliveries:
            self.guard.forget(delivery.ref)

    async def _one(self, delivery: Delivery[Any] | Undecodable) -> None:
        await self.handle((delivery,))

    async def _decode(self, records: Sequence[Any]) -> list[Any]:
        deliveries: list[Any] = []
        poison: list[Undecodable] = []
        for record in records:
            try:
                deliveries.append(decode_record(record))
            except POISON_ERRORS as error:
                undecodable = Undecodable(RecordRef.of(record), error)
                (deliveries if self.keep_undecodable else poison).append(undecodable)
        await self._dead_letter(poison)
        return deliveries

    async def _dead_letter(self, poison: Sequence[Undecodable]) -> None:
        if poison:  # dead-lettered together: one produce request, not one round trip each
            await asyncio.gather(*(self._reject(item.ref, item.error) for item in poison))

    async def _reject(self, ref: RecordRef, error: BaseException) -> None:
        with message_context(ref.log_context):
            await self.guard.reject(ref, error)


def _ref_of_delivery(delivery: Delivery[Any] | Undecodable) -> RecordRef:
    return delivery.ref
