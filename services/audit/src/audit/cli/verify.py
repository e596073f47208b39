"""``verify``: recompute every chain of the trail, check every checkpoint, name the first
broken record of each chain.

    python -m audit.cli.verify [--kafka]

Reads the trail and the stored checkpoints from MongoDB and, with ``--kafka``, the
checkpoints published to ``pakn.audit.checkpoints.v1`` too: the copy kept elsewhere,
which someone with access to the database alone cannot rewrite. Signatures are checked
with the configured public keys (and the public half of the signing key, if this
machine holds it). Prints a report in English.

Exit status: 0 the trail is intact, 1 it is broken (the report names where), 2 it could
not be verified (no public key, database or Kafka unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from phananh_contracts import AUDIT_CHECKPOINTS_TOPIC, ContractViolation
from phananh_platform.kafka import read_topic
from phananh_platform.mongo import create_mongo_client
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo.errors import PyMongoError

from audit.adapters.trail_store import TrailStore
from audit.domain.checkpoints import (
    SignedCheckpoint,
    UnreadableCheckpoint,
    checkpoint_from_data,
    keyring,
    load_public_key,
    load_signing_key,
)
from audit.domain.verify import TrailVerifier, VerificationReport, compare_copies

EXIT_INTACT, EXIT_BROKEN, EXIT_UNVERIFIABLE = 0, 1, 2

Checkpoints = list[SignedCheckpoint | UnreadableCheckpoint]


class VerifySettings(Protocol):
    """The settings ``verify`` reads (the audit service's ``Settings`` has them)."""

    @property
    def mongodb(self) -> MongoSettings: ...

    @property
    def kafka(self) -> KafkaSettings: ...

    @property
    def audit_signing_key(self) -> SecretStr | None: ...

    @property
    def audit_public_keys(self) -> Sequence[str]: ...


def public_keys_of(settings: VerifySettings) -> dict[str, Ed25519PublicKey]:
    """Configured public keys by id, plus the signing key's own; ValueError if malformed."""
    keys = [load_public_key(text) for text in settings.audit_public_keys]
    if settings.audit_signing_key is not None:
        keys.append(load_signing_key(settings.audit_signing_key.get_secret_value()).public_key())
    return keyring(keys)


async def verify_store(
    store: TrailStore,
    checkpoints: Checkpoints,
    public_keys: dict[str, Ed25519PublicKey],
    *,
    notes: Sequence[str] = (),
) -> VerificationReport:
    """Verify every chain in the database, one chain at a time, against ``checkpoints``."""
    verifier = TrailVerifier(checkpoints, public_keys)
    for chain_id in await store.chain_ids():
        walker = verifier.walker(chain_id)
        async for document in store.read_chain(chain_id):
            walker.feed(document)
    return verifier.report(notes)


async def read_published_checkpoints(
    settings: KafkaSettings,
    *,
    topic: str = AUDIT_CHECKPOINTS_TOPIC.name,
    timeout_s: float = 60.0,
) -> Checkpoints:
    """Every checkpoint on the checkpoint topic, from its first record to its end."""
    async with asyncio.timeout(timeout_s):
        try:
            records = await read_topic(settings, topic, client_id="phananh-audit-verify")
        except LookupError:
            raise LookupError(f"the checkpoint topic {topic} does not exist") from None
    return [_published_checkpoint(record.value, record.offset) for record in records]


def _published_checkpoint(
    value: bytes | None, offset: int
) -> SignedCheckpoint | UnreadableCheckpoint:
    origin = f"kafka offset {offset}"
    try:
        AUDIT_CHECKPOINTS_TOPIC.decode(value or b"")
        envelope: Any = json.loads(value or b"")
    except (ContractViolation, ValueError) as error:
        return UnreadableCheckpoint(None, origin, str(error))
    # Verify what was received, not a re-serialization (contracts: AuditCheckpoint).
    return checkpoint_from_data(envelope["data"], origin=origin)


async def check_trail(
    settings: VerifySettings,
    *,
    kafka: bool = False,
    checkpoint_topic: str = AUDIT_CHECKPOINTS_TOPIC.name,
    out: TextIO | None = None,
) -> int:
    """Verify the trail and print the report; the exit status (see the module)."""
    out = out if out is not None else sys.stdout
    try:
        public_keys = public_keys_of(settings)
    except ValueError as error:
        print(f"verify: a configured key is malformed: {error}", file=out)
        return EXIT_UNVERIFIABLE
    if not public_keys:
        print(
            "verify: no public key configured (PHANANH_AUDIT_PUBLIC_KEYS): "
            "checkpoints cannot be checked",
            file=out,
        )
        return EXIT_UNVERIFIABLE
    client = create_mongo_client(settings.mongodb, app_name="phananh-audit-verify")
    try:
        store = TrailStore(client[settings.mongodb.database])
        stored = await store.checkpoints()
        checkpoints: Checkpoints = list(stored)
        if kafka:
            published = await read_published_checkpoints(settings.kafka, topic=checkpoint_topic)
            # Checkpoints signed with keys we do not know say nothing about this trail.
            ours = [c for c in published if getattr(c, "public_key_id", None) in public_keys]
            notes = compare_copies(stored, ours)
            checkpoints.extend(published)
        else:
            notes = [
                "checkpoints were read from the database only; "
                "--kafka checks the trail against the published copy too"
            ]
        report = await verify_store(store, checkpoints, public_keys, notes=notes)
    except (PyMongoError, KafkaError, LookupError, OSError, TimeoutError) as error:
        print(f"verify: the trail could not be read: {error}", file=out)
        return EXIT_UNVERIFIABLE
    finally:
        await client.close()
    print(report.render(), file=out)
    return EXIT_INTACT if report.intact else EXIT_BROKEN


def run_verify(
    settings: VerifySettings,
    *,
    kafka: bool = False,
    checkpoint_topic: str = AUDIT_CHECKPOINTS_TOPIC.name,
    out: TextIO | None = None,
) -> int:
    """``check_trail`` from synchronous code (a command line); the exit status."""
    return asyncio.run(
        check_trail(settings, kafka=kafka, checkpoint_topic=checkpoint_topic, out=out)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="phananh-audit verify",
        description="Verify the audit trail's hash chains and signed checkpoints.",
    )
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="also check against the checkpoints published on Kafka (the copy kept elsewhere)",
    )
    parser.add_argument(
        "--checkpoint-topic", default=AUDIT_CHECKPOINTS_TOPIC.name, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    from audit.settings import Settings  # environment read only when run

    return run_verify(Settings(), kafka=args.kafka, checkpoint_topic=args.checkpoint_topic)


if __name__ == "__main__":
    sys.exit(main())
