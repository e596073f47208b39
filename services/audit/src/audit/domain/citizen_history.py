"""What a citizen may see of their report, told from its trail records in plain Vietnamese.

``citizen_history(records)`` turns the trail records of one report (documents as stored,
oldest first) into the steps of its story: received, assigned to which agency and by
when, in progress, waiting for the citizen, resolved with the result, closed, reopened,
the citizen's own rating. Nothing personal is shown: not the text the citizen wrote,
not the reply's text, not the pseudonym; only what the city said and did, the ward, the
agencies and the dates.

Sources, by event type:

``vn.pakn.report.received``
    "Đã tiếp nhận", the channel and the ward.
``vn.pakn.report.rejected``
    "Không được tiếp nhận" and intake's explanation (``detail``), for a message that
    never became a report.
``vn.pakn.report.assigned``
    Not a step of its own (the status change ``assigned`` that follows it is): it gives
    the lead agency's name (``lead_agency_name``) and the expected date (``deadline``)
    of the steps from its ``assigned_at`` on.
``vn.pakn.report.status.changed``
    One step per status, with routing's ``note`` for the citizen and ``agency_name``.
``vn.pakn.citizen.replied``
    "Bạn đã phản hồi", with the rating when one was given (never the text).

Agency updates, deadlines, escalations and notifications are internal: the citizen sees
their effect through the status changes. Dates are shown in Asia/Ho_Chi_Minh as
``dd/mm/yyyy HH:MM`` (the expected date as ``dd/mm/yyyy``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")

RECEIVED = "vn.pakn.report.received"
REJECTED = "vn.pakn.report.rejected"
ASSIGNED = "vn.pakn.report.assigned"
STATUS_CHANGED = "vn.pakn.report.status.changed"
REPLIED = "vn.pakn.citizen.replied"

STATUS_LABELS: Mapping[str, str] = {
    "received": "Đã tiếp nhận",
    "assigned": "Đã chuyển cơ quan xử lý",
    "in_progress": "Đang xử lý",
    "waiting_for_citizen": "Chờ bạn bổ sung thông tin",
    "resolved": "Đã có kết quả giải quyết",
    "closed": "Đã hoàn thành",
    "rejected": "Không được xử lý",
    "reopened": "Được xem xét lại",
}
"""What each status (contracts: ``ReportStatus``) is called on the citizen's page."""

CHANNEL_LABELS: Mapping[str, str] = {
    "app": "ứng dụng Sơn La",
    "zalo": "Zalo",
    "facebook": "Facebook",
    "email": "thư điện tử",
    "hotline": "đường dây nóng",
    "web": "cổng thông tin",
    "collaborator": "cộng tác viên",
    "open311": "ứng dụng kết nối",
}

_OPEN_STATUSES = frozenset(
    {"received", "assigned", "in_progress", "waiting_for_citizen", "reopened"}
)


@dataclass(frozen=True)
class Step:
    """One line of the history."""

    at: datetime
    label: str
    """What happened, e.g. "Đã tiếp nhận"."""
    status: str
    """The status code (or 'replied'), for styling."""
    agency_name: str | None = None
    expected_date: str | None = None
    """The lead agency's deadline as dd/mm/yyyy (local), on the steps it applies to."""
    note: str | None = None
    """What the city said to the citizen (routing's note, intake's explanation)."""
    rating: int | None = None

    @property
    def when(self) -> str:
        return local_datetime(self.at)


@dataclass(frozen=True)
class CitizenHistory:
    """The page's content for one tracking code."""

    tracking_code: str
    steps: tuple[Step, ...]
    status_label: str
    """The current status, e.g. "Đang xử lý"."""
    open: bool
    """Still being handled (no result yet)."""
    agency_name: str | None
    """The lead agency of the latest assignment."""
    expected_date: str | None
    result: str | None
    """The latest result note while the report is resolved or closed."""
    ward_name: str | None
    rating: int | None
    """The latest rating the citizen gave, if any."""
    can_rate: bool
    """A result exists: the citizen may rate it."""


def local_datetime(moment: datetime) -> str:
    return _aware(moment).astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def local_date(moment: datetime) -> str:
    return _aware(moment).astimezone(LOCAL_TIME).strftime("%d/%m/%Y")


