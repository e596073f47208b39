"""How long the agencies' topics must keep their records (pure: no I/O).

An agency's client (and any agency system reading from the start) rebuilds its inbox from
every record of its inbox topic: a task whose assignment record the broker deleted
vanishes from the agency's view although the report is still open. So the inbox (and the
agency's own updates topic) must keep records at least as long as the longest term a
report can get, with room for pauses, reopenings and a margin; the broker's default
(7 days) is far too short.
"""

from __future__ import annotations

import math

from routing.domain.rules import RuleSet

HOLIDAY_ALLOWANCE_DAYS = 14
"""Calendar days a term may stretch over public holidays (Tết alone takes up to 9)."""
MARGIN_DAYS = 90
"""Room for pauses waiting for the citizen, a reopening and an overdue case."""


def longest_term_days(ruleset: RuleSet) -> int:
    """The longest term any rule (or level of the escalation ladder) gives, in calendar
    days (working days counted five to a week of seven, plus holidays; working hours as
    whole working days of 8 hours)."""
    slas = [sla for rule in ruleset.rules for sla in rule.sla.values()]
    slas += list(ruleset.default_sla.values())
    slas += [sla for rung in ruleset.escalation.ladder for sla in rung.sla.values()]
    working_days = [
        sla.working_days
        if sla.working_days is not None
        else math.ceil((sla.working_hours or 0) / 8)
        for sla in slas
    ]
    longest = max(working_days, default=0)
    return math.ceil(longest * 7 / 5) + HOLIDAY_ALLOWANCE_DAYS


def retention_needed_days(ruleset: RuleSet) -> int:
    """The fewest days the agencies' topics may keep records for this rule set."""
    return longest_term_days(ruleset) + MARGIN_DAYS
