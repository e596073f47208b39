"""The audit service end to end on the real servers: topics in, trail, checkpoints,
verify and the oversight API out.

Events of the golden path (the contract's examples, renamed so each run is its own) are
published on the domain topics; the service runs in this process as ``create_app``
wires it; the test reads the trail through the oversight API, verifies the chains and
signed checkpoints, and tampers with the database like an administrator would.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from audit.app import AUDITED_TOPICS, create_app
from audit.cli.verify import check_trail
from audit.domain.checkpoints import generate_signing_key, load_signing_key, public_key_text
from audit.handlers import Checkpointer
from audit.settings import Settings
from phananh_contracts import ALL_TOPICS, AUDIT_CHECKPOINTS_TOPIC, REPORTS_TOPIC, Event
from phananh_contracts.examples import GOLDEN_PATH
from phananh_platform.kafka import RecordProducer, ensure_topics
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from tests.support.kafka import TopicWatcher, publish_events

pytestmark = pytest.mark.integration

LEADERSHIP = "leadership-key-0123456789abcdef"


def renamed(events: tuple[Event[Any], ...]) -> list[Event[Any]]:
    """The golden path with a fresh report id and event ids (and the same facts)."""
    report_id = str(uuid.uuid4())
    fresh = []
    for event in events:
        dumped = event.model_dump(mode="json")
        dumped["id"] = str(uuid.uuid4())
        data = dumped["data"]
        if "report_id" in data:
            data["report_id"] = report_id
            dumped["subject"] = report_id
            dumped["partitionkey"] = report_id
        fresh.append(type(event).model_validate(dumped))
    return fresh


async def publish(kafka: KafkaSettings, events: list[Event[Any]]) -> None:
    await publish_events(kafka, *events, client_id="it-audit-source")


async def wait_until(check: Any, what: str, timeout_s: float = 240) -> Any:
    # Generous: in a full run the audit group first works through what earlier tests left.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def verify_process(settings: Settings) -> subprocess.CompletedProcess[str]:
    """``phananh-audit verify``, run as an operator would, on this test's database."""
    assert settings.audit_signing_key is not None
    env = {
        **os.environ,
        "PHANANH_MONGODB__URL": settings.mongodb.url.get_secret_value(),
        "PHANANH_MONGODB__DATABASE": settings.mongodb.database,
        "PHANANH_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PHANANH_AUDIT_PUBLIC_KEYS": json.dumps(settings.audit_public_keys),
    }
    executable = shutil.which("phananh-audit")
    assert executable, "the phananh-audit console script is not installed"
    return subprocess.run(
        [executable, "verify"], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
def settings(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings, signing_key: str
) -> Settings:
    return Settings(
        kafka=kafka_settings,
        mongodb=mongo_settings,
        audit_signing_key=SecretStr(signing_key),
        audit_public_keys=[public_key_text(load_signing_key(signing_key).public_key())],
        audit_checkpoint_interval_s=3600,
        oversight_keys={"leadership:thanh-uy": SecretStr(LEADERSHIP)},
        retry_backoff_max_s=1.0,
    )


@pytest.fixture
async def audit(
    settings: Settings, kafka_settings: KafkaSettings
) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(kafka_settings, ALL_TOPICS)
    service = create_app(settings)
    async with service.running():
        transport = httpx.ASGITransport(app=service.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://audit") as http:
            yield http


async def trail_of(http: httpx.AsyncClient, ref: str, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        answer = await http.get(
            f"/oversight/v1/reports/{ref}/trail", headers={"X-Api-Key": LEADERSHIP}
        )
        if answer.status_code != 200:
            return None
        records: list[dict[str, Any]] = answer.json()["records"]
        return records if len(records) >= count else None

    return await wait_until(check, f"{count} trail records of {ref}")  # type: ignore[no-any-return]


async def test_the_golden_path_is_recorded_once_verified_and_counted(
    audit: httpx.AsyncClient,
    settings: Settings,
    kafka_settings: KafkaSettings,
    mongo_client: AsyncMongoClient[Any],
    kafka_bootstrap: str,
) -> None:
    # The raw channel topic carries contacts in clear and is not audited.
    events = [
        e for e in renamed(GOLDEN_PATH) if e.to_kafka().topic in {t.name for t in AUDITED_TOPICS}
    ]
    report = next(e for e in events if e.type == "vn.pakn.report.received")
    await publish(kafka_settings, events)
    await publish(kafka_settings, events[:3])  # redelivered: must write nothing twice

    # By report id: other suites publish the examples' tracking code on the shared broker
    # too, and this group may meet their events first.
    await trail_of(audit, report.data.report_id, len(events))
    await asyncio.sleep(2)  # anything written twice would show up now
    records = await trail_of(audit, report.data.report_id, len(events))
    assert sorted(r["event_id"] for r in records) == sorted(e.id for e in events)
    assert records[0]["event_type"] == "vn.pakn.report.received", "oldest first"
    received = next(r for r in records if r["event_type"] == "vn.pakn.report.received")
    assert "contact_ciphertext" not in str(received["payload"])
    assert received["actor"]["kind"] == "citizen"

    # A signed checkpoint is published on Kafka (the copy kept elsewhere) and stored.
    assert settings.audit_signing_key is not None
    async with TopicWatcher(kafka_bootstrap, AUDIT_CHECKPOINTS_TOPIC.name) as checkpoints:
        from audit.adapters.trail_store import TrailStore

        database = mongo_client[settings.mongodb.database]
        producer = RecordProducer(kafka_settings, client_id="it-audit-checkpoint")
        await producer.start()
        try:
            made = await Checkpointer(
                TrailStore(database),
                producer,
                load_signing_key(settings.audit_signing_key.get_secret_value()),
                writer_id="it",
            )()
        finally:
            await producer.stop()
        assert made is not None
        await checkpoints.wait_for(lambda e: e.data.checkpoint_id == made.checkpoint_id)

    # Verified against the checkpoints stored beside the trail. (Against the Kafka copy,
    # see test_audit_trail_store.py: this broker also carries other tests' trails.)
    out = io.StringIO()
    assert await check_trail(settings, out=out) == 0, out.getvalue()
    command = await asyncio.to_thread(verify_process, settings)
    assert command.returncode == 0, command.stdout + command.stderr

    # The ward's figures count the report (received in March 2023, Chiềng Sinh).
    summary = await audit.get(
        "/oversight/v1/wards/03679/summary?from=2023-03-01&to=2023-03-31",
        headers={"X-Api-Key": LEADERSHIP},
    )
    assert summary.status_code == 200, summary.text
    assert "Chiềng Sinh" in summary.json()["sentence_vi"]

    # An administrator edits a record in the database: verify names it.
    trail = mongo_client[settings.mongodb.database]["audit_trail"]
    target = await trail.find_one({"event_id": received["event_id"]})
    assert target is not None
    await trail.update_one(
        {"_id": target["_id"]}, {"$set": {"payload.text": "Không có gì xảy ra."}}
    )
    out = io.StringIO()
    assert await check_trail(settings, out=out) == 1
    assert target["chain_id"] in out.getvalue()
    command = await asyncio.to_thread(verify_process, settings)
    assert command.returncode == 1
    assert target["chain_id"] in command.stdout, "the operator is told which record broke"


async def test_the_oversight_api_refuses_requests_without_the_right_role(
    audit: httpx.AsyncClient,
) -> None:
    no_key = await audit.get("/oversight/v1/figures?from=2023-03-01&to=2023-03-31")
    wrong = await audit.get(
        "/oversight/v1/figures?from=2023-03-01&to=2023-03-31",
        headers={"X-Api-Key": "not-a-key-of-any-role-at-all"},
    )
    assert (no_key.status_code, wrong.status_code) == (401, 401)
    ok = await audit.get(
        "/oversight/v1/figures?from=2023-03-01&to=2023-03-31&format=csv",
        headers={"X-Api-Key": LEADERSHIP},
    )
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/csv")


async def test_an_invalid_event_is_recorded_as_such_and_kept_in_the_dead_letters(
    audit: httpx.AsyncClient,
    settings: Settings,
    kafka_settings: KafkaSettings,
    mongo_client: AsyncMongoClient[Any],
) -> None:
    claimed_id = uuid.uuid4().hex
    garbage = b'{"specversion": "1.0", "id": "' + claimed_id.encode() + b'"}'
    producer = RecordProducer(kafka_settings, client_id="it-audit-garbage")
    await producer.start()
    try:
        await producer.send(REPORTS_TOPIC.name, key=b"k", value=garbage, headers=[])
    finally:
        await producer.stop()
    trail = mongo_client[settings.mongodb.database]["audit_trail"]

    async def recorded() -> dict[str, Any] | None:
        found: dict[str, Any] | None = await trail.find_one(
            {"valid": False, "payload.claimed.id": claimed_id}
        )
        return found

    record = await wait_until(recorded, "the invalid event's record")
    assert record["event_type"] == "invalid"
    assert record["invalid_reason"]
    assert record["payload"]["dead_letter"]["topic"] == "pakn.dlq.audit.v1"


async def test_a_rule_set_put_in_force_and_a_refused_update_reach_the_trail(
    audit: httpx.AsyncClient,
    settings: Settings,
    kafka_settings: KafkaSettings,
    mongo_client: AsyncMongoClient[Any],
) -> None:
    from audit.adapters.trail_store import TrailStore
    from phananh_contracts.examples import RULESET_PUBLISHED, UPDATE_REFUSED

    rules, refused = renamed((RULESET_PUBLISHED, UPDATE_REFUSED))
    await publish(kafka_settings, [rules, refused])
    trail = TrailStore(mongo_client[settings.mongodb.database])

    async def both() -> bool:
        return await trail.is_recorded(rules.id) and await trail.is_recorded(refused.id)

    await wait_until(both, "the rule set and the refusal on the trail")
    (record,) = [r async for r in trail.trail.find({"event_id": rules.id})]
    assert record["actor"] == {"kind": "operator", "id": "operator-ioc"}
    assert record["payload"]["ruleset_version"] == "2023.03.1"
    assert "triage_agency_id" in record["payload"]["document"]
    (refusal,) = await trail_of(audit, refused.data.report_id, 1)
    assert refusal["payload"]["reason"] == "not_holder"
