"""The whole pipeline's throughput, latency and memory, against Kafka's own ceiling.

    uv run python -m bench.pipeline --sizes 2000,10000 --rate 200
    uv run python -m bench.pipeline --sizes 2000 --rate max
    uv run python -m bench.pipeline --sizes 10000,50000 --duration 60   # sustained, 60 s each
    uv run python -m bench.pipeline --smoke            # CI: 50 reports, asserts nothing

For each size the platform is started afresh as OS processes (its own Kafka and database
on free ports, the four services, notify pointed at local provider servers: see
``tests/support/platform.py``), then, on that broker:

1. the baselines: Kafka's ``ProducerPerformance`` and ``ConsumerPerformance`` with the raw
   messages' average size, and a no-logic aiokafka pass-through over the same four hops
   (``bench/baselines.py``), driven by the same open-loop generator, in two forms: each
   hop publishing its fetched batch at once (the ceiling the pipeline is compared with)
   and one publish at a time (the earlier baseline, on at most ``--one-at-a-time-records``);
2. the pipeline: raw messages of every channel published open-loop on
   ``pakn.channel.raw.v1`` at the intended rate (or at full speed); for each one the time
   from its intended send time to its canonical report (or rejection), its assignment, the
   first notification sent to the citizen, and its facts on the audit trail.

Stage times are the timestamps the services themselves put on their records (Kafka
``CreateTime``) and the trail's ``recorded_at``, all on this host's clock, so the
benchmark's own consumers add nothing to what is measured. Writes
``bench/results/pipeline-<date>.json`` and ``.md`` and ``.png``; see docs/benchmark.md.
Speed is never asserted: ``--smoke`` only proves that every stage is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import resource
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from intake.domain.tracking import report_id
from phananh_contracts import (
    ASSIGNMENTS_TOPIC,
    CHANNEL_RAW_TOPIC,
    NOTIFICATIONS_TOPIC,
    REPORTS_REJECTED_TOPIC,
    REPORTS_TOPIC,
)
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from bench import baselines
from bench.load import ProcessMeter, histogram, publish_open_loop
from bench.results import write_results
from bench.traffic import RawMessage, expected_message_ids, raw_message
from tests.support.platform import Platform, running_platform

ROOT = Path(__file__).resolve().parents[1]
HOPS = 4
"""intake, routing, notify, audit: raw → reports → assignments → notifications → trail."""
STAGES = ("reported", "assigned", "notified", "audited")
SENT = b'"vn.pakn.notification.sent"'
DUPLICATE_OF = b'"duplicate_of":'
AUDITED_TYPES = {
    "vn.pakn.report.received": "reported",
    "vn.pakn.report.assigned": "assigned",
    "vn.pakn.notification.sent": "notified",
}
STALL_S = 180.0
"""Give up on a run when no stage made progress for this long (what is missing is lost)."""
SMOKE_STALL_S = 45.0
TRAIL_BATCH = 10_000
"""Trail documents per round trip when the trail is read at the end (projected: ~100 bytes
each), so 200,000 reports' ~1.5 million facts take ~150 round trips, not 15,000."""
ONE_AT_A_TIME_RECORDS = 10_000
"""The one-at-a-time pass-through moves ~500 records/s here: it runs on at most this many
records, so a large run does not spend many minutes on the second baseline row."""


@dataclass(slots=True)
class Expected:
    """What one raw message should become, keyed the way each topic keys it."""

    message: RawMessage
    report: str
    stamps: dict[str, float] = field(default_factory=dict)
    """Stage -> epoch ms at which the pipeline reached it."""
    rejected: bool = False
    duplicate: bool = False
    """Intake linked it to an earlier report (near duplicate): routing opens no case."""

    @property
    def assignable(self) -> bool:
        return not (self.rejected or self.duplicate)


