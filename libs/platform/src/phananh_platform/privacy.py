"""Citizens' contacts on shared topics: sealed by intake, opened only by notify.

A contact (phone, email, name, the sender's id on its channel) never travels in clear:
intake seals it with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under the
contact key, which only intake and notify hold. Everyone else sees the ciphertext and a
*pseudonym*: a keyed hash of the contact that is the same for the same person across
channels and reports (for figures and duplicate detection), and reveals nothing.

Key rotation: :class:`ContactSealer` accepts several keys; it seals with the first and
opens with any (``MultiFernet``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

EMERGENCY_NUMBERS = frozenset({"113", "114", "115"})
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
_PHONE_MASK = "[số điện thoại]"
_EMAIL_MASK = "[email]"


@dataclass(frozen=True)
class SealedContact:
    """What a sealed contact holds, once opened."""

    channel: str
    phone: str | None = None
    """E.164, e.g. '+84912345678'."""
    email: str | None = None
    name: str | None = None
    channel_user_ref: str | None = None
    """The sender's id on its channel (Zalo user id, Facebook PSID), to answer there."""


class ContactSealer:
    """Seals and opens contacts; a wrong or rotated-out key fails loudly."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one contact key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, contact: SealedContact) -> str:
        payload = json.dumps(asdict(contact), ensure_ascii=False, sort_keys=True)
        return self._fernet.encrypt(payload.encode()).decode()

    def open(self, ciphertext: str) -> SealedContact:
        try:
            payload = self._fernet.decrypt(ciphertext.encode())
        except InvalidToken:
            raise ValueError("the contact cannot be opened with the configured keys") from None
        return SealedContact(**json.loads(payload))


def pseudonym(key: bytes, identity: str) -> str:
    """A stable, non-reversible name for a person: ``ctz-`` + 24 hex characters."""
    digest = hmac.new(key, identity.encode(), hashlib.sha256).hexdigest()
    return f"ctz-{digest[:24]}"


def new_contact_key() -> str:
    """A fresh Fernet key (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def mask_contacts(text: str) -> str:
    """``text`` with phone numbers and email addresses replaced by placeholders.

    Emergency numbers (113, 114, 115) stay: they are advice, not personal data.
    """
    text = _EMAIL.sub(_EMAIL_MASK, text)
    pieces: list[str] = []
    last = 0
    matches = phonenumbers.PhoneNumberMatcher(text, "VN", leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matches:
        if match.raw_string.strip() in EMERGENCY_NUMBERS:
            continue
        pieces.append(text[last : match.start])
        pieces.append(_PHONE_MASK)
        last = match.end
    pieces.append(text[last:])
    return "".join(pieces)
