"""Hash chains of trail records: canonical content, hashes, the next link, clean payloads.

A record's ``hash`` is ``sha256(prev_hash || canonical)`` in lowercase hex, where
``prev_hash`` is the ASCII hex of the previous record's hash (``GENESIS_HASH`` for the
first record of a chain) and ``canonical`` is the record's *stored document* without
``_id`` and ``hash`` as canonical JSON: ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` in UTF-8, datetimes written as ISO 8601
UTC with microseconds and ``Z``.

Hashing the stored document, not a model of it, means that any change to a document in
the database (a field edited, added, removed or retyped) changes its hash. MongoDB and
FerretDB keep datetimes to the millisecond, so every datetime of a record is truncated
to milliseconds *before* it is hashed and stored: the hash recomputed from what the
database returns is then the hash that was stored.

Sequences start at 1, so a chain's head sequence is also its number of records.

Personal data stays out of the trail: ``sanitize`` drops sealed contacts and masks
phone numbers and email addresses in text, and makes any key safe for the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from phananh_contracts import (
    AgencyUpdate,
    ChainHead,
    CitizenReplied,
    Event,
    RawChannelMessageReceived,
    Reporter,
    ReportReceived,
)
from phananh_platform.privacy import mask_contacts

from audit.domain.records import GENESIS_HASH, Actor, TrailRecord

INVALID_EVENT_TYPE = "invalid"
"""``event_type`` of the record of an event that failed validation."""

UNHASHED_FIELDS = frozenset({"_id", "hash"})
"""Fields of a stored document its hash does not cover (the database id, the hash)."""

DROPPED_KEYS = frozenset({"contact_ciphertext"})
"""Keys removed from payloads wherever they appear: sealed contacts are for notify only."""

MAX_CLAIM_LENGTH = 128
"""Longest claimed id, type or subject of an invalid event kept in its record."""

_PHONE_MASK = "[số điện thoại]"
_PHONE_SHAPED = re.compile(r"\+?[0-9().\-]+")
_LONGEST_TOKEN = 128
"""Strings without whitespace up to this length are identifiers, codes or times."""
_INT64 = range(-(2**63), 2**63)


# --------------------------------------------------------------------------- values


def to_millis(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to the millisecond (what the database keeps)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a trail datetime must be timezone-aware, got {moment!r}")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def iso_utc(moment: datetime) -> str:
    """The canonical text of a datetime: ISO 8601 UTC, microseconds, ``Z``."""
    return to_millis(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_id_for(topic: str, partition: int) -> str:
    """The chain of records read from one topic partition, e.g. ``pakn.reports.v1:3``."""
    return f"{topic}:{partition}"


def invalid_event_id(topic: str, partition: int, offset: int) -> str:
    """The trail's id of an invalid record: its Kafka coordinates (its own id is untrusted).

    A redelivered invalid record has the same coordinates, so it is recorded once.
    """
    return f"invalid:{topic}:{partition}:{offset}"


@dataclass(frozen=True)
class SourcePosition:
    """Where a consumed record was read: topic, partition and offset."""

    topic: str
    partition: int
    offset: int

    @property
    def chain_id(self) -> str:
        return chain_id_for(self.topic, self.partition)


@dataclass(frozen=True)
class DeadLetterCoordinates:
    """Where the original bytes of an invalid event were dead-lettered."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    """Partition and offset when the producer reported them (None otherwise)."""


@dataclass(frozen=True)
class EventFacts:
    """What the trail keeps of one event, before it gets its place in a chain."""

    event_id: str
    event_type: str
    report_id: str | None
    tracking_code: str | None
    actor: Actor
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    valid: bool = True
    invalid_reason: str | None = None


# ---------------------------------------------------------------- canonical hashing


def record_content(record: TrailRecord) -> dict[str, Any]:
    """The fields a record's hash covers, in their stored form (everything but ``hash``)."""
    content: dict[str, Any] = {}
    for item in fields(record):
        if item.name == "hash":
            continue
        value = getattr(record, item.name)
        if isinstance(value, Actor):
            value = {"kind": value.kind, "id": value.id}
        elif isinstance(value, datetime):
            value = to_millis(value)
        content[item.name] = value
    return content