class Watcher:
    """Reads the pipeline's topics from the start and notes when each report got where."""

    def __init__(self, bootstrap: str, expected: Sequence[Expected]) -> None:
        self.by_report = {item.report: item for item in expected}
        self.by_raw_key = {item.message.key: item for item in expected}
        self.consumer = AIOKafkaConsumer(
            REPORTS_TOPIC.name,
            REPORTS_REJECTED_TOPIC.name,
            ASSIGNMENTS_TOPIC.name,
            NOTIFICATIONS_TOPIC.name,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.progress_at = time.monotonic()
        self.missing = {
            "reported": len(expected),
            "assigned": len(expected),
            "notified": sum(item.message.contactable for item in expected),
        }

    def _note(self, item: Expected | None, stage: str, stamp: float) -> None:
        if item is None or stage in item.stamps:
            return
        item.stamps[stage] = stamp
        self.progress_at = time.monotonic()
        if expects(item, stage):  # e.g. a collaborator's report may be told all the same
            self.missing[stage] -= 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for partition, records in batches.items():
                for record in records:
                    key = record.key or b""
                    if partition.topic == REPORTS_REJECTED_TOPIC.name:
                        item = self.by_raw_key.get(key)
                        if item is not None and "reported" not in item.stamps:
                            item.rejected = True  # nothing to assign, no one to tell
                            self.missing["assigned"] -= 1
                            self.missing["notified"] -= item.message.contactable
                        self._note(item, "reported", record.timestamp)
                        continue
                    item = self.by_report.get(key.decode(errors="replace"))
                    if partition.topic == REPORTS_TOPIC.name:
                        fresh = item is not None and "reported" not in item.stamps
                        if fresh and item and DUPLICATE_OF in (record.value or b""):
                            item.duplicate = True  # joins the earlier report's case
                            self.missing["assigned"] -= 1
                        self._note(item, "reported", record.timestamp)
                    elif partition.topic == ASSIGNMENTS_TOPIC.name:
                        self._note(item, "assigned", record.timestamp)
                    elif SENT in (record.value or b""):
                        self._note(item, "notified", record.timestamp)

    def done(self) -> bool:
        return not any(self.missing.values())


async def audit_lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> int:
    """Records on audit's topics that audit has not committed (i.e. not yet on the trail)."""
    committed = await admin.list_consumer_group_offsets("audit")
    if not committed:
        return 1
    ends = await consumer.end_offsets(list(committed))
    return sum(ends[partition] - max(0, meta.offset) for partition, meta in committed.items())


async def trail_stamps(platform: Platform, expected: Sequence[Expected]) -> dict[str, int]:
    """Read the trail once at the end: each report's audited time, and what is on it."""
    by_report = {item.report: item for item in expected if not item.rejected}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.stack.database_url)
    found: dict[str, dict[str, float]] = {}
    counts = {stage: 0 for stage in ("reported", "assigned", "notified")}
    try:
        cursor = client["pakn_audit"]["audit_trail"].find(
            {"event_type": {"$in": list(AUDITED_TYPES)}},
            projection={"_id": 0, "report_id": 1, "event_type": 1, "recorded_at": 1},
            batch_size=TRAIL_BATCH,
        )
        async for document in cursor:
            item = by_report.get(document.get("report_id") or "")
            if item is None:
                continue
            stage = AUDITED_TYPES[document["event_type"]]
            stamp = document["recorded_at"].replace(tzinfo=UTC).timestamp() * 1000
            seen = found.setdefault(item.report, {})
            if stage not in seen:
                counts[stage] += 1
            seen[stage] = min(stamp, seen.get(stage, stamp))
    finally:
        await client.close()
    for item in expected:
        seen = found.get(item.report, {})
        wanted = {"reported"} | ({"assigned"} if item.assignable else set())
        wanted |= {"notified"} if item.message.contactable else set()
        if wanted <= seen.keys():
            item.stamps["audited"] = max(seen[stage] for stage in wanted)
    return counts


DatabaseKey = tuple[str, str, str]  # service, command, collection


def database_time(platform: Platform) -> dict[DatabaseKey, tuple[float, float]]:
    """Every service's ``pakn_db_command_seconds`` (count, sum) as it stands now."""
    found: dict[DatabaseKey, tuple[float, float]] = {}
    for service in ("intake", "routing", "notify", "audit"):
        try:
            with urllib.request.urlopen(platform.url(service, "/metrics"), timeout=10) as reply:
                text = reply.read().decode("utf-8")
        except OSError:
            continue
        for family in text_string_to_metric_families(text):
            if family.name != "pakn_db_command_seconds":
                continue
            for sample in family.samples:
                key = (service, sample.labels["command"], sample.labels["collection"])
                count, total = found.get(key, (0.0, 0.0))
                if sample.name.endswith("_count"):
                    count = sample.value
                elif sample.name.endswith("_sum"):
                    total = sample.value
                found[key] = (count, total)
    return found


