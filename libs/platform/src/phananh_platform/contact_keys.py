"""The filed contact keys (``pakn.contact.keys.v1``): reading them back, choosing whose to
destroy.

Each record is a key intake filed (:class:`ContactKeyIssued`) or the proof that it was
destroyed (:class:`ContactKeyDestroyed`, same record key, written over it). The newest
record per key id is what counts, as it is for the log cleaner that compacts the topic.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from phananh_contracts import (
    CONTACT_KEYS_TOPIC,
    ContactKeyDestroyed,
    ContactKeyIssued,
    ContractViolation,
)

from phananh_platform.kafka import read_topic
from phananh_platform.privacy import ContactKey
from phananh_platform.settings import KafkaSettings

Filed = ContactKeyIssued | ContactKeyDestroyed


def latest_per_key(records: Iterable[Any]) -> dict[str, Filed]:
    """The newest record of each key id, from records in topic order per partition.

    Records that are not contract events are left out (the topic's consumers dead-letter
    them)."""
    latest: dict[str, Filed] = {}
    for record in records:
        if record.value is None:
            continue
        try:
            data = CONTACT_KEYS_TOPIC.decode(record.value).data
        except ContractViolation:
            continue
        latest[data.key_id] = data
    return latest


async def filed_contact_keys(
    settings: KafkaSettings, *, client_id: str = "phananh-contact-keys"
) -> dict[str, Filed]:
    """Every key id on the topic and its newest record (read from the start to now)."""
    return latest_per_key(await read_topic(settings, CONTACT_KEYS_TOPIC.name, client_id=client_id))


def keys_of(
    filed: Mapping[str, Filed],
    *,
    pseudonyms: Collection[str] = (),
    tracking_codes: Collection[str] = (),
) -> tuple[set[str], list[ContactKeyIssued]]:
    """Whose keys to destroy, and which: the citizens named by pseudonym or by the tracking
    code of a report they sent or answered, and every key still filed under them.

    Returns (the pseudonyms, their live keys in key id order).
    """
    citizens = set(pseudonyms)
    citizens |= {
        data.pseudonym
        for data in filed.values()
        if isinstance(data, ContactKeyIssued) and data.tracking_code in tracking_codes
    }
    live = sorted(
        (
            data
            for data in filed.values()
            if isinstance(data, ContactKeyIssued) and data.pseudonym in citizens
        ),
        key=lambda data: data.key_id,
    )
    return citizens, live


def as_key(data: ContactKeyIssued) -> ContactKey:
    """What :meth:`ContactSealer.open` needs of a filed key."""
    return ContactKey(data.key_id, data.wrapped_key)
