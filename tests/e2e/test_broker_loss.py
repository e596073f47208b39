"""Nothing acknowledged is lost when one broker of a three-node Kafka cluster is SIGKILLed
under load.

The platform runs on a local 3-node KRaft cluster started by the project's own stack code
(``PHANANH_LOCAL_KAFKA_BROKERS=3``): every topic has three replicas and
``min.insync.replicas=2``, producers are idempotent with ``acks=all``. Reports arrive
through four channels, open loop; when a third of them were accepted, a random broker is
SIGKILLed and stays dead. Afterwards every report intake accepted is on the audit trail,
every event on the audited topics was recorded exactly once, nothing was dead-lettered,
and verify passes on the two brokers left.

The short form (CI) sends 40 reports; ``PHANANH_CHAOS_REPORTS`` and ``PHANANH_CHAOS_RATE``
make it longer, as for the chaos test.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from phananh_contracts import SERVICES, dead_letter_topic
from pymongo import AsyncMongoClient

from tests.e2e.test_chaos import AUDITED, QUIET_S, RATE, REPORTS, event_ids, load, records_of
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(tmp_path, name="broker-loss", kafka_brokers=3) as running:
        yield running


async def kill_a_broker_when(platform: Platform, accepted: dict[str, Any], log: list[str]) -> None:
    """SIGKILL one of the three brokers once a third of the reports were accepted."""
    while len(accepted) < REPORTS // 3:  # noqa: ASYNC110 -- filled by the load's senders
        await asyncio.sleep(0.1)
    victim = random.choice(platform.stack.kafka_components())
    platform.kill(victim)
    log.append(f"SIGKILL {victim} after {len(accepted)} reports accepted")
    print(f"fault: {log[-1]}", flush=True)


@pytest.mark.timeout(600 + REPORTS / RATE + QUIET_S)
async def test_nothing_acknowledged_is_lost_when_one_of_three_brokers_dies(
    platform: Platform,
) -> None:
    accepted: dict[str, dict[str, Any]] = {}
    log: list[str] = []
    await asyncio.gather(load(platform, accepted), kill_a_broker_when(platform, accepted, log))
    assert log, "no broker was killed"
    alive = [c for c in platform.stack.kafka_components() if platform.stack.pid(c)]
    assert len(alive) == 2, alive

    bootstrap = platform.kafka_bootstrap
    client: AsyncMongoClient[Any] = AsyncMongoClient(platform.stack.database_url, tz_aware=True)
    trail = client["pakn_audit"]["audit_trail"]
    try:
        deadline = time.monotonic() + QUIET_S
        while True:
            on_kafka = await event_ids(bootstrap, AUDITED)
            recorded = [d["event_id"] async for d in trail.find({}, {"event_id": 1})]
            received = {
                d["tracking_code"]
                async for d in trail.find(
                    {"event_type": "vn.pakn.report.received"}, {"tracking_code": 1}
                )
            }
            missing = on_kafka - set(recorded)
            if (not missing and set(accepted) <= received) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        await client.close()
    dead = {s: len(await records_of(bootstrap, dead_letter_topic(s))) for s in SERVICES}
    print(
        "\nbroker loss:",
        json.dumps(
            {
                "reports_accepted": len(accepted),
                "faults": log,
                "events_on_audited_topics": len(on_kafka),
                "trail_records": len(recorded),
                "dead_letters": dead,
            }
        ),
    )

    assert len(accepted) >= REPORTS
    assert set(accepted) <= received, f"accepted but lost: {set(accepted) - received}"
    assert not missing, f"{len(missing)} events never reached the trail"
    assert len(recorded) == len(set(recorded)), "an event was recorded twice"
    assert dead == dict.fromkeys(SERVICES, 0), f"dead letters: {dead}"
    verify = platform.run("phananh-audit", "verify", "--kafka", timeout_s=180)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
