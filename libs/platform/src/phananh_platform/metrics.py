"""Metrics measured by asking, not by counting: gauges refreshed on a timer.

Counters are incremented where things happen (handlers, the delivery guard). Some
figures can only be measured by asking a server: how far a consumer group is behind,
how many records sit in a dead-letter topic, how many cases are open. For those:

* :class:`SnapshotGauge` is a gauge whose samples are replaced whole by the latest
  measurement, so a label set that disappeared (a case closed) disappears from the
  scrape as well, and a scrape never sees half of a refresh;
* :class:`Periodic` runs a measurement every few seconds while the service runs; a
  failed measurement is logged and counted, the previous figures stay;
* :class:`KafkaPositions` measures, for the consumer groups of one service, the lag of
  every partition they read (log end offset minus committed offset) and the number of
  records in the service's dead-letter topic. Every instance of a service reports the
  same figures (they are the group's, not the instance's): dashboards aggregate them
  with ``max``, not ``sum``.

Metric names (see docs/operations.md):

* ``pakn_kafka_consumer_lag{group,topic,partition}``
* ``pakn_dlq_records{topic}``
* ``pakn_metrics_refresh_failures_total{measurement}``
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from phananh_platform.settings import KafkaSettings

logger = logging.getLogger("phananh.metrics")

LabelValues = tuple[str, ...]


class SnapshotGauge(Collector):
    """A gauge whose samples are the latest measurement, replaced whole."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._samples: dict[LabelValues, float] = {}
        registry.register(self)

    def replace(self, samples: Mapping[LabelValues, float]) -> None:
        """Make ``samples`` (label values in ``labelnames`` order -> value) the figures."""
        for labels in samples:
            if len(labels) != len(self.labelnames):
                raise ValueError(f"{self.name}: {labels} does not match {self.labelnames}")
        self._samples = dict(samples)  # one assignment: a scrape sees old or new, whole

    @property
    def samples(self) -> dict[LabelValues, float]:
        return dict(self._samples)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in sorted(self._samples.items()):
            family.add_metric(list(labels), value)
        yield family


@dataclass
class RefreshFailures:
    """Counts failed measurements, by name; one counter per registry."""

    registry: CollectorRegistry
    counter: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.counter = Counter(
            "pakn_metrics_refresh_failures_total",
            "Measurements behind gauges (consumer lag, dead letters, open cases …) that failed.",
            ["measurement"],
            registry=self.registry,
        )


MEASURING_SHARE = 0.1
"""Most of the time a measurement may take: one that took ``d`` seconds waits at least
``d × (1 / MEASURING_SHARE − 1)`` before the next. A gauge the database counts by scanning
(open cases on FerretDB: ~18 s at 200,000 open reports) then costs the database a tenth of
its time at most, instead of all of it, and stays current while it is cheap."""


