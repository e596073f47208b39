"""Baselines for the pipeline benchmark, measured on the same broker in the same run.

* Kafka's own ceiling: ``ProducerPerformance`` and ``ConsumerPerformance`` from the
  kafka-tools jar the local stack already fetched, with the raw messages' average size.
* A no-logic aiokafka pass-through over as many hops as the pipeline: one OS process per
  hop (as the services are), each taking the records fetched from its topic (up to the
  services' batch size), publishing them to the next with the services' producer
  settings (idempotent, acks=all), and committing after the batch's acks — the services'
  delivery rules without their work. Two forms: the batch published at once (every send
  handed to the producer, the acks awaited together: the ceiling), and one publish
  awaited at a time (the earlier baseline).
* The database's own cost per command: one client, one command at a time (as the
  services send them), inserting, finding and updating documents by ``_id`` the size of
  a report's, with the database process's CPU time per command.

``python -m bench.baselines forward BOOTSTRAP SOURCE TARGET GROUP [batch|one_at_a_time]`` is
one hop of the pass-through; ``python -m bench.baselines chain --records 3000`` measures the
pass-through in both forms on a broker of its own, without the platform.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from phananh_platform.kafka import (
    BATCH_MAX_RECORDS,
    BATCH_WAIT_MS,
    MAX_REQUEST_BYTES,
    PRODUCE_BATCH_BYTES,
)
from pymongo import AsyncMongoClient

from bench.load import Keyed, ProcessMeter, histogram, publish_open_loop

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
    operations: dict[str, Callable[[str], Awaitable[Any]]] = {
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
BATCH = "batch"
"""Each hop publishes its whole fetched batch at once (every ``send`` handed to the
producer, then all the deliveries awaited together) and commits once: the honest ceiling
of four Python hops under the services' delivery rules."""
ONE_AT_A_TIME = "one_at_a_time"
"""Each hop awaits every publish before the next (``send_and_wait``), then commits the
batch: the earlier baseline, kept as a second row."""
PUBLISH_MODES = (BATCH, ONE_AT_A_TIME)


def hop_producer(bootstrap: str) -> AIOKafkaProducer:
    """A producer with the services' settings (``phananh_platform.kafka``)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        max_request_size=MAX_REQUEST_BYTES,
        max_batch_size=PRODUCE_BATCH_BYTES,
    )


async def publish_batch(
    producer: AIOKafkaProducer, target: str, records: Sequence[ConsumerRecord[Any, Any]]
) -> None:
    """Hand every record to the producer, then wait for all their acknowledgements: the
    producer puts a partition's records in one request instead of one round trip each."""
    deliveries = [await producer.send(target, record.value, key=record.key) for record in records]
    await asyncio.gather(*deliveries)


async def publish_one_at_a_time(
    producer: AIOKafkaProducer, target: str, records: Sequence[ConsumerRecord[Any, Any]]
) -> None:
    for record in records:
        await producer.send_and_wait(target, record.value, key=record.key)


async def forward(bootstrap: str, source: str, target: str, group: str, publish: str) -> None:
    """One hop under the services' delivery rules: take what was fetched (up to
    ``BATCH_MAX_RECORDS``), publish it to ``target`` with acks=all (``publish``: the whole
    batch at once, or one record at a time), and commit the batch after its acks."""
    send = {BATCH: publish_batch, ONE_AT_A_TIME: publish_one_at_a_time}[publish]
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = hop_producer(bootstrap)
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
            records = [record for fetched in batches.values() for record in fetched]
            if records:
                await send(producer, target, records)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


@dataclass
class ChainResult:
    publish: str
    hops: int
    sent_ms: dict[bytes, float]
    """Key -> intended send time (epoch ms)."""
    arrived_ms: dict[bytes, float]
    """Key -> timestamp of the record on the last topic (epoch ms, set by the last hop)."""
    meters: dict[str, dict[str, float]]

    def summary(self) -> dict[str, Any]:
        """Throughput over the hops, latency from the intended send time, and the
        forwarders' (and Kafka's) CPU per record."""
        count = len(self.sent_ms)
        latencies = [
            self.arrived_ms[key] - sent
            for key, sent in self.sent_ms.items()
            if key in self.arrived_ms
        ]
        first = min(self.sent_ms.values(), default=0.0)
        last = max(self.arrived_ms.values(), default=first)
        hops = {name: value for name, value in self.meters.items() if name.startswith("hop-")}
        cpu_s = sum(value["cpu_s"] for value in hops.values())
        kafka = self.meters.get("kafka")
        return {
            "publish": self.publish,
            "hops": self.hops,
            "records": count,
            "arrived": len(latencies),
            "throughput_per_s": round(len(latencies) / max(0.001, (last - first) / 1000), 1),
            "latency_ms": histogram(latencies),
            "cpu_ms_per_record": round(cpu_s * 1000 / max(1, count), 3),
            "cpu_ms_per_record_per_hop": round(cpu_s * 1000 / max(1, count) / self.hops, 3),
            "kafka_cpu_ms_per_record": (
                round(kafka["cpu_s"] * 1000 / max(1, count), 3) if kafka else None
            ),
            "peak_rss_mb": max((value["peak_rss_mb"] for value in hops.values()), default=0),
        }