def record_id(chain_id: str, sequence: int) -> str:
    """The ``_id`` of a chain's record at ``sequence``: its place, so a chain's next record
    is found by ``_id`` (the one lookup every MongoDB-wire server answers from an index)."""
    return f"{chain_id}#{sequence:012d}"


def to_document(record: TrailRecord) -> dict[str, Any]:
    """The MongoDB document of a record: ``_id`` (its place), its content and ``hash``.

    ``_id`` is not hashed: trails written before it named the place (server ``ObjectId``s)
    verify the same."""
    return {
        "_id": record_id(record.chain_id, record.sequence),
        **record_content(record),
        "hash": record.hash,
    }


def canonical_json(content: Mapping[str, Any]) -> bytes:
    """Canonical JSON of stored content (``_id`` and ``hash`` left out), UTF-8 encoded."""
    unhashed = {key: value for key, value in content.items() if key not in UNHASHED_FIELDS}
    return json.dumps(
        unhashed,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    ).encode("utf-8", "surrogatepass")


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """``sha256(prev_hash || canonical_json(content))`` in lowercase hex."""
    digest = hashlib.sha256(prev_hash.encode("utf-8", "surrogatepass"))
    digest.update(canonical_json(content))
    return digest.hexdigest()


def record_hash(record: TrailRecord) -> str:
    """The hash ``record`` must carry."""
    return chain_hash(record.prev_hash, record_content(record))


