"""Vietnamese text as legacy systems write it."""

from __future__ import annotations

import unicodedata

TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def to_cp1258(text: str) -> bytes:
    """``text`` as windows-1258 writes it: base letters, then a combining tone mark."""
    encoded = bytearray()
    for char in text:
        try:
            encoded += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tone = next(mark for mark in parts if mark in TONE_MARKS)
            base = unicodedata.normalize("NFC", parts.replace(tone, ""))
            encoded += base.encode("cp1258") + tone.encode("cp1258")
    return bytes(encoded)