async def pass_through_chain(
    bootstrap: str,
    messages: Sequence[Keyed],
    *,
    hops: int,
    rate: float | None,
    publish: str = BATCH,
    kafka_pid: int | None = None,
    stall_s: float = 60.0,
) -> ChainResult:
    """The no-logic chain: ``hops`` forwarder processes, messages sent open-loop at ``rate``.

    Done when every message is on the last topic, or when nothing arrived for ``stall_s``
    after the last was sent (what is missing then counts as not arrived). The chain's
    topics are deleted afterwards, so a large run leaves the broker as it found it."""
    if publish not in PUBLISH_MODES:
        raise ValueError(f"publish is one of {PUBLISH_MODES}, not {publish!r}")
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
            publish,
            stdout=subprocess.PIPE,
            env={**os.environ},
        )
        for hop in range(hops)
    ]
    meters = {f"hop-{n}": ProcessMeter(process.pid) for n, process in enumerate(processes)}
    if kafka_pid is not None:
        meters["kafka"] = ProcessMeter(kafka_pid)
    watcher = AIOKafkaConsumer(
        topics[-1],
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    wanted = {message.key for message in messages}
    arrived: dict[bytes, float] = {}
    sending = True
    progress_at = time.monotonic()

    async def watch() -> None:
        nonlocal progress_at
        while len(arrived) < len(wanted) and (sending or time.monotonic() - progress_at < stall_s):
            fetched = await watcher.getmany(timeout_ms=200, max_records=5000)
            for records in fetched.values():
                for record in records:
                    if record.key in wanted and record.key not in arrived:
                        arrived[record.key] = float(record.timestamp)
                        progress_at = time.monotonic()

    try:
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            if line.strip() != b"ready":
                raise RuntimeError(f"a pass-through hop did not start: {line!r}")
        await watcher.start()
        for meter in meters.values():
            meter.start()
        watching = asyncio.create_task(watch())
        try:
            sent = await publish_open_loop(bootstrap, topics[0], messages, rate)
        finally:
            sending, progress_at = False, time.monotonic()
        await watching
        return ChainResult(
            publish=publish,
            hops=hops,
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
        await delete_topics(bootstrap, topics)


async def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    """Delete a baseline's topics (best effort: a leftover topic only takes disk)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        await admin.delete_topics(list(names))
    except Exception as error:  # the measurement is done: say so and go on
        print(f"could not delete topics {list(names)}: {error!r}", file=sys.stderr)
    finally:
        await admin.close()


# ------------------------------------------------------------------ on its own
async def chains_alone(args: argparse.Namespace) -> dict[str, Any]:
    """The pass-through in each publish mode, on a broker of its own (started here on free
    ports in a scratch directory, unless ``--bootstrap`` names one)."""
    from bench.traffic import raw_message  # the traffic generator imports the contracts

    rate = None if args.rate == "max" else float(args.rate)
    modes = [mode.strip() for mode in args.publish.split(",") if mode.strip()]
    run = uuid.uuid4().hex[:6]
    messages = [raw_message(number, run) for number in range(args.records)]
    results: dict[str, Any] = {"records": args.records, "rate": args.rate, "hops": args.hops}

    async def measure(bootstrap: str, kafka_pid: int | None) -> None:
        for mode in modes:
            _say(f"[baselines] pass-through, {mode}, {args.records} records")
            chain = await pass_through_chain(
                bootstrap, messages, hops=args.hops, rate=rate, publish=mode, kafka_pid=kafka_pid
            )
            results[mode] = chain.summary()

    if args.bootstrap:
        await measure(args.bootstrap, args.kafka_pid)
    else:
        from phananh_cli.stack import LocalStack, Paths, Ports

        from tests.support.platform import ROOT, free_port

        with tempfile.TemporaryDirectory(prefix="phananh-baselines-") as scratch:
            ports = Ports(kafka=free_port(), kafka_controller=free_port(), database=free_port())
            stack = LocalStack(Paths(root=ROOT, data=Path(scratch) / "data"), ports, say=_say)
            try:
                await asyncio.to_thread(stack.start_kafka)
                await measure(stack.kafka_bootstrap, stack.pid("kafka"))
            finally:
                await asyncio.to_thread(stack.stop, "kafka")
    if BATCH in results and ONE_AT_A_TIME in results:
        batch, one = results[BATCH], results[ONE_AT_A_TIME]
        results["batch_vs_one_at_a_time"] = {
            "throughput": round(batch["throughput_per_s"] / max(0.1, one["throughput_per_s"]), 2),
            "cpu_per_record": round(
                batch["cpu_ms_per_record"] / max(0.001, one["cpu_ms_per_record"]), 3
            ),
        }
    return results


def _say(message: str) -> None:
    """Progress on stderr (stdout is the result)."""
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    commands = parser.add_subparsers(dest="command", required=True)
    hop = commands.add_parser("forward", help="one hop of the pass-through (run by the chain)")
    for name in ("bootstrap", "source", "target", "group"):
        hop.add_argument(name)
    hop.add_argument("publish", nargs="?", default=BATCH, choices=PUBLISH_MODES)
    chain = commands.add_parser("chain", help="the pass-through alone, on its own broker")
    chain.add_argument("--records", type=int, default=3000)
    chain.add_argument("--rate", default="max", help="intended records per second, or 'max'")
    chain.add_argument("--hops", type=int, default=4)
    chain.add_argument(
        "--publish", default=",".join(PUBLISH_MODES), help="comma-separated publish modes"
    )
    chain.add_argument("--bootstrap", help="use this broker instead of starting one")
    chain.add_argument("--kafka-pid", type=int, help="the broker's pid, to meter its CPU")
    args = parser.parse_args(argv)
    if args.command == "forward":
        asyncio.run(forward(args.bootstrap, args.source, args.target, args.group, args.publish))
        return
    print(json.dumps(asyncio.run(chains_alone(args)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
