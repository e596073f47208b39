"""The trail on the real MongoDB-wire database (FerretDB locally, MongoDB in CI or prod).

Redelivery writes nothing twice, two writers on one chain never fork it, times survive
the database's millisecond precision, and tampering done directly in the database (as an
attacker with database access would: update_one, delete_one, insert_one, even dropping
an index) is found by ``verify`` reading the database; a consistent rewrite with the
stored checkpoints deleted is found against the copy published on Kafka.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from audit.adapters.trail_store import TrailStore
from audit.cli.verify import check_trail
from audit.domain.chain import document_hash
from audit.domain.checkpoints import (
    SignedCheckpoint,
    public_key_text,
)
from audit.domain.facts import FoldedEvent
from audit.domain.records import GENESIS_HASH
from audit.domain.verify import BreakKind
from audit.handlers import Checkpointer, Consumed, TrailWriter
from phananh_contracts import (
    AUDIT_CHECKPOINTS_TOPIC,
    REPORTS_TOPIC,
    AuditCheckpointEvent,
    decode_event,
)
from phananh_contracts import examples as ex
from phananh_platform.delivery import DeliveryGuard, DeliveryMetrics
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings, MongoSettings
from phananh_platform.subscribers import BatchDelivery, Undecodable
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from tests.support.delivery import MemorySink
from tests.support.trail import (
    DEADLINES,
    SIGNING_KEY,
    SIGNING_TEXT,
    T0,
    UPDATES,
    Published,
    Raw,
    Seen,
    ToTopic,
    VerifyConfig,
    consumed,
    deadline_raws,
    deadline_records,
    decoded,
    one,
    populate,
    raw,
    renamed,
    ticking,
    verify,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(database: AsyncDatabase[Any]) -> TrailStore:
    trail = TrailStore(database)
    await trail.ensure_indexes()
    return trail


async def stored(database: AsyncDatabase[Any], chain_id: str) -> list[dict[str, Any]]:
    cursor = database["audit_trail"].find({"chain_id": chain_id}, sort=[("sequence", 1)])
    return [document async for document in cursor]


# --------------------------------------------------------------------- writing once


async def test_redelivery_writes_nothing_twice(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    seen = Seen()
    writer = TrailWriter(store, seen, clock=ticking())
    record = raw(ex.REPORT_RECEIVED, offset=5)

    assert await one(writer, decoded(record)) is True
    assert await one(writer, decoded(record)) is False  # redelivered after a crash
    # the same event published again
    assert await one(writer, decoded(replace(record, offset=9))) is False

    documents = await stored(database, "pakn.reports.v1:0")
    assert [(d["sequence"], d["event_id"]) for d in documents] == [(1, ex.REPORT_RECEIVED.id)]
    # The read model hears of it every time (it is idempotent), with the sanitized data.
    assert [event_type for event_type, _, _ in seen.events] == [ex.REPORT_RECEIVED.type] * 3
    assert "contact_ciphertext" not in str(seen.events[0][1])
    assert seen.events[0][2] == ex.REPORT_RECEIVED.time
    assert (await verify(store)).intact


def audit_delivery(writer: TrailWriter, sink: MemorySink) -> BatchDelivery:
    """Audit's subscriber as the platform runs it: undecodable records kept in place, then
    dead-lettered to audit's dead-letter topic."""
    guard = DeliveryGuard(
        service="audit",
        sink=sink,
        metrics=DeliveryMetrics(CollectorRegistry()),
        max_unexpected_attempts=3,
        backoff_cap_s=1.0,
        sleep=lambda seconds: asyncio.sleep(0),
    )
    return BatchDelivery(guard, writer.record, keep_undecodable=True)


