"""Baselines for the pipeline benchmark, measured on the same broker in the same run.

* Kafka's own ceiling: ``ProducerPerformance`` and ``ConsumerPerformance`` from the
  kafka-tools jar the local stack already fetched, with the raw messages' average size.
* A no-logic aiokafka pass-through over as many hops as the pipeline: one OS process per
  hop (as the services are), each taking the records fetched from its topic (up to the
  services' batch size), publishing them one at a time to the next with the services'
  producer settings (idempotent, acks=all), and committing after the batch — the
  services' delivery rules without their work.
* The database's own cost per command: one client, one command at a time (as the
  services send them), inserting, finding and updating documents by ``_id`` the size of
  a report's, with the database process's CPU time per command.

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
from phananh_platform.kafka import BATCH_MAX_RECORDS, BATCH_WAIT_MS
from pymongo import AsyncMongoClient

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


# ------------------------------------------------------------------------ database
async def database_performance(
    url: str, database_pid: int | None, *, count: int, document_bytes: int
) -> dict[str, dict[str, float]]:
    """Commands per second and CPU per command (database and client) of ``_id`` inserts,
    finds and updates, one at a time, on a collection of ``count`` documents."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    name = f"bench_baseline_{uuid.uuid4().hex[:6]}"
    collection = client[name]["documents"]
    text = "Đường giao thông tổ 3 phường Chiềng Lề bị sụt lún, nước tràn vào nhà dân. "
    body = (text * (document_bytes // len(text.encode()) + 1))[: document_bytes // 2]
    keys = [f"report-{number:08d}" for number in range(count)]
    operations = {
        "insert": lambda key: collection.insert_one({"_id": key, "text": body, "version": 1}),
        "find": lambda key: collection.find_one({"_id": key}),
        "update": lambda key: collection.update_one(
            {"_id": key, "version": 1}, {"$set": {"status": "assigned"}, "$inc": {"version": 1}}
        ),
    }
    results: dict[str, dict[str, float]] = {}
    try:
        for kind, operation in operations.items():
            meter = ProcessMeter(database_pid) if database_pid else None
            if meter:
                meter.start()
            client_cpu = time.process_time()
            started = time.monotonic()
            for key in keys:
                await operation(key)
            elapsed = time.monotonic() - started
            client_cpu = time.process_time() - client_cpu
            results[kind] = {
                "commands_per_s": round(count / elapsed, 1),
                "database_cpu_ms_per_command": (
                    round(meter.stop()["cpu_s"] * 1000 / count, 3) if meter else 0.0
                ),
                "client_cpu_ms_per_command": round(client_cpu * 1000 / count, 3),
            }
    finally:
        await client.drop_database(name)
        await client.close()
    return results


# ------------------------------------------------------------------- pass-through
async def forward(bootstrap: str, source: str, target: str, group: str) -> None:
    """One hop under the services' delivery rules: take what was fetched (up to
    ``BATCH_MAX_RECORDS``), publish each record with acks=all, one at a time, then commit
    the batch."""
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
            batches = await consumer.getmany(
                timeout_ms=BATCH_WAIT_MS, max_records=BATCH_MAX_RECORDS
            )
            if not batches:
                continue
            for records in batches.values():
                for record in records:
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
    bootstrap: str,
    messages: Sequence[RawMessage],
    *,
    hops: int,
    rate: float | None,
    kafka_pid: int | None = None,
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
    if kafka_pid is not None:
        meters["kafka"] = ProcessMeter(kafka_pid)
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