def document_hash(document: Mapping[str, Any]) -> str:
    """The hash a stored document must carry, recomputed from what it holds now."""
    prev_hash = document.get("prev_hash")
    return chain_hash(prev_hash if isinstance(prev_hash, str) else repr(prev_hash), document)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        # A client without tz_aware=True returns naive datetimes, in UTC.
        return iso_utc(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    # Anything else (an ObjectId, bytes, a Decimal128 someone slipped in) gets a typed
    # text form: the document still hashes, to something else than before the change.
    return f"<{type(value).__name__}>{value!r}"


# --------------------------------------------------------------------- the next link


def next_record(
    head: ChainHead | None,
    facts: EventFacts,
    position: SourcePosition,
    *,
    recorded_at: datetime,
) -> TrailRecord:
    """The record that follows ``head`` (None: the chain is empty), with its hash."""
    chain_id = position.chain_id
    if head is not None and head.chain_id != chain_id:
        raise ValueError(f"head of chain {head.chain_id} given for chain {chain_id}")
    record = TrailRecord(
        chain_id=chain_id,
        sequence=1 if head is None else head.sequence + 1,
        event_id=facts.event_id,
        event_type=facts.event_type,
        source_topic=position.topic,
        source_partition=position.partition,
        source_offset=position.offset,
        report_id=facts.report_id,
        tracking_code=facts.tracking_code,
        actor=facts.actor,
        occurred_at=to_millis(facts.occurred_at),
        recorded_at=to_millis(recorded_at),
        payload=facts.payload,
        valid=facts.valid,
        invalid_reason=facts.invalid_reason,
        prev_hash=GENESIS_HASH if head is None else head.record_hash,
    )
    return _with_hash(record)


def chain_records(
    heads: Mapping[str, ChainHead | None],
    items: Sequence[tuple[EventFacts, SourcePosition]],
    *,
    recorded_at: datetime,
) -> dict[str, list[TrailRecord]]:
    """The records of a batch's events, chain by chain, each built on the one before.

    ``heads`` holds the head of every chain the items name (None: the chain is empty);
    within a chain the items keep their order (their source partition's order)."""
    chains: dict[str, list[TrailRecord]] = {}
    for facts, position in items:
        built = chains.setdefault(position.chain_id, [])
        head = head_of(built[-1]) if built else heads[position.chain_id]
        built.append(next_record(head, facts, position, recorded_at=recorded_at))
    return chains


def _with_hash(record: TrailRecord) -> TrailRecord:
    return replace(record, hash=record_hash(record))


def head_of(record: TrailRecord) -> ChainHead:
    """The chain head a record makes."""
    return ChainHead(chain_id=record.chain_id, sequence=record.sequence, record_hash=record.hash)


def record_from_document(document: Mapping[str, Any]) -> TrailRecord:
    """Read a stored document back; raise ValueError when it does not have the shape.

    For readers of the trail (the oversight API). Verification does not need it: it
    hashes documents as they are, so that even a malformed document is named.
    """
    try:
        actor = document["actor"]
        return TrailRecord(
            chain_id=str(document["chain_id"]),
            sequence=int(document["sequence"]),
            event_id=str(document["event_id"]),
            event_type=str(document["event_type"]),
            source_topic=str(document["source_topic"]),
            source_partition=int(document["source_partition"]),
            source_offset=int(document["source_offset"]),
            report_id=document.get("report_id"),
            tracking_code=document.get("tracking_code"),
            actor=Actor(kind=str(actor["kind"]), id=str(actor["id"])),
            occurred_at=to_millis(document["occurred_at"]),
            recorded_at=to_millis(document["recorded_at"]),
            payload=dict(document.get("payload") or {}),
            valid=bool(document.get("valid", True)),
            invalid_reason=document.get("invalid_reason"),
            prev_hash=str(document["prev_hash"]),
            hash=str(document["hash"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not a trail record: {error!r}") from None


# ------------------------------------------------------------------------- payloads


def sanitize(value: Any) -> Any:
    """A copy of ``value`` safe to keep in the trail and to store in MongoDB or FerretDB.

    * ``contact_ciphertext`` is dropped wherever it appears;
    * phone numbers and email addresses are masked in text (strings with whitespace,
      long strings, strings with ``@``) and phone-shaped strings are masked whole;
      identifiers, codes and times (short strings without whitespace) are kept, so the
      trail still says which report, agency and ward an event was about, and when;
    * an identifier (a key ``id`` or ending in ``_id``/``_ids``) that holds a contact,
      e.g. an email Message-ID ``<…@…>``, becomes ``masked-`` and 16 hex digits of its
      SHA-256: the contact is gone, and equal ids stay equal (so they still match);
    * keys become strings without ``.``, a leading ``$`` or NUL (the databases refuse
      them): ``.`` becomes ``．`` (U+FF0E) and a leading ``$`` becomes ``＄`` (U+FF04);
    * datetimes become canonical text, integers beyond 64 bits, NaN and infinities
      become text, an array directly inside an array becomes ``{"items": [...]}``
      (FerretDB refuses nested arrays), anything else unknown becomes its text.
    """
    return _clean(value, key="", in_array=False)


def _clean(value: Any, *, key: str, in_array: bool) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if value in _INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean_text(value, key=key)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return _clean_text(value.isoformat(), key=key)
        return iso_utc(value)
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for name, item in value.items():
            if str(name) in DROPPED_KEYS:
                continue
            cleaned[safe_key(name)] = _clean(item, key=str(name), in_array=False)
        return cleaned
    if isinstance(value, list | tuple | set | frozenset):
        items = [_clean(item, key=key, in_array=True) for item in value]
        return {"items": items} if in_array else items
    return _clean_text(str(value), key=key)


def _clean_text(text: str, *, key: str) -> str:
    text = _valid_unicode(text)
    if any(char.isspace() for char in text) or len(text) > _LONGEST_TOKEN:
        return mask_contacts(text)
    phone_shaped = bool(_PHONE_SHAPED.fullmatch(text)) and 9 <= _digits(text) <= 15
    holds_contact = phone_shaped or ("@" in text and mask_contacts(text) != text)
    if not holds_contact:
        return text
    if key == "id" or key.endswith(("_id", "_ids")):
        return "masked-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return _PHONE_MASK if phone_shaped else mask_contacts(text)


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def safe_key(key: Any) -> str:
    """A payload key MongoDB and FerretDB accept (see ``sanitize``)."""
    text = _valid_unicode(str(key)).replace("\x00", "").replace(".", "\uff0e")
    if text.startswith("$"):
        text = "\uff04" + text[1:]
    return text


def _valid_unicode(text: str) -> str:
    # Lone surrogates cannot be encoded in UTF-8 (BSON refuses them): replace them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


# --------------------------------------------------------------------------- events


def actor_of(event: Event[Any]) -> Actor:
    """Who caused an event.

    A report: its collaborator if a collaborator filed it, else the citizen's pseudonym
    ('anonymous' without one); a citizen's reply: the citizen's pseudonym; an agency's
    update: the agency; anything else: the service named by the CloudEvents ``source``
    (``/services/routing`` → service ``routing``).
    """
    data = event.data
    if isinstance(data, ReportReceived):
        if data.collaborator_id is not None:
            return Actor(kind="collaborator", id=data.collaborator_id)
        return _citizen(data.reporter)
    if isinstance(data, CitizenReplied):
        return _citizen(data.reporter)
    if isinstance(data, AgencyUpdate):
        return Actor(kind="agency", id=data.agency_id)
    return actor_from_source(event.source)


def _citizen(reporter: Reporter) -> Actor:
    if reporter.anonymous or reporter.pseudonym is None:
        return Actor(kind="citizen", id="anonymous")
    return Actor(kind="citizen", id=reporter.pseudonym)


def actor_from_source(source: str) -> Actor:
    """The actor a CloudEvents ``source`` names: ``/services/x``, ``/agencies/x`` …"""
    parts = source.strip("/").split("/")
    if len(parts) == 2 and parts[1]:
        kind = {"services": "service", "agencies": "agency", "operators": "operator"}.get(parts[0])
        if kind is not None:
            return Actor(kind=kind, id=parts[1])
    return Actor(kind="unknown", id=source)


def event_payload(event: Event[Any]) -> dict[str, Any]:
    """The event's ``data``, sanitized; a raw channel body is replaced by its digest."""
    data = event.data.model_dump(mode="json")
    if isinstance(event.data, RawChannelMessageReceived):
        body = event.data.body.encode("utf-8", "surrogatepass")
        del data["body"]
        data["body_sha256"] = hashlib.sha256(body).hexdigest()
        data["body_size"] = len(body)
    payload = sanitize(data)
    assert isinstance(payload, dict)
    return payload


def event_facts(event: Event[Any]) -> EventFacts:
    """What the trail keeps of a valid event."""
    data = event.data
    report_id = getattr(data, "report_id", None) or event.subject
    tracking_code = getattr(data, "tracking_code", None)
    return EventFacts(
        event_id=event.id,
        event_type=event.type,
        report_id=report_id if isinstance(report_id, str) else None,
        tracking_code=tracking_code if isinstance(tracking_code, str) else None,
        actor=actor_of(event),
        occurred_at=to_millis(event.time),
        payload=event_payload(event),
    )


def invalid_facts(
    *,
    position: SourcePosition,
    raw: bytes | None,
    reason: str,
    occurred_at: datetime,
    dead_letter: DeadLetterCoordinates,
) -> EventFacts:
    """What the trail keeps of an event that failed validation.

    Not its bytes (they may hold personal data): their SHA-256 and size, where they were
    dead-lettered, and what the record claimed to be (id, type, subject), sanitized.
    """
    raw_bytes = raw or b""
    payload: dict[str, Any] = {
        "raw_sha256": hashlib.sha256(raw_bytes).hexdigest(),
        "raw_size": len(raw_bytes),
        "raw_present": raw is not None,
        "dead_letter": {
            "topic": dead_letter.topic,
            "partition": dead_letter.partition,
            "offset": dead_letter.offset,
        },
    }
    claimed = _claims(raw_bytes)
    if claimed:
        payload["claimed"] = claimed
    return EventFacts(
        event_id=invalid_event_id(position.topic, position.partition, position.offset),
        event_type=INVALID_EVENT_TYPE,
        report_id=None,
        tracking_code=None,
        actor=Actor(kind="unknown", id="unknown"),
        occurred_at=to_millis(occurred_at),
        payload=sanitize(payload),
        valid=False,
        invalid_reason=_valid_unicode(reason)[:2000],
    )


def _claims(raw: bytes) -> dict[str, str]:
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {
        name: decoded[name][:MAX_CLAIM_LENGTH]
        for name in ("id", "type", "subject", "source")
        if isinstance(decoded.get(name), str)
    }
