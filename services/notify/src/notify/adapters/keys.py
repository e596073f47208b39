"""Notify's copy of the filed contact keys: ``notify_contact_keys``, one document per key.

Notify follows ``pakn.contact.keys.v1`` (consumer group ``notify-contact-keys``) and keeps,
per key id (``_id``), either the key wrapped under the master keys (``wrapped_key``) or,
once the citizen was forgotten, only the proof (``destroyed_at``, ``request_id``): the key
itself is deleted, never to be written back. A batch writes with one ``insert_many``
(new keys; a key already there, or destroyed, is left as it is) and one bulk of replaces
(destroyed keys); the courier reads a batch's keys with one ``{_id: {$in: [...]}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phananh_contracts import ContactKeyDestroyed, ContactKeyIssued
from phananh_platform.mongo import bulk_write, duplicate_indexes
from phananh_platform.privacy import ContactKey
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

COLLECTION = "notify_contact_keys"


@dataclass(frozen=True)
class Destroyed:
    """A key destroyed on a citizen's request: what notify knows of it."""

    key_id: str
    request_id: str


KeyState = ContactKey | Destroyed


class ContactKeyStore:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._keys: AsyncCollection[Any] = database[COLLECTION]

    async def file(self, filed: Sequence[ContactKeyIssued | ContactKeyDestroyed]) -> None:
        """Keep new keys and forget destroyed ones (the newest record per key counts)."""
        latest: dict[str, ContactKeyIssued | ContactKeyDestroyed] = {}
        for data in filed:
            latest[data.key_id] = data
        issued = [d for d in latest.values() if isinstance(d, ContactKeyIssued)]
        destroyed = [d for d in latest.values() if isinstance(d, ContactKeyDestroyed)]
        if destroyed:
            await bulk_write(
                self._keys,
                [
                    ReplaceOne(
                        {"_id": d.key_id},
                        {"destroyed_at": d.destroyed_at, "request_id": d.request_id},
                        upsert=True,
                    )
                    for d in destroyed
                ],
            )
        if issued:
            try:
                await self._keys.insert_many(
                    [{"_id": d.key_id, "wrapped_key": d.wrapped_key} for d in issued],
                    ordered=False,
                )
            except BulkWriteError as error:
                duplicate_indexes(error)  # filed before, or destroyed: left as it is

    async def keys(self, key_ids: Iterable[str]) -> dict[str, KeyState]:
        """The state of each key notify has heard of; unknown ids are left out."""
        wanted = sorted(set(key_ids))
        if not wanted:
            return {}
        found: dict[str, KeyState] = {}
        async for doc in self._keys.find({"_id": {"$in": wanted}}):
            if "wrapped_key" in doc:
                found[doc["_id"]] = ContactKey(doc["_id"], doc["wrapped_key"])
            else:
                found[doc["_id"]] = Destroyed(doc["_id"], doc.get("request_id", ""))
        return found
