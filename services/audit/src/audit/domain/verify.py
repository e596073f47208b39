"""Verification of the trail: recompute every chain, check every checkpoint, name the
first broken record of each chain.

Pure: documents and checkpoints in, a report out. Records are fed one chain at a time in
sequence order (``TrailVerifier.walker(chain_id).feed(document)``), so a trail of any
size is checked in constant memory per chain; ``verify_trail`` does it for lists.

What each kind of tampering looks like:

* **edit** of a record (any field, added or removed field, changed type): its content no
  longer matches its hash (``edited``);
* **deletion** of a record inside a chain: a gap in the sequence (``deleted``);
* **insertion** of a forged record: two records claim one sequence (``inserted``) or a
  record does not link to its predecessor's hash (``unlinked``);
* **reordering**: records swapped keep their hashes only if re-hashed, and then do not
  link to their predecessors (``unlinked``); otherwise they are ``edited``;
* a **consistent rewrite** (records edited and the rest of the chain re-hashed) or a
  **deleted tail**: only a signed checkpoint tells, because a record it signed differs
  (``rewritten``) or is missing (``truncated``);
* a checkpoint whose signature does not verify, or made with an unknown key, is reported
  and none of its heads is trusted.

Limits, by construction: records appended after the newest checkpoint can be deleted, and
a forged record can be appended at the end of a chain before the next checkpoint signs
it; checkpoints at short intervals bound that window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.domain.chain import document_hash, to_document
from audit.domain.checkpoints import SignedCheckpoint, UnreadableCheckpoint, signature_problem
from audit.domain.records import GENESIS_HASH, TrailRecord

Document = Mapping[str, Any]


class BreakKind(StrEnum):
    """What is wrong at the first broken record of a chain."""

    EDITED = "edited"
    """The record's content does not match its hash."""
    DELETED = "deleted"
    """Records are missing before this one (a gap in the sequence)."""
    INSERTED = "inserted"
    """Two records claim the same sequence."""
    UNLINKED = "unlinked"
    """The record's prev_hash is not its predecessor's hash (inserted, moved, or the
    predecessor was rewritten with a recomputed hash)."""
    MALFORMED = "malformed"
    """The record does not even have the shape of a trail record."""
    REWRITTEN = "rewritten"
    """The record differs from the one a signed checkpoint holds."""
    TRUNCATED = "truncated"
    """Records a signed checkpoint holds are missing at the end of the chain."""


@dataclass(frozen=True)
class ChainBreak:
    """The first broken record of one chain."""

    chain_id: str
    sequence: int
    """Sequence of the record named (for a truncated chain: the first missing one)."""
    event_id: str | None
    """Event id of the record named; None when that record is missing."""
    kind: BreakKind
    detail: str
    first_untrusted: int
    """The lowest sequence that can no longer be trusted (at most ``sequence``)."""

    def describe(self) -> str:
        return f"chain {self.chain_id}: first broken record is {self.what()}"

    def what(self) -> str:
        event = self.event_id if self.event_id is not None else "(missing)"
        return f"sequence {self.sequence}, event {event} — {self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class CheckpointProblem:
    """A checkpoint that cannot be trusted."""

    checkpoint_id: str | None
    origin: str
    detail: str

    def describe(self) -> str:
        name = self.checkpoint_id or "(no id)"
        return f"checkpoint {name} (from {self.origin}): {self.detail}"


