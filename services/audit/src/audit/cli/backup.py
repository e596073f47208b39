"""``backup`` and ``restore``: the trail kept elsewhere, and brought back provably whole.

    phananh-audit backup FILE             write the trail to FILE (and read it back whole)
    phananh-audit restore FILE            load FILE into an empty audit database, then verify

A backup holds the three collections that make the trail (``audit_trail``,
``audit_chains``, ``audit_checkpoints``) as JSON lines in MongoDB's canonical extended
JSON (every type round-trips: dates, binary, 64-bit integers), between a header and a
trailer that counts the documents and carries the SHA-256 of every line between them. The
checksum catches a file damaged on the way; what proves the trail itself is whole is the
hash chains and the signed checkpoints, so ``restore`` ends by running ``verify`` on the
restored database and exits with its status (0 intact, 1 broken, 2 unverifiable). The
oversight read model is not in the backup: ``phananh-audit rebuild-facts`` refolds it.

Restore refuses a database that already holds a trail: it never merges two trails.
The file is written readable by its owner only (the trail holds pseudonyms and masked
texts of citizens' reports).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bson import json_util
from phananh_platform.mongo import create_mongo_client
from phananh_platform.settings import load_settings
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from audit.adapters.trail_store import CHAINS, CHECKPOINTS, TRAIL, TrailStore
from audit.cli.verify import EXIT_BROKEN, EXIT_UNVERIFIABLE, VerifySettings, check_trail

FORMAT = "phananh-audit-backup"
VERSION = 1
COLLECTIONS = (CHAINS, CHECKPOINTS, TRAIL)
"""In the order they are written and restored."""
BATCH = 1_000
_JSON = json_util.CANONICAL_JSON_OPTIONS


class BackupError(RuntimeError):
    """The file is not a whole backup, or the database refuses it; the message says why."""


async def write_backup(database: AsyncDatabase[Any], path: Path) -> dict[str, int]:
    """Every document of the trail's collections into ``path`` (written to a temporary
    file first, then renamed: a backup interrupted half-way leaves no file). Returns the
    count per collection."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    counts = dict.fromkeys(COLLECTIONS, 0)
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            header = {"format": FORMAT, "version": VERSION, "created_at": _now()}
            out.write(json.dumps(header) + "\n")
            for name in COLLECTIONS:
                async for document in _documents(database, name):
                    line = json.dumps({"collection": name, "document": document})
                    digest.update(line.encode())
                    out.write(line + "\n")
                    counts[name] += 1
            out.write(json.dumps({"end": True, "counts": counts, "sha256": digest.hexdigest()}))
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return counts


async def _documents(database: AsyncDatabase[Any], name: str) -> AsyncIterator[Any]:
    """A collection's documents in ``_id`` order, as canonical extended JSON values."""
    async for document in database[name].find({}).sort("_id", 1):
        yield json.loads(json_util.dumps(document, json_options=_JSON))


def read_backup(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The documents of a backup file by collection; BackupError unless the file is whole
    (header, every line, a trailer whose counts and checksum match)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(f"cannot read {path}: {error}") from None
    if len(lines) < 2:
        raise BackupError(f"{path} is not a backup of the audit trail (too short)")
    try:
        header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    except ValueError:
        raise BackupError(f"{path} is not a backup of the audit trail") from None
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BackupError(f"{path} is not a version-{VERSION} backup of the audit trail")
    if not trailer.get("end"):
        raise BackupError(f"{path} is cut short: its last line is not the trailer")
    digest = hashlib.sha256()
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in COLLECTIONS}
    for number, line in enumerate(lines[1:-1], start=2):
        digest.update(line.encode())
        try:
            entry = json.loads(line)
            documents = found[entry["collection"]]
        except (ValueError, KeyError, TypeError):
            raise BackupError(f"{path}, line {number}: not a document of the trail") from None
        documents.append(json_util.loads(json.dumps(entry["document"]), json_options=_JSON))
    if digest.hexdigest() != trailer.get("sha256"):
        raise BackupError(f"{path} was changed or damaged: its checksum does not match")
    counts = {name: len(documents) for name, documents in found.items()}
    if counts != trailer.get("counts"):
        raise BackupError(f"{path} holds {counts}, its trailer says {trailer.get('counts')}")
    return found


async def restore_backup(database: AsyncDatabase[Any], path: Path) -> dict[str, int]:
    """Load a backup into a database without a trail; the count per collection."""
    found = read_backup(path)
    for name in COLLECTIONS:
        if await database[name].find_one({}, {"_id": 1}) is not None:
            raise BackupError(
                f"the database {database.name} already holds {name}: restore into an empty "
                "one (PHANANH_MONGODB__DATABASE names another)"
            )
    await TrailStore(database).ensure_indexes()
    for name in COLLECTIONS:
        documents = found[name]
        for start in range(0, len(documents), BATCH):
            await database[name].insert_many(documents[start : start + BATCH], ordered=True)
    return {name: len(documents) for name, documents in found.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def backup(settings: VerifySettings, path: Path, *, out: TextIO) -> int:
    client = create_mongo_client(settings.mongodb, app_name="phananh-audit-backup")
    try:
        counts = await write_backup(client[settings.mongodb.database], path)
    except (PyMongoError, OSError) as error:
        print(f"backup: {error}", file=out)
        return EXIT_UNVERIFIABLE
    finally:
        await client.close()
    print(f"backup: {_counted(counts)} written to {path}", file=out)
    read_backup(path)  # what was written reads back whole
    return 0


async def restore(settings: VerifySettings, path: Path, *, out: TextIO) -> int:
    client = create_mongo_client(settings.mongodb, app_name="phananh-audit-restore")
    try:
        counts = await restore_backup(client[settings.mongodb.database], path)
    except BackupError as error:
        print(f"restore: {error}", file=out)
        return EXIT_BROKEN
    except PyMongoError as error:
        print(f"restore: the database refused the backup: {error}", file=out)
        return EXIT_UNVERIFIABLE
    finally:
        await client.close()
    print(
        f"restore: {_counted(counts)} restored into {settings.mongodb.database}; "
        "verifying the restored trail",
        file=out,
    )
    status = await check_trail(settings, out=out)
    if status == 0:
        print("restore: `phananh-audit rebuild-facts` brings the oversight figures back", file=out)
    return status


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def main(command: str, argv: Sequence[str] | None = None) -> int:
    """``backup FILE`` or ``restore FILE``; the exit status."""
    from audit.settings import Settings

    parser = argparse.ArgumentParser(prog=f"phananh-audit {command}", description=__doc__)
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    settings = load_settings(Settings, f"phananh-audit {command}")
    run = backup if command == "backup" else restore
    return asyncio.run(run(settings, args.file, out=sys.stdout))
