"""From a canonical report to its assignment: which agencies, which rule, which deadline.

Pure: the rule set, the working calendar and the report in; the ``ReportAssigned`` and
``ReportStatusChanged`` facts out. A report intake flagged for triage goes to the triage
desk whatever the rules say; a report that duplicates an earlier one is not assigned
again (the agencies handle the first; its reporter follows that case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from phananh_contracts import ReportAssigned, ReportReceived, ReportStatusChanged
from phananh_contracts.values import ReportStatus

from routing.domain.calendar import WorkingCalendar, due_at
from routing.rules import Routing, RoutingInput, RuleSet, route

TRIAGE_RULE = "intake-triage"


@dataclass(frozen=True)
class Assignment:
    assigned: ReportAssigned
    status: ReportStatusChanged


def routing_of(ruleset: RuleSet, calendar: WorkingCalendar, report: ReportReceived) -> Routing:
    """The routing decision for a report (triage first, then the rules)."""
    facts = RoutingInput.from_report(report, calendar.zone)
    if report.needs_triage:
        # The catch-all rule (validated to exist, last, to the triage desk) has its terms.
        sla = ruleset.sla_for(ruleset.rules[-1], report.priority)
        assert sla is not None, "validate_ruleset guarantees the catch-all's SLA"
        return Routing(
            rule_id=TRIAGE_RULE,
            ruleset_version=ruleset.version,
            lead_agency_id=ruleset.triage_agency_id,
            supporting_agency_ids=(),
            sla=sla,
            matched={"needs_triage": ",".join(report.triage_reasons) or "yes"},
        )
    return route(ruleset, facts)


def assign(
    ruleset: RuleSet, calendar: WorkingCalendar, report: ReportReceived, *, now: datetime
) -> Assignment | None:
    """The assignment of a new report, or None for a duplicate of an earlier one."""
    if report.duplicate_of is not None:
        return None
    decision = routing_of(ruleset, calendar, report)
    deadline = due_at(calendar, report.received_at, decision.sla)
    assigned = ReportAssigned(
        report_id=report.report_id,
        tracking_code=report.tracking_code,
        lead_agency_id=decision.lead_agency_id,
        supporting_agency_ids=decision.supporting_agency_ids,
        deadline=deadline,
        priority=report.priority,
        category=report.category,
        rule_id=decision.rule_id,
        ruleset_version=decision.ruleset_version,
        matched=decision.matched,
        # The term runs from receipt; routing within it is part of the term.
        assigned_at=report.received_at,
    )
    status = ReportStatusChanged(
        report_id=report.report_id,
        tracking_code=report.tracking_code,
        status=ReportStatus.ASSIGNED,
        previous_status=ReportStatus.RECEIVED,
        agency_id=decision.lead_agency_id,
        note=f"Giao {decision.lead_agency_id} chủ trì; thời hạn xử lý {sla_vi(decision)}.",
        changed_at=max(now, report.received_at),
    )
    return Assignment(assigned, status)


def sla_vi(decision: Routing) -> str:
    """The term in Vietnamese, e.g. '5 ngày làm việc' or '8 giờ làm việc'."""
    sla = decision.sla
    if sla.working_days is not None:
        return f"{sla.working_days} ngày làm việc"
    return f"{sla.working_hours:g} giờ làm việc"
