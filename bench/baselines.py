"""Baselines for the pipeline benchmark, measured on the same broker in the same run.

* Kafka's own ceiling: ``ProducerPerformance`` and ``ConsumerPerformance`` from the
  kafka-tools jar the local stack already fetched, with the raw messages' average size.
* A no-logic aiokafka pass-through over as many hops as the pipeline: one OS process per
  hop (as the services are), each consuming one record at a time from its topic,
  publishing it to the next with the services' producer settings (idempotent, acks=all),
  and committing after the publish — the services' delivery rules without their work.

``python -m bench.baselines forward SOURCE TARGET GROUP`` is one hop of the pass-through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.load import ProcessMeter, publish_open_loop
from bench.traffic import RawMessage

PARTITIONS = 6
"""As many partitions as the pipeline's topics (pakn.channel.raw.v1 and the rest)."""


# ------------------------------------------------------------------------ Kafka tools
def _java_run(classpath: Path, tool: str, args: Sequence[str], timeout_s: float) -> str:
    result = subprocess.run(
        ["java", "-Xmx512m", "-cp", f"{classpath}/*", f"org.apache.kafka.tools.{tool}", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


_PRODUCER_SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th"
)


def producer_performance(
    classpath: Path, bootstrap: str, topic: str, records: int, record_size: int
) -> dict[str, Any]:
    """Kafka's ProducerPerformance at full speed with the pipeline's producer settings."""
    out = _java_run(
        classpath,
        "ProducerPerformance",
        [
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--record-size",
            str(record_size),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={bootstrap}",
            "acks=all",
            "enable.idempotence=true",
        ],
        timeout_s=300,
    )
    match = _PRODUCER_SUMMARY.findall(out)
    if not match:
        raise RuntimeError(f"ProducerPerformance printed no summary: {out[-1000:]}")
    sent, rate, mb_s, avg, worst, p50, p95, p99 = match[-1]
    return {
        "records": int(sent),
        "record_size": record_size,
        "records_per_s": float(rate),
        "mb_per_s": float(mb_s),
        "latency_ms": {"mean": float(avg), "p50": int(p50), "p95": int(p95), "p99": int(p99)}
        | {"max": float(worst)},
    }


def consumer_performance(
    classpath: Path, bootstrap: str, topic: str, records: int
) -> dict[str, Any]:
    """Kafka's ConsumerPerformance reading ``records`` records of ``topic``."""
    out = _java_run(
        classpath,
        "ConsumerPerformance",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--messages",
            str(records),
            "--timeout",
            "60000",
            "--group",
            f"bench-consumer-perf-{uuid.uuid4().hex[:6]}",
        ],
        timeout_s=300,
    )
    lines = [line for line in out.splitlines() if line.strip()]
    header = [name.strip() for name in lines[-2].split(",")]
    values = [value.strip() for value in lines[-1].split(",")]
    row = dict(zip(header, values, strict=False))
    return {
        "records": int(row["data.consumed.in.nMsg"]),
        "records_per_s": float(row["nMsg.sec"]),
        "fetch_records_per_s": float(row.get("fetch.nMsg.sec", row["nMsg.sec"])),
        "mb_per_s": float(row["MB.sec"]),
        "rebalance_ms": float(row.get("rebalance.time.ms", 0) or 0),
    }


async def create_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    finally:
        await admin.close()


# ------------------------------------------------------------------- pass-through
async def forward(bootstrap: str, source: str, target: str, group: str) -> None:
    """One hop: consume one record at a time, publish it with acks=all, then commit."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        print("ready", flush=True)
        while not stop.is_set():
            try:
                record = await asyncio.wait_for(consumer.getone(), timeout=0.5)
            except TimeoutError:
                continue
            await producer.send_and_wait(target, record.value, key=record.key)
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


@dataclass
class ChainResult:
    sent_ms: dict[bytes, float]
    """Key -> intended send time (epoch ms)."""
    arrived_ms: dict[bytes, float]
    """Key -> timestamp of the record on the last topic (epoch ms, set by the last hop)."""
    meters: dict[str, dict[str, float]]


async def pass_through_chain(
    bootstrap: str, messages: Sequence[RawMessage], *, hops: int, rate: float | None
) -> ChainResult:
    """The no-logic chain: ``hops`` forwarder processes, messages sent open-loop at ``rate``."""
    run = uuid.uuid4().hex[:6]
    topics = [f"bench.chain.{run}.{hop}" for hop in range(hops + 1)]
    await create_topics(bootstrap, topics)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.baselines",
            "forward",
            bootstrap,
            topics[hop],
            topics[hop + 1],
            f"bench-chain-{run}-{hop}",
            stdout=subprocess.PIPE,
            env={**os.environ},
        )
        for hop in range(hops)
    ]
    meters = {f"hop-{n}": ProcessMeter(process.pid) for n, process in enumerate(processes)}
    watcher = AIOKafkaConsumer(
        topics[-1], bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    try:
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            if line.strip() != b"ready":
                raise RuntimeError(f"a pass-through hop did not start: {line!r}")
        await watcher.start()
        for meter in meters.values():
            meter.start()
        arrived: dict[bytes, float] = {}
        wanted = {message.key for message in messages}

        async def watch() -> None:
            deadline = time.monotonic() + 600
            while wanted - arrived.keys() and time.monotonic() < deadline:
                for records in (await watcher.getmany(timeout_ms=200)).values():
                    for record in records:
                        arrived.setdefault(record.key, float(record.timestamp))

        watching = asyncio.create_task(watch())
        sent = await publish_open_loop(bootstrap, topics[0], messages, rate)
        await watching
        return ChainResult(
            sent_ms=sent,
            arrived_ms=arrived,
            meters={name: meter.stop() for name, meter in meters.items()},
        )
    finally:
        await watcher.stop()
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


def main(argv: Sequence[str]) -> None:
    if len(argv) == 5 and argv[0] == "forward":
        asyncio.run(forward(*argv[1:]))
        return
    raise SystemExit("usage: python -m bench.baselines forward BOOTSTRAP SOURCE TARGET GROUP")


if __name__ == "__main__":
    main(sys.argv[1:])
