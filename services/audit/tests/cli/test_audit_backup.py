"""``phananh-audit backup`` and ``restore`` on the real database: a trail backed up and
restored into an empty database verifies intact; a backup changed on the way is refused;
a restore never merges into an existing trail."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from audit.adapters.trail_store import TrailStore
from audit.cli.backup import BackupError, backup, read_backup, restore
from phananh_platform.settings import KafkaSettings, MongoSettings
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.trail import SIGNING_TEXT, VerifyConfig, populate

pytestmark = pytest.mark.integration


@pytest.fixture
async def other_database(
    mongo_client: AsyncMongoClient[Any], mongo_settings: MongoSettings
) -> AsyncIterator[MongoSettings]:
    """Settings naming a second, empty database (the restore's target), dropped after."""
    name = f"{mongo_settings.database}_restored"
    yield mongo_settings.model_copy(update={"database": name})
    await mongo_client.drop_database(name)


@pytest.fixture
async def trail(database: AsyncDatabase[Any]) -> TrailStore:
    store = TrailStore(database)
    await store.ensure_indexes()
    await populate(store)  # two chains, two signed checkpoints
    return store


def config(mongodb: MongoSettings, kafka: KafkaSettings) -> VerifyConfig:
    return VerifyConfig(mongodb, kafka, SecretStr(SIGNING_TEXT))


async def test_a_backup_restored_into_an_empty_database_verifies_intact(
    trail: TrailStore,
    mongo_settings: MongoSettings,
    other_database: MongoSettings,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    file = tmp_path / "trail.jsonl"
    out = io.StringIO()
    assert await backup(config(mongo_settings, kafka_settings), file, out=out) == 0
    assert "11 audit_trail" in out.getvalue()  # 8 + 3 records
    assert file.stat().st_mode & 0o077 == 0, "the backup is readable by others"

    out = io.StringIO()
    assert await restore(config(other_database, kafka_settings), file, out=out) == 0, out.getvalue()
    assert "Audit trail: INTACT" in out.getvalue()


async def test_a_backup_changed_on_the_way_is_refused(
    trail: TrailStore,
    mongo_settings: MongoSettings,
    other_database: MongoSettings,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    file = tmp_path / "trail.jsonl"
    assert await backup(config(mongo_settings, kafka_settings), file, out=io.StringIO()) == 0
    lines = file.read_text().splitlines()
    record = next(n for n, line in enumerate(lines) if '"audit_trail"' in line)
    entry = json.loads(lines[record])
    entry["document"]["payload"] = {"edited": True}
    lines[record] = json.dumps(entry)
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(BackupError, match="checksum"):
        read_backup(file)
    out = io.StringIO()
    assert await restore(config(other_database, kafka_settings), file, out=out) == 1
    assert "checksum does not match" in out.getvalue()

    file.write_text("\n".join(lines[:-3]) + "\n")  # cut short
    with pytest.raises(BackupError, match="cut short"):
        read_backup(file)


async def test_an_edit_that_fixes_the_checksum_is_found_by_verify_after_restore(
    trail: TrailStore,
    mongo_settings: MongoSettings,
    other_database: MongoSettings,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    """Whoever edits a record and recomputes the file's checksum still cannot hide it: the
    chains and the signed checkpoints prove the trail, not the file."""
    file = tmp_path / "trail.jsonl"
    assert await backup(config(mongo_settings, kafka_settings), file, out=io.StringIO()) == 0
    lines = file.read_text().splitlines()
    record = next(n for n, line in enumerate(lines) if '"audit_trail"' in line)
    entry = json.loads(lines[record])
    entry["document"]["payload"]["agency_id"] = "ubnd-khac"
    lines[record] = json.dumps(entry)
    trailer = json.loads(lines[-1])
    digest = hashlib.sha256()
    for line in lines[1:-1]:
        digest.update(line.encode())
    trailer["sha256"] = digest.hexdigest()
    lines[-1] = json.dumps(trailer)
    file.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    assert await restore(config(other_database, kafka_settings), file, out=out) == 1
    assert "Audit trail: BROKEN" in out.getvalue()
    assert "first broken record" in out.getvalue()


async def test_a_restore_never_merges_into_an_existing_trail(
    trail: TrailStore,
    mongo_settings: MongoSettings,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    file = tmp_path / "trail.jsonl"
    assert await backup(config(mongo_settings, kafka_settings), file, out=io.StringIO()) == 0
    out = io.StringIO()
    assert await restore(config(mongo_settings, kafka_settings), file, out=out) == 1
    assert "already holds" in out.getvalue()
