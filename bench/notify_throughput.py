"""Notify alone on the real local servers: notifications/s, CPU and database commands each.

    uv run python -m bench.notify_throughput --reports 2000

Starts the local providers' stand-in (``phananh_cli.outbox``: every HTTP provider answers
"delivered") and the notify service as their own processes (``python -m notify``) on the
local Kafka and database (a fresh database per run), then, in two phases:

1. **receipts**: publishes N new reports, each from an app citizen with a sealed contact,
   on ``pakn.reports.v1`` at once and waits until N ``NotificationSent`` are on
   ``pakn.notifications.v1``;
2. **assignments**: publishes one assignment per report on ``pakn.assignments.v1`` and
   waits until N more ``NotificationSent`` are out.

For each phase it prints notifications/s, the CPU milliseconds per notification of the
notify process, of the database process (FerretDB), of Kafka and of the providers'
stand-in, and the database commands per notification (the service's own
``pakn_db_command_seconds_count``). The database and Kafka are shared with whatever else
runs on the machine: compare runs made in the same session. Speed is never asserted.
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
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from phananh_contracts import (
    ALL_TOPICS,
    NOTIFICATIONS_TOPIC,
    ReportAssignedEvent,
    Reporter,
    ReportReceivedEvent,
)
from phananh_contracts.examples import REPORT_ASSIGNED, REPORT_RECEIVED
from phananh_platform.kafka import ensure_topics
from phananh_platform.privacy import ContactSealer, SealedContact, new_contact_key
from phananh_platform.settings import LOCAL_KAFKA, LOCAL_MONGODB, KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
HTTP_PROVIDERS = ("app-push", "zalo-oa", "zalo-zns", "sms", "facebook")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def db_commands(port: int) -> float:
    """The database commands notify sent so far (all commands, all collections)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pakn_db_command_seconds_count{")
    )


def notify_config(directory: Path, outbox_port: int) -> Path:
    """The reference configuration with every HTTP provider at the local stand-in."""
    reference = ROOT / "config/son-la/notify.yaml"
    document = yaml.safe_load(reference.read_text(encoding="utf-8"))
    document["templates_dir"] = str(reference.parent / document["templates_dir"])
    for provider in document["providers"]:
        if provider["id"] in HTTP_PROVIDERS:
            provider["url"] = f"http://127.0.0.1:{outbox_port}/{provider['id']}"
    path = directory / "notify.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    # the services' logs go to stderr: stdout carries the JSON result alone
    started = subprocess.Popen(argv, env=os.environ | env, cwd=ROOT, stdout=sys.stderr)
    try:
        yield started
    finally:
        started.send_signal(signal.SIGTERM)
        try:
            started.wait(timeout=20)
        except subprocess.TimeoutExpired:
            started.kill()


async def wait_ok(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if (await asyncio.to_thread(urllib.request.urlopen, url, timeout=2)).status == 200:
                return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} did not answer")


def reports(count: int, sealer: ContactSealer) -> list[ReportReceivedEvent]:
    """``count`` new reports, each from its own app citizen (phone), received now."""
    made = []
    for number in range(count):
        contact = SealedContact(channel="app", phone=f"+8491{number:07d}")
        reporter = Reporter(
            anonymous=False,
            pseudonym=f"ctz-{uuid.uuid4().hex[:24]}",
            contact_ciphertext=sealer.seal(contact),
        )
        data = REPORT_RECEIVED.data.model_copy(
            update={
                "report_id": str(uuid.uuid4()),
                "received_at": datetime.now(UTC),
                "reporter": reporter,
                "duplicate_of": None,
            }
        )
        made.append(ReportReceivedEvent.new(data, source="/services/intake"))
    return made


def assignment(of: ReportReceivedEvent) -> ReportAssignedEvent:
    data = REPORT_ASSIGNED.data.model_copy(
        update={"report_id": of.data.report_id, "tracking_code": of.data.tracking_code}
    )
    return ReportAssignedEvent.new(data, source="/services/routing")