@dataclass(frozen=True)
class ChainSummary:
    """What verification found in one chain."""

    chain_id: str
    records: int
    head_sequence: int | None
    signed_sequence: int | None
    """Highest sequence a verified checkpoint holds and the chain still matches."""
    broken: ChainBreak | None
    """The first broken record, or None when the chain is intact."""
    findings: tuple[ChainBreak, ...] = ()
    """Everything found wrong, first broken record first (later ones may follow from it)."""


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of verifying the trail."""

    chains: tuple[ChainSummary, ...]
    checkpoint_problems: tuple[CheckpointProblem, ...]
    checkpoints_verified: int
    notes: tuple[str, ...] = ()

    @property
    def breaks(self) -> tuple[ChainBreak, ...]:
        return tuple(chain.broken for chain in self.chains if chain.broken is not None)

    @property
    def intact(self) -> bool:
        return not self.breaks and not self.checkpoint_problems

    @property
    def records(self) -> int:
        return sum(chain.records for chain in self.chains)

    def broken_chain(self, chain_id: str) -> ChainBreak | None:
        return next((chain.broken for chain in self.chains if chain.chain_id == chain_id), None)

    def render(self) -> str:
        """A report for people, in English."""
        verdict = "INTACT" if self.intact else "BROKEN"
        lines = [
            f"Audit trail: {verdict}",
            f"  {len(self.chains)} chains, {self.records} records, "
            f"{self.checkpoints_verified} checkpoints verified",
        ]
        for chain in self.chains:
            signed = (
                f", signed up to {chain.signed_sequence}"
                if chain.signed_sequence is not None
                else ", not yet signed"
            )
            head = chain.head_sequence if chain.head_sequence is not None else "-"
            state = "intact" if chain.broken is None else "BROKEN"
            lines.append(
                f"  chain {chain.chain_id}: {chain.records} records, head {head}{signed}: {state}"
            )
        if self.breaks:
            lines.append("First broken record of each broken chain:")
            for chain in self.chains:
                if chain.broken is None:
                    continue
                lines.append(f"  {chain.broken.describe()}")
                lines.extend(f"    also: {item.what()}" for item in chain.findings[1:])
        if self.checkpoint_problems:
            lines.append("Checkpoints that cannot be trusted:")
            lines.extend(f"  {item.describe()}" for item in self.checkpoint_problems)
        if self.notes:
            lines.append("Notes:")
            lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class _SignedHead:
    record_hash: str
    checkpoint_id: str


@dataclass(frozen=True)
class _Link:
    sequence: int
    record_hash: str
    event_id: str | None


@dataclass
class ChainWalker:
    """Checks one chain, fed its documents in sequence order."""

    chain_id: str
    signed: Mapping[int, Sequence[_SignedHead]] = field(default_factory=dict)
    records: int = 0
    _previous: _Link | None = None
    _broken: ChainBreak | None = None
    _last_sequence: int = 0
    _stored_at_signed: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def feed(self, record: Document | TrailRecord) -> None:
        """The next record of the chain (documents as stored, or records)."""
        document = to_document(record) if isinstance(record, TrailRecord) else record
        self.records += 1
        raw_sequence = document.get("sequence")
        sequence = (
            raw_sequence
            if isinstance(raw_sequence, int) and not isinstance(raw_sequence, bool)
            else None
        )
        event_id = _text(document.get("event_id"))
        stored_hash = _text(document.get("hash")) or ""
        if sequence is not None:
            self._last_sequence = max(self._last_sequence, sequence)
            if sequence in self.signed and sequence not in self._stored_at_signed:
                self._stored_at_signed[sequence] = (stored_hash, event_id)
        if self._broken is not None:
            return  # only the first broken record is named; the rest may follow from it
        self._broken = self._check(document, sequence, event_id, stored_hash)
        if sequence is not None:
            self._previous = _Link(sequence, stored_hash, event_id)

    def _check(
        self, document: Document, sequence: int | None, event_id: str | None, stored_hash: str
    ) -> ChainBreak | None:
        previous = self._previous
        expected = 1 if previous is None else previous.sequence + 1

        def broken(kind: BreakKind, detail: str, *, at: int | None = None) -> ChainBreak:
            named = sequence if sequence is not None else expected
            return ChainBreak(
                self.chain_id, named, event_id, kind, detail, at if at is not None else named
            )

        if sequence is None:
            return broken(
                BreakKind.MALFORMED,
                f"its sequence {document.get('sequence')!r} is not an integer",
                at=expected,
            )
        if document.get("chain_id") != self.chain_id:
            return broken(
                BreakKind.MALFORMED, f"it says it belongs to chain {document.get('chain_id')!r}"
            )
        computed = document_hash(document)
        if stored_hash != computed:
            return broken(
                BreakKind.EDITED,
                "its content does not match its hash "
                f"(stored {_short(stored_hash)}, recomputed {_short(computed)})",
            )
        if previous is not None and sequence == previous.sequence:
            return broken(
                BreakKind.INSERTED,
                f"two records claim sequence {sequence} (events {previous.event_id} and "
                f"{event_id}): one of them was inserted",
            )
        if sequence < expected:
            return broken(
                BreakKind.UNLINKED,
                f"sequence {sequence} comes after {expected - 1}: records were reordered",
            )
        if sequence > expected:
            return broken(
                BreakKind.DELETED,
                f"{_span(expected, sequence - 1)} missing before it (deleted)",
                at=expected,
            )
        expected_prev = GENESIS_HASH if previous is None else previous.record_hash
        if document.get("prev_hash") != expected_prev:
            if previous is None:
                detail = "the first record of the chain does not start from the genesis hash"
            else:
                detail = (
                    f"its prev_hash is not the hash of record {previous.sequence} "
                    f"(event {previous.event_id}): that record was rewritten with a new hash, "
                    "or this one was inserted or moved"
                )
            return broken(BreakKind.UNLINKED, detail, at=previous.sequence if previous else 1)
        return None

    def finish(self) -> ChainSummary:
        """The chain's summary, checkpoint heads included, once every record was fed."""
        found = [self._broken] if self._broken is not None else []
        matched_below = 0
        signed_sequence: int | None = None
        for sequence in sorted(self.signed):
            stored = self._stored_at_signed.get(sequence)
            for head in self.signed[sequence]:
                if stored is None:
                    found.append(self._missing(sequence, head, matched_below))
                elif stored[0] != head.record_hash:
                    found.append(
                        ChainBreak(
                            self.chain_id,
                            sequence,
                            stored[1],
                            BreakKind.REWRITTEN,
                            f"it differs from the record checkpoint {head.checkpoint_id} signed "
                            f"(signed {_short(head.record_hash)}, stored {_short(stored[0])}): "
                            f"{_span(matched_below + 1, sequence, verb='were')} rewritten "
                            "and re-hashed",
                            matched_below + 1,
                        )
                    )
            if stored is not None and all(
                head.record_hash == stored[0] for head in self.signed[sequence]
            ):
                matched_below = sequence
                signed_sequence = sequence
        # The lowest record named first; at the same record, the chain's own evidence
        # (which pinpoints) before a checkpoint's (which bounds).
        found.sort(key=lambda item: (item.sequence, item.kind in _CHECKPOINT_KINDS))
        return ChainSummary(
            chain_id=self.chain_id,
            records=self.records,
            head_sequence=self._last_sequence or None,
            signed_sequence=signed_sequence,
            broken=found[0] if found else None,
            findings=tuple(found),
        )

    def _missing(self, sequence: int, head: _SignedHead, matched_below: int) -> ChainBreak:
        if sequence > self._last_sequence:
            first_missing = self._last_sequence + 1
            return ChainBreak(
                self.chain_id,
                first_missing,
                None,
                BreakKind.TRUNCATED,
                f"{_span(first_missing, sequence)} missing although checkpoint "
                f"{head.checkpoint_id} signed record {sequence} ({_short(head.record_hash)}): "
                "the end of the chain was deleted"
                + (
                    f", and records after {matched_below} can no longer be checked"
                    if matched_below + 1 < first_missing
                    else ""
                ),
                matched_below + 1,
            )
        return ChainBreak(
            self.chain_id,
            sequence,
            None,
            BreakKind.DELETED,
            f"record {sequence}, signed by checkpoint {head.checkpoint_id}, is missing",
            sequence,
        )


