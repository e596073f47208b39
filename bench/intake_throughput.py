"""Intake alone on the real local servers: reports/s, CPU and database commands per report.

    uv run python -m bench.intake_throughput --reports 5000 --phases 5

Starts the intake service as its own process (``python -m intake``) on the local Kafka
and database (a fresh database per run), then publishes N raw app messages to
``pakn.channel.raw.v1`` in ``--phases`` equal phases (each published at once) and waits,
phase by phase, until every report of the phase is on ``pakn.reports.v1``. The messages
are Vietnamese app reports in five wards and categories, with similar texts, so the
near-duplicate state of those wards grows with the run: the worst case for dedupe.

For each phase it prints reports/s, the CPU milliseconds per report of the intake
process, of the database process (FerretDB) and of Kafka, the database commands per
report (the service's own ``pakn_db_command_seconds_count``), and intake's peak RSS by
the end of the phase. Later phases costing what the first did is what "flat as data grows"
means. The database and Kafka are shared with whatever else runs on the machine: run it
on a quiet machine and compare runs made in the same session. Speed is never asserted.

The reports it makes stay on the local stack's topics (its database is its own, its
Kafka is not): start the stack with ``uv run phananh up --infra-only``, or routing,
notify and audit of a running stack will work through them, and will again at the next
``phananh up`` on the same data directory.
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
from intake.domain.tracking import report_id
from phananh_contracts import (
    ALL_TOPICS,
    REPORTS_TOPIC,
    Channel,
    KafkaRecord,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
)
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import new_contact_key
from phananh_platform.settings import LOCAL_KAFKA, LOCAL_MONGODB, KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh",
    "Rác thải ùn ứ bốc mùi ở tổ 5 phường Chiềng Lề, xin cho xe thu gom",
    "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối",
    "Mất nước sinh hoạt 3 ngày nay ở bản Hụm, phường Chiềng An",
    "Xe tải chở đất rơi vãi trên đường qua phường Chiềng Cơi, nguy hiểm cho xe máy",
]
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def raw_event(number: int) -> RawChannelMessageReceivedEvent:
    """One raw app message: one of five places and topics, its own words appended."""
    body = {
        "text": f"{TEXTS[number % len(TEXTS)]} (lần {number})",
        "anonymous": False,
        "consent": True,
        "contact": {"phone": f"09{number:08d}"[:10]},
    }
    return RawChannelMessageReceivedEvent.new(
        RawChannelMessageReceived(
            channel=Channel.APP,
            channel_message_id=f"bench-{uuid.uuid4().hex}",
            received_at=datetime.now(UTC),
            content_type="application/json",
            body=json.dumps(body, ensure_ascii=False),
            body_encoding="utf-8",
            authenticated_as="api-key:app:bench",
        ),
        source="/channels/app",
    )


def report_of(event: RawChannelMessageReceivedEvent) -> str:
    return report_id(event.data.channel.value, event.data.channel_message_id)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE / 2**20


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
def intake_process(bootstrap: str, mongodb: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "PHANANH_MONGODB__URL": mongodb,
        "PHANANH_MONGODB__DATABASE": f"bench_intake_{uuid.uuid4().hex[:8]}",
        "PHANANH_HTTP__PORT": str(port),
        "PHANANH_CITY_CONFIG": str(ROOT / "config/son-la/city.yaml"),
        "PHANANH_TRACKING_SECRET": "bench-tracking-secret-0123456789abcdef",
        "PHANANH_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789abcdef",
        "PHANANH_CONTACT_KEYS": json.dumps([new_contact_key()]),
        "PHANANH_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "intake"], env=env, cwd=ROOT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Watcher:
    """Collects the report ids published on ``pakn.reports.v1`` from now on."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.seen = 0

    async def start(self) -> None:
        await self.consumer.start()
        topic = REPORTS_TOPIC.name
        partitions = self.consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)

    async def until(self, wanted: set[str]) -> None:
        while wanted:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    self.seen += 1
                    wanted.discard(json.loads(record.value or b"{}")["data"]["report_id"])

    async def stop(self) -> None:
        await self.consumer.stop()


async def publish(producer: AIOKafkaProducer, records: list[KafkaRecord]) -> None:
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
    raise TimeoutError("intake did not become ready")


def measure(pids: dict[str, int | None], port: int) -> dict[str, float]:
    taken = {name: cpu_s(pid) for name, pid in pids.items() if pid is not None}
    taken["db_commands"] = db_commands(port)
    taken["at"] = time.perf_counter()
    return taken


def phase(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    seconds = after["at"] - before["at"]
    result = {"reports": count, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}
    for name in ("intake", "database", "kafka"):
        if name in before:
            result[f"{name}_cpu_ms_per_report"] = round(
                1000 * (after[name] - before[name]) / count, 3
            )
    result["db_commands_per_report"] = round(
        (after["db_commands"] - before["db_commands"]) / count, 3
    )
    return result


async def run(bootstrap: str, mongodb: str, count: int, phases: int) -> dict[str, Any]:
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), ALL_TOPICS)
    port = free_port()
    size = count // phases
    results: list[dict[str, float]] = []
    with intake_process(bootstrap, mongodb, port) as process:
        await wait_ready(port)
        pids = {
            "intake": process.pid,
            "database": pid_of(lambda comm, _: comm.startswith("ferretdb")),
            "kafka": pid_of(lambda comm, cmd: comm == "java" and " kafka.Kafka " in cmd),
        }
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        await producer.start()
        reports = Watcher(bootstrap)
        await reports.start()
        try:
            warmup = raw_event(0)  # the consumer group has joined once it is a report
            await publish(producer, [warmup.to_kafka()])
            await reports.until({report_of(warmup)})
            for number in range(phases):
                made = [raw_event(1 + number * size + n) for n in range(size)]
                before = measure(pids, port)
                await publish(producer, [event.to_kafka() for event in made])
                await reports.until({report_of(event) for event in made})
                after = measure(pids, port)
                results.append(phase(before, after, size) | {"rss_mb": round(rss_mb(process.pid))})
        finally:
            await reports.stop()
            await producer.stop()
    whole = sum(r["seconds"] for r in results)
    return {
        "phases": results,
        "reports_per_s": round(size * phases / whole, 1),
        "reports_published": reports.seen - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("PHANANH_KAFKA__BOOTSTRAP_SERVERS", LOCAL_KAFKA)
    )
    parser.add_argument("--mongodb", default=os.environ.get("PHANANH_MONGODB__URL", LOCAL_MONGODB))
    args = parser.parse_args()
    result = asyncio.run(run(args.bootstrap, args.mongodb, args.reports, args.phases))
    result["machine"] = {"cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
