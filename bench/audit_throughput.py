"""Audit alone on the real local servers: records/s, CPU and database commands per record.

    uv run python -m bench.audit_throughput --reports 2000

Starts the audit service as its own process (``python -m audit``, a fresh database per
run, a signing key, checkpoints every 5 minutes as deployed) on the local Kafka and
database, in a consumer group of its own that starts at the end of every audited topic
(what others published before is not read). After one warm-up report it publishes, for
each of N reports, the four events of its first minutes (received on ``pakn.reports.v1``,
assigned on ``pakn.assignments.v1``, status ``assigned`` on ``pakn.report.status.v1``,
acknowledgement on ``pakn.notifications.v1``): 4 N records at once, and waits until the
group has committed every one of them (a record is committed after its trail record and
its facts are written).

It prints records/s, the CPU milliseconds per record of the audit process, of the
database process (FerretDB) and of Kafka, the database commands per record (the service's
own ``pakn_db_command_seconds_count``) and audit's RSS at the end. The records counted are
the offsets the group committed during the run (records others publish meanwhile count
too). The database and Kafka are shared with whatever else runs on the machine: run it on
a quiet machine and compare runs made in the same session. Speed is never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from audit.domain.checkpoints import generate_signing_key
from audit.handlers import AUDITED_TOPICS
from phananh_contracts import (
    ALL_TOPICS,
    NotificationSentEvent,
    ReportAssignedEvent,
    ReportReceivedEvent,
    ReportStatusChangedEvent,
)
from phananh_contracts.examples import (
    ACKNOWLEDGEMENT_SENT,
    REPORT_ASSIGNED,
    REPORT_RECEIVED,
    STATUS_ASSIGNED,
)
from phananh_platform.kafka import ensure_topics
from phananh_platform.settings import LOCAL_KAFKA, LOCAL_MONGODB, KafkaSettings

from bench.intake_throughput import (
    free_port,
    measure,
    pid_of,
    publish,
    rss_mb,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[1]
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""The characters of a tracking code's last part (Crockford's base 32)."""


def events_of_report() -> list[Any]:
    """The four events of one new report's first minutes, as the services publish them."""
    report_id = str(uuid.uuid4())
    code = "SL-2303-" + "".join(random.choices(CODE_ALPHABET, k=6))
    now = datetime.now(UTC)
    received = ReportReceivedEvent.new(
        REPORT_RECEIVED.data.model_copy(
            update={"report_id": report_id, "tracking_code": code, "received_at": now}
        ),
        source="/services/intake",
    )
    assigned = ReportAssignedEvent.new(
        REPORT_ASSIGNED.data.model_copy(
            update={
                "report_id": report_id,
                "tracking_code": code,
                "assigned_at": now,
                "deadline": now + timedelta(days=5),
            }
        ),
        source="/services/routing",
    )
    status = ReportStatusChangedEvent.new(
        STATUS_ASSIGNED.data.model_copy(
            update={"report_id": report_id, "tracking_code": code, "changed_at": now}
        ),
        source="/services/routing",
    )
    told = NotificationSentEvent.new(
        ACKNOWLEDGEMENT_SENT.data.model_copy(
            update={
                "report_id": report_id,
                "notification_id": f"{report_id}:received",
                "trigger_event_id": received.id,
                "at": now,
            }
        ),
        source="/services/notify",
    )
    return [event.to_kafka() for event in (received, assigned, status, told)]


@contextlib.contextmanager
def audit_process(
    bootstrap: str, mongodb: str, port: int, group_id: str
) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "PHANANH_MONGODB__URL": mongodb,
        "PHANANH_MONGODB__DATABASE": f"bench_audit_{uuid.uuid4().hex[:8]}",
        "PHANANH_HTTP__PORT": str(port),
        "PHANANH_AUDIT_SIGNING_KEY": generate_signing_key(),
        "PHANANH_CITY_CONFIG": str(ROOT / "config/son-la/city.yaml"),
        "PHANANH_ROUTING_CONFIG": str(ROOT / "config/son-la/routing.yaml"),
        "PHANANH_AUDIT_GROUP_ID": group_id,
        "PHANANH_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "audit"], env=env, cwd=ROOT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


class GroupProgress:
    """What audit's consumer group committed, and the end of every audited partition."""

    def __init__(self, bootstrap: str, group_id: str) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.partitions: list[TopicPartition] = []
        self._said = time.monotonic()

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()
        for described in await self.admin.describe_topics([t.name for t in AUDITED_TOPICS]):
            for partition in described["partitions"]:
                self.partitions.append(TopicPartition(described["topic"], partition["partition"]))
        if len({tp.topic for tp in self.partitions}) != len(AUDITED_TOPICS):
            raise RuntimeError(f"not every audited topic exists: {self.partitions}")

    async def committed(self) -> dict[TopicPartition, int]:
        offsets = await self.admin.list_consumer_group_offsets(self.group_id)
        return {tp: offsets[tp].offset if tp in offsets else 0 for tp in self.partitions}

    async def skip_backlog(self) -> None:
        """Commit the group at the end of every partition: it starts with what comes next."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(self.partitions)
            ends = await self.ends()
            await consumer.commit({tp: end for tp, end in ends.items()})
        finally:
            await consumer.stop()

    async def ends(self) -> dict[TopicPartition, int]:
        return dict(await self.consumer.end_offsets(self.partitions))

    async def until(self, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Wait until the group committed up to ``ends`` on every partition."""
        while True:
            committed = await self.committed()
            if all(committed[tp] >= end for tp, end in ends.items()):
                return committed
            behind = sum(max(0, end - committed[tp]) for tp, end in ends.items())
            if time.monotonic() - self._said > 5:
                print(f"audit has {behind} records to go", file=sys.stderr, flush=True)
                self._said = time.monotonic()
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()


async def run(bootstrap: str, mongodb: str, count: int) -> dict[str, Any]:
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), ALL_TOPICS)
    port = free_port()
    records = [record for _ in range(count) for record in events_of_report()]
    group_id = f"bench-audit-{uuid.uuid4().hex[:8]}"
    progress = GroupProgress(bootstrap, group_id)
    await progress.start()
    await progress.skip_backlog()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        with audit_process(bootstrap, mongodb, port, group_id) as process:
            await wait_ready(port)
            pids = {
                "audit": process.pid,
                "database": pid_of(lambda comm, _: comm.startswith("ferretdb")),
                "kafka": pid_of(lambda comm, cmd: comm == "java" and " kafka.Kafka " in cmd),
            }
            # Warm-up: audit has joined and read its group's backlog.
            await publish(producer, events_of_report())
            await progress.until(await progress.ends())
            started = await progress.committed()
            before = measure(pids, port)
            await publish(producer, records)
            done = await progress.until(await progress.ends())
            after = measure(pids, port)
            rss = round(rss_mb(process.pid), 1)
    finally:
        await producer.stop()
        await progress.stop()
    handled = sum(done[tp] - started[tp] for tp in done)
    seconds = after["at"] - before["at"]
    result: dict[str, Any] = {
        "reports": count,
        "records": handled,
        "seconds": round(seconds, 2),
        "records_per_s": round(handled / seconds, 1),
    }
    for name in ("audit", "database", "kafka"):
        if name in before:
            result[f"{name}_cpu_ms_per_record"] = round(
                1000 * (after[name] - before[name]) / handled, 3
            )
    result["db_commands_per_record"] = round(
        (after["db_commands"] - before["db_commands"]) / handled, 3
    )
    result["audit_rss_mb"] = rss
    return result


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
