"""Contacts sealed under keys of their own: what notify can open, and what forgetting does."""

import json

import pytest
from cryptography.fernet import Fernet
from phananh_platform.privacy import (
    ContactKey,
    ContactKeyUnknown,
    ContactSealer,
    SealedContact,
    key_id_of,
    new_contact_key,
)

pytestmark = pytest.mark.unit

MASTER = new_contact_key()
CONTACT = SealedContact(channel="zalo", phone="+84912345678", name="Lò Thị Hoa")


def test_a_sealed_contact_opens_with_its_key_and_shows_nothing_in_clear() -> None:
    sealer = ContactSealer([MASTER])

    sealed, key = sealer.seal(CONTACT)

    assert "+84912345678" not in sealed and "84912345678" not in key.wrapped_key
    assert key_id_of(sealed) == key.key_id
    assert sealer.open(sealed, key) == CONTACT


def test_every_contact_gets_a_key_of_its_own() -> None:
    sealer = ContactSealer([MASTER])

    (first, first_key), (_, second_key) = sealer.seal(CONTACT), sealer.seal(CONTACT)

    assert first_key.key_id != second_key.key_id
    with pytest.raises(ValueError):
        sealer.open(first, ContactKey(first_key.key_id, second_key.wrapped_key))


def test_without_its_key_a_contact_cannot_be_opened_even_with_the_master_keys() -> None:
    """What forgetting a citizen relies on: the master keys alone open nothing."""
    sealer = ContactSealer([MASTER])
    sealed, key = sealer.seal(CONTACT)

    with pytest.raises(ContactKeyUnknown):
        sealer.open(sealed)
    with pytest.raises(ContactKeyUnknown):
        sealer.open(sealed, ContactKey("ck-" + "0" * 32, key.wrapped_key))
    token = sealed.split(".", 2)[2]
    with pytest.raises(ValueError):
        sealer.open(token)  # the token is not a master-key token either


def test_a_key_wrapped_under_another_master_is_refused() -> None:
    sealed, key = ContactSealer([new_contact_key()]).seal(CONTACT)

    with pytest.raises(ValueError, match="cannot be opened"):
        ContactSealer([MASTER]).open(sealed, key)


def test_rotated_master_keys_still_open_keys_wrapped_under_the_old_one() -> None:
    old = ContactSealer([MASTER])
    sealed, key = old.seal(CONTACT)

    rotated = ContactSealer([new_contact_key(), MASTER])

    assert rotated.open(sealed, key) == CONTACT


def test_contacts_sealed_under_a_master_key_before_keys_per_contact_still_open() -> None:
    legacy = Fernet(MASTER.encode()).encrypt(json.dumps({"channel": "sms"}).encode()).decode()

    assert key_id_of(legacy) is None
    assert ContactSealer([MASTER]).open(legacy) == SealedContact(channel="sms")


def test_a_damaged_key_id_is_refused() -> None:
    with pytest.raises(ValueError, match="malformed"):
        key_id_of("ck1.not-a-key.gAAAA")
