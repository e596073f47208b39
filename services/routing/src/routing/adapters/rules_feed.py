"""The rule set in force, shared by every routing instance through ``pakn.routing.rules.v1``.

Operators publish a new rule set with ``phananh-routing publish-rules NEW.yaml``: it is
validated first (the same checks as at start) and written to the compacted rules topic
under the instance's scope (``PHANANH_RULES_SCOPE``, ``routing``). Every routing instance
reads that topic without a consumer group, so each sees every record: at start it reads
up to the end before deciding anything, then keeps following and switches as soon as a
new rule set arrives. A published rule set that fails validation (or whose digest does
not match) is refused and logged; the instance keeps the rules it has. The audit records
each publication, so the change itself is on the trail.

When nothing was ever published for the scope, the configuration file is in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from phananh_contracts import (
    RULES_TOPIC,
    ContractViolation,
    RuleSetKey,
    RuleSetPublished,
    RuleSetPublishedEvent,
    decode_event,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings
from prometheus_client import CollectorRegistry, Counter, Gauge

from routing.adapters.rules_file import load_ruleset
from routing.domain.rules import RuleSet, RuleSetError, RulesInForce, parse_ruleset

logger = logging.getLogger("routing.adapters.rules_feed")

Check = Callable[[RuleSet], list[str]]
"""Problems of a rule set against the city's codes (empty: usable)."""


def ruleset_of(published: RuleSetPublished, check: Check) -> RuleSet:
    """The rule set a publication carries; RuleSetError naming why it cannot be used."""
    digest = hashlib.sha256(published.document.encode("utf-8")).hexdigest()
    origin = f"rule set {published.ruleset_version} published by {published.published_by}"
    if digest != published.sha256:
        raise RuleSetError(f"{origin}: the document does not match its SHA-256")
    ruleset = parse_ruleset(published.document, origin)
    if ruleset.version != published.ruleset_version:
        raise RuleSetError(
            f"{origin}: the document says version {ruleset.version!r}, "
            f"the publication {published.ruleset_version!r}"
        )
    problems = check(ruleset)
    if problems:
        raise RuleSetError(f"{origin}: the rules cannot be used:\n  " + "\n  ".join(problems))
    return ruleset


def publication(document: str, ruleset: RuleSet, *, scope: str, by: str) -> RuleSetPublishedEvent:
    """The event publishing ``document`` (already parsed into ``ruleset``)."""
    published = RuleSetPublished(
        scope=scope,
        ruleset_version=ruleset.version,
        document=document,
        sha256=hashlib.sha256(document.encode("utf-8")).hexdigest(),
        published_by=by,
        published_at=datetime.now(UTC),
    )
    return RuleSetPublishedEvent.new(published, source=f"/operators/{by}")


async def publish_rules(
    kafka: KafkaSettings, path: Path, check: Check, *, scope: str, by: str
) -> RuleSetPublishedEvent:
    """Validate the rule set in ``path`` and publish it; RuleSetError if it cannot be used."""
    ruleset = load_ruleset(path)
    problems = check(ruleset)
    if problems:
        raise RuleSetError(f"{path}: the rules cannot be used:\n  " + "\n  ".join(problems))
    document = await asyncio.to_thread(path.read_text, encoding="utf-8")
    event = publication(document, ruleset, scope=scope, by=by)
    producer = RecordProducer(kafka, client_id="phananh-routing-publish-rules")
    await producer.start()
    try:
        await producer.publish(event.to_kafka())
    finally:
        await producer.stop()
    return event


class RulesFeed:
    """Keeps ``rules`` on the newest valid rule set published for ``scope``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        rules: RulesInForce,
        check: Check,
        *,
        scope: str,
        registry: CollectorRegistry,
        on_switch: Callable[[RuleSet], Awaitable[None]] | None = None,
    ) -> None:
        self.kafka = kafka
        self.rules = rules
        self.check = check
        self.scope = scope
        self.on_switch = on_switch
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.in_force = Gauge(
            "pakn_routing_ruleset_info",
            "The rule set this instance routes with (value 1), by version.",
            ["version"],
            registry=registry,
        )
        self.refused = Counter(
            "pakn_routing_rulesets_refused_total",
            "Published rule sets this instance refused (invalid, digest mismatch).",
            registry=registry,
        )
        self.in_force.labels(rules.ruleset.version).set(1)

    async def start(self) -> None:
        """Read the topic to its end (the rules in force), then follow it."""
        partition = TopicPartition(RULES_TOPIC.name, 0)
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            client_id="phananh-routing-rules",
            enable_auto_commit=False,
        )
        await consumer.start()
        self._consumer = consumer
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        while await consumer.position(partition) < end:
            await self._take(consumer, timeout_ms=1000)
        self._task = asyncio.create_task(self._follow(consumer), name="rules feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                await self._take(consumer, timeout_ms=1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker is away: keep the rules in force, try again
                logger.exception("reading the rules topic failed")
                await asyncio.sleep(1)

    async def _take(self, consumer: AIOKafkaConsumer, *, timeout_ms: int) -> None:
        batches = await consumer.getmany(timeout_ms=timeout_ms)
        for records in batches.values():
            for record in records:
                await self._consider(record.key, record.value)

    async def _consider(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return  # a tombstone: compaction's business, not a rule set
        try:
            if RuleSetKey.from_bytes(key).scope != self.scope:
                return
            event = decode_event(RULES_TOPIC.name, value)
            assert isinstance(event, RuleSetPublishedEvent)
            ruleset = ruleset_of(event.data, self.check)
        except (ContractViolation, RuleSetError) as problem:
            self.refused.inc()
            logger.error(
                "published rule set refused, keeping %s: %s", self.rules.ruleset.version, problem
            )
            return
        if self.on_switch is not None:
            await self.on_switch(ruleset)
        previous = self.rules.ruleset.version
        self.rules.ruleset = ruleset
        self.in_force.clear()
        self.in_force.labels(ruleset.version).set(1)
        logger.info(
            "routing with rule set %s (was %s), published by %s",
            ruleset.version,
            previous,
            event.data.published_by,
        )
