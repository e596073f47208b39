"""An agency's inbox as routing writes it, for the reference agency client's tests.

The seed's Noong Đúc task (``phananh_contracts.examples``) for any agency and report:
assigned, withdrawn, answered by the citizen, an update of the agency's refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from phananh_contracts import (
    AgencyTaskAssigned,
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawn,
    AgencyTaskWithdrawnEvent,
    AgencyUpdateKind,
    AgencyUpdateRefused,
    AgencyUpdateRefusedEvent,
    CitizenReplied,
    CitizenRepliedEvent,
    UpdateRefusalReason,
)
from phananh_contracts.examples import CITIZEN_REPLIED, TASK_ASSIGNED

OTHER_LEAD = "ubnd-thanh-pho"
"""The lead agency of the tasks an agency only supports."""


def task_assigned(
    agency_id: str,
    report_id: str,
    tracking_code: str,
    *,
    role: str = "lead",
    deadline: datetime = TASK_ASSIGNED.data.deadline,  # 21/03/2023 17:00 in Sơn La
    title: str | None = TASK_ASSIGNED.data.title,
) -> AgencyTaskAssignedEvent:
    data = TASK_ASSIGNED.data.model_dump()
    data.update(
        report_id=report_id,
        tracking_code=tracking_code,
        agency_id=agency_id,
        role=role,
        lead_agency_id=agency_id if role == "lead" else OTHER_LEAD,
        deadline=deadline,
        title=title,
    )
    return AgencyTaskAssignedEvent.new(
        AgencyTaskAssigned.model_validate(data), source="/services/routing"
    )


def task_withdrawn(
    agency_id: str,
    report_id: str,
    tracking_code: str,
    reason: str = "Đã giải quyết",
    *,
    at: datetime | None = None,
) -> AgencyTaskWithdrawnEvent:
    data = AgencyTaskWithdrawn(
        report_id=report_id,
        tracking_code=tracking_code,
        agency_id=agency_id,
        reason=reason,
        withdrawn_at=at if at is not None else datetime.now(UTC),
    )
    return AgencyTaskWithdrawnEvent.new(data, source="/services/routing")


def citizen_replied(
    report_id: str,
    tracking_code: str,
    text: str,
    *,
    rating: int | None = CITIZEN_REPLIED.data.rating,
) -> CitizenRepliedEvent:
    data = CITIZEN_REPLIED.data.model_dump()
    data.update(report_id=report_id, tracking_code=tracking_code, text=text, rating=rating)
    return CitizenRepliedEvent.new(CitizenReplied.model_validate(data), source="/services/intake")


def update_refused(
    agency_id: str,
    report_id: str,
    update_event_id: str,
    detail: str = "Phản ánh đang chờ người dân bổ sung thông tin.",
    *,
    at: datetime | None = None,
) -> AgencyUpdateRefusedEvent:
    """Routing's refusal of the agency's ``resolved`` update: not allowed now."""
    data = AgencyUpdateRefused(
        report_id=report_id,
        agency_id=agency_id,
        update_event_id=update_event_id,
        update_kind=AgencyUpdateKind.RESOLVED,
        reason=UpdateRefusalReason.NOT_ALLOWED_NOW,
        detail=detail,
        refused_at=at if at is not None else datetime.now(UTC),
    )
    return AgencyUpdateRefusedEvent.new(data, source="/services/routing")
