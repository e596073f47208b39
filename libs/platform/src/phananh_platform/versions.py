"""Documents that change by inserting their next version, never by an update.

On FerretDB's SQLite backend an update reads, re-encodes and rewrites a whole document
(~10 × the cost of an insert) under the database's one writer lock, and a filter on
anything but ``_id`` scans the collection. A :class:`VersionedDocuments` keeps each key's
document as contiguous versions, ``_id = "<key>#<version, 8 digits>"`` (with the key, in a field the
caller names, and ``version``), so that:

* a change is one insert (a batch's changes, one ``insert_many``);
* the unique ``_id`` decides which of two writers changing one document at once (two
  consumers of a process, two instances) makes version n+1; the refused one reads the
  latest again and folds its changes in once more;
* the latest version is found by ``_id`` alone (``$in`` on the next few versions);
* the latest versions a process wrote or read recently are kept in memory, so the usual
  change costs one insert and no read;
* a document kept before versions existed (``_id`` = key) is read as version 0.

What a change does to a document is the caller's ``fold``: given the key, the latest
document (``{}`` for none) and the batch's changes of that key, it returns the next
document's fields, or None when the changes are in it already (a redelivered batch writes
nothing). Folds must be idempotent; changes of one batch are folded in their order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from phananh_platform.delivery import ConcurrentChange
from phananh_platform.mongo import duplicate_indexes

T = TypeVar("T")
Document = dict[str, Any]
Fold = Callable[[str, Mapping[str, Any], Sequence[T]], Mapping[str, Any] | None]

RECENT = 5_000
"""Documents whose latest version is kept in memory (a few MB)."""
PROBE = 8
"""Versions asked for at once when a document is read (most have a handful)."""
ROUNDS = 8
"""Rounds of reading and inserting while other writers keep changing the same documents."""


def version_id(key: str, version: int) -> str:
    return f"{key}#{version:08d}"


class VersionedDocuments(Generic[T]):
    """One collection of versioned documents (see the module's docstring)."""

    def __init__(
        self,
        collection: AsyncCollection[Any],
        fold: Fold[T],
        *,
        key_field: str = "key",
        recent: int = RECENT,
        probe: int = PROBE,
        rounds: int = ROUNDS,
    ) -> None:
        self.collection = collection
        self.fold = fold
        self.key_field = key_field
        self._recent: OrderedDict[str, tuple[int, Document]] = OrderedDict()
        self._recent_limit = recent
        self._probe = probe
        self._rounds = rounds

    async def change(self, changes: Iterable[tuple[str, T]]) -> dict[str, Document]:
        """Fold each key's changes into its next version, all in one insert; return the
        latest document of every key named (as written, or as found when nothing changed).

        Raises :class:`ConcurrentChange` (transient: the batch is tried again) when other
        writers keep taking the next versions of some documents.
        """
        pending: dict[str, list[T]] = {}
        for key, item in changes:
            pending.setdefault(key, []).append(item)
        latest: dict[str, Document] = {}
        fresh: set[str] = set()
        for _ in range(self._rounds):
            if not pending:
                break
            known = await self._latest(pending, fresh)
            versions: list[Document] = []
            for key, items in pending.items():
                version, base = known[key]
                folded = self.fold(key, base, items)
                if folded is None:
                    if key in fresh:
                        latest[key] = base
                    else:
                        fresh.add(key)  # unchanged as remembered: make sure from the store
                    continue
                next_version = version + 1
                versions.append(
                    dict(folded)
                    | {
                        "_id": version_id(key, next_version),
                        self.key_field: key,
                        "version": next_version,
                    }
                )
            refused = await self._insert(versions)
            for document in versions:
                key = document[self.key_field]
                if document["_id"] in refused:
                    fresh.add(key)
                    self._recent.pop(key, None)
                else:
                    self._remember(key, document["version"], document)
                    latest[key] = document
            pending = {key: items for key, items in pending.items() if key not in latest}
        if not pending:
            return latest
        raise ConcurrentChange(
            f"{len(pending)} document(s) of {self.collection.name} changed by other writers "
            f"meanwhile, e.g. {next(iter(pending))}"
        )

    async def get(self, keys: Iterable[str]) -> dict[str, Document]:
        """The latest stored document of each key (``{}`` for none), read from the store."""
        wanted = sorted(set(keys))
        known = await self._latest(wanted, set(wanted))
        return {key: known[key][1] for key in wanted}

    async def _latest(
        self, keys: Iterable[str], fresh: Collection[str]
    ) -> dict[str, tuple[int, Document]]:
        """The latest version of each key: from memory unless in ``fresh``, else read."""
        found: dict[str, tuple[int, Document]] = {}
        unknown: dict[str, int] = {}
        for key in keys:
            if key not in fresh and key in self._recent:
                self._recent.move_to_end(key)
                found[key] = self._recent[key]
            else:
                unknown[key] = 0
                found[key] = (0, {})
        first = True
        while unknown:
            probe = [
                version_id(key, version)
                for key, start in unknown.items()
                for version in range(start + 1, start + 1 + self._probe)
            ]
            if first:
                probe += list(unknown)  # a document kept before versions: version 0
            async for document in self.collection.find({"_id": {"$in": probe}}):
                key = document.get(self.key_field, document["_id"])
                version = int(document.get("version", 0))
                if key in unknown and (not found[key][1] or version > found[key][0]):
                    found[key] = (version, document)
            further: dict[str, int] = {}
            for key, start in unknown.items():
                version, document = found[key]
                if version == start + self._probe:
                    further[key] = version  # may have more: probe on
                elif document:
                    self._remember(key, version, document)
            unknown, first = further, False
        return found

    async def _insert(self, documents: Sequence[Document]) -> set[str]:
        """Insert versions (unordered); the ids refused because another writer took them."""
        if not documents:
            return set()
        try:
            await self.collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            return {documents[index]["_id"] for index in duplicate_indexes(error)}
        return set()

    def _remember(self, key: str, version: int, document: Document) -> None:
        self._recent[key] = (version, document)
        self._recent.move_to_end(key)
        while len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)
