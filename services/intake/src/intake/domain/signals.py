"""Priority, emergencies and out-of-scope messages, from configured phrases.

* **Urgent**: the source flagged it (hotline operator, collaborator incident report), or
  the text names a sudden incident ("tai nạn", "sạt lở", "chập điện" …).
* **Emergency**: the text names danger to life or property now ("cháy nhà", "đuối
  nước", "điện giật" …). The report is still accepted, as urgent, and the citizen gets
  the configured notice to call 113, 114 or 115.
* **Out of scope**: the message presents itself as a complaint (khiếu nại) or a
  denunciation (tố cáo), which the law sends to other channels. Only the phrases by
  which a message presents itself count ("đơn khiếu nại", "khiếu nại quyết định …",
  "làm đơn tố cáo", "tố cáo cán bộ …"), never the bare words: "tố cáo hành vi đổ trộm
  rác" is an ordinary report. An emergency is never out of scope.

A phrase right after a qualifier of the same clause ("không", "chưa", "nguy cơ", "có
thể" …, at most ``qualifier_gap`` words before it) does not count: "không có ai bị
thương", "nguy cơ xảy ra tai nạn", "đây không phải là đơn khiếu nại".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from phananh_contracts import Priority

from intake.config import CityConfig, Words, derived, words_of


@dataclass(frozen=True)
class OutOfScope:
    """Why a message is not a report, and what to tell its sender."""

    kind: Literal["complaint", "denunciation"]
    notice: str
    """Vietnamese notice naming the lawful channel."""


@dataclass(frozen=True)
class Signals:
    """How a report must be handled, as its text and source tell."""

    priority: Priority
    emergency: bool
    """Danger to life or property: urgent, and the citizen is told to call 113/114/115."""
    notices: tuple[str, ...]
    """Vietnamese notices for the citizen, sent with the receipt."""
    out_of_scope: OutOfScope | None
    """Set when the message is a complaint or denunciation, not a report."""


_Phrases = tuple[Words, ...]


@dataclass(frozen=True)
class _Rules:
    urgent: _Phrases
    emergency: _Phrases
    out_of_scope: tuple[tuple[OutOfScope, _Phrases], ...]
    qualifiers: _Phrases
    gap: int

    def mentions(self, words: Words, phrases: _Phrases) -> bool:
        """Whether one of ``phrases`` occurs in ``words`` without a qualifier before it."""
        return any(
            not self._qualified(words, start) for phrase in phrases for start in words.find(phrase)
        )

    def _qualified(self, words: Words, start: int) -> bool:
        return any(
            start - self.gap <= (end := begin + len(qualifier.folded)) <= start
            and words.clauses[end - 1] == words.clauses[start]
            for qualifier in self.qualifiers
            for begin in words.find(qualifier)
        )


def _rules(config: CityConfig) -> _Rules:
    signals = config.signals
    return _Rules(
        urgent=tuple(map(Words.of, signals.urgent_phrases)),
        emergency=tuple(map(Words.of, signals.emergency.phrases)),
        out_of_scope=tuple(
            (OutOfScope(rule.kind, rule.notice), tuple(map(Words.of, rule.phrases)))
            for rule in signals.out_of_scope
        ),
        qualifiers=tuple(map(Words.of, signals.qualifiers)),
        gap=signals.qualifier_gap,
    )


def assess_signals(config: CityConfig, text: str, *, urgent_flag: bool) -> Signals:
    """Priority, emergency, notices and out-of-scope verdict of a message."""
    rules = derived(config, _rules)
    words = words_of(config, text)
    emergency = rules.mentions(words, rules.emergency)
    urgent = urgent_flag or emergency or rules.mentions(words, rules.urgent)
    out_of_scope = None
    if not emergency:
        out_of_scope = next(
            (verdict for verdict, phrases in rules.out_of_scope if rules.mentions(words, phrases)),
            None,
        )
    return Signals(
        priority=Priority.URGENT if urgent else Priority.NORMAL,
        emergency=emergency,
        notices=(config.signals.emergency.notice,) if emergency else (),
        out_of_scope=out_of_scope,
    )
