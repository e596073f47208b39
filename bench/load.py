"""The load generator's parts: an open-loop publisher, latency histograms, process meters.

Open loop: send times are scheduled from the start (message *i* is due at ``start + i /
rate``) and latency is measured from that *intended* time, never from when the generator
got round to sending. A stall anywhere — in the pipeline, the broker, or the generator
itself when the producer's buffer is full — therefore shows in the latency of every
message that was due during it, instead of being hidden by a generator that politely
waited (coordinated omission).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from hdrh.histogram import HdrHistogram

_TICKS = os.sysconf("SC_CLK_TCK")
HIGHEST_US = 3_600_000_000
"""Largest latency a histogram holds: one hour, in microseconds."""


class Keyed(Protocol):
    @property
    def key(self) -> bytes: ...

    @property
    def value(self) -> bytes: ...


async def publish_open_loop(
    bootstrap: str, topic: str, messages: Sequence[Keyed], rate: float | None
) -> dict[bytes, float]:
    """Publish ``messages`` at ``rate`` per second (None: as fast as possible).

    Returns each message's intended send time in epoch milliseconds; at full speed the
    intended time is the moment the message was handed to the producer. The producer has
    the services' delivery settings (idempotent, acks=all) and a short linger, so a
    generator on the same two cores is not the bottleneck it measures.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    intended: dict[bytes, float] = {}
    pending: list[asyncio.Future[Any]] = []
    check_at = PENDING_CHECK
    try:
        start = time.monotonic()
        wall = time.time() - start  # monotonic -> epoch seconds
        index = 0
        while index < len(messages):
            now = time.monotonic()
            if rate is None:
                due_count = len(messages)
            else:
                due_count = min(len(messages), int((now - start) * rate) + 1)
            while index < due_count:
                message = messages[index]
                planned = start + index / rate if rate is not None else time.monotonic()
                intended[message.key] = (wall + planned) * 1000
                pending.append(await producer.send(topic, message.value, key=message.key))
                index += 1
                if len(pending) >= check_at:  # amortized: at most one pass per held future
                    pending = _unacknowledged(pending)
                    check_at = len(pending) + PENDING_CHECK
                if rate is None and index % 2000 == 0:
                    await asyncio.sleep(0)  # let the watchers read while we send
            if index < len(messages) and rate is not None:
                next_due = start + index / rate
                await asyncio.sleep(max(0.0, next_due - time.monotonic()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return intended


PENDING_CHECK = 10_000
"""Deliveries held before the acknowledged ones are checked and dropped (a large run holds
a few thousand futures, not one per message)."""


def _unacknowledged(pending: list[asyncio.Future[Any]]) -> list[asyncio.Future[Any]]:
    """The deliveries still waiting for their acks; a failed one raises here."""
    for future in pending:
        if future.done():
            future.result()
    return [future for future in pending if not future.done()]


def histogram(latencies_ms: Iterable[float]) -> dict[str, Any]:
    """p50/p95/p99/p99.9/max (ms) of an HdrHistogram (3 significant digits)."""
    recorded = HdrHistogram(1, HIGHEST_US, 3)
    count = 0
    for value in latencies_ms:
        recorded.record_value(max(1, min(HIGHEST_US, int(value * 1000))))
        count += 1
    if count == 0:
        return {"count": 0}

    def at(percentile: float) -> float:
        return round(float(recorded.get_value_at_percentile(percentile)) / 1000, 1)

    return {
        "count": count,
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "p99_9": at(99.9),
        "max": round(recorded.get_max_value() / 1000, 1),
        "mean": round(recorded.get_mean_value() / 1000, 1),
    }


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # after the command: state is field 3, utime 14, stime 15 (1-based in proc(5))
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _status_mb(pid: int, name: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class ProcessMeter:
    """CPU time used and peak resident memory of one process between start() and stop()."""

    pid: int
    _cpu_at_start: float = field(default=0.0, init=False)
    _started: float = field(default=0.0, init=False)

    def start(self) -> None:
        self._cpu_at_start = _cpu_seconds(self.pid)
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        try:
            cpu = _cpu_seconds(self.pid) - self._cpu_at_start
            return {
                "cpu_s": round(cpu, 2),
                "wall_s": round(time.monotonic() - self._started, 2),
                "peak_rss_mb": round(_status_mb(self.pid, "VmHWM"), 1),
                "rss_mb": round(_status_mb(self.pid, "VmRSS"), 1),
            }
        except FileNotFoundError:
            return {"cpu_s": 0.0, "wall_s": 0.0, "peak_rss_mb": 0.0, "rss_mb": 0.0, "exited": 1}
