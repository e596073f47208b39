"""The Open311 view of a report, kept current with routing's decisions (pure).

An assignment sets the agency responsible and the expected date; a status change sets
``open``, or ``closed`` for resolved, closed and rejected reports, with its note and
agency. A status change applies only if the report holds no newer one: redelivered
after a newer change, an older one must not win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from phananh_contracts import ReportAssigned, ReportStatusChanged
from phananh_contracts.values import ReportStatus

CLOSED = frozenset({ReportStatus.RESOLVED, ReportStatus.CLOSED, ReportStatus.REJECTED})


@dataclass(frozen=True)
class ReadModelUpdate:
    """Fields to set on one report's view, and the guard of a status change."""

    report_id: str
    fields: Mapping[str, Any]
    only_if_not_after: datetime | None = None
    """Apply only if the view was last updated at or before this moment (status changes)."""
    creates: bool = False
    """The report has no view yet: this update makes it (it may come before the report)."""


def assigned(assignment: ReportAssigned) -> ReadModelUpdate:
    return ReadModelUpdate(
        assignment.report_id,
        {
            "agency_responsible": assignment.lead_agency_id,
            "expected_at": assignment.deadline,
            "updated_at": assignment.assigned_at,
        },
    )


def status_changed(change: ReportStatusChanged) -> ReadModelUpdate:
    fields: dict[str, Any] = {
        "status": "closed" if change.status in CLOSED else "open",
        "updated_at": change.changed_at,
    }
    if change.note:
        fields["status_notes"] = change.note
    if change.agency_id:
        fields["agency_responsible"] = change.agency_id
    return ReadModelUpdate(change.report_id, fields, only_if_not_after=change.changed_at)


def updates_of(facts: Iterable[ReportAssigned | ReportStatusChanged]) -> list[ReadModelUpdate]:
    """The view's updates for routing's assignments and status changes, in order."""
    return [
        assigned(fact) if isinstance(fact, ReportAssigned) else status_changed(fact)
        for fact in facts
    ]


def to_apply(
    updates: Iterable[ReadModelUpdate], updated_at: Mapping[str, datetime]
) -> list[ReadModelUpdate]:
    """One update per report: its changes of the batch that apply, merged in order.

    ``updated_at`` tells when each stored view was last updated. A status change older
    than the view's last update (stored, or made earlier in the batch) is left out; an
    assignment always applies. The merged update of a report without a view creates it;
    otherwise it keeps the guard of its first status change, for a writer that raced.
    """
    known = dict(updated_at)
    merged: dict[str, ReadModelUpdate] = {}
    for update in updates:
        last = known.get(update.report_id)
        guard = update.only_if_not_after
        if last is not None and guard is not None and guard < last:
            continue
        known[update.report_id] = update.fields["updated_at"]
        before = merged.get(update.report_id)
        if before is None:
            merged[update.report_id] = replace(update, creates=update.report_id not in updated_at)
        else:
            fields = {**before.fields, **update.fields}
            merged[update.report_id] = replace(
                before,
                fields=fields,
                only_if_not_after=before.only_if_not_after or update.only_if_not_after,
            )
    return list(merged.values())
