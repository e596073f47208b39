"""Is one report's part of the trail intact? A check sized for a web page.

``phananh-audit verify`` walks every chain from its first record; a chain is a topic
partition and grows without end, so a page showing one report cannot do that. What it
can do, per chain holding the report's records, is check the **segment** from the
report's first record to the first signed checkpoint head at or after its last record:

* every record of the segment recomputes to its stored hash (nothing edited),
* sequences follow each other and each record's ``prev_hash`` is its predecessor's hash
  (nothing deleted, inserted or reordered),
* the record at the signed head has the hash the checkpoint signed (nothing rewritten).

The signed head's hash depends, through the ``prev_hash`` links, on every record of the
segment, the report's records included, so a signature that verifies vouches for them.
The checkpoint's signature itself is checked by the caller (``signature_problem``)
before its heads are handed here. Without such a checkpoint yet, the segment is checked
up to the chain's head and the result says it is not signed yet.

What it does not cover: records before the report's first one (whole-chain ``verify``
does), and checkpoints deleted from the database (``verify --kafka`` compares the
published copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from audit.domain.chain import document_hash


class ProofState(StrEnum):
    SIGNED = "signed"
    """Intact up to a head a verified checkpoint signed."""
    UNSIGNED = "unsigned"
    """Intact up to the chain's head, but no verified checkpoint covers it yet."""
    BROKEN = "broken"


STATE_LABELS: Mapping[ProofState, str] = {
    ProofState.SIGNED: "Toàn vẹn, đã được ký số",
    ProofState.UNSIGNED: "Toàn vẹn, chưa được ký số",
    ProofState.BROKEN: "KHÔNG toàn vẹn",
}


@dataclass(frozen=True)
class SignedHead:
    """A head of this chain in a checkpoint whose signature verified."""

    sequence: int
    record_hash: str
    checkpoint_id: str
    created_at: str


@dataclass(frozen=True)
class ChainProof:
    """The outcome for one chain."""

    chain_id: str
    state: ProofState
    first_sequence: int
    checked_to: int | None
    """The last sequence checked (the signed head, or the chain's head)."""
    checkpoint_id: str | None = None
    checkpoint_created_at: str | None = None
    problem: str | None = None
    """What is wrong, in English (for auditors), when broken."""

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def covering_head(heads: Iterable[SignedHead], last_sequence: int) -> SignedHead | None:
    """The earliest signed head at or after ``last_sequence``."""
    return min(
        (head for head in heads if head.sequence >= last_sequence),
        key=lambda head: head.sequence,
        default=None,
    )


def prove_segment(
    chain_id: str,
    report_sequences: Iterable[int],
    segment: Iterable[Mapping[str, Any]],
    signed: SignedHead | None,
) -> ChainProof:
    """Check ``segment`` (the chain's stored documents from the report's first record on,
    in sequence order, ending at ``signed.sequence`` when given) against ``signed``."""
    sequences = sorted(report_sequences)
    first, last = sequences[0], sequences[-1]

    def broken(problem: str, checked_to: int | None) -> ChainProof:
        return ChainProof(chain_id, ProofState.BROKEN, first, checked_to, problem=problem)

    previous: tuple[int, str] | None = None
    stored_at: dict[int, str] = {}
    for document in segment:
        sequence = document.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            return broken(f"a record's sequence {sequence!r} is not an integer", None)
        if document.get("chain_id") != chain_id:
            return broken(f"record {sequence} says it belongs to another chain", sequence)
        stored = document.get("hash")
        if not isinstance(stored, str) or document_hash(document) != stored:
            return broken(
                f"record {sequence} was edited: its content does not match its hash", sequence
            )
        expected = first if previous is None else previous[0] + 1
        if sequence != expected:
            what = "missing (deleted)" if sequence > expected else "out of order or duplicated"
            return broken(f"record {expected} is {what}", sequence)
        if previous is not None and document.get("prev_hash") != previous[1]:
            return broken(
                f"record {sequence} does not link to record {previous[0]}: "
                "one of them was rewritten, inserted or moved",
                sequence,
            )
        stored_at[sequence] = stored
        previous = (sequence, stored)
    if previous is None or previous[0] < last or any(s not in stored_at for s in sequences):
        return broken("records of this report are missing from the chain", None)
    if signed is None:
        return ChainProof(chain_id, ProofState.UNSIGNED, first, previous[0])
    if signed.sequence not in stored_at:
        return broken(
            f"record {signed.sequence}, signed by checkpoint {signed.checkpoint_id}, is missing",
            previous[0],
        )
    if stored_at[signed.sequence] != signed.record_hash:
        return broken(
            f"record {signed.sequence} differs from the one checkpoint {signed.checkpoint_id} "
            "signed: records were rewritten and re-hashed",
            signed.sequence,
        )
    return ChainProof(
        chain_id,
        ProofState.SIGNED,
        first,
        signed.sequence,
        checkpoint_id=signed.checkpoint_id,
        checkpoint_created_at=signed.created_at,
    )
