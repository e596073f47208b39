"""How long the agencies' topics must keep records, from the rules' longest term."""

from __future__ import annotations

from pathlib import Path

import pytest
from routing.adapters.rules_file import load_ruleset
from routing.domain.calendar import Sla
from routing.domain.retention import (
    HOLIDAY_ALLOWANCE_DAYS,
    MARGIN_DAYS,
    longest_term_days,
    retention_needed_days,
)
from routing.domain.rules import Priority

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]


def test_the_longest_term_counts_working_days_five_to_a_week_plus_holidays() -> None:
    ruleset = load_ruleset(ROOT / "config/son-la/routing.yaml")
    longest = max(
        sla.working_days or 0
        for sla in [*ruleset.default_sla.values()]
        + [s for rule in ruleset.rules for s in rule.sla.values()]
    )
    assert longest_term_days(ruleset) == -(-longest * 7 // 5) + HOLIDAY_ALLOWANCE_DAYS
    assert retention_needed_days(ruleset) == longest_term_days(ruleset) + MARGIN_DAYS


def test_a_rule_with_a_longer_term_needs_a_longer_retention() -> None:
    ruleset = load_ruleset(ROOT / "config/son-la/routing.yaml")
    first = ruleset.rules[0]
    longer = first.model_copy(update={"sla": {Priority.NORMAL: Sla(working_days=250)}})
    stretched = ruleset.model_copy(update={"rules": (longer, *ruleset.rules[1:])})
    assert longest_term_days(stretched) == 350 + HOLIDAY_ALLOWANCE_DAYS
    assert retention_needed_days(stretched) > 400  # more than the default keeps


def test_working_hours_count_as_whole_working_days() -> None:
    ruleset = load_ruleset(ROOT / "config/son-la/routing.yaml")
    first = ruleset.rules[0]
    hours = first.model_copy(update={"sla": {Priority.URGENT: Sla(working_hours=2_000)}})
    only = ruleset.model_copy(update={"rules": (hours,), "default_sla": {}})
    assert longest_term_days(only) == 350 + HOLIDAY_ALLOWANCE_DAYS  # 250 days of 8 hours
