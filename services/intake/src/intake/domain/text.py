"""Vietnamese text: one normal form for storage, one folded form for matching.

* :func:`normalize_text` is what a report keeps: HTML removed, Unicode NFC, one
  tone-mark convention (``hoà`` → ``hòa``, ``thuỷ`` → ``thủy``, as underthesea does),
  whitespace collapsed.
* :func:`fold` is what matching uses: no diacritics, ``đ`` → ``d``, lowercase, only
  letters and digits separated by single spaces, teencode expanded. Text typed
  without diacritics ("cho noong duc") folds to the same key as "chợ Noong Đúc".
"""

from __future__ import annotations

import functools
import html
import importlib.util
import re
import sys
import types
import unicodedata
from collections.abc import Mapping
from typing import Any


def _underthesea_text_normalize() -> Any:
    """underthesea's ``text_normalize``, without loading the rest of underthesea.

    ``import underthesea`` loads its taggers, parsers and optional models as well: ~60 MB
    of intake's memory for one function that needs none of them. When underthesea is not
    loaded yet, its package is registered without running its ``__init__``, so only the
    normalizer's own modules load (the same code, from the same installed package).
    """
    if "underthesea" not in sys.modules:
        spec = importlib.util.find_spec("underthesea")
        if spec is not None and spec.submodule_search_locations is not None:
            package = types.ModuleType("underthesea")
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            sys.modules["underthesea"] = package
    from underthesea.pipeline.text_normalize import text_normalize

    return text_normalize


text_normalize = _underthesea_text_normalize()

_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u200b\ufeff]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def strip_html(text: str) -> str:
    """Plain text of an HTML fragment (tags dropped, entities decoded, lines kept)."""
    if "<" not in text and "&" not in text:
        return text
    text = _BLOCK_TAG.sub("\n", text)
    return html.unescape(_TAG.sub(" ", text))


def normalize_text(text: str) -> str:
    """The canonical form of a citizen's text (see module docstring)."""
    text = unicodedata.normalize("NFC", strip_html(text))
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _SPACES.sub(" ", line).strip()
        lines.append(_normalize_tone_marks(line) if line else "")
    joined = "\n".join(lines).strip()
    return unicodedata.normalize("NFC", _BLANK_LINES.sub("\n\n", joined))


def _normalize_tone_marks(line: str) -> str:
    # underthesea's "space" tokenizer only splits on spaces, so punctuation and
    # spacing stay as the citizen wrote them; it unifies tone-mark placement.
    normalized: str = text_normalize(line, tokenizer="space")
    return normalized


@functools.cache
def _without_marks() -> dict[int, None]:
    """A ``str.translate`` table deleting every combining character (built once)."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))}


def fold(text: str, teencode: Mapping[str, str] | None = None) -> str:
    """The accent-insensitive matching key of ``text`` (see module docstring)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = decomposed.translate(_without_marks()).lower()
    words = _NON_WORD.sub(" ", bare).split()
    if teencode:
        words = [teencode.get(word, word) for word in words]
    return " ".join(words)


@functools.lru_cache(maxsize=8_192)
def fold_word(word: str) -> str:
    """:func:`fold` of one word, remembered: a city's texts reuse a few thousand words
    (~2 MB), and words are folded one by one where places and phrases are looked for."""
    return fold(word)


def contains_phrase(folded_text: str, folded_phrase: str) -> bool:
    """Whether a folded phrase occurs in folded text on word boundaries."""
    if not folded_phrase:
        return False
    return f" {folded_phrase} " in f" {folded_text} "
