"""Vietnamese text at the edge: dates in Sơn La's time, SMS without diacritics, segments.

Dates are shown in Asia/Ho_Chi_Minh, the way Vietnamese administrative letters write
them: ``17 giờ 00, thứ Ba, ngày 21/3/2023``. Inside events every instant stays UTC.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
"""Vietnamese weekday names, Monday first (``datetime.weekday()`` order)."""

_NO_DECOMPOSITION = {"đ": "d", "Đ": "D"}
"""Letters NFD does not split into a base letter and a mark."""

_PUNCTUATION = {
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00a0": " ",
}

# GSM 03.38: the basic character set, and the extension table (each counts as two).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def local_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` (aware) on the wall clock of ``zone``; naive datetimes are refused."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no place on the citizen's clock")
    return instant.astimezone(zone)


def vietnamese_date(instant: datetime, zone: ZoneInfo) -> str:
    """``21/03/2023``: the local date, day and month on two digits."""
    return local_time(instant, zone).strftime("%d/%m/%Y")


def vietnamese_datetime(instant: datetime, zone: ZoneInfo) -> str:
    """``17 giờ 00, thứ Ba, ngày 21/3/2023``: the local time, weekday and date."""
    moment = local_time(instant, zone)
    weekday = WEEKDAYS[moment.weekday()]
    return (
        f"{moment.hour} giờ {moment.minute:02d}, {weekday}, "
        f"ngày {moment.day}/{moment.month}/{moment.year}"
    )


def strip_diacritics(text: str) -> str:
    """``text`` in plain ASCII letters: ``"Chiềng Sinh, đường"`` → ``"Chieng Sinh, duong"``.

    For SMS gateways that only carry GSM-7: tone and vowel marks are dropped, đ/Đ become
    d/D, typographic dashes and quotes become their ASCII forms, and anything else outside
    ASCII is removed.
    """
    folded: list[str] = []
    for char in text:
        if char in _NO_DECOMPOSITION:
            folded.append(_NO_DECOMPOSITION[char])
            continue
        if char in _PUNCTUATION:
            folded.append(_PUNCTUATION[char])
            continue
        base = "".join(
            part for part in unicodedata.normalize("NFD", char) if not unicodedata.combining(part)
        )
        folded.append(base if base.isascii() else "")
    return "".join(folded)


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 7-bit alphabet."""
    return all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text)


def sms_units(text: str) -> tuple[int, bool]:
    """Septets (GSM-7, extension characters count two) or UTF-16 units, and whether GSM-7."""
    if is_gsm7(text):
        return sum(2 if char in _GSM_EXTENSION else 1 for char in text), True
    return len(text.encode("utf-16-le")) // 2, False


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (160/153 GSM-7, 70/67 UCS-2)."""
    units, gsm = sms_units(text)
    single, multi = (160, 153) if gsm else (70, 67)
    if units <= single:
        return 1
    return -(-units // multi)


def fit_sms(text: str, max_segments: int) -> str:
    """``text`` cut at a word boundary, ending in ``...``, to fit ``max_segments``.

    Templates put the tracking code first, so a cut never loses it.
    """
    if max_segments < 1:
        raise ValueError("an SMS has at least one segment")
    text = " ".join(text.split())
    if sms_segments(text) <= max_segments:
        return text
    words = text.split(" ")
    while words:
        words.pop()
        candidate = " ".join(words).rstrip(" ,.;:-") + "..."
        if sms_segments(candidate) <= max_segments:
            return candidate
    return "..."
