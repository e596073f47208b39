"""Routing alone on the real local servers: records/s, CPU and database commands per record.

    uv run python -m bench.routing_throughput --reports 5000

Starts the routing service as its own process (``python -m routing``) on the local Kafka
and database (a fresh database and rules scope per run), then, in two phases:

1. **reports**: publishes N new reports (the seed's, varied in ward, category and
   priority, received now) to ``pakn.reports.v1`` at once and waits until N assignments
   are on ``pakn.assignments.v1``;
2. **updates**: publishes one ``accepted`` update per report from its lead to
   ``pakn.agency.updates.v1`` and waits until N ``in_progress`` statuses are out.

For each phase it prints records/s, the CPU milliseconds per record of the routing
process, of the database process (FerretDB) and of Kafka, and the database commands per
record (the service's own ``pakn_db_command_seconds_count``). The database and Kafka are
shared with whatever else runs on the machine: run it on a quiet machine and compare
runs made in the same session. Speed is never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from phananh_contracts import (
    ALL_TOPICS,
    ASSIGNMENTS_TOPIC,
    REPORT_STATUS_TOPIC,
    AgencyUpdate,
    AgencyUpdateEvent,
    Priority,
    ReportReceivedEvent,
)
from phananh_contracts.examples import REPORT_RECEIVED
from phananh_contracts.values import AgencyUpdateKind, Place
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import LOCAL_KAFKA, LOCAL_MONGODB, KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
WARDS = [
    ("03646", "Tô Hiệu"),
    ("03664", "Chiềng An"),
    ("03670", "Chiềng Cơi"),
    ("03679", "Chiềng Sinh"),
]
CATEGORIES = ["urban_order", "environmental_sanitation", "traffic_safety", "security_order"]
TICKS = os.sysconf("SC_CLK_TCK")


def reports(count: int) -> list[ReportReceivedEvent]:
    """``count`` new reports, received now, varied in ward, category and priority."""
    base = REPORT_RECEIVED.data
    made = []
    for number in range(count):
        code, name = WARDS[number % len(WARDS)]
        data = base.model_copy(
            update={
                "report_id": str(uuid.uuid4()),
                "received_at": datetime.now(UTC),
                "category": CATEGORIES[number % len(CATEGORIES)],
                "priority": Priority.URGENT if number % 7 == 0 else Priority.NORMAL,
                "place": Place(ward_code=code, ward_name=name),
            }
        )
        made.append(ReportReceivedEvent.new(data, source="/services/intake"))
    return made


def accepted(report_id: str, lead: str) -> AgencyUpdateEvent:
    data = AgencyUpdate(
        report_id=report_id,
        agency_id=lead,
        kind=AgencyUpdateKind.ACCEPTED,
        updated_at=datetime.now(UTC),
    )
    return AgencyUpdateEvent.new(data, source=f"/agencies/{lead}")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pid_of(match: Callable[[str, str], bool]) -> int | None:
    """The first process whose (comm, cmdline) matches."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if match(comm, cmdline):
                return int(entry.name)
    return None


def db_commands(port: int) -> float:
    """The database commands the service sent so far (all commands, all collections)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pakn_db_command_seconds_count{")
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def routing_process(bootstrap: str, mongodb: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "PHANANH_MONGODB__URL": mongodb,
        "PHANANH_MONGODB__DATABASE": f"bench_routing_{uuid.uuid4().hex[:8]}",
        "PHANANH_HTTP__PORT": str(port),
        "PHANANH_ROUTING_CONFIG": str(ROOT / "config/son-la/routing.yaml"),
        "PHANANH_CITY_CONFIG": str(ROOT / "config/son-la/city.yaml"),
        "PHANANH_RULES_SCOPE": f"bench-{uuid.uuid4().hex[:8]}",
        "PHANANH_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "routing"], env=env, cwd=ROOT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Watcher:
    """Collects the events of one topic published from now on."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.topic = topic

    async def start(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic) or set()
        if not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)

    async def until(self, wanted: set[str], pick: Callable[[dict[str, Any]], str | None]) -> None:
        """Wait until ``pick`` gave every wanted id."""
        while wanted:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    found = pick(json.loads(record.value or b"{}"))
                    if found is not None:
                        wanted.discard(found)

    async def stop(self) -> None:
        await self.consumer.stop()


async def publish(producer: AIOKafkaProducer, records: list[Any]) -> None:
    futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
    await asyncio.gather(*futures)


def _ready(port: int) -> bool:
    return bool(urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200)


async def wait_ready(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if await asyncio.to_thread(_ready, port):
                return
        await asyncio.sleep(0.5)
    raise TimeoutError("routing did not become ready")


def measure(pids: dict[str, int | None], port: int) -> dict[str, float]:
    taken = {name: cpu_s(pid) for name, pid in pids.items() if pid is not None}
    taken["db_commands"] = db_commands(port)
    taken["at"] = time.perf_counter()
    return taken


def phase(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    seconds = after["at"] - before["at"]
    result = {"records": count, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}
    for name in ("routing", "database", "kafka"):
        if name in before:
            result[f"{name}_cpu_ms_per_record"] = round(
                1000 * (after[name] - before[name]) / count, 3
            )
    result["db_commands_per_record"] = round(
        (after["db_commands"] - before["db_commands"]) / count, 3
    )
    return result


async def run(bootstrap: str, mongodb: str, count: int) -> dict[str, Any]:
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), ALL_TOPICS)
    port = free_port()
    made = reports(count + 1)
    warmup, made = made[0], made[1:]
    with routing_process(bootstrap, mongodb, port) as process:
        await wait_ready(port)
        pids = {
            "routing": process.pid,
            "database": pid_of(lambda comm, _: comm.startswith("ferretdb")),
            "kafka": pid_of(lambda comm, cmd: comm == "java" and " kafka.Kafka " in cmd),
        }
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        await producer.start()
        assignments = Watcher(bootstrap, ASSIGNMENTS_TOPIC.name)
        statuses = Watcher(bootstrap, REPORT_STATUS_TOPIC.name)
        await assignments.start()
        await statuses.start()
        try:
            # The consumer group has joined once the warm-up report is assigned.
            await publish(producer, [warmup.to_kafka()])
            await assignments.until({warmup.data.report_id}, lambda e: e["data"]["report_id"])
            leads: dict[str, str] = {}

            def lead_of(event: dict[str, Any]) -> str:
                leads[event["data"]["report_id"]] = event["data"]["lead_agency_id"]
                return str(event["data"]["report_id"])

            before = measure(pids, port)
            await publish(producer, [report.to_kafka() for report in made])
            await assignments.until({r.data.report_id for r in made}, lead_of)
            after = measure(pids, port)
            report_phase = phase(before, after, count)

            updates = [accepted(r.data.report_id, leads[r.data.report_id]) for r in made]

            def in_progress(event: dict[str, Any]) -> str | None:
                data = event["data"]
                return str(data["report_id"]) if data["status"] == "in_progress" else None

            before = measure(pids, port)
            await publish(producer, [update.to_kafka() for update in updates])
            await statuses.until({r.data.report_id for r in made}, in_progress)
            after = measure(pids, port)
            update_phase = phase(before, after, count)
        finally:
            await assignments.stop()
            await statuses.stop()
            await producer.stop()
    return {"reports": report_phase, "updates": update_phase}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("PHANANH_KAFKA__BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    )
    parser.add_argument("--mongodb", default=os.environ.get("PHANANH_MONGODB__URL", LOCAL_MONGODB))
    args = parser.parse_args()
    result = asyncio.run(run(args.bootstrap, args.mongodb, args.reports))
    result["machine"] = {"cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