_CHECKPOINT_KINDS = frozenset({BreakKind.REWRITTEN, BreakKind.TRUNCATED})


class TrailVerifier:
    """Verifies the checkpoints first, then each chain against them."""

    def __init__(
        self,
        checkpoints: Iterable[SignedCheckpoint | UnreadableCheckpoint],
        public_keys: Mapping[str, Ed25519PublicKey],
    ) -> None:
        self._problems: list[CheckpointProblem] = []
        self._verified: set[str] = set()
        self._ignored: list[str] = []
        self._signed: dict[str, dict[int, list[_SignedHead]]] = {}
        self._walkers: dict[str, ChainWalker] = {}
        for checkpoint in checkpoints:
            self._admit(checkpoint, public_keys)

    def _admit(
        self,
        checkpoint: SignedCheckpoint | UnreadableCheckpoint,
        public_keys: Mapping[str, Ed25519PublicKey],
    ) -> None:
        if isinstance(checkpoint, UnreadableCheckpoint) and checkpoint.origin != "database":
            self._ignored.append("unreadable")  # junk on the topic proves nothing
            return
        if isinstance(checkpoint, UnreadableCheckpoint):
            problem = CheckpointProblem(
                checkpoint.checkpoint_id, checkpoint.origin, f"unreadable: {checkpoint.reason}"
            )
            self._problems.append(problem)
            return
        reason = signature_problem(checkpoint, public_keys)
        if (
            reason is not None
            and checkpoint.origin != "database"
            and (checkpoint.public_key_id not in public_keys)
        ):
            # Anyone who can write to the topic can sign with a key of their own; such a
            # checkpoint proves nothing and hides nothing, so it is named, not held
            # against the trail. (The database copy is written by audit alone.)
            self._ignored.append(checkpoint.public_key_id)
            return
        if reason is not None:
            self._problems.append(
                CheckpointProblem(checkpoint.checkpoint_id, checkpoint.origin, reason)
            )
            return
        if checkpoint.checkpoint_id in self._verified:
            return  # the same checkpoint from another copy
        self._verified.add(checkpoint.checkpoint_id)
        for head in checkpoint.heads:
            by_sequence = self._signed.setdefault(head.chain_id, {})
            signed = _SignedHead(head.record_hash, checkpoint.checkpoint_id)
            if signed not in by_sequence.setdefault(head.sequence, []):
                by_sequence[head.sequence].append(signed)

    def walker(self, chain_id: str) -> ChainWalker:
        """The walker of one chain; feed it the chain's records in sequence order."""
        if chain_id not in self._walkers:
            self._walkers[chain_id] = ChainWalker(chain_id, self._signed.get(chain_id, {}))
        return self._walkers[chain_id]

    def report(self, notes: Sequence[str] = ()) -> VerificationReport:
        """The report, once every chain was fed (chains only checkpoints name count too)."""
        for chain_id in self._signed:
            self.walker(chain_id)
        return VerificationReport(
            chains=tuple(self._walkers[name].finish() for name in sorted(self._walkers)),
            checkpoint_problems=tuple(self._problems),
            checkpoints_verified=len(self._verified),
            notes=tuple(notes) + self._ignored_note(),
        )

    def _ignored_note(self) -> tuple[str, ...]:
        if not self._ignored:
            return ()
        keys = ", ".join(sorted(set(self._ignored)))
        return (
            f"{len(self._ignored)} checkpoint(s) on Kafka were ignored: unreadable, or not "
            f"signed by a configured key (key ids: {keys})",
        )


