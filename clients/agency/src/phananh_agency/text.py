"""The inbox as officers read it (plain text) and as machines read it (JSON)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from phananh_contracts import Place

from phananh_agency.domain import Inbox, Task, excerpt, local_time


def describe_place(place: Place | None) -> str | None:
    if place is None:
        return None
    parts: list[str] = []
    for part in (place.address_text, place.residential_group, place.ward_name):
        if part and not any(part in earlier for earlier in parts):
            parts.append(part)
    return ", ".join(parts) or None


ROLE_LABELS = {"lead": "chủ trì", "supporting": "phối hợp"}
"""How officers call an agency's role on a report."""


def deadline_status(deadline: datetime, now: datetime) -> str:
    """How far a deadline is, as officers say it: ``còn 3 ngày``, ``còn 5 giờ``,
    ``quá hạn``, ``quá hạn 2 ngày``."""
    if now >= deadline:
        days = (now - deadline) // timedelta(days=1)
        return f"quá hạn {days} ngày" if days else "quá hạn"
    left = deadline - now
    if left >= timedelta(days=1):
        return f"còn {left // timedelta(days=1)} ngày"
    hours = left // timedelta(hours=1)
    return f"còn {hours} giờ" if hours else "còn dưới 1 giờ"


def render_inbox(
    inbox: Inbox, agency_id: str, *, now: datetime, include_closed: bool = False
) -> str:
    """The inbox as plain text for an officer."""
    lines: list[str] = []
    if inbox.open:
        overdue = sum(task.is_overdue(now) for task in inbox.open)
        heading = f"Hộp thư của {agency_id}: {len(inbox.open)} phản ánh đang xử lý"
        lines.append(heading + (f", {overdue} quá hạn." if overdue else "."))
    else:
        lines.append(f"Hộp thư của {agency_id} trống: không có phản ánh nào đang xử lý.")
    for task in inbox.open:
        lines += ["", *_task_lines(task, now)]
        for duplicate in inbox.duplicates_of(task.report_id):
            lines.append(
                f"  Trùng: {duplicate.tracking_code} ({local_time(duplicate.received_at)}) "
                f"«{excerpt(duplicate.text, 120)}» — tách nếu gộp nhầm: "
                f"unlink {duplicate.tracking_code} --reason …"
            )
    if inbox.closed and include_closed:
        lines += ["", "Đã rời hộp thư:"]
        for gone in inbox.closed:
            lines.append(
                f"  {gone.tracking_code} · {local_time(gone.withdrawn_at)} · {excerpt(gone.reason)}"
            )
    elif inbox.closed:
        lines += ["", f"{len(inbox.closed)} phản ánh đã rời hộp thư (xem với: inbox --all)."]
    if inbox.unreadable:
        lines += ["", f"Lưu ý: bỏ qua {inbox.unreadable} bản ghi không đọc được."]
    return "\n".join(lines)


def _task_lines(task: Task, now: datetime) -> list[str]:
    role = "chủ trì" if task.role == "lead" else f"phối hợp (chủ trì: {task.lead_agency_id})"
    marks = [task.tracking_code, role, f"hạn {local_time(task.deadline)}"]
    if task.is_overdue(now):
        marks.append("QUÁ HẠN")
    if task.priority == "urgent":
        marks.append("KHẨN")
    lines = [" · ".join(marks)]
    if task.title:
        lines.append(f"  {task.title}")
    where = describe_place(task.place)
    lines.append(f"  Lĩnh vực: {task.category}" + (f" · Địa điểm: {where}" if where else ""))
    lines.append(f"  «{task.excerpt}»")
    if task.note:
        lines.append(f"  Ghi chú: {task.note}")
    for answer in task.answers:
        rating = f" (đánh giá {answer.rating}/5)" if answer.rating else ""
        lines.append(
            f"  Người dân trả lời {local_time(answer.received_at)}{rating}: "
            f"«{excerpt(answer.text)}»"
        )
    for refusal in task.refusals:
        lines.append(f"  Cập nhật {refusal.describe()}")
    lines.append(f"  Mã phản ánh: {task.report_id}")
    return lines


def inbox_json(
    inbox: Inbox, agency_id: str, *, now: datetime, include_closed: bool = False
) -> dict[str, Any]:
    """The inbox for machines: instants in UTC (ISO 8601), plus the local deadline."""
    document: dict[str, Any] = {
        "agency_id": agency_id,
        "open": [task.to_json(now) for task in inbox.open],
        "closed_count": len(inbox.closed),
        "unreadable_records": inbox.unreadable,
        "duplicates": [duplicate.to_json() for duplicate in inbox.duplicates],
    }
    if include_closed:
        document["closed"] = [gone.to_json() for gone in inbox.closed]
    return document
