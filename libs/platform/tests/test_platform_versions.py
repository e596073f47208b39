"""Versioned documents on the real database: inserts only, concurrent writers, old shapes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from phananh_platform.delivery import ConcurrentChange
from phananh_platform.versions import VersionedDocuments
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration


def add_tags(key: str, base: Mapping[str, Any], tags: Sequence[str]) -> dict[str, Any] | None:
    """A document holding a set of tags: new tags make a version, known ones nothing."""
    known = list(base.get("tags", []))
    new = [tag for tag in tags if tag not in known]
    if not new and base:
        return None
    return {"tags": known + sorted(set(new))}


def tags_of(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    return {key: list(document.get("tags", [])) for key, document in documents.items()}


async def test_changes_are_inserted_versions_and_a_redelivery_writes_nothing(
    database: AsyncDatabase[Any],
) -> None:
    collection = database["tagged"]
    documents = VersionedDocuments[str](collection, add_tags, key_field="report_id")

    written = await documents.change([("r-1", "a"), ("r-2", "b"), ("r-1", "c")])
    assert tags_of(written) == {"r-1": ["a", "c"], "r-2": ["b"]}
    again = await documents.change([("r-1", "a"), ("r-1", "c")])  # redelivered
    assert tags_of(again) == {"r-1": ["a", "c"]}
    await documents.change([("r-1", "d")])

    stored = await collection.find({}, {"_id": 1}).to_list()
    assert sorted(d["_id"] for d in stored) == ["r-1#00000001", "r-1#00000002", "r-2#00000001"]
    latest = await VersionedDocuments[str](collection, add_tags, key_field="report_id").get(
        ["r-1", "r-2", "r-never"]
    )
    assert tags_of(latest) == {"r-1": ["a", "c", "d"], "r-2": ["b"], "r-never": []}
    assert latest["r-1"]["report_id"] == "r-1" and latest["r-1"]["version"] == 2


async def test_two_writers_of_one_document_both_keep_their_changes(
    database: AsyncDatabase[Any],
) -> None:
    collection = database["tagged"]
    first = VersionedDocuments[str](collection, add_tags)
    second = VersionedDocuments[str](collection, add_tags)
    await first.change([("r-1", "a")])
    await second.change([("r-1", "b")])
    # first remembers version 1: its version 2 is refused, it reads again and folds again
    written = await first.change([("r-1", "c")])
    assert tags_of(written) == {"r-1": ["a", "b", "c"]}

    # many writers at once: each change lands once, in some version
    writers = [VersionedDocuments[str](collection, add_tags) for _ in range(6)]
    await asyncio.gather(*(writer.change([("r-2", f"t{n}")]) for n, writer in enumerate(writers)))
    latest = await VersionedDocuments[str](collection, add_tags).get(["r-2"])
    assert sorted(latest["r-2"]["tags"]) == [f"t{n}" for n in range(6)]


async def test_the_latest_of_many_versions_is_found_and_an_old_document_is_version_0(
    database: AsyncDatabase[Any],
) -> None:
    collection = database["tagged"]
    writer = VersionedDocuments[str](collection, add_tags, probe=3)
    for number in range(11):  # more versions than one read asks for
        await writer.change([("r-1", f"t{number:02d}")])
    await collection.insert_one({"_id": "r-old", "tags": ["kept"]})  # before versions

    reader = VersionedDocuments[str](collection, add_tags, probe=3)
    latest = await reader.get(["r-1", "r-old"])
    assert latest["r-1"]["version"] == 11 and len(latest["r-1"]["tags"]) == 11
    assert tags_of(latest)["r-old"] == ["kept"]
    written = await reader.change([("r-old", "new")])
    assert tags_of(written) == {"r-old": ["kept", "new"]}
    assert written["r-old"]["_id"] == "r-old#00000001"


async def test_a_writer_that_keeps_losing_the_race_says_so_as_a_transient_failure(
    database: AsyncDatabase[Any],
) -> None:
    collection = database["tagged"]
    stubborn = VersionedDocuments[str](collection, add_tags, rounds=1)
    other = VersionedDocuments[str](collection, add_tags)
    await stubborn.change([("r-1", "a")])
    await other.change([("r-1", "b")])
    with pytest.raises(ConcurrentChange, match="r-1"):
        await stubborn.change([("r-1", "c")])
    # the next try (the batch handled again) reads the latest and succeeds
    assert tags_of(await stubborn.change([("r-1", "c")])) == {"r-1": ["a", "b", "c"]}