class Periodic:
    """Runs ``action`` now and then every ``interval_s`` until stopped (or less often,
    :data:`MEASURING_SHARE`, when an action is slow); failures are logged (and counted in
    ``failures`` under ``name``), the next round tries again."""

    def __init__(
        self,
        name: str,
        action: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        failures: RefreshFailures | None = None,
        on_stop: Callable[[], Awaitable[object]] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.action = action
        self.interval_s = interval_s
        self.failures = failures
        self.on_stop = on_stop
        self.sleep = sleep
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        if failures is not None:
            failures.counter.labels(name)  # the series exists (0) before any failure

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"measure {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.on_stop is not None:
            await self.on_stop()

    async def run_once(self) -> bool:
        """One measurement; False (logged, counted) when it failed."""
        try:
            await self.action()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if self.failures is not None:
                self.failures.counter.labels(self.name).inc()
            logger.warning("measuring %s failed: %s: %s", self.name, type(error).__name__, error)
            return False
        return True

    async def _run(self) -> None:
        while True:
            started = self.clock()
            await self.run_once()
            took = self.clock() - started
            await self.sleep(max(self.interval_s, took * (1 / MEASURING_SHARE - 1)))


@dataclass(frozen=True)
class ConsumerGroup:
    """A consumer group of the service and the topics it reads."""

    group_id: str
    topics: tuple[str, ...]
    pattern: str | None = None
    """A regular expression: the group also reads every topic whose whole name matches it
    (a pattern subscription), those created later too."""

    def reads(self, topic: str) -> bool:
        """Whether the group reads ``topic``."""
        return topic in self.topics or (
            self.pattern is not None and re.fullmatch(self.pattern, topic) is not None
        )


class KafkaPositions:
    """Consumer lag of a service's groups and the size of its dead-letter topic.

    Lag of a partition = its log end offset - the group's committed offset; a
    partition the group never committed on counts from the log start (the groups start
    from the earliest record). Records in the dead-letter topic = end - start offsets,
    summed over its partitions (records removed by retention are no longer counted).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        client_id: str,
        groups: Callable[[], Iterable[ConsumerGroup]],
        dead_letter_topic: str,
        registry: CollectorRegistry,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._groups = groups
        self.dead_letter_topic = dead_letter_topic
        self.lag = SnapshotGauge(
            "pakn_kafka_consumer_lag",
            "Records not yet handled by a consumer group, by topic and partition "
            "(log end offset - committed offset). Every instance reports its group's lag.",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.dead_letters = SnapshotGauge(
            "pakn_dlq_records",
            "Records in this service's dead-letter topic (end - start offsets).",
            ["topic"],
            registry=registry,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def measure(self) -> None:
        """Ask the broker and replace both gauges' figures."""
        try:
            admin, consumer = await self._clients()
            groups = list(self._groups())
            if any(group.pattern for group in groups):  # the topics each pattern finds now
                existing = await consumer.topics()
                groups = [
                    replace(
                        group, topics=tuple(sorted({*group.topics, *filter(group.reads, existing)}))
                    )
                    for group in groups
                ]
            topics = {self.dead_letter_topic, *(t for g in groups for t in g.topics)}
            await consumer._client.force_metadata_update()
            partitions = {
                topic: sorted(consumer.partitions_for_topic(topic) or ()) for topic in topics
            }
            every = [TopicPartition(t, p) for t, numbers in partitions.items() for p in numbers]
            ends = await consumer.end_offsets(every) if every else {}
            starts = await consumer.beginning_offsets(every) if every else {}
            lag: dict[LabelValues, float] = {}
            for group in groups:
                committed = await admin.list_consumer_group_offsets(group.group_id)
                for topic in group.topics:
                    for number in partitions.get(topic, []):
                        where = TopicPartition(topic, number)
                        found = committed.get(where)
                        position = found.offset if found is not None and found.offset >= 0 else -1
                        if position < 0:
                            position = starts.get(where, 0)
                        lag[(group.group_id, topic, str(number))] = max(
                            0, ends.get(where, 0) - position
                        )
            dead = sum(
                ends.get(TopicPartition(self.dead_letter_topic, number), 0)
                - starts.get(TopicPartition(self.dead_letter_topic, number), 0)
                for number in partitions.get(self.dead_letter_topic, [])
            )
        except Exception:
            await self.close()  # start afresh next time
            raise
        self.lag.replace(lag)
        if partitions.get(self.dead_letter_topic):
            self.dead_letters.replace({(self.dead_letter_topic,): float(dead)})

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            await self.close()
            admin = AIOKafkaAdminClient(
                **self._settings.client_options(),
                client_id=f"{self._client_id}-positions",
                request_timeout_ms=self._settings.request_timeout_ms,
            )
            consumer = AIOKafkaConsumer(
                **self._settings.client_options(),
                client_id=f"{self._client_id}-positions",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=self._settings.request_timeout_ms,
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await admin.close()
                await consumer.stop()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


def consumer_groups(subscribers: Iterable[object]) -> list[ConsumerGroup]:
    """The consumer groups of FastStream Kafka subscribers, with the topics each reads (and
    the pattern, for a pattern subscription)."""
    topics: dict[str, list[str]] = {}
    patterns: dict[str, list[str]] = {}
    for subscriber in subscribers:
        group_id = getattr(subscriber, "group_id", None)
        if not group_id:
            continue
        known = topics.setdefault(str(group_id), [])
        pattern = getattr(subscriber, "pattern", None)
        if pattern:  # FastStream's address of the pattern: the regular expression
            patterns.setdefault(str(group_id), []).append(str(pattern.broker_address))
            continue
        names = getattr(subscriber, "topic_names", None) or [
            getattr(topic, "name", str(topic)) for topic in getattr(subscriber, "topics", ())
        ]
        known.extend(str(name) for name in names if str(name) not in known)
    return [
        ConsumerGroup(group, tuple(sorted(names)), _either(patterns.get(group, [])))
        for group, names in sorted(topics.items())
    ]


def _either(patterns: list[str]) -> str | None:
    if len(patterns) <= 1:
        return patterns[0] if patterns else None
    return "|".join(f"(?:{pattern})" for pattern in patterns)