def database_breakdown(
    before: dict[DatabaseKey, tuple[float, float]],
    after: dict[DatabaseKey, tuple[float, float]],
    reports: int,
) -> list[dict[str, Any]]:
    """Database commands during the load, the costliest first, per report."""
    rows = []
    for key, (count, total) in after.items():
        count -= before.get(key, (0.0, 0.0))[0]
        total -= before.get(key, (0.0, 0.0))[1]
        if count <= 0:
            continue
        service, command, collection = key
        rows.append(
            {
                "service": service,
                "command": command,
                "collection": collection,
                "commands_per_report": round(count / reports, 2),
                "mean_ms": round(total * 1000 / count, 2),
                "ms_per_report": round(total * 1000 / reports, 2),
            }
        )
    return sorted(rows, key=lambda row: -row["ms_per_report"])


def metered_components(platform: Platform) -> dict[str, ProcessMeter]:
    meters = {}
    for component in (*platform.components(), "kafka", "database"):
        pid = platform.stack.pid(component)
        if pid is not None:
            meters[component] = ProcessMeter(pid)
    return meters


async def pipeline_run(
    platform: Platform, messages: Sequence[RawMessage], rate: float | None, *, stall_s: float
) -> dict[str, Any]:
    expected = [
        Expected(message, report_id(message.channel.value, expected_message_ids(message)[0]))
        for message in messages
    ]
    bootstrap = platform.kafka_bootstrap
    watcher = Watcher(bootstrap, expected)
    await watcher.consumer.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.run(stop))
    meters = metered_components(platform)
    driver = ProcessMeter(os.getpid())
    try:
        await asyncio.sleep(1)  # the watcher holds its partitions
        for meter in (*meters.values(), driver):
            meter.start()
        database_before = await asyncio.to_thread(database_time, platform)
        started = time.time() * 1000
        sent = await publish_open_loop(bootstrap, CHANNEL_RAW_TOPIC.name, messages, rate)
        published = time.time() * 1000
        while not watcher.done() and time.monotonic() - watcher.progress_at < stall_s:  # noqa: ASYNC110 (polls a clock too)
            await asyncio.sleep(0.2)
        lag = await audit_lag(admin, watcher.consumer)
        lag_progress = time.monotonic()
        last_lag = lag
        while lag > 0 and time.monotonic() - lag_progress < stall_s:
            await asyncio.sleep(0.5)
            lag = await audit_lag(admin, watcher.consumer)
            if lag < last_lag:
                lag_progress, last_lag = time.monotonic(), lag
        drained = time.time() * 1000
        usage = {name: meter.stop() for name, meter in meters.items()}
        driver_usage = driver.stop()
        database_after = await asyncio.to_thread(database_time, platform)
    finally:
        stop.set()
        await watching
        await watcher.consumer.stop()
        await admin.close()
    on_trail = await trail_stamps(platform, expected)
    for item in expected:
        item.stamps["sent"] = sent[item.message.key]
    summary = summarize(expected, usage, on_trail, started, published, drained, lag)
    summary["database_commands"] = database_breakdown(
        database_before, database_after, len(expected)
    )
    summary["sustained"] = sustained(expected, rate, started, published)
    summary["driver"] = {  # the benchmark itself, on the same cores (not in the totals)
        "cpu_ms_per_report": round(driver_usage["cpu_s"] * 1000 / len(expected), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return summary


def sustained(
    expected: Sequence[Expected], rate: float | None, started: float, published: float
) -> dict[str, Any]:
    """Whether the pipeline kept up while the load was being sent: what reached each stage
    during the send, per second, and what was still owed when the last message was sent
    (a pipeline that keeps up owes about rate × its latency; one that does not, a backlog
    that grows with the run)."""
    send_s = max(0.001, (published - started) / 1000)
    owed = {stage: [item for item in expected if expects(item, stage)] for stage in STAGES}
    during = {
        stage: sum(item.stamps.get(stage, published + 1) <= published for item in items)
        for stage, items in owed.items()
    }
    return {
        "intended_rate_per_s": rate,
        "send_s": round(send_s, 2),
        "send_rate_per_s": round(len(expected) / send_s, 1),
        "reached_during_send_per_s": {
            stage: round(count / send_s, 1) for stage, count in during.items()
        },
        "owed_at_end_of_send": {stage: len(owed[stage]) - during[stage] for stage in STAGES},
    }


def expects(item: Expected, stage: str) -> bool:
    """Whether the pipeline owes this stage to this message."""
    if stage == "assigned":
        return item.assignable
    if stage == "notified":
        return item.message.contactable and not item.rejected
    return stage == "reported" or not item.rejected


def summarize(
    expected: Sequence[Expected],
    usage: dict[str, dict[str, float]],
    on_trail: dict[str, int],
    started: float,
    published: float,
    drained: float,
    audit_lag_left: int,
) -> dict[str, Any]:
    count = len(expected)
    latencies = {
        stage: histogram(
            item.stamps[stage] - item.stamps["sent"]
            for item in expected
            if stage in item.stamps and expects(item, stage)
        )
        for stage in STAGES
    }
    last = {
        stage: max((item.stamps[stage] for item in expected if stage in item.stamps), default=0)
        for stage in STAGES
    }
    contactable = sum(item.message.contactable and not item.rejected for item in expected)
    rejected = sum(item.rejected for item in expected)
    duplicates = sum(item.duplicate for item in expected)
    wanted = {
        "reported": count,
        "assigned": count - rejected - duplicates,
        "notified": contactable,
        "audited": count - rejected,
    }
    reached = {
        "reported": sum("reported" in item.stamps for item in expected),
        "assigned": sum("assigned" in item.stamps and item.assignable for item in expected),
        "notified": sum("notified" in item.stamps for item in expected if item.message.contactable),
        "audited": sum("audited" in item.stamps for item in expected),
    }
    lost = {stage: wanted[stage] - reached[stage] for stage in STAGES}
    first = min(item.stamps["sent"] for item in expected)
    span_s = {stage: max(0.001, (last[stage] - first) / 1000) for stage in STAGES}
    services = {name: value for name, value in usage.items() if name not in ("kafka", "database")}
    return {
        "reports": count,
        "rejected": rejected,
        "near_duplicates": duplicates,
        "published_s": round((published - started) / 1000, 2),
        "drained_s": round((drained - started) / 1000, 2),
        "throughput_per_s": {stage: round(count / span_s[stage], 1) for stage in STAGES},
        "latency_ms": latencies,
        "expected": wanted,
        "reached": reached,
        "lost": lost,
        "zero_loss": not any(lost.values()) and audit_lag_left == 0,
        "audit_lag_left": audit_lag_left,
        "on_trail": on_trail,
        "processes": usage,
        "cpu_ms_per_report": {
            name: round(value["cpu_s"] * 1000 / count, 2) for name, value in usage.items()
        },
        "services_cpu_ms_per_report": round(
            sum(value["cpu_s"] for value in services.values()) * 1000 / count, 2
        ),
        "peak_rss_mb": {name: value["peak_rss_mb"] for name, value in usage.items()},
    }


def limits(
    pipeline: dict[str, Any], chain: dict[str, Any], database: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Where a report's CPU goes, and what each part alone would allow on this machine.

    The database's share is also predicted from its own baseline: the commands the
    services sent per report times what one command costs the database on its own."""
    cpu = pipeline["cpu_ms_per_report"]
    commands = sum(row["commands_per_report"] for row in pipeline.get("database_commands", []))
    per_command = statistics.fmean(row["database_cpu_ms_per_command"] for row in database.values())
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    return {
        "cpu_ms_per_report": round(total, 1),
        "share": {name: round(value / total, 3) for name, value in cpu.items()} if total else {},
        "ceiling_per_s": round(cores * 1000 / total, 1) if total else None,
        "database_commands_per_report": round(commands, 1),
        "database_cpu_ms_per_command": round(per_command, 3),
        "database_cpu_ms_per_report_predicted": round(commands * per_command, 1),
        "kafka_cpu_ms_per_record_pass_through": chain.get("kafka_cpu_ms_per_record"),
    }


def say(message: str) -> None:
    """Progress on stderr (stdout is the result)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


async def run_size(
    count: int,
    rate: float | None,
    directory: Path,
    *,
    perf_records: int,
    stall_s: float,
    one_at_a_time_records: int = ONE_AT_A_TIME_RECORDS,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    messages = [raw_message(number, run) for number in range(count)]
    size = round(statistics.fmean(len(message.value) for message in messages))
    scratch = directory / f"size-{count}"
    scratch.mkdir(parents=True)
    say(f"{count} reports: starting the platform")
    # The services' timers as deployed (deadline checks every 30 s, checkpoints every
    # 5 minutes), not quickened as the end-to-end tests have them.
    async with running_platform(scratch, name=f"bench-{count}", pace={}) as platform:
        say("platform up; Kafka's ProducerPerformance and ConsumerPerformance")
        bootstrap = platform.kafka_bootstrap
        classpath = platform.stack.kafka_classpath()
        kafka_topic = f"bench.kafka-perf.{run}"
        await baselines.create_topics(bootstrap, [kafka_topic])
        producer = await asyncio.to_thread(
            baselines.producer_performance, classpath, bootstrap, kafka_topic, perf_records, size
        )
        consumer = await asyncio.to_thread(
            baselines.consumer_performance, classpath, bootstrap, kafka_topic, perf_records
        )
        say("the database's own cost per command")
        database = await baselines.database_performance(
            platform.stack.database_url,
            platform.stack.pid("database"),
            count=min(max(count, 1000), 5000),
            document_bytes=size,
        )
        await baselines.delete_topics(bootstrap, [kafka_topic])
        chains = {}
        for publish, records in (
            (baselines.BATCH, count),
            (baselines.ONE_AT_A_TIME, min(count, one_at_a_time_records)),
        ):
            if records <= 0:
                continue
            say(f"no-logic pass-through, {HOPS} hops, {publish}, {records} records")
            measured = await baselines.pass_through_chain(
                bootstrap,
                messages[:records],
                hops=HOPS,
                rate=rate,
                publish=publish,
                kafka_pid=platform.stack.pid("kafka"),
            )
            chains[publish] = measured.summary()
        chain, one = chains[baselines.BATCH], chains.get(baselines.ONE_AT_A_TIME, {})
        say("the pipeline")
        pipeline = await pipeline_run(platform, messages, rate, stall_s=stall_s)
        say(f"pipeline done: {pipeline['throughput_per_s']} lost={pipeline['lost']}")
    return {
        "reports": count,
        "rate": rate or "max",
        "raw_message_bytes": size,
        "baselines": {
            "kafka_producer_performance": producer,
            "kafka_consumer_performance": consumer,
            "pass_through": chain,
            "pass_through_one_at_a_time": one,
            "database_commands": database,
        },
        "limits": limits(pipeline, chain, database),
        "pipeline": pipeline,
        "ratios": ratios(pipeline, chain, one, producer, consumer),
    }


def ratios(
    pipeline: dict[str, Any],
    chain: dict[str, Any],
    one: dict[str, Any],
    producer: dict[str, Any],
    consumer: dict[str, Any],
) -> dict[str, float | None]:
    """The pipeline against each baseline. ``*_pass_through`` is the batch-published
    pass-through (the ceiling); ``*_pass_through_one_at_a_time`` the earlier baseline,
    absent when it was not run."""
    through = pipeline["throughput_per_s"]["audited"]
    p99 = pipeline["latency_ms"]["audited"].get("p99", 0)
    found: dict[str, float | None] = {
        "pipeline_vs_pass_through": ratio(through, chain["throughput_per_s"]),
        "pipeline_vs_kafka_producer": ratio(through, producer["records_per_s"]),
        "pipeline_vs_kafka_consumer": ratio(through, consumer["records_per_s"]),
        "pass_through_vs_kafka_producer": ratio(
            chain["throughput_per_s"], producer["records_per_s"]
        ),
        "cpu_per_report_vs_pass_through": ratio(
            pipeline["services_cpu_ms_per_report"], chain["cpu_ms_per_record"]
        ),
        "p99_audited_vs_pass_through": ratio(p99, chain["latency_ms"].get("p99", 0)),
    }
    if one:
        found |= {
            "pipeline_vs_pass_through_one_at_a_time": ratio(through, one["throughput_per_s"]),
            "cpu_per_report_vs_pass_through_one_at_a_time": ratio(
                pipeline["services_cpu_ms_per_report"], one["cpu_ms_per_record"]
            ),
            "p99_audited_vs_pass_through_one_at_a_time": ratio(
                p99, one["latency_ms"].get("p99", 0)
            ),
            "pass_through_batch_vs_one_at_a_time": ratio(
                chain["throughput_per_s"], one["throughput_per_s"]
            ),
            "pass_through_cpu_batch_vs_one_at_a_time": ratio(
                chain["cpu_ms_per_record"], one["cpu_ms_per_record"]
            ),
        }
    return found


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "kernel": host.release(),
        "python": sys.version.split()[0],
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "kafka": "single-node KRaft, same host",
        "database": database_description(),
    }


def database_description() -> str:
    """What served the MongoDB wire protocol (see phananh_cli.stack.start_database)."""
    if shutil.which("mongod") and not os.environ.get("PHANANH_FERRETDB"):
        return "mongod, same host"
    if os.environ.get("PHANANH_FERRETDB_POSTGRESQL_URL"):
        return (
            "FerretDB 1.24 (PostgreSQL backend: a PostgreSQL server on the same host, "
            "not metered), same host; no mongod on this machine"
        )
    return "FerretDB 1.24 (SQLite backend), same host; no mongod on this machine"


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000", help="comma-separated report counts")
    parser.add_argument("--rate", default="200", help="intended reports per second, or 'max'")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="send each size over this many seconds (its rate is size ÷ duration; "
        "overrides --rate): e.g. --sizes 10000,50000 --duration 60",
    )
    parser.add_argument(
        "--one-at-a-time-records",
        type=int,
        default=ONE_AT_A_TIME_RECORDS,
        help="records for the one-publish-at-a-time pass-through (at most the size; 0: skip)",
    )
    parser.add_argument("--smoke", action="store_true", help="50 reports, tiny baselines (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default=None, help="file name stem (default pipeline-<date>)")
    parser.add_argument("--perf-records", type=int, default=None, help="Kafka tools' records")
    return parser.parse_args(argv)


def rate_of(args: argparse.Namespace, count: int) -> float | None:
    """The intended rate of a size: ``--duration`` spreads the size over that many seconds;
    else ``--rate`` (None: full speed)."""
    duration: float | None = args.duration
    if duration:
        return round(count / duration, 3)
    return None if args.rate == "max" else float(args.rate)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [50] if args.smoke else [int(size) for size in args.sizes.split(",")]
    if args.duration is not None and args.duration <= 0:
        raise SystemExit("--duration must be positive")
    started = datetime.now(UTC)
    results = []
    with tempfile.TemporaryDirectory(prefix="phananh-bench-") as scratch:
        for count in sizes:
            perf = args.perf_records or (1000 if args.smoke else max(count, 20_000))
            stall = SMOKE_STALL_S if args.smoke else STALL_S
            results.append(
                await run_size(
                    count,
                    rate_of(args, count),
                    Path(scratch),
                    perf_records=perf,
                    stall_s=stall,
                    one_at_a_time_records=args.one_at_a_time_records,
                )
            )
    return {
        "benchmark": "pipeline",
        "started_at": started.isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "rate": f"size ÷ {args.duration:g} s" if args.duration else args.rate,
        "duration_s": args.duration,
        "machine": machine(),
        "runs": results,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    document = asyncio.run(run(args))
    stem = args.name or f"pipeline-{document['started_at'][:10]}"
    paths = write_results(document, args.out, stem, plot_it=not args.smoke)
    print(json.dumps({"written": [str(path) for path in paths]}, indent=2))


if __name__ == "__main__":
    main()
