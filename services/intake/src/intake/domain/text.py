"""Vietnamese text: one normal form for storage, one folded form for matching.

* :func:`normalize_text` is what a report keeps: HTML removed, Unicode NFC, one
  tone-mark convention (``hoà`` → ``hòa``, ``thuỷ`` → ``thủy``, as underthesea does),
  whitespace collapsed.
* :func:`fold` is what matching uses: no diacritics, ``đ`` → ``d``, lowercase, only
  letters and digits separated by single spaces, teencode expanded. Text typed
  without diacritics ("cho noong duc") folds to the same key as "chợ Noong Đúc".
"""

from __future__ import annotations

import dataclasses
import functools
import html
import importlib.util
import pickle
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class ToneMarkRules:
    """underthesea's tone-mark rules: characters to replace, and short words to respell.

    underthesea's ``text_normalize`` reads them from a pickle in its package with joblib,
    which costs a process 11 MB and 55 ms of start for two small dicts (2 characters,
    ~2,900 words). :func:`underthesea_rules` reads the same file with the standard
    library, and :meth:`normalize_line` applies them as ``text_normalize(line,
    tokenizer="space")`` does: word by word on spaces, words of more than six characters
    untouched. A test holds the two to the same output.
    """

    characters: Mapping[str, str]
    words: Mapping[str, str]

    def normalize_line(self, line: str) -> str:
        return " ".join(self._normalize_word(word) for word in line.split(" "))

    def _normalize_word(self, word: str) -> str:
        if len(word) > 6:
            return word
        word = unicodedata.normalize("NFC", word)
        for character, standard in self.characters.items():
            word = word.replace(character, standard)
        return self.words.get(word, word)


def underthesea_rules() -> ToneMarkRules:
    """The rules shipped in the installed underthesea, without importing it (see above).

    The newest ``tn_rules_*.bin`` of its ``pipeline/text_normalize`` folder is the one
    its normalizer loads; the file is part of an installed dependency, as trusted as its
    code.
    """
    spec = importlib.util.find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("underthesea is not installed: intake needs its tone-mark rules")
    folder = Path(next(iter(spec.submodule_search_locations))) / "pipeline" / "text_normalize"
    files = sorted(folder.glob("tn_rules_*.bin"))
    if not files:
        raise ImportError(f"no tone-mark rules (tn_rules_*.bin) in {folder}")
    with files[-1].open("rb") as stream:
        tables = pickle.load(stream)
    return ToneMarkRules(characters=dict(tables["character"]), words=dict(tables["token"]))


_TONE_MARKS = underthesea_rules()

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
    # Split on spaces only, so punctuation and spacing stay as the citizen wrote them;
    # only the placement of tone marks is unified.
    return _TONE_MARKS.normalize_line(line)


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
