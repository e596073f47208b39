"""Signed checkpoints: the heads of every chain at one moment, signed with Ed25519.

A checkpoint is published to ``pakn.audit.checkpoints.v1`` (kept forever, readable by
anyone verifying the trail) and stored next to the trail. Someone who can write to the
database but does not hold the signing key cannot make a rewritten or shortened chain
agree with a checkpoint kept elsewhere.

Keys are the 32 raw bytes of an Ed25519 key in standard base64. A public key's id is the
first 16 hex digits of the SHA-256 of its raw bytes; a checkpoint names the key that
verifies it, so keys can be rotated (verifiers keep the old public keys).

What is trusted of a checkpoint is only what its signature covers: its heads, ids and
key id are read back from the signed bytes themselves, never from fields stored beside
them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from phananh_contracts import AuditCheckpoint, ChainHead
from pydantic import ValidationError

from audit.domain.chain import to_millis

ALGORITHM = "Ed25519"
_PLACEHOLDER_SIGNATURE = base64.b64encode(bytes(64)).decode("ascii")


# ----------------------------------------------------------------------------- keys


def generate_signing_key() -> str:
    """A new private key as base64 of its 32 raw bytes (for PHANANH_AUDIT_SIGNING_KEY)."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def load_signing_key(text: str) -> Ed25519PrivateKey:
    """A private key from base64 of its 32 raw bytes; ValueError for anything else."""
    return Ed25519PrivateKey.from_private_bytes(_raw_key(text, "signing key"))


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes; ValueError for anything else."""
    return Ed25519PublicKey.from_public_bytes(_raw_key(text, "public key"))


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ValueError(f"the {what} is not standard base64") from None
    if len(raw) != 32:
        raise ValueError(f"the {what} must be 32 raw bytes in base64, got {len(raw)} bytes")
    return raw


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its 32 raw bytes (for PHANANH_AUDIT_PUBLIC_KEYS)."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def public_key_id(key: Ed25519PublicKey) -> str:
    """The id of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def keyring(keys: Sequence[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Public keys by id, as verification takes them."""
    return {public_key_id(key): key for key in keys}


# ------------------------------------------------------------------------- building


def new_checkpoint_id(created_at: datetime) -> str:
    """A unique, time-ordered checkpoint id, e.g. ``cp-20230316T090000123Z-1f2e3d4c``."""
    stamp = to_millis(created_at).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"cp-{stamp}Z-{uuid.uuid4().hex[:8]}"


def build_checkpoint(
    heads: Sequence[ChainHead],
    *,
    signing_key: Ed25519PrivateKey,
    writer_id: str,
    created_at: datetime,
    checkpoint_id: str | None = None,
) -> AuditCheckpoint:
    """Sign the heads of the chains (one per chain, sorted by chain id)."""
    created = to_millis(created_at)
    unsigned = AuditCheckpoint(
        checkpoint_id=checkpoint_id or new_checkpoint_id(created),
        writer_id=writer_id,
        heads=tuple(sorted(heads, key=lambda head: head.chain_id)),
        created_at=created,
        algorithm="Ed25519",
        public_key_id=public_key_id(signing_key.public_key()),
        signature=_PLACEHOLDER_SIGNATURE,
    )
    signature = signing_key.sign(unsigned.signed_bytes())
    return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode("ascii")})


# ------------------------------------------------------------------------ verifying


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as a verifier reads it: the signed bytes, the signature, and what the
    signed bytes say (heads, ids), wherever the copy came from."""

    checkpoint_id: str
    writer_id: str
    created_at: str
    public_key_id: str
    heads: tuple[ChainHead, ...]
    signed: bytes
    signature: bytes
    origin: str
    """Where this copy was read: 'database', 'kafka' …"""


@dataclass(frozen=True)
class UnreadableCheckpoint:
    """A stored or published checkpoint that cannot even be parsed."""

    checkpoint_id: str | None
    origin: str
    reason: str


def unsigned_bytes(data: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers, from the JSON object as received.

    Same rule as ``AuditCheckpoint.signed_bytes()``: the object without ``signature``,
    keys sorted, no whitespace, UTF-8; fields unknown to this version count too.
    """
    unsigned = {key: value for key, value in data.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signed_checkpoint(checkpoint: AuditCheckpoint, *, origin: str) -> SignedCheckpoint:
    """A checkpoint this process holds as a model."""
    return read_signed(checkpoint.signed_bytes(), checkpoint.signature, origin=origin)


def checkpoint_from_data(
    data: Mapping[str, Any], *, origin: str
) -> SignedCheckpoint | UnreadableCheckpoint:
    """A checkpoint from the ``data`` object of a received event (e.g. read from Kafka)."""
    signature = data.get("signature")
    if not isinstance(signature, str):
        return UnreadableCheckpoint(_claimed_id(data), origin, "no signature")
    try:
        return read_signed(unsigned_bytes(data), signature, origin=origin)
    except ValueError as error:
        return UnreadableCheckpoint(_claimed_id(data), origin, str(error))


def read_signed(signed: bytes, signature: str, *, origin: str) -> SignedCheckpoint:
    """Parse signed checkpoint bytes and a base64 signature; ValueError when malformed."""
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except binascii.Error:
        raise ValueError("the signature is not standard base64") from None
    try:
        data = json.loads(signed)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the signed bytes are not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the signed bytes are not a JSON object")
    try:
        heads = tuple(ChainHead.model_validate(head) for head in data.get("heads") or ())
    except ValidationError as error:
        raise ValueError(f"a chain head is malformed: {error.errors()[0]['msg']}") from None
    texts = {}
    for name in ("checkpoint_id", "writer_id", "created_at", "public_key_id"):
        value = data.get(name)
        if not isinstance(value, str):
            raise ValueError(f"the signed bytes have no {name}")
        texts[name] = value
    if data.get("algorithm") != ALGORITHM:
        raise ValueError(f"unsupported algorithm {data.get('algorithm')!r}")
    return SignedCheckpoint(
        heads=heads, signed=bytes(signed), signature=raw_signature, origin=origin, **texts
    )


def signature_problem(
    checkpoint: SignedCheckpoint, public_keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """Why a checkpoint's signature cannot be trusted, or None when it verifies."""
    key = public_keys.get(checkpoint.public_key_id)
    if key is None:
        return f"signed with key {checkpoint.public_key_id}, which is not a configured public key"
    try:
        key.verify(checkpoint.signature, checkpoint.signed)
    except InvalidSignature:
        return f"the signature does not verify with key {checkpoint.public_key_id}"
    return None


def _claimed_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("checkpoint_id")
    return value if isinstance(value, str) else None
