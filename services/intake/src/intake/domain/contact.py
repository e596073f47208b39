"""Contacts: normalized (E.164 phones, clean emails) before they are sealed.

Masking contacts in free text is ``phananh_platform.privacy.mask_contacts`` (audit uses
it too), and names with them ``mask_personal_data``; both are re-exported here for
intake's pipeline, which masks every free text of a citizen before it leaves intake.
"""

from __future__ import annotations

from phananh_platform.privacy import (
    citizen_identity,
    mask_contacts,
    mask_personal_data,
    normalize_email,
    normalize_phone,
)

from intake.domain.model import Contact


def identity_of(contact: Contact, channel: str) -> str | None:
    """The string a pseudonym is derived from: the phone, else email, else channel id
    (``phananh_platform.privacy.citizen_identity``, which ``phananh forget`` uses too)."""
    return citizen_identity(
        phone=contact.phone,
        email=contact.email,
        channel=channel,
        channel_user_ref=contact.channel_user_ref,
    )


def normalized_contact(contact: Contact | None) -> Contact | None:
    """The contact with an E.164 phone and a clean email; None when nothing is usable."""
    if contact is None:
        return None
    cleaned = Contact(
        phone=normalize_phone(contact.phone) if contact.phone else None,
        email=normalize_email(contact.email) if contact.email else None,
        name=" ".join(contact.name.split()) if contact.name else None,
        channel_user_ref=contact.channel_user_ref or None,
    )
    return None if cleaned.is_empty() else cleaned


__all__ = [
    "identity_of",
    "mask_contacts",
    "mask_personal_data",
    "normalize_email",
    "normalize_phone",
    "normalized_contact",
]