def verify_trail(
    chains: Mapping[str, Iterable[Document | TrailRecord]],
    checkpoints: Iterable[SignedCheckpoint | UnreadableCheckpoint],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    notes: Sequence[str] = (),
) -> VerificationReport:
    """Verify chains (each in sequence order) against checkpoints signed by known keys."""
    verifier = TrailVerifier(checkpoints, public_keys)
    for chain_id, records in chains.items():
        walker = verifier.walker(chain_id)
        for record in records:
            walker.feed(record)
    return verifier.report(notes)


def compare_copies(
    database: Iterable[SignedCheckpoint | UnreadableCheckpoint],
    elsewhere: Iterable[SignedCheckpoint | UnreadableCheckpoint],
    *,
    elsewhere_name: str = "Kafka",
) -> list[str]:
    """Notes on checkpoints present in one copy and not the other.

    A checkpoint published but not stored may be a crash between the two, or a deletion
    from the database; either way the published copy is what the trail is checked
    against. A stored checkpoint never published is suspicious (the writer publishes
    first).
    """
    stored = {item.checkpoint_id for item in database if item.checkpoint_id is not None}
    published = {item.checkpoint_id for item in elsewhere if item.checkpoint_id is not None}
    notes = [
        f"checkpoint {name} is on {elsewhere_name} but not in the database "
        "(deleted from the database, or the writer stopped before storing it)"
        for name in sorted(published - stored)
    ]
    notes.extend(
        f"checkpoint {name} is in the database but not on {elsewhere_name} "
        "(it was never published: treat it with suspicion)"
        for name in sorted(stored - published)
    )
    return notes


def _span(first: int, last: int, *, verb: str = "are") -> str:
    if first == last:
        return f"record {first} {'is' if verb == 'are' else 'was'}"
    return f"records {first}–{last} {verb}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _short(digest: str) -> str:
    return f"{digest[:12]}…" if len(digest) > 12 else repr(digest)