def citizen_history(
    tracking_code: str, records: Sequence[Mapping[str, Any]]
) -> CitizenHistory | None:
    """The history of the report with this tracking code, from its trail records (any
    order); None when the records tell nothing a citizen may see."""
    valid = [r for r in records if r.get("valid", True) and isinstance(r.get("payload"), Mapping)]
    assignments = sorted(
        (_instant(r["payload"].get("assigned_at")) or _occurred(r), r["payload"])
        for r in valid
        if r.get("event_type") == ASSIGNED
    )
    steps: list[Step] = []
    ward_name: str | None = None
    for record in valid:
        payload: Mapping[str, Any] = record["payload"]
        kind = record.get("event_type")
        at = _occurred(record)
        if kind == RECEIVED:
            at = _instant(payload.get("received_at")) or at
            place = payload.get("place") or {}
            ward_name = _text(place.get("ward_name")) or ward_name
            channel = CHANNEL_LABELS.get(str(payload.get("channel")), "kênh tiếp nhận")
            note = f"Phản ánh, kiến nghị của bạn đã được tiếp nhận qua {channel}"
            note += f", địa bàn {ward_name}." if ward_name else "."
            steps.append(Step(at, STATUS_LABELS["received"], "received", note=note))
        elif kind == REJECTED:
            at = _instant(payload.get("rejected_at")) or at
            detail = _text(payload.get("detail"))
            steps.append(Step(at, "Không được tiếp nhận", "rejected", note=detail))
        elif kind == STATUS_CHANGED:
            status = str(payload.get("status"))
            if status == "received" and any(s.status == "received" for s in steps):
                continue
            at = _instant(payload.get("changed_at")) or at
            lead = _assignment_at(assignments, at)
            agency = _text(payload.get("agency_name"))
            if lead is not None and (
                status == "assigned"
                or (agency is None and payload.get("agency_id") == lead.get("lead_agency_id"))
            ):
                agency = _text(lead.get("lead_agency_name")) or agency
            expected = None
            if status in _OPEN_STATUSES - {"received"} and lead is not None:
                deadline = _instant(lead.get("deadline"))
                expected = local_date(deadline) if deadline else None
            steps.append(
                Step(
                    at,
                    STATUS_LABELS.get(status, "Cập nhật"),
                    status,
                    agency_name=agency,
                    expected_date=expected,
                    note=_text(payload.get("note")),
                )
            )
        elif kind == REPLIED:
            at = _instant(payload.get("received_at")) or at
            rating = payload.get("rating")
            rating = rating if isinstance(rating, int) and 1 <= rating <= 5 else None
            steps.append(Step(at, "Bạn đã phản hồi", "replied", rating=rating))
    if not steps:
        return None
    steps.sort(key=lambda step: step.at)
    statuses = [s for s in steps if s.status not in ("replied",)]
    current = statuses[-1] if statuses else steps[0]
    latest = assignments[-1][1] if assignments else None
    deadline = _instant(latest.get("deadline")) if latest else None
    is_open = current.status in _OPEN_STATUSES
    result = next(
        (s.note for s in reversed(statuses) if s.status in ("resolved", "closed") and s.note),
        None,
    )
    ratings = [s.rating for s in steps if s.rating is not None]
    return CitizenHistory(
        tracking_code=tracking_code,
        steps=tuple(steps),
        status_label=current.label,
        open=is_open,
        agency_name=_text(latest.get("lead_agency_name")) if latest else None,
        expected_date=local_date(deadline) if deadline and is_open else None,
        result=result if current.status in ("resolved", "closed") else None,
        ward_name=ward_name,
        rating=ratings[-1] if ratings else None,
        can_rate=current.status in ("resolved", "closed"),
    )


def _assignment_at(
    assignments: Sequence[tuple[datetime, Mapping[str, Any]]], at: datetime
) -> Mapping[str, Any] | None:
    """The assignment in force at ``at`` (the latest made at or before it)."""
    found = None
    for assigned_at, payload in assignments:
        if assigned_at <= at:
            found = payload
    return found if found is not None else (assignments[0][1] if assignments else None)


def _occurred(record: Mapping[str, Any]) -> datetime:
    return _instant(record.get("occurred_at")) or datetime.min.replace(tzinfo=UTC)


def _instant(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return _aware(value) if isinstance(value, datetime) else None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
