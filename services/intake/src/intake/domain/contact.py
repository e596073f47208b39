"""Contacts: normalized (E.164 phones, clean emails), sealed, and masked in free text."""

from __future__ import annotations

import re

import phonenumbers

from intake.domain.model import Contact

REGION = "VN"
EMERGENCY_NUMBERS = frozenset({"113", "114", "115"})
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
_PHONE_MASK = "[số điện thoại]"
_EMAIL_MASK = "[email]"


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


def mask_contacts(text: str) -> str:
    """``text`` with phone numbers and email addresses replaced by placeholders.

    Emergency numbers (113, 114, 115) stay: they are advice, not personal data.
    """
    text = _EMAIL.sub(_EMAIL_MASK, text)
    pieces: list[str] = []
    last = 0
    matches = phonenumbers.PhoneNumberMatcher(text, REGION, leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matches:
        if match.raw_string.strip() in EMERGENCY_NUMBERS:
            continue
        pieces.append(text[last : match.start])
        pieces.append(_PHONE_MASK)
        last = match.end
    pieces.append(text[last:])
    return "".join(pieces)


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
