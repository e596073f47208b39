"""Try a new rule set on the past: ``phananh-routing dry-run NEW_RULES.yaml``.

Reads every canonical report still on ``pakn.reports.v1`` (from the beginning, without
joining a consumer group, so the service's offsets are untouched), routes each with the
rules in force and with the new ones, and prints every report whose lead, supporting
agencies, rule or SLA would change. Nothing is published. Exit status 0 when the new rule
set is valid (whatever changes), 2 when it is not (each problem named).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from phananh_contracts import REPORTS_TOPIC, ContractViolation, ReportReceived, decode_event
from phananh_platform.kafka import read_topic
from phananh_platform.settings import load_settings

from routing.adapters.rules_file import checked_ruleset
from routing.domain.calendar import WorkingCalendar
from routing.domain.case import routing_of
from routing.domain.rules import Routing, RuleSet, RuleSetError
from routing.settings import Settings


@dataclass(frozen=True)
class Change:
    """How one report's routing would change."""

    report: ReportReceived
    before: Routing
    after: Routing

    def describe(self) -> str:
        parts = []
        if self.before.lead_agency_id != self.after.lead_agency_id:
            parts.append(f"lead {self.before.lead_agency_id} → {self.after.lead_agency_id}")
        if self.before.supporting_agency_ids != self.after.supporting_agency_ids:
            before = ", ".join(self.before.supporting_agency_ids) or "none"
            after = ", ".join(self.after.supporting_agency_ids) or "none"
            parts.append(f"supporting {before} → {after}")
        if self.before.sla != self.after.sla:
            parts.append(f"term {self.before.sla} → {self.after.sla}")
        parts.append(f"rule {self.before.rule_id} → {self.after.rule_id}")
        return f"{self.report.tracking_code}: " + "; ".join(parts)


def compare(
    current: RuleSet,
    proposed: RuleSet,
    calendar: WorkingCalendar,
    reports: Iterable[ReportReceived],
) -> list[Change]:
    """The reports whose routing differs between two rule sets (duplicates are skipped)."""
    changes = []
    for report in reports:
        if report.duplicate_of is not None:
            continue
        before = routing_of(current, calendar, report)
        after = routing_of(proposed, calendar, report)
        same = (before.lead_agency_id, before.supporting_agency_ids, before.sla, before.rule_id)
        if same != (after.lead_agency_id, after.supporting_agency_ids, after.sla, after.rule_id):
            changes.append(Change(report, before, after))
    return changes


async def past_reports(settings: Settings) -> list[ReportReceived]:
    """Every readable report on the reports topic, oldest first per partition."""
    reports: dict[str, ReportReceived] = {}
    for record in await read_topic(settings.kafka, REPORTS_TOPIC.name, client_id="dry-run"):
        try:
            event = decode_event(REPORTS_TOPIC.name, record.value)
        except ContractViolation:
            continue  # dead-lettered by the service; nothing to route
        assert isinstance(event.data, ReportReceived)
        reports.setdefault(event.data.report_id, event.data)
    return list(reports.values())


def run(settings: Settings, proposed_path: Path, *, out: TextIO = sys.stdout) -> int:
    try:
        current = checked_ruleset(settings)
        proposed = checked_ruleset(settings.model_copy(update={"routing_config": proposed_path}))
    except (RuleSetError, OSError) as error:
        print(f"dry-run: {error}", file=out)
        return 2
    reports = asyncio.run(past_reports(settings))
    changes = compare(current, proposed, WorkingCalendar(), reports)
    print(
        f"{len(reports)} past reports; with {proposed_path} (version {proposed.version}) "
        f"instead of version {current.version}, {len(changes)} would be routed differently:",
        file=out,
    )
    for change in changes:
        print(f"  {change.describe()}", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phananh-routing dry-run", description=__doc__)
    parser.add_argument("rules", type=Path, help="the proposed agencies and rules (YAML)")
    args = parser.parse_args(argv)
    return run(load_settings(Settings, "phananh-routing"), args.rules)