async def test_an_invalid_event_is_dead_lettered_and_recorded_once_never_raised(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    seen, sink = Seen(), MemorySink()
    writer = TrailWriter(store, seen, clock=ticking())
    delivery = audit_delivery(writer, sink)
    value = (
        b'{"specversion":"1.0","id":"e-9","type":"vn.pakn.report.received","phone":"0912345678"}'
    )
    bad = Raw(
        topic=REPORTS_TOPIC.name,
        partition=0,
        offset=6,
        key=b"r-9",
        value=value,
        headers=(("content-type", b"application/json"),),
        timestamp=int(T0.timestamp() * 1000),
    )
    tombstone = replace(bad, offset=7, value=None)

    await delivery([bad])
    await delivery([bad])  # redelivered: recorded once (dead-lettered per delivery)
    await delivery([tombstone])

    assert [(r["topic"], r["key"], r["value"]) for r in sink.records] == [
        ("pakn.dlq.audit.v1", b"r-9", value),
        ("pakn.dlq.audit.v1", b"r-9", value),
        ("pakn.dlq.audit.v1", b"r-9", None),
    ]
    names = dict(sink.records[0]["headers"])
    assert names["content-type"] == b"application/json"
    assert names["x-dlq-source-offset"] == b"6"
    assert names["x-dlq-error-class"] == b"ContractViolation"
    assert names["x-dlq-reason"]
    documents = await stored(database, "pakn.reports.v1:0")
    first, second = documents
    assert (first["event_id"], first["event_type"], first["valid"]) == (
        "invalid:pakn.reports.v1:0:6",
        "invalid",
        False,
    )
    assert first["invalid_reason"] == names["x-dlq-reason"].decode()
    assert first["occurred_at"] == T0.replace(microsecond=123000)  # the Kafka timestamp
    assert first["payload"]["raw_size"] == len(value)
    assert first["payload"]["dead_letter"] == {
        "topic": "pakn.dlq.audit.v1",
        "partition": None,
        "offset": None,
    }
    assert first["payload"]["claimed"]["id"] == "e-9"
    assert "0912345678" not in str(first)
    assert second["invalid_reason"] == "the record has no value"
    assert second["payload"]["raw_present"] is False
    assert seen.events == []
    assert (await verify(store)).intact


async def test_times_survive_the_databases_millisecond_precision(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    event = renamed(ex.STATUS_ASSIGNED).model_copy(update={"time": T0})
    writer = TrailWriter(store, Seen(), clock=lambda: T0 + timedelta(microseconds=999))
    await one(writer, consumed(event))
    (document,) = await stored(database, "pakn.report.status.v1:0")
    assert document["occurred_at"] == T0.replace(microsecond=123000)
    assert document["recorded_at"] == T0.replace(microsecond=124000)
    assert document_hash(document) == document["hash"]
    assert (await verify(store)).intact


async def test_every_kind_of_event_hashes_the_same_after_the_round_trip(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    writer = TrailWriter(store, Seen(), clock=ticking())
    for offset, event in enumerate(ex.ALL_EXAMPLES):
        assert await one(writer, consumed(event, offset=offset)) is True
    documents = [document async for document in database["audit_trail"].find({})]
    assert len(documents) == len(ex.ALL_EXAMPLES)
    assert all(document_hash(document) == document["hash"] for document in documents)
    assert all(document["valid"] for document in documents)
    assert (await verify(store)).intact


async def test_a_batch_is_recorded_in_order_with_its_invalid_records_at_their_place(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    seen, sink = Seen(), MemorySink()
    writer = TrailWriter(store, seen, clock=ticking())
    delivery = audit_delivery(writer, sink)
    records = deadline_raws(7)
    records[3] = replace(records[3], value=b"not an event")  # poison in the middle
    records.append(raw(ex.AGENCY_ACCEPTED, partition=1))  # another chain

    await delivery(records)
    documents = await stored(database, DEADLINES)
    assert [(d["sequence"], d["source_offset"], d["valid"]) for d in documents] == [
        (n + 1, n, n != 3) for n in range(7)
    ]
    assert [d["_id"] for d in documents] == [f"{DEADLINES}#{n:012d}" for n in range(1, 8)]
    assert len(await stored(database, UPDATES)) == 1
    assert [dead["value"] for dead in sink.records] == [b"not an event"]
    assert len(seen.events) == 7  # every valid event reached the read model, in order
    assert [e[0] for e in seen.events][:3] == [
        ex.DEADLINE_WARNING.type,
        ex.DEADLINE_BREACHED.type,
        ex.REPORT_ESCALATED.type,
    ]

    # Redelivered whole (a crash before the commit), with one more record at the end.
    more = [decoded(item) for item in [*records, *deadline_raws(1, first_offset=7)]]
    assert await writer.write(more) == [False] * 8 + [True]
    assert [d["sequence"] for d in await stored(database, DEADLINES)] == list(range(1, 9))
    assert len(await stored(database, UPDATES)) == 1
    assert (await verify(store)).intact


async def test_a_database_failure_mid_batch_loses_nothing_and_writes_nothing_twice(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    """The read model's database goes away after the trail was written: the batch is
    handled again whole (the platform's transient path) and every record is there once."""

    class FailingOnce(Seen):
        failed = False

        async def apply_events(self, events: Sequence[FoldedEvent]) -> None:
            if not self.failed:
                self.failed = True
                raise AutoReconnect("connection closed")
            await super().apply_events(events)

    seen = FailingOnce()
    writer = TrailWriter(store, seen, clock=ticking())
    batch = [*deadline_records(5), consumed(ex.AGENCY_ACCEPTED, partition=1)]
    with pytest.raises(AutoReconnect):
        await writer.record(batch)
    await writer.record(batch)  # the same batch, fetched again

    assert [d["sequence"] for d in await stored(database, DEADLINES)] == [1, 2, 3, 4, 5]
    assert len(await stored(database, UPDATES)) == 1
    assert len(seen.events) == 6
    assert (await verify(store)).intact


async def test_a_large_redelivered_batch_with_an_event_recorded_before_loses_nothing(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    """Hundreds of records of one chain in one batch, one of them recorded before (by
    another instance, before a rebalance): every event ends up on the chain once, in an
    unbroken chain. (FerretDB goes on inserting after a refusal beyond its first 100
    documents even when asked to stop, and counts those as inserted.)"""
    records = deadline_records(300)
    writer = TrailWriter(store, Seen(), clock=ticking())
    assert await one(writer, records[150]) is True

    written = await TrailWriter(TrailStore(database), Seen(), clock=ticking()).write(records)

    assert written == [n != 150 for n in range(300)]
    documents = await stored(database, DEADLINES)
    assert [d["sequence"] for d in documents] == list(range(1, 301))
    assert sorted(d["event_id"] for d in documents) == sorted(
        item.event.id for item in records if not isinstance(item, Undecodable)
    )
    assert (await verify(store)).intact


# ------------------------------------------------------------------ two writers


async def test_two_writers_on_one_chain_never_fork_it(
    store: TrailStore, database: AsyncDatabase[Any], mongodb_url: str
) -> None:
    records = deadline_records(60)
    other_client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        other = TrailStore(other_client[database.name])
        # During a rebalance both instances handle the partition; they overlap on 20..39.
        first = TrailWriter(store, Seen(), clock=ticking())
        second = TrailWriter(other, Seen(), clock=ticking())

        async def run(writer: TrailWriter, batch: list[Consumed]) -> list[bool]:
            return [await one(writer, record) for record in batch]

        wrote_first, wrote_second = await asyncio.gather(
            run(first, records[:40]), run(second, records[20:])
        )
    finally:
        await other_client.close()
    assert sum(wrote_first) + sum(wrote_second) == 60
    documents = await stored(database, DEADLINES)
    assert [d["sequence"] for d in documents] == list(range(1, 61))
    assert len({d["event_id"] for d in documents}) == 60
    assert (await verify(store)).intact


async def test_two_writers_appending_batches_on_one_chain_never_fork_it(
    store: TrailStore, database: AsyncDatabase[Any], mongodb_url: str
) -> None:
    """Two instances handle the same partitions during a rebalance, a batch at a time, and
    overlap on half of the records: every event is on the chain once, in one chain."""
    records = [
        *deadline_records(60),
        *(consumed(renamed(ex.AGENCY_ACCEPTED), partition=1, offset=n) for n in range(30)),
    ]
    other_client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        first = TrailWriter(store, Seen(), clock=ticking())
        second = TrailWriter(TrailStore(other_client[database.name]), Seen(), clock=ticking())

        async def run(writer: TrailWriter, batch: list[Consumed]) -> list[bool]:
            written: list[bool] = []
            for start in range(0, len(batch), 15):
                written += await writer.write(batch[start : start + 15])
            return written

        wrote_first, wrote_second = await asyncio.gather(
            run(first, records[:60]), run(second, records[30:])
        )
    finally:
        await other_client.close()
    assert sum(wrote_first) + sum(wrote_second) == 90
    documents = await stored(database, DEADLINES)
    assert [d["sequence"] for d in documents] == list(range(1, 61))
    assert len({d["event_id"] for d in documents}) == 60
    assert [d["sequence"] for d in await stored(database, UPDATES)] == list(range(1, 31))
    assert (await verify(store)).intact


async def test_heads_see_what_another_instance_appended(
    store: TrailStore, database: AsyncDatabase[Any], mongodb_url: str
) -> None:
    """The checkpointer's heads follow a chain past another writer's records (by _id),
    and list the chains another writer started (audit_chains), without reading the trail."""
    records = deadline_records(5)
    writer = TrailWriter(store, Seen(), clock=ticking())
    for record in records[:3]:
        await one(writer, record)
    assert [(h.chain_id, h.sequence) for h in await store.heads()] == [(DEADLINES, 3)]

    other_client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        other = TrailWriter(TrailStore(other_client[database.name]), Seen(), clock=ticking())
        for record in records[3:]:
            await one(other, record)
        await one(other, consumed(ex.AGENCY_ACCEPTED, partition=1))
    finally:
        await other_client.close()

    documents = await stored(database, DEADLINES)
    assert [d["_id"] for d in documents] == [f"{DEADLINES}#{n:012d}" for n in range(1, 6)]
    heads = await store.heads()
    assert [(h.chain_id, h.sequence, h.record_hash) for h in heads] == [
        (UPDATES, 1, (await stored(database, UPDATES))[0]["hash"]),
        (DEADLINES, 5, documents[-1]["hash"]),
    ]


async def test_a_chain_written_before_ids_named_places_is_continued(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    """Records stored with server ObjectIds (older trails) are still found and linked."""
    writer = TrailWriter(store, Seen(), clock=ticking())
    records = deadline_records(4)
    for record in records[:2]:
        await one(writer, record)
    trail = database["audit_trail"]
    for document in await stored(database, DEADLINES):  # as an older version stored them
        await trail.delete_one({"_id": document["_id"]})
        await trail.insert_one({key: value for key, value in document.items() if key != "_id"})

    await database["audit_chains"].drop()  # nor did an older version list the chains
    later = TrailStore(database)  # a restarted instance: knows no head
    assert [(h.chain_id, h.sequence) for h in await later.heads()] == [(DEADLINES, 2)]
    listed = {d["_id"] async for d in database["audit_chains"].find({})}
    assert DEADLINES in listed  # listed once, from the trail
    resumed = TrailWriter(later, Seen(), clock=ticking())
    for record in records[2:]:
        assert await one(resumed, record) is True
    assert [d["sequence"] for d in await stored(database, DEADLINES)] == [1, 2, 3, 4]
    assert (await verify(later)).intact


# ----------------------------------------------------------------------- checkpoints


async def test_the_checkpointer_signs_publishes_and_stores_the_heads(store: TrailStore) -> None:
    published = Published()
    checkpointer = Checkpointer(store, published, SIGNING_KEY, "audit-1", clock=ticking())
    assert await checkpointer() is None  # an empty trail has nothing to sign
    writer = TrailWriter(store, Seen(), clock=ticking())
    for record in deadline_records(3):
        await one(writer, record)
    await one(writer, consumed(ex.AGENCY_ACCEPTED, partition=1))

    signed = await checkpointer()
    assert signed is not None
    assert [(h.chain_id, h.sequence) for h in signed.heads] == [(UPDATES, 1), (DEADLINES, 3)]
    assert await checkpointer() is None  # nothing moved since
    (sent,) = published.records
    assert (sent.topic, sent.key) == (AUDIT_CHECKPOINTS_TOPIC.name, b"audit-1")
    event = decode_event(sent.topic, sent.value)
    assert isinstance(event, AuditCheckpointEvent) and event.data == signed
    (again,) = await store.checkpoints()
    assert isinstance(again, SignedCheckpoint)
    assert again.checkpoint_id == signed.checkpoint_id and again.heads == signed.heads

    await one(writer, deadline_records(1, first_offset=3)[0])
    later = await checkpointer()
    assert later is not None and later.heads[1].sequence == 4
    report = await verify(store)
    assert report.intact and report.checkpoints_verified == 2, report.render()


# ------------------------------------------------------------------------- tampering


Attack = Callable[[AsyncDatabase[Any]], Awaitable[None]]


async def edit_payload(db: AsyncDatabase[Any]) -> None:
    await db["audit_trail"].update_one(
        {"chain_id": DEADLINES, "sequence": 4}, {"$set": {"payload.agency_id": "ubnd-khac"}}
    )


async def move_time(db: AsyncDatabase[Any]) -> None:
    await db["audit_trail"].update_one(
        {"chain_id": DEADLINES, "sequence": 4}, {"$set": {"occurred_at": T0 - timedelta(days=3)}}
    )


async def delete_middle(db: AsyncDatabase[Any]) -> None:
    await db["audit_trail"].delete_one({"chain_id": DEADLINES, "sequence": 4})


async def delete_tail(db: AsyncDatabase[Any]) -> None:
    await db["audit_trail"].delete_one({"chain_id": DEADLINES, "sequence": 8})


async def insert_forged(db: AsyncDatabase[Any]) -> None:
    trail = db["audit_trail"]
    await trail.drop_index("chain_sequence")  # the unique index is in the way: drop it
    previous = await trail.find_one({"chain_id": DEADLINES, "sequence": 3})
    genuine = await trail.find_one({"chain_id": DEADLINES, "sequence": 4})
    assert previous is not None and genuine is not None
    forged = {key: value for key, value in genuine.items() if key != "_id"}
    forged.update(event_id=str(uuid.uuid4()), payload={"note": "Đã xử lý"}, valid=True)
    forged["prev_hash"] = previous["hash"]
    forged["hash"] = document_hash(forged)
    await trail.insert_one(forged)


async def swap_records(db: AsyncDatabase[Any]) -> None:
    trail = db["audit_trail"]
    await trail.update_one({"chain_id": DEADLINES, "sequence": 4}, {"$set": {"sequence": -4}})
    await trail.update_one({"chain_id": DEADLINES, "sequence": 5}, {"$set": {"sequence": 4}})
    await trail.update_one({"chain_id": DEADLINES, "sequence": -4}, {"$set": {"sequence": 5}})


async def rewrite_consistently(db: AsyncDatabase[Any]) -> None:
    trail = db["audit_trail"]
    previous_hash = GENESIS_HASH
    async for document in trail.find({"chain_id": DEADLINES}, sort=[("sequence", 1)]):
        if document["sequence"] == 2:
            document["payload"]["agency_id"] = "ubnd-khac"
        document["prev_hash"] = previous_hash
        document["hash"] = document_hash(document)
        previous_hash = document["hash"]
        await trail.update_one(
            {"_id": document["_id"]},
            {"$set": {k: v for k, v in document.items() if k != "_id"}},
        )


ATTACKS: list[tuple[Attack, str, int, BreakKind]] = [
    (edit_payload, DEADLINES, 4, BreakKind.EDITED),
    (move_time, DEADLINES, 4, BreakKind.EDITED),
    (delete_middle, DEADLINES, 5, BreakKind.DELETED),
    (delete_tail, DEADLINES, 8, BreakKind.TRUNCATED),
    (insert_forged, DEADLINES, 4, BreakKind.INSERTED),
    (swap_records, DEADLINES, 4, BreakKind.EDITED),
    (rewrite_consistently, DEADLINES, 6, BreakKind.REWRITTEN),
]


@pytest.mark.parametrize(
    ("attack", "chain_id", "sequence", "kind"),
    ATTACKS,
    ids=[attack.__name__ for attack, *_ in ATTACKS],
)
async def test_tampering_in_the_database_is_found_and_the_first_broken_record_named(
    store: TrailStore,
    database: AsyncDatabase[Any],
    attack: Attack,
    chain_id: str,
    sequence: int,
    kind: BreakKind,
) -> None:
    await populate(store)
    await attack(database)
    report = await verify(store)
    assert not report.intact
    assert report.broken_chain(UPDATES) is None
    broken = report.broken_chain(chain_id)
    assert broken is not None, report.render()
    assert (broken.sequence, broken.kind) == (sequence, kind), report.render()


async def test_an_edited_stored_checkpoint_fails_its_signature(
    store: TrailStore, database: AsyncDatabase[Any]
) -> None:
    await populate(store)
    checkpoints = database["audit_checkpoints"]
    latest = await checkpoints.find_one({}, sort=[("created_at", -1)])
    assert latest is not None
    shortened = re.sub(r'"sequence":8', '"sequence":7', latest["signed"])
    await checkpoints.update_one({"_id": latest["_id"]}, {"$set": {"signed": shortened}})
    report = await verify(store)
    (problem,) = report.checkpoint_problems
    assert problem.checkpoint_id == latest["_id"] and "does not verify" in problem.detail


# -------------------------------------------------------------------- verify command


async def test_the_verify_command_reports_and_exits_0_or_1(
    store: TrailStore,
    database: AsyncDatabase[Any],
    mongo_settings: MongoSettings,
    kafka_settings: KafkaSettings,
) -> None:
    config = VerifyConfig(mongo_settings, kafka_settings, SecretStr(SIGNING_TEXT))
    await populate(store)
    out = io.StringIO()
    assert await check_trail(config, out=out) == 0
    assert out.getvalue().startswith("Audit trail: INTACT")

    await edit_payload(database)
    (document,) = [d for d in await stored(database, DEADLINES) if d["sequence"] == 4]
    out = io.StringIO()
    assert await check_trail(config, out=out) == 1
    assert (
        f"chain {DEADLINES}: first broken record is sequence 4, event {document['event_id']}"
        f" — edited" in out.getvalue()
    )

    unconfigured = VerifyConfig(mongo_settings, kafka_settings)
    assert await check_trail(unconfigured, out=io.StringIO()) == 2


async def test_a_rewrite_with_the_stored_checkpoints_deleted_is_found_against_kafka(
    store: TrailStore,
    database: AsyncDatabase[Any],
    mongo_settings: MongoSettings,
    kafka_settings: KafkaSettings,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    topic = await new_topic("audit-checkpoints", partitions=1)
    producer = RecordProducer(kafka_settings, client_id="test-audit-checkpoints")
    await producer.start()
    try:
        await populate(store, ToTopic(producer, topic))  # the checkpoints also reach Kafka
    finally:
        await producer.stop()
    public_only = VerifyConfig(
        mongo_settings,
        kafka_settings,
        audit_public_keys=[public_key_text(SIGNING_KEY.public_key())],
    )

    await database["audit_checkpoints"].delete_many({})  # the attacker's clean-up
    await rewrite_consistently(database)

    out = io.StringIO()
    assert await check_trail(public_only, out=out) == 0  # the database alone looks fine
    out = io.StringIO()
    assert await check_trail(public_only, kafka=True, checkpoint_topic=topic, out=out) == 1
    text = out.getvalue()
    assert f"chain {DEADLINES}: first broken record is sequence 6" in text
    assert "rewritten" in text
    assert "is on Kafka but not in the database" in text


def test_the_store_never_updates_or_deletes() -> None:
    source = Path(__file__).resolve().parents[2] / "src/audit/adapters/trail_store.py"
    code = source.read_text()
    for call in ("update_", "delete_", "replace_one", "find_one_and_", "drop", "bulk_write"):
        assert f".{call}" not in code, call


async def test_a_restarted_writer_finds_its_chains_ends_without_reading_the_trail(
    store: TrailStore, database: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart (nothing remembered) each chain's end is found by ``_id``, from the
    last checkpoint's heads or from the chain's first place; reading a chain by sequence
    (a scan of the whole trail on FerretDB, once per chain) is left to older trails."""
    records = deadline_records(6)
    writer = TrailWriter(store, Seen(), clock=ticking())
    for record in records[:3]:
        await one(writer, record)
    published = Published()
    assert await Checkpointer(store, published, SIGNING_KEY, "audit-1", clock=ticking())()
    for record in records[3:5]:
        await one(writer, record)

    restarted = TrailStore(database)

    async def scan(chain_id: str) -> None:
        raise AssertionError(f"{chain_id} was read by sequence")

    monkeypatch.setattr(restarted, "_last_by_sequence", scan)
    resumed = TrailWriter(restarted, Seen(), clock=ticking())
    assert await one(resumed, records[5]) is True
    assert await one(resumed, consumed(ex.AGENCY_ACCEPTED, partition=1)) is True  # a new chain
    assert [d["sequence"] for d in await stored(database, DEADLINES)] == [1, 2, 3, 4, 5, 6]
    assert (await verify(restarted)).intact
