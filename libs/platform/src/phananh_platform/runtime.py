"""The process every service runs: Kafka consumers plus a small HTTP server.

A service's ``app.py`` builds a :class:`ServiceApp` with :func:`build_service`,
declares its subscriptions with :meth:`ServiceApp.subscribe` (from its ``handlers.py``)
and its HTTP routes, and returns it from ``create_app(settings)``. ``__main__`` calls
:func:`serve`.

Every service answers:

* ``GET /healthz``  liveness: the process runs (200).
* ``GET /readyz``   readiness: the broker answers and, for services that use
  it, the database answers (200), else 503 with what is missing.
* ``GET /metrics``  Prometheus metrics of this instance: FastStream's message counts and
  durations (``faststream_*``), delivery outcomes (``pakn_consumer_errors_total``), the
  lag of the service's consumer groups and the size of its dead-letter topic (see
  :mod:`phananh_platform.metrics`), and the service's own figures.

Gauges that must ask a server are measured by :class:`~phananh_platform.metrics.Periodic`
monitors, started once the service consumes and stopped with it; a service adds its own
with :meth:`ServiceApp.monitor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from aiokafka.errors import KafkaConnectionError
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from phananh_contracts import Topic, dead_letter_topic
from prometheus_client import CollectorRegistry, make_asgi_app
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from phananh_platform.delivery import (
    TRANSIENT_ERRORS,
    DeliveryGuard,
    DeliveryMetrics,
    backoff_seconds,
)
from phananh_platform.kafka import (
    BATCH_MAX_RECORDS,
    KafkaAccessRefused,
    RecordProducer,
    batch_subscriber_options,
    create_broker,
    kafka_access_problem,
    wait_for_kafka,
)
from phananh_platform.logs import configure_logging
from phananh_platform.metrics import KafkaPositions, Periodic, RefreshFailures, consumer_groups
from phananh_platform.mongo import DatabaseMetrics, create_mongo_client, ping
from phananh_platform.settings import ServiceSettings
from phananh_platform.subscribers import BatchDelivery, BatchHandler

logger = logging.getLogger("phananh.runtime")

Hook = Callable[[], Awaitable[None]]

CONSUMERS_STOP_S = 20.0
"""How long a stopping service waits for its consumers to leave their groups (compose
gives a container 30 s after SIGTERM)."""


@dataclass
class ServiceApp:
    """One running service: its broker, optional database, HTTP routes and hooks."""

    name: str
    settings: ServiceSettings
    broker: KafkaBroker
    registry: CollectorRegistry
    dead_letters: RecordProducer
    mongo: AsyncMongoClient[Any] | None = None
    routes: list[BaseRoute] = field(default_factory=list)
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    monitors: list[Periodic] = field(default_factory=list)
    publishes: list[str] = field(default_factory=list)
    """Topics the service publishes to (for its AsyncAPI document; see
    :mod:`phananh_platform.asyncapi`); the dead-letter topic is there from the start."""
    started: bool = False
    guard: DeliveryGuard | None = None
    _refresh_failures: RefreshFailures | None = field(default=None, init=False, repr=False)

    def subscribe(
        self,
        *topics: Topic,
        pattern: re.Pattern[str] | None = None,
        group_id: str,
        handle: BatchHandler,
        max_records: int = BATCH_MAX_RECORDS,
        keep_undecodable: bool = False,
        description: str | None = None,
    ) -> None:
        """Hand the decoded events of ``topics`` to ``handle``, a fetched batch at a time.

        The one subscriber idiom of the platform (see :mod:`phananh_platform.subscribers`):
        records are decoded against their topic's contract (poison is dead-lettered), the
        handler gets the whole batch, and the batch is committed once, after the handler
        returned. With ``keep_undecodable`` the handler also gets the records that do not
        decode, at their place (:class:`~phananh_platform.subscribers.Undecodable`), and
        they are dead-lettered once it returned. ``description`` is what the AsyncAPI
        document says of the consumer (default: the handler's docstring).

        With ``pattern`` instead of topics, the subscriber reads every topic whose whole
        name matches it (each must have a contract, see ``topic_by_name``), those created
        later too: the consumer looks for new ones every
        :data:`~phananh_platform.kafka.METADATA_MAX_AGE_MS` and reads a new topic from its
        first record (the group has no offset there), so nothing written before it was
        found is lost.
        """
        if bool(topics) == (pattern is not None):
            raise TypeError("subscribe() takes topics or a pattern, not both or neither")
        guard = self.guard
        assert guard is not None, "subscribe() on a service built by build_service()"
        delivery = BatchDelivery(guard, handle, keep_undecodable=keep_undecodable)

        async def consume_batch(body: list[bytes], message: KafkaMessage) -> None:
            await delivery(message.raw_message)

        consume_batch.__doc__ = description or handle.__doc__
        consume_batch.__name__ = getattr(handle, "__name__", f"consume_{group_id}")
        options = batch_subscriber_options(group_id, max_records=max_records)
        if pattern is not None:  # aiokafka matches from the start only: anchor the end
            options["pattern"] = f"(?:{pattern.pattern})$"
            name = "".join(part.capitalize() for part in consume_batch.__name__.split("_"))
            options["title"] = f"{pattern_template(pattern.pattern)}:{name}"  # AsyncAPI
        subscriber = self.broker.subscriber(*(topic.name for topic in topics), **options)
        subscriber(consume_batch)

    def monitor(
        self,
        name: str,
        measure: Hook,
        *,
        on_stop: Hook | None = None,
        interval_s: float | None = None,
    ) -> Periodic:
        """Run ``measure`` every ``interval_s`` (default ``metrics_refresh_s``) while the
        service consumes; its failures are counted under ``name``."""
        if self._refresh_failures is None:
            self._refresh_failures = RefreshFailures(self.registry)
        periodic = Periodic(
            name,
            measure,
            interval_s or self.settings.metrics_refresh_s,
            failures=self._refresh_failures,
            on_stop=on_stop,
        )
        self.monitors.append(periodic)
        return periodic

    @property
    def instance(self) -> str:
        return self.settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"

    def asyncapi(self) -> FastStream:
        """The FastStream application, for ``faststream docs gen`` (AsyncAPI)."""
        return FastStream(
            self.broker,
            specification=AsyncAPI(self.broker, title=f"phananh {self.name}"),
        )

    @contextlib.asynccontextmanager
    async def running(self, *, wait: bool = True) -> AsyncIterator[None]:
        """Start (connect, run the start-up hooks, consume) and stop cleanly.

        With ``wait=False`` (the HTTP server's lifespan) the start goes on in the
        background: while Kafka or the database is unreachable the process stays alive,
        answers ``/healthz`` and reports itself not ready, and starts consuming once both
        answer. Consumers never start before the start-up hooks (indexes …) succeeded.
        """
        starting = asyncio.create_task(self._start(), name=f"{self.name}-start")
        if not wait:
            starting.add_done_callback(self._exit_if_start_failed)
        try:
            if wait:
                await starting
            yield
        finally:
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            await self._stop()

    def _exit_if_start_failed(self, task: asyncio.Task[None]) -> None:
        """A start-up error that waiting cannot cure (wrong password, missing privilege,
        bad configuration) ends the process, loudly, instead of leaving it not ready."""
        if task.cancelled() or task.exception() is None:
            return
        logger.critical(
            "%s cannot start: %s",
            self.name,
            task.exception(),
            exc_info=task.exception(),
            extra={"service": self.name},
        )
        os._exit(3)

    async def _start(self) -> None:
        pending: list[Hook] = [self.dead_letters.start, *self.on_startup, self.broker.start]
        attempt = 0
        while pending:
            try:
                await pending[0]()
            except TRANSIENT_ERRORS as error:
                if isinstance(error, KafkaConnectionError) and (
                    refused := await kafka_access_problem(self.settings.kafka)
                ):
                    raise KafkaAccessRefused(refused) from None
                attempt += 1
                pause = backoff_seconds(attempt, self.settings.retry_backoff_max_s)
                logger.warning(
                    "%s waiting for its broker or database (%s); next try in %.1fs",
                    self.name,
                    type(error).__name__,
                    pause,
                    extra={"service": self.name},
                )
                await asyncio.sleep(pause)
                continue
            pending.pop(0)
        self.started = True
        for monitor in self.monitors:
            await monitor.start()
        logger.info("%s started", self.name, extra={"service": self.name})

    async def _stop(self) -> None:
        try:
            if self.started:
                try:
                    await asyncio.wait_for(self.broker.stop(), CONSUMERS_STOP_S)
                except TimeoutError:
                    # e.g. a consumer whose topic was deleted under it, waiting on its group:
                    # nothing uncommitted is lost (commits follow effects), so go on.
                    logger.warning(
                        "%s: the consumers did not stop within %.0fs; stopping anyway",
                        self.name,
                        CONSUMERS_STOP_S,
                        extra={"service": self.name},
                    )
                for hook in reversed(self.on_shutdown):
                    await hook()
                logger.info("%s stopped", self.name, extra={"service": self.name})
        finally:
            self.started = False
            for monitor in self.monitors:
                await monitor.stop()
            await self.dead_letters.stop()
            if self.mongo is not None:
                await self.mongo.close()

    async def readiness(self) -> dict[str, str]:
        """What this instance depends on, and whether each answers."""
        checks: dict[str, str] = {"consumers": "started" if self.started else "starting"}
        if self.started:
            broker_ok = await self.broker.ping(timeout=2.0)
        else:  # the broker connects only once start-up is done: probe the cluster itself
            try:
                await wait_for_kafka(self.settings.kafka, timeout_s=2.0)
                broker_ok = True
            except TimeoutError:
                broker_ok = False
        checks["kafka"] = "ok" if broker_ok else "unreachable"
        if self.mongo is not None:
            try:
                await asyncio.wait_for(ping(self.mongo), timeout=2.0)
                checks["database"] = "ok"
            except (PyMongoError, TimeoutError):
                checks["database"] = "unreachable"
        return checks

    def asgi(self) -> Starlette:
        """The HTTP application: the service's routes plus health and metrics."""

        async def healthz(_: Request) -> JSONResponse:
            return JSONResponse({"status": "alive", "service": self.name})

        async def readyz(_: Request) -> JSONResponse:
            checks = await self.readiness()
            ready = self.started and all(
                state == "ok" for name, state in checks.items() if name != "consumers"
            )
            return JSONResponse(
                {"status": "ready" if ready else "not ready", "checks": checks},
                status_code=200 if ready else 503,
            )

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with self.running(wait=False):
                yield

        return Starlette(
            routes=[
                Route("/healthz", healthz),
                Route("/readyz", readyz),
                Mount("/metrics", make_asgi_app(self.registry)),
                *self.routes,
            ],
            lifespan=lifespan,
        )


def pattern_template(pattern: str) -> str:
    """How the topics a pattern matches are named, for people (AsyncAPI): each named group
    becomes a parameter, e.g. ``pakn.updates.{agency_id}.v1`` for
    ``(?:pakn\\.updates\\.(?P<agency_id>[a-z0-9]…)\\.v1)$``."""
    if pattern.startswith("(?:") and pattern.endswith(")$"):
        pattern = pattern[3:-2]
    named = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", r"{\1}", pattern)
    return re.sub(r"\\(.)", r"\1", named)


def build_service(name: str, settings: ServiceSettings, *, uses_database: bool) -> ServiceApp:
    """Wire the parts every service shares; the service adds its handlers."""
    registry = CollectorRegistry()
    client_id = f"phananh-{name}"
    dead_letters = RecordProducer(settings.kafka, client_id=f"{client_id}-dlq")
    guard = DeliveryGuard(
        service=name,
        sink=dead_letters,
        metrics=DeliveryMetrics(registry),
        backoff_cap_s=settings.retry_backoff_max_s,
    )
    broker = create_broker(
        settings.kafka,
        client_id=client_id,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=name), guard],
        description=f"phananh {name} service",
    )
    mongo = (
        create_mongo_client(
            settings.mongodb, app_name=client_id, listeners=[DatabaseMetrics(registry)]
        )
        if uses_database
        else None
    )
    service = ServiceApp(
        name=name,
        settings=settings,
        broker=broker,
        registry=registry,
        dead_letters=dead_letters,
        mongo=mongo,
        publishes=[dead_letter_topic(name)],
        guard=guard,
    )
    positions = KafkaPositions(
        settings.kafka,
        client_id=client_id,
        groups=lambda: consumer_groups(broker.subscribers),
        dead_letter_topic=dead_letter_topic(name),
        registry=registry,
    )
    service.monitor("kafka_positions", positions.measure, on_stop=positions.close)
    return service


def serve(app: ServiceApp) -> None:
    """Run a service until SIGINT/SIGTERM; consumers stop and commit first."""
    configure_logging(
        service=app.name,
        instance=app.instance,
        level=app.settings.log_level,
        fmt=app.settings.log_format,
    )
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with
    # the handler it found: make that handler a clean exit (status 0).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        app.asgi(),
        host=app.settings.http.host,
        port=app.settings.http.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
    )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)