class Watcher:
    """Collects the notifications published from now on."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.topic = NOTIFICATIONS_TOPIC.name

    async def start(self) -> None:
        await self.consumer.start()
        partitions: set[int] = set()
        while not partitions:
            await self.consumer.topics()  # refreshes the metadata
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)

    async def until(self, wanted: set[str], template: str) -> dict[str, int]:
        """Wait until every wanted report has a notification of ``template``; by type."""
        kinds: dict[str, int] = {}
        while wanted:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    if event["data"]["template_id"] != template:
                        continue
                    kinds[event["type"]] = kinds.get(event["type"], 0) + 1
                    wanted.discard(event["data"]["report_id"])
        return kinds

    async def stop(self) -> None:
        await self.consumer.stop()


async def publish(producer: AIOKafkaProducer, records: list[Any]) -> None:
    futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
    await asyncio.gather(*futures)


def measure(pids: dict[str, int | None], port: int) -> dict[str, float]:
    taken = {name: cpu_s(pid) for name, pid in pids.items() if pid is not None}
    taken["db_commands"] = db_commands(port)
    taken["at"] = time.perf_counter()
    return taken


def phase(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    seconds = after["at"] - before["at"]
    result = {"records": count, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}
    for name in ("notify", "database", "kafka", "providers"):
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
    key = new_contact_key()
    sealer = ContactSealer([key])
    port, outbox_port = free_port(), free_port()
    made = reports(count + 1, sealer)
    warmup, made = made[0], made[1:]
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as scratch:
        directory = Path(scratch)
        outbox = [sys.executable, "-m", "phananh_cli.outbox", "--port", str(outbox_port)]
        outbox += ["--file", str(directory / "outbox.jsonl")]
        env = {
            "PHANANH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "PHANANH_MONGODB__URL": mongodb,
            "PHANANH_MONGODB__DATABASE": f"bench_notify_{uuid.uuid4().hex[:8]}",
            "PHANANH_HTTP__PORT": str(port),
            "PHANANH_NOTIFY_CONFIG": str(notify_config(directory, outbox_port)),
            "PHANANH_CONTACT_KEYS": json.dumps([key]),
            "PHANANH_NOTIFY_PROVIDER_SECRETS": json.dumps(
                {provider: f"bench-{provider}" for provider in HTTP_PROVIDERS}
            ),
            "PHANANH_LOG_LEVEL": "WARNING",
        }
        with (
            process(outbox, {}) as providers,
            process([sys.executable, "-m", "notify"], env) as notify,
        ):
            await wait_ok(f"http://127.0.0.1:{outbox_port}/healthz")
            await wait_ok(f"http://127.0.0.1:{port}/readyz")
            pids = {
                "notify": notify.pid,
                "providers": providers.pid,
                "database": pid_of(lambda comm, _: comm.startswith("ferretdb")),
                "kafka": pid_of(lambda comm, cmd: comm == "java" and cmd.endswith(" kafka")),
            }
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
            )
            await producer.start()
            watcher = Watcher(bootstrap)
            await watcher.start()
            try:
                # The consumer groups have joined once the warm-up report is told.
                await publish(producer, [warmup.to_kafka()])
                await watcher.until({warmup.data.report_id}, "report-received")

                before = measure(pids, port)
                await publish(producer, [report.to_kafka() for report in made])
                receipts = await watcher.until({r.data.report_id for r in made}, "report-received")
                after = measure(pids, port)
                receipt_phase = phase(before, after, count) | {"outcomes": receipts}

                before = measure(pids, port)
                await publish(producer, [assignment(report).to_kafka() for report in made])
                assigned = await watcher.until({r.data.report_id for r in made}, "report-assigned")
                after = measure(pids, port)
                assignment_phase = phase(before, after, count) | {"outcomes": assigned}
                peak = rss_mb(notify.pid)
            finally:
                await watcher.stop()
                await producer.stop()
    return {"receipts": receipt_phase, "assignments": assignment_phase, "notify_peak_rss_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
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
