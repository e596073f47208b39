"""Contacts: normalized (E.164 phones, clean emails) before they are sealed.

Masking contacts in free text is ``phananh_platform.privacy.mask_contacts`` (audit uses
it too), and names with them ``mask_personal_data``; both are re-exported here for
intake's pipeline, which masks every free text of a citizen before it leaves intake.
"""

from __future__ import annotations

import re

import phonenumbers
from phananh_platform.privacy import mask_contacts, mask_personal_data

from intake.domain.model import Contact

REGION = "VN"
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a Vietnamese (or international) number, or None if it is not one."""
    try:
        number = phonenumbers.parse(raw, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """Trimmed address with a lowercase domain, or None if it is not an address."""
    candidate = raw.strip().strip("<>").strip()
    match = _EMAIL.fullmatch(candidate)
    if match is None:
        return None
    local, _, domain = candidate.rpartition("@")
    return f"{local}@{domain.lower()}"


def identity_of(contact: Contact, channel: str) -> str | None:
    """The string a pseudonym is derived from: the phone, else email, else channel id.

    The same phone number gives the same pseudonym on every channel.
    """
    if contact.phone:
        return f"phone:{contact.phone}"
    if contact.email:
        return f"email:{contact.email.lower()}"
    if contact.channel_user_ref:
        return f"{channel}:{contact.channel_user_ref}"
    return None


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
