"""Fakes for the delivery rules: a dead-letter sink in memory and a guard that does not sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faststream.kafka import TestKafkaBroker
from phananh_platform.delivery import DeliveryGuard, DeliveryMetrics
from phananh_platform.runtime import ServiceApp
from prometheus_client import CollectorRegistry


class MemorySink:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = fail

    async def send(
        self, topic: str, *, key: bytes | None, value: bytes | None, headers: list[Any]
    ) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.records.append({"topic": topic, "key": key, "value": value, "headers": headers})


def make_guard(sink: MemorySink) -> tuple[DeliveryGuard, list[float], CollectorRegistry]:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    registry = CollectorRegistry()
    guard = DeliveryGuard(
        service="intake",
        sink=sink,
        metrics=DeliveryMetrics(registry),
        max_unexpected_attempts=3,
        backoff_cap_s=1.0,
        sleep=sleep,
    )
    return guard, pauses, registry


@asynccontextmanager
async def under_test_broker(service: ServiceApp) -> AsyncIterator[tuple[Any, MemorySink]]:
    """A service's subscriptions under FastStream's in-memory ``TestKafkaBroker``, its dead
    letters kept in memory: publish to a topic and the service's own handler runs, through
    the platform's decoding and delivery guard, with no broker or database."""
    assert service.guard is not None, "built by build_service"
    sink = MemorySink()
    service.guard.sink = sink
    async with TestKafkaBroker(service.broker) as broker:
        yield broker, sink
