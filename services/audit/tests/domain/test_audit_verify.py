"""Verification finds every kind of tampering and names the first broken record (pure).

The trail here is realistic: two chains of real events (deadlines on one partition,
agency updates on another, an invalid record among them) signed by checkpoints at three
moments, as the service makes them. Each test tampers with the stored documents the way
someone with database access would, and checks what ``verify`` reports.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.domain.chain import (
    DeadLetterCoordinates,
    SourcePosition,
    document_hash,
    event_facts,
    head_of,
    invalid_facts,
    next_record,
    to_document,
)
from audit.domain.checkpoints import (
    SignedCheckpoint,
    UnreadableCheckpoint,
    build_checkpoint,
    checkpoint_from_data,
    generate_signing_key,
    keyring,
    load_public_key,
    load_signing_key,
    public_key_id,
    public_key_text,
    signature_problem,
    signed_checkpoint,
)
from audit.domain.records import GENESIS_HASH, TrailRecord
from audit.domain.verify import BreakKind, VerificationReport, compare_copies, verify_trail
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from phananh_contracts import (
    AGENCY_UPDATES_TOPIC,
    DEADLINES_TOPIC,
    AuditCheckpointEvent,
    ChainHead,
    Event,
)
from phananh_contracts import examples as ex

pytestmark = pytest.mark.unit

SIGNING_KEY = load_signing_key(generate_signing_key())
KEYS = keyring([SIGNING_KEY.public_key()])
DEADLINES = f"{DEADLINES_TOPIC.name}:4"
UPDATES = f"{AGENCY_UPDATES_TOPIC.name}:1"
START = datetime(2023, 3, 19, 10, 0, tzinfo=UTC)
Documents = dict[str, list[dict[str, Any]]]


def renamed(event: Event[Any], label: str) -> Event[Any]:
    return event.model_copy(update={"id": str(uuid.uuid5(uuid.NAMESPACE_URL, label))})


def chain_of(topic: str, partition: int, events: list[Event[Any] | None]) -> list[TrailRecord]:
    """Records as the writer makes them; None stands for a record that failed validation."""
    records: list[TrailRecord] = []
    head: ChainHead | None = None
    for offset, event in enumerate(events):
        position = SourcePosition(topic, partition, 100 + offset)
        at = START + timedelta(minutes=offset, microseconds=123_456)
        if event is None:
            facts = invalid_facts(
                position=position,
                raw=b'{"type":"vn.pakn.deadline.breached","data":{}}',
                reason="data.report_id: Field required",
                occurred_at=at,
                dead_letter=DeadLetterCoordinates("pakn.dlq.audit.v1", 0, offset),
            )
        else:
            facts = event_facts(event)
        record = next_record(head, facts, position, recorded_at=at)
        head = head_of(record)
        records.append(record)
    return records


def deadline_events() -> list[Event[Any] | None]:
    cycle: list[Event[Any]] = [ex.DEADLINE_WARNING, ex.DEADLINE_BREACHED, ex.REPORT_ESCALATED]
    events: list[Event[Any] | None] = [renamed(cycle[i % 3], f"deadline-{i}") for i in range(9)]
    events[4] = None  # record 5 is an invalid event
    return events


@dataclass
class Trail:
    """Two chains as stored, and the checkpoints signed while they grew."""

    documents: Documents
    checkpoints: list[SignedCheckpoint]
    records: dict[str, list[TrailRecord]]

    def verify(
        self,
        documents: Documents | None = None,
        checkpoints: list[SignedCheckpoint | UnreadableCheckpoint] | None = None,
    ) -> VerificationReport:
        return verify_trail(
            documents if documents is not None else self.documents,
            self.checkpoints if checkpoints is None else checkpoints,
            KEYS,
        )

    def copy(self) -> Documents:
        return copy.deepcopy(self.documents)

    def event_id(self, chain_id: str, sequence: int) -> str:
        return self.records[chain_id][sequence - 1].event_id


def checkpoint(
    heads: list[TrailRecord], at: datetime, key: Ed25519PrivateKey = SIGNING_KEY
) -> SignedCheckpoint:
    signed = build_checkpoint(
        [head_of(record) for record in heads], signing_key=key, writer_id="audit-1", created_at=at
    )
    return signed_checkpoint(signed, origin="database")


@pytest.fixture
def trail() -> Trail:
    deadlines = chain_of(DEADLINES_TOPIC.name, 4, deadline_events())
    updates = chain_of(
        AGENCY_UPDATES_TOPIC.name,
        1,
        [ex.AGENCY_ACCEPTED, ex.AGENCY_IN_PROGRESS, ex.AGENCY_RESOLVED],
    )
    return Trail(
        documents={
            DEADLINES: [to_document(record) for record in deadlines],
            UPDATES: [to_document(record) for record in updates],
        },
        checkpoints=[
            checkpoint([deadlines[2], updates[0]], START + timedelta(hours=1)),
            checkpoint([deadlines[5], updates[1]], START + timedelta(hours=2)),
            checkpoint([deadlines[8], updates[2]], START + timedelta(hours=3)),
        ],
        records={DEADLINES: deadlines, UPDATES: updates},
    )


def rehash(documents: list[dict[str, Any]], start: int = 0) -> None:
    """What a careful forger does after a change: recompute hashes and links from ``start``."""
    for index in range(start, len(documents)):
        previous = documents[index - 1]["hash"] if index else GENESIS_HASH
        documents[index]["prev_hash"] = previous
        documents[index]["hash"] = document_hash(documents[index])


def only_break(report: VerificationReport) -> Any:
    assert not report.intact
    assert len(report.breaks) == 1, report.render()
    return report.breaks[0]


# ----------------------------------------------------------------------------- intact


def test_an_intact_trail_passes(trail: Trail) -> None:
    report = trail.verify()
    assert report.intact, report.render()
    assert report.checkpoints_verified == 3
    assert report.records == 12
    assert [(c.chain_id, c.head_sequence, c.signed_sequence) for c in report.chains] == [
        (UPDATES, 3, 3),
        (DEADLINES, 9, 9),
    ]
    assert report.render().startswith("Audit trail: INTACT")


# ------------------------------------------------------------------------------ edits


def test_an_edited_payload_is_named(trail: Trail) -> None:
    documents = trail.copy()
    documents[DEADLINES][6]["payload"]["to_agency_id"] = "ubnd-phuong-khac"
    broken = only_break(trail.verify(documents))
    assert (broken.chain_id, broken.sequence, broken.kind) == (DEADLINES, 7, BreakKind.EDITED)
    assert broken.event_id == trail.event_id(DEADLINES, 7)
    text = trail.verify(documents).render()
    assert f"chain {DEADLINES}: first broken record is sequence 7, event {broken.event_id}" in text


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda doc: doc.update(occurred_at=doc["occurred_at"] + timedelta(days=1)),
            id="time moved",
        ),
        pytest.param(lambda doc: doc.update(valid=True, invalid_reason=None), id="made valid"),
        pytest.param(lambda doc: doc.update(note="checked"), id="field added"),
        pytest.param(lambda doc: doc.pop("invalid_reason"), id="field removed"),
        pytest.param(lambda doc: doc.update(actor={"kind": "agency", "id": "x"}), id="actor"),
    ],
)
def test_any_edit_of_a_record_is_named(trail: Trail, edit: Any) -> None:
    documents = trail.copy()
    edit(documents[DEADLINES][4])  # the invalid record, sequence 5
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind, broken.first_untrusted) == (5, BreakKind.EDITED, 5)


# -------------------------------------------------------------------------- deletions


def test_a_deleted_record_in_the_middle_is_named(trail: Trail) -> None:
    documents = trail.copy()
    del documents[DEADLINES][3]  # sequence 4
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind) == (5, BreakKind.DELETED)
    assert broken.event_id == trail.event_id(DEADLINES, 5)
    assert broken.first_untrusted == 4
    assert "record 4 is missing" in broken.detail


def test_a_deleted_tail_under_a_checkpoint_is_named(trail: Trail) -> None:
    documents = trail.copy()
    del documents[DEADLINES][7:]  # sequences 8 and 9; the last checkpoint signed 9
    broken = only_break(trail.verify(documents))
    assert (broken.chain_id, broken.sequence, broken.event_id) == (DEADLINES, 8, None)
    assert broken.kind == BreakKind.TRUNCATED
    assert "records 8–9 are missing" in broken.detail


def test_a_deleted_chain_is_named(trail: Trail) -> None:
    documents = trail.copy()
    del documents[UPDATES]
    broken = only_break(trail.verify(documents))
    assert (broken.chain_id, broken.sequence, broken.kind) == (UPDATES, 1, BreakKind.TRUNCATED)


# ------------------------------------------------------------------------- insertions


def forged_after(documents: list[dict[str, Any]], index: int) -> dict[str, Any]:
    """A well-formed record that follows ``documents[index]``, hashed correctly."""
    forged = copy.deepcopy(documents[index + 1])
    forged.update(event_id=str(uuid.uuid4()), payload={"reason": "Đã xử lý xong"})
    forged["prev_hash"] = documents[index]["hash"]
    forged["hash"] = document_hash(forged)
    return forged


def test_a_forged_record_claiming_a_taken_sequence_is_named(trail: Trail) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    chain.insert(6, forged_after(chain, 5))  # a second sequence 7, e.g. with the index dropped
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind) == (7, BreakKind.INSERTED)
    assert "two records claim sequence 7" in broken.detail


def test_a_forged_record_with_the_rest_renumbered_and_rehashed_is_named(trail: Trail) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    forged = forged_after(chain, 5)
    for later in chain[6:]:
        later["sequence"] += 1
        later["hash"] = document_hash(later)  # each record re-hashed, links left alone
    chain.insert(6, forged)
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind) == (8, BreakKind.UNLINKED)
    assert broken.event_id == trail.event_id(DEADLINES, 7)


# ------------------------------------------------------------------------- reordering


def test_two_swapped_records_are_named(trail: Trail) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    chain[5]["sequence"], chain[6]["sequence"] = 7, 6
    chain[5], chain[6] = chain[6], chain[5]  # as the database returns them, by sequence
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind) == (6, BreakKind.EDITED)
    assert broken.event_id == trail.event_id(DEADLINES, 7)


def test_two_swapped_and_rehashed_records_are_named(trail: Trail) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    chain[5]["sequence"], chain[6]["sequence"] = 7, 6
    chain[5], chain[6] = chain[6], chain[5]
    for moved in chain[5:7]:
        moved["hash"] = document_hash(moved)
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind) == (6, BreakKind.UNLINKED)
    assert broken.event_id == trail.event_id(DEADLINES, 7)


# ---------------------------------------------------------------- consistent rewrites


def test_a_consistently_rewritten_chain_is_caught_only_by_the_signed_checkpoints(
    trail: Trail,
) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    chain[4]["invalid_reason"] = None
    chain[4]["valid"] = True
    rehash(chain, start=4)  # every hash and link from sequence 5 on recomputed
    assert trail.verify(documents, checkpoints=[]).intact  # the chain alone looks fine
    broken = only_break(trail.verify(documents))
    assert (broken.chain_id, broken.sequence, broken.kind) == (DEADLINES, 6, BreakKind.REWRITTEN)
    assert broken.event_id == trail.event_id(DEADLINES, 6)
    assert broken.first_untrusted == 4  # sequence 3 still matches the first checkpoint
    assert "records 4–6 were rewritten" in broken.detail


def test_a_rewritten_and_shortened_chain_is_caught_by_the_last_checkpoint(trail: Trail) -> None:
    documents = trail.copy()
    chain = documents[DEADLINES]
    del chain[7:]
    chain[6]["payload"] = {"reason": "Không có vi phạm"}
    rehash(chain, start=6)
    broken = only_break(trail.verify(documents))
    assert (broken.sequence, broken.kind, broken.first_untrusted) == (8, BreakKind.TRUNCATED, 7)
    assert "records after 6 can no longer be checked" in broken.detail


# ------------------------------------------------------------------------ checkpoints


def test_a_checkpoint_with_a_bad_signature_is_named_and_not_trusted(trail: Trail) -> None:
    genuine = trail.checkpoints[-1]
    forged_heads = json.loads(genuine.signed)
    forged_heads["heads"][0]["sequence"] = 7  # "the chain ended at 7"
    forged = SignedCheckpoint(
        **{**genuine.__dict__, "signed": json.dumps(forged_heads).encode(), "heads": ()}
    )
    documents = trail.copy()
    del documents[DEADLINES][7:]
    report = trail.verify(documents, checkpoints=[*trail.checkpoints[:2], forged])
    assert not report.intact
    (problem,) = report.checkpoint_problems
    assert problem.checkpoint_id == genuine.checkpoint_id
    assert "does not verify" in problem.detail
    assert report.checkpoints_verified == 2
    assert "Checkpoints that cannot be trusted" in report.render()


def test_a_checkpoint_signed_with_another_key_is_named(trail: Trail) -> None:
    stranger = Ed25519PrivateKey.generate()
    impostor = checkpoint([trail.records[DEADLINES][2]], START + timedelta(hours=4), key=stranger)
    report = trail.verify(checkpoints=[*trail.checkpoints, impostor])
    (problem,) = report.checkpoint_problems
    assert "not a configured public key" in problem.detail
    assert report.breaks == ()


def test_a_stranger_s_checkpoint_on_kafka_is_ignored_but_named(trail: Trail) -> None:
    """Anyone who can write to the topic can sign with a key of their own: that proves
    nothing about this trail and must not make an intact trail look broken."""
    stranger = Ed25519PrivateKey.generate()
    impostor = checkpoint([trail.records[DEADLINES][2]], START + timedelta(hours=4), key=stranger)
    published = dataclasses.replace(impostor, origin="kafka offset 7")
    report = trail.verify(checkpoints=[*trail.checkpoints, published])
    assert report.intact
    assert any("on Kafka were ignored" in note for note in report.notes)


def test_an_unreadable_checkpoint_in_the_database_is_a_problem_and_on_kafka_a_note() -> None:
    stored = checkpoint_from_data({"checkpoint_id": "cp-x", "signature": "!!"}, origin="database")
    assert isinstance(stored, UnreadableCheckpoint)
    report = verify_trail({}, [stored], KEYS)
    assert not report.intact and report.checkpoint_problems[0].checkpoint_id == "cp-x"

    junk = checkpoint_from_data({"checkpoint_id": "cp-y", "signature": "!!"}, origin="kafka")
    report = verify_trail({}, [junk], KEYS)
    assert report.intact, "anyone can write junk to the topic; it must not break verify"
    assert any("on Kafka were ignored" in note for note in report.notes)


def test_a_checkpoint_is_verified_from_the_json_received_on_kafka(trail: Trail) -> None:
    signed = build_checkpoint(
        [head_of(trail.records[DEADLINES][-1])],
        signing_key=SIGNING_KEY,
        writer_id="audit-1",
        created_at=START,
    )
    record = AuditCheckpointEvent.new(signed, source="/services/audit").to_kafka()
    data = json.loads(record.value)["data"]
    received = checkpoint_from_data(data, origin="kafka")
    assert isinstance(received, SignedCheckpoint)
    assert received.signed == signed.signed_bytes()
    assert signature_problem(received, KEYS) is None
    data["heads"][0]["sequence"] = 99
    altered = checkpoint_from_data(data, origin="kafka")
    assert isinstance(altered, SignedCheckpoint)
    assert signature_problem(altered, KEYS) == (
        f"the signature does not verify with key {signed.public_key_id}"
    )


def test_checkpoints_sign_sorted_heads_with_the_key_they_name() -> None:
    heads = [
        ChainHead(chain_id="b:1", sequence=4, record_hash="b" * 64),
        ChainHead(chain_id="a:0", sequence=9, record_hash="a" * 64),
    ]
    signed = build_checkpoint(heads, signing_key=SIGNING_KEY, writer_id="w", created_at=START)
    raw = SIGNING_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signed.public_key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert signed.public_key_id == public_key_id(SIGNING_KEY.public_key())
    assert [head.chain_id for head in signed.heads] == ["a:0", "b:1"]
    SIGNING_KEY.public_key().verify(base64.b64decode(signed.signature), signed.signed_bytes())
    assert (
        load_public_key(public_key_text(SIGNING_KEY.public_key())).public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        == raw
    )


def test_malformed_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        load_signing_key(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        load_public_key("not base64 !")


def test_copies_of_the_checkpoints_are_compared(trail: Trail) -> None:
    stored, published = trail.checkpoints[:2], trail.checkpoints[1:]
    notes = compare_copies(stored, published)
    assert notes == [
        f"checkpoint {trail.checkpoints[2].checkpoint_id} is on Kafka but not in the database "
        "(deleted from the database, or the writer stopped before storing it)",
        f"checkpoint {trail.checkpoints[0].checkpoint_id} is in the database but not on Kafka "
        "(it was never published: treat it with suspicion)",
    ]
