"""Notify's copy of the contact keys on the real database: a destroyed key never returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from notify.adapters.keys import COLLECTION, ContactKeyStore, Destroyed
from phananh_contracts import ContactKeyDestroyed, ContactKeyIssued
from phananh_platform.privacy import ContactKey
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def issued(key_id: str) -> ContactKeyIssued:
    return ContactKeyIssued(
        key_id=key_id, pseudonym="ctz-minh", wrapped_key=f"wrapped-{key_id}", issued_at=AT
    )


def destroyed(key_id: str) -> ContactKeyDestroyed:
    return ContactKeyDestroyed(
        key_id=key_id,
        pseudonym="ctz-minh",
        request_id="forget-1",
        reason="citizen's request",
        destroyed_by="ioc",
        destroyed_at=AT,
    )


async def test_keys_are_kept_and_a_destroyed_one_is_gone_for_good(
    database: AsyncDatabase[Any],
) -> None:
    store = ContactKeyStore(database)
    await store.file([issued("ck-1"), issued("ck-2"), issued("ck-3"), destroyed("ck-3")])
    await store.file([issued("ck-1")])  # redelivered: nothing changes

    assert await store.keys(["ck-1", "ck-2", "ck-3", "ck-9"]) == {
        "ck-1": ContactKey("ck-1", "wrapped-ck-1"),
        "ck-2": ContactKey("ck-2", "wrapped-ck-2"),
        "ck-3": Destroyed("ck-3", "forget-1"),
    }

    await store.file([destroyed("ck-1")])
    await store.file([issued("ck-1")])  # an old batch coming back cannot restore it
    assert await store.keys(["ck-1"]) == {"ck-1": Destroyed("ck-1", "forget-1")}
    kept = await database[COLLECTION].find_one({"_id": "ck-1"})
    assert kept is not None and "wrapped_key" not in kept
