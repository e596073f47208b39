"""What an agency holds and what it may send, without any I/O.

The inbox's events fold into open and closed tasks (``fold_inbox``); an update is built
and checked against the contract and the inbox (``new_update``, ``target_of``) before
anything is sent. Times are UTC inside; ``local_time`` shows them as officers read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phananh_contracts import (
    CORRECTION_KINDS,
    AgencyTaskAssigned,
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawn,
    AgencyTaskWithdrawnEvent,
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateKind,
    AgencyUpdateRefused,
    AgencyUpdateRefusedEvent,
    CitizenRepliedEvent,
    ContractViolation,
    DuplicateLinkChangedEvent,
    Event,
    Place,
    TaskHistoryEntry,
    UpdateRefusalReason,
)
from pydantic import ValidationError

from phananh_agency.errors import NotInInbox, UpdateNotAllowed

try:
    LOCAL_TIME: tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except ZoneInfoNotFoundError:  # no tz database (e.g. Windows without tzdata): no DST anyway
    LOCAL_TIME = timezone(timedelta(hours=7), "ICT")

EXCERPT_CHARS = 200
"""Length of the text excerpt shown for each task."""

KIND_LABELS: dict[AgencyUpdateKind, str] = {
    AgencyUpdateKind.ACCEPTED: "tiếp nhận",
    AgencyUpdateKind.REJECTED: "từ chối",
    AgencyUpdateKind.IN_PROGRESS: "đang xử lý",
    AgencyUpdateKind.NEEDS_INFORMATION: "đề nghị người dân bổ sung thông tin",
    AgencyUpdateKind.RESOLVED: "đã giải quyết",
    AgencyUpdateKind.REOPENED: "mở lại",
    AgencyUpdateKind.RECATEGORIZED: "phân loại lại lĩnh vực",
    AgencyUpdateKind.RELOCATED: "điều chỉnh địa điểm",
    AgencyUpdateKind.OUT_OF_SCOPE: "không thuộc phạm vi tiếp nhận",
    AgencyUpdateKind.LINKED: "gộp vào phản ánh trùng",
    AgencyUpdateKind.UNLINKED: "tách khỏi phản ánh gốc",
}
"""How officers call each kind of update."""

REFUSAL_LABELS: dict[UpdateRefusalReason, str] = {
    UpdateRefusalReason.UNKNOWN_REPORT: "phản ánh chưa được giao",
    UpdateRefusalReason.NOT_HOLDER: "đơn vị không còn giữ phản ánh này",
    UpdateRefusalReason.UNKNOWN_AGENCY: "đơn vị (hoặc đơn vị được đề xuất) không có trong cấu hình",
    UpdateRefusalReason.NOT_ALLOWED_NOW: "cập nhật không phù hợp với trạng thái của phản ánh",
    UpdateRefusalReason.LEAD_ONLY: "chỉ đơn vị chủ trì được làm việc này",
    UpdateRefusalReason.AGENCY_MISMATCH: "cập nhật nhân danh một đơn vị khác",
    UpdateRefusalReason.INVALID_CORRECTION: "điều chỉnh không hợp lệ",
}
"""Why routing refused an update, for officers."""

_LEAD_ONLY = frozenset({AgencyUpdateKind.NEEDS_INFORMATION, AgencyUpdateKind.REOPENED})
_NOTE_REQUIRED = frozenset(
    {
        AgencyUpdateKind.REJECTED,
        AgencyUpdateKind.NEEDS_INFORMATION,
        AgencyUpdateKind.RESOLVED,
        *CORRECTION_KINDS,
    }
)
_TRACKING_CODE = re.compile(r"[A-Z]{2,4}-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{6}")


# --- the inbox, folded ----------------------------------------------------------------


@dataclass(frozen=True)
class CitizenAnswer:
    """What the citizen answered on a report the agency holds."""

    received_at: datetime
    text: str
    rating: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at.isoformat(),
            "text": self.text,
            "rating": self.rating,
        }


@dataclass(frozen=True)
class RefusedUpdate:
    """One of the agency's updates that routing refused; the report did not change."""

    report_id: str
    update_event_id: str
    update_kind: AgencyUpdateKind
    reason: UpdateRefusalReason
    detail: str
    refused_at: datetime

    @classmethod
    def of(cls, data: AgencyUpdateRefused) -> RefusedUpdate:
        return cls(
            report_id=data.report_id,
            update_event_id=data.update_event_id,
            update_kind=data.update_kind,
            reason=data.reason,
            detail=data.detail,
            refused_at=data.refused_at,
        )

    def describe(self) -> str:
        """One line for officers, e.g. ``«đã giải quyết» bị từ chối: … — detail``."""
        return (
            f"«{KIND_LABELS[self.update_kind]}» bị từ chối {local_time(self.refused_at)}: "
            f"{REFUSAL_LABELS.get(self.reason, self.reason.value)} — {self.detail}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "update_event_id": self.update_event_id,
            "update_kind": self.update_kind.value,
            "reason": self.reason.value,
            "detail": self.detail,
            "refused_at": self.refused_at.isoformat(),
        }


@dataclass(frozen=True)
class Task:
    """A report in the agency's inbox, as the last assignment described it."""

    report_id: str
    tracking_code: str
    role: Literal["lead", "supporting"]
    lead_agency_id: str
    deadline: datetime
    priority: str
    category: str
    title: str | None
    text: str
    place: Place | None
    received_at: datetime
    assigned_at: datetime
    note: str | None = None
    """Why it came here, e.g. after another agency declined it."""
    answers: tuple[CitizenAnswer, ...] = ()
    refusals: tuple[RefusedUpdate, ...] = ()
    history: tuple[TaskHistoryEntry, ...] = ()
    """What happened before it came here, as routing told it (e.g. escalation levels)."""

    @classmethod
    def of(cls, data: AgencyTaskAssigned) -> Task:
        return cls(
            report_id=data.report_id,
            tracking_code=data.tracking_code,
            role=data.role,
            lead_agency_id=data.lead_agency_id,
            deadline=data.deadline,
            priority=data.priority.value,
            category=data.category,
            title=data.title,
            text=data.text,
            place=data.place,
            received_at=data.received_at,
            assigned_at=data.assigned_at,
            note=data.note,
            history=data.history,
        )

    @property
    def excerpt(self) -> str:
        """The start of the citizen's text, on one line."""
        return excerpt(self.text)

    def is_overdue(self, now: datetime) -> bool:
        return now >= self.deadline

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "tracking_code": self.tracking_code,
            "role": self.role,
            "lead_agency_id": self.lead_agency_id,
            "deadline": self.deadline.isoformat(),
            "deadline_local": local_time(self.deadline),
            "overdue": self.is_overdue(now),
            "priority": self.priority,
            "category": self.category,
            "title": self.title,
            "excerpt": self.excerpt,
            "text": self.text,
            "place": self.place.model_dump(mode="json", exclude_none=True) if self.place else None,
            "received_at": self.received_at.isoformat(),
            "assigned_at": self.assigned_at.isoformat(),
            "note": self.note,
            "answers": [answer.to_json() for answer in self.answers],
            "refused_updates": [refusal.to_json() for refusal in self.refusals],
        }


@dataclass(frozen=True)
class ClosedTask:
    """A report that left the inbox: resolved, its rejection accepted, or reassigned."""

    report_id: str
    tracking_code: str
    reason: str
    withdrawn_at: datetime
    task: Task | None = None
    """The task as it was last assigned; None when that is no longer on the topic."""

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "tracking_code": self.tracking_code,
            "reason": self.reason,
            "withdrawn_at": self.withdrawn_at.isoformat(),
            "role": self.task.role if self.task else None,
        }


@dataclass(frozen=True)
class LinkedDuplicate:
    """A report linked, as a duplicate, to a report the agency holds: the agency may check
    it and undo a wrong link (``unlink``)."""

    report_id: str
    tracking_code: str
    original_report_id: str
    original_tracking_code: str
    text: str
    received_at: datetime
    at: datetime
    by_agency_id: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "tracking_code": self.tracking_code,
            "original_report_id": self.original_report_id,
            "original_tracking_code": self.original_tracking_code,
            "text": self.text,
            "received_at": self.received_at.isoformat(),
            "linked_at": self.at.isoformat(),
            "linked_by": self.by_agency_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Inbox:
    """What an agency holds: open tasks (earliest deadline first) and closed ones."""

    open: tuple[Task, ...] = ()
    closed: tuple[ClosedTask, ...] = ()
    duplicates: tuple[LinkedDuplicate, ...] = ()
    """Reports linked as duplicates to reports the agency holds (and not unlinked since),
    most recent first."""
    """Tasks withdrawn and not assigned again, most recently withdrawn first."""
    refusals: tuple[RefusedUpdate, ...] = ()
    """Every refusal of the agency's updates, in the order they came."""
    unreadable: int = 0
    """Records on the inbox that are not valid contract events (skipped)."""

    def find(self, ref: str) -> Task | ClosedTask | None:
        """The open task, else the closed one, named by tracking code or report id."""
        wanted = ref.strip()
        for entries in (self.open, self.closed):
            for entry in entries:
                if entry.report_id == wanted or entry.tracking_code == wanted.upper():
                    return entry
        return None

    def duplicate(self, ref: str) -> LinkedDuplicate | None:
        """The linked duplicate named by tracking code or report id."""
        wanted = ref.strip()
        return next(
            (
                found
                for found in self.duplicates
                if found.report_id == wanted or found.tracking_code == wanted.upper()
            ),
            None,
        )

    def duplicates_of(self, report_id: str) -> tuple[LinkedDuplicate, ...]:
        return tuple(found for found in self.duplicates if found.original_report_id == report_id)

    def refusal_of(self, update_event_id: str) -> RefusedUpdate | None:
        """Routing's refusal of the update with this event id, if it came."""
        return next((r for r in self.refusals if r.update_event_id == update_event_id), None)


@dataclass
class _Entry:
    assigned: AgencyTaskAssigned | None = None
    withdrawn: AgencyTaskWithdrawn | None = None
    answers: list[CitizenAnswer] = field(default_factory=list)
    refusals: list[RefusedUpdate] = field(default_factory=list)

    def task(self) -> Task | None:
        if self.assigned is None:
            return None
        return replace(
            Task.of(self.assigned), answers=tuple(self.answers), refusals=tuple(self.refusals)
        )


def fold_inbox(events: Iterable[Event[Any]]) -> Inbox:
    """Fold an inbox's events, in topic order, into what the agency holds now.

    Per report the latest of assigned/withdrawn wins; citizens' answers and refused
    updates stay with their report. Events seen twice (same id) count once; event
    types that do not belong on an inbox are ignored.
    """
    entries: dict[str, _Entry] = {}
    refusals: list[RefusedUpdate] = []
    duplicates: dict[str, LinkedDuplicate | None] = {}
    seen: set[str] = set()
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        match event:
            case AgencyTaskAssignedEvent(data=assigned):
                entry = entries.setdefault(assigned.report_id, _Entry())
                entry.assigned, entry.withdrawn = assigned, None
            case AgencyTaskWithdrawnEvent(data=withdrawn):
                entries.setdefault(withdrawn.report_id, _Entry()).withdrawn = withdrawn
            case CitizenRepliedEvent(data=reply):
                entries.setdefault(reply.report_id, _Entry()).answers.append(
                    CitizenAnswer(reply.received_at, reply.text, reply.rating)
                )
            case DuplicateLinkChangedEvent(data=link):
                duplicates.pop(link.report_id, None)  # the latest wins
                duplicates[link.report_id] = (
                    LinkedDuplicate(
                        link.report_id,
                        link.tracking_code,
                        link.original_report_id,
                        link.original_tracking_code,
                        link.text,
                        link.received_at,
                        link.at,
                        link.by_agency_id,
                        link.reason,
                    )
                    if link.linked
                    else None
                )
            case AgencyUpdateRefusedEvent(data=refused):
                refusal = RefusedUpdate.of(refused)
                refusals.append(refusal)
                entries.setdefault(refused.report_id, _Entry()).refusals.append(refusal)
    open_tasks: list[Task] = []
    closed: list[ClosedTask] = []
    for entry in entries.values():
        task = entry.task()
        if entry.withdrawn is not None:
            gone = entry.withdrawn
            closed.append(
                ClosedTask(gone.report_id, gone.tracking_code, gone.reason, gone.withdrawn_at, task)
            )
        elif task is not None:
            open_tasks.append(task)
    open_tasks.sort(key=lambda task: (task.deadline, task.tracking_code))
    closed.sort(key=lambda gone: gone.withdrawn_at, reverse=True)
    linked = [found for found in duplicates.values() if found is not None]
    return Inbox(
        open=tuple(open_tasks),
        closed=tuple(closed),
        duplicates=tuple(reversed(linked)),
        refusals=tuple(refusals),
    )


# --- updates, checked before they are sent ----------------------------------------------


def new_update(
    agency_id: str,
    report_id: str,
    kind: AgencyUpdateKind | str,
    *,
    note: str | None = None,
    suggested_agency_id: str | None = None,
    officer_ref: str | None = None,
    now: datetime | None = None,
    category: str | None = None,
    ward_code: str | None = None,
    residential_group: str | None = None,
    duplicate_of: str | None = None,
) -> AgencyUpdateEvent:
    """The update event an agency publishes, or UpdateNotAllowed saying what is wrong.

    A correction (``CORRECTION_KINDS``) carries what it corrects: ``category``
    (recategorized), ``ward_code`` and ``residential_group`` (relocated), ``duplicate_of``
    (linked, a report id), and its reason as the note."""
    note = note.strip() if note is not None else None
    now = now if now is not None else datetime.now(UTC)
    if kind in _NOTE_REQUIRED and not note:
        if kind in CORRECTION_KINDS:
            raise UpdateNotAllowed(
                f"«{KIND_LABELS[AgencyUpdateKind(kind)]}» cần lý do (--note / --reason)."
            )
        raise UpdateNotAllowed(
            f"«{KIND_LABELS[AgencyUpdateKind(kind)]}» cần ghi chú: người dân sẽ đọc nó."
        )
    try:
        data = AgencyUpdate(
            report_id=report_id,
            agency_id=agency_id,
            kind=AgencyUpdateKind(kind),
            note=note or None,
            suggested_agency_id=suggested_agency_id,
            officer_ref=officer_ref,
            updated_at=now,
            category=category,
            ward_code=ward_code,
            residential_group=residential_group.strip() or None if residential_group else None,
            duplicate_of=duplicate_of,
        )
    except ValidationError as error:
        raise UpdateNotAllowed(f"cập nhật không hợp lệ: {_in_vietnamese(error)}") from None
    except ValueError:
        raise UpdateNotAllowed(f"không có loại cập nhật {kind!r}") from None
    return AgencyUpdateEvent.new(data, source=f"/agencies/{agency_id}", time=now)


def may_correct(task: Task | None, *, triage_desk: bool) -> bool:
    """Whether the agency may send triage corrections about a task it holds (or unlink
    the duplicates linked to it): the triage desk holding it, or the report's lead."""
    return triage_desk or (task is not None and task.role == "lead")


def target_of(
    inbox: Inbox,
    ref: str,
    kind: AgencyUpdateKind,
    agency_id: str,
    *,
    triage_desk: bool | None = None,
) -> Task | ClosedTask | LinkedDuplicate:
    """The report an update is about, or why it cannot be sent.

    Updates are about open tasks; reopening is about a report that left the inbox
    (resolved) too. Asking the citizen and reopening are for the lead agency only.
    Unlinking is about a duplicate linked to a report the agency holds, else (the triage
    desk, which may unlink any duplicate) about the report id given.

    ``triage_desk`` says whether the agency is the city's triage desk: ``None`` (not
    known, the command) lets every correction through for routing to judge; ``False``
    keeps corrections to the report's lead (``may_correct``), as routing would.
    """
    if kind == AgencyUpdateKind.UNLINKED:
        duplicate = inbox.duplicate(ref)
        if duplicate is not None:
            if triage_desk is False:
                original = inbox.find(duplicate.original_report_id)
                task = original if isinstance(original, Task) else None
                if not may_correct(task, triage_desk=False):
                    raise UpdateNotAllowed(
                        f"chỉ đơn vị chủ trì {duplicate.original_tracking_code} hoặc bộ phận "
                        f"tiếp nhận được «{KIND_LABELS[kind]}» cho {duplicate.tracking_code}; "
                        "không gửi gì."
                    )
            return duplicate
        if triage_desk is False:
            raise NotInInbox(
                f"{ref} không phải phản ánh trùng được gộp vào phản ánh của {agency_id}: "
                "không gửi gì."
            )
        if _TRACKING_CODE.fullmatch(ref.strip().upper()):
            raise NotInInbox(
                f"{ref} không phải phản ánh trùng được gộp vào phản ánh của {agency_id}: "
                "hãy dùng mã phản ánh (report id) của nó. Không gửi gì."
            )
        now = datetime.now(UTC)
        return LinkedDuplicate(ref.strip(), ref.strip(), "", "", "", now, now)
    found = inbox.find(ref)
    if found is None:
        raise NotInInbox(f"{ref} không có trong hộp thư của {agency_id}: không gửi gì.")
    if isinstance(found, ClosedTask) and kind != AgencyUpdateKind.REOPENED:
        raise NotInInbox(
            f"{found.tracking_code} đã rời hộp thư của {agency_id} "
            f"{local_time(found.withdrawn_at)} ({found.reason}): không gửi gì."
        )
    task = found if isinstance(found, Task) else found.task
    if kind in _LEAD_ONLY and task is not None and task.role != "lead":
        raise UpdateNotAllowed(
            f"chỉ đơn vị chủ trì ({task.lead_agency_id}) được «{KIND_LABELS[kind]}» "
            f"cho {task.tracking_code}; {agency_id} là đơn vị phối hợp: không gửi gì."
        )
    if (
        kind in CORRECTION_KINDS
        and triage_desk is False
        and task is not None
        and not may_correct(task, triage_desk=False)
    ):
        raise UpdateNotAllowed(
            f"chỉ đơn vị chủ trì ({task.lead_agency_id}) hoặc bộ phận tiếp nhận được "
            f"«{KIND_LABELS[kind]}» cho {task.tracking_code}; {agency_id} là đơn vị "
            "phối hợp: không gửi gì."
        )
    return found


def report_id_of(inbox: Inbox, ref: str, agency_id: str) -> str:
    """The report id a link names (``--to``): a report in the inbox (open, closed or a
    linked duplicate's original) by tracking code or id, else the report id given."""
    found = inbox.find(ref)
    if found is not None:
        return found.report_id
    wanted = ref.strip().upper()
    for duplicate in inbox.duplicates:
        if duplicate.original_tracking_code == wanted:
            return duplicate.original_report_id
    if _TRACKING_CODE.fullmatch(wanted):
        raise NotInInbox(
            f"{ref} không có trong hộp thư của {agency_id}: hãy dùng mã phản ánh (report id) "
            "của phản ánh gốc. Không gửi gì."
        )
    return ref.strip()


def actions_for(
    entry: Task | ClosedTask, *, triage_desk: bool = False
) -> tuple[AgencyUpdateKind, ...]:
    """The updates worth offering about this entry, each one ``target_of`` lets through
    (given the same ``triage_desk``): every update but reopening on an open task (asking
    the citizen for the lead only; the triage corrections for the lead or the triage desk,
    ``may_correct``, unlinking meaning the duplicates linked to it); reopening only on a
    report that left the inbox (for the lead only)."""
    task = entry if isinstance(entry, Task) else entry.task
    is_lead = task is None or task.role == "lead"
    if isinstance(entry, ClosedTask):
        return (AgencyUpdateKind.REOPENED,) if is_lead else ()
    corrects = may_correct(entry, triage_desk=triage_desk)
    return tuple(
        kind
        for kind in AgencyUpdateKind
        if kind != AgencyUpdateKind.REOPENED
        and (is_lead or kind not in _LEAD_ONLY)
        and (corrects or kind not in CORRECTION_KINDS)
    )


def work_order(tasks: Iterable[Task], now: datetime) -> tuple[Task, ...]:
    """Open tasks as an officer works them: overdue first, then earliest deadline."""
    return tuple(
        sorted(
            tasks, key=lambda task: (not task.is_overdue(now), task.deadline, task.tracking_code)
        )
    )


@dataclass(frozen=True)
class HistoryStep:
    """One line of a report's history as the agency's page shows it."""

    at: datetime
    what: str
    kind: Literal["received", "routing", "assigned", "citizen", "refused", "sent", "withdrawn"]
    agency_id: str | None = None


def task_history(
    entry: Task | ClosedTask, sent: Iterable[AgencyUpdate] = ()
) -> tuple[HistoryStep, ...]:
    """What happened to a report, oldest first: received, routing's history (levels,
    other agencies), its assignment here, the citizen's answers, the agency's own
    updates ``sent`` (as far as the caller knows them), routing's refusals, and its
    withdrawal when it left the inbox."""
    task = entry if isinstance(entry, Task) else entry.task
    steps: list[HistoryStep] = []
    if task is not None:
        steps.append(HistoryStep(task.received_at, "Người dân gửi phản ánh.", "received"))
        steps += [
            HistoryStep(past.at, past.what, "routing", past.agency_id) for past in task.history
        ]
        role = "chủ trì" if task.role == "lead" else f"phối hợp, chủ trì: {task.lead_agency_id}"
        assigned = f"Giao cho đơn vị ({role}), hạn {local_time(task.deadline)}."
        if task.note:
            assigned += f" {task.note}"
        steps.append(HistoryStep(task.assigned_at, assigned, "assigned"))
        for answer in task.answers:
            rating = f" (đánh giá {answer.rating}/5)" if answer.rating else ""
            steps.append(
                HistoryStep(
                    answer.received_at, f"Người dân trả lời{rating}: «{answer.text}»", "citizen"
                )
            )
        for refusal in task.refusals:
            steps.append(
                HistoryStep(
                    refusal.refused_at,
                    f"Định tuyến từ chối «{KIND_LABELS[refusal.update_kind]}»: "
                    f"{REFUSAL_LABELS.get(refusal.reason, refusal.reason.value)} — "
                    f"{refusal.detail}",
                    "refused",
                )
            )
    for update in sent:
        if update.report_id != entry.report_id:
            continue
        what = f"Đơn vị gửi «{KIND_LABELS[update.kind]}»"
        if update.officer_ref:
            what += f" (cán bộ {update.officer_ref})"
        if update.note:
            what += f": {update.note}"
        if update.suggested_agency_id:
            what += f" — đề xuất chuyển {update.suggested_agency_id}"
        if update.category:
            what += f" — lĩnh vực {update.category}"
        if update.ward_code:
            group = f", {update.residential_group}" if update.residential_group else ""
            what += f" — phường, xã {update.ward_code}{group}"
        if update.duplicate_of:
            what += f" — trùng với {update.duplicate_of}"
        steps.append(HistoryStep(update.updated_at, what, "sent", update.agency_id))
    if isinstance(entry, ClosedTask):
        steps.append(HistoryStep(entry.withdrawn_at, f"Rời hộp thư: {entry.reason}", "withdrawn"))
    return tuple(sorted(steps, key=lambda step: step.at))


_FIELD_LABELS = {
    "note": "ghi chú",
    "suggested_agency_id": "mã đơn vị đề xuất",
    "officer_ref": "mã cán bộ",
    "report_id": "mã phản ánh",
    "category": "mã lĩnh vực",
    "ward_code": "mã phường, xã",
    "residential_group": "tổ dân phố, bản, tiểu khu",
    "duplicate_of": "phản ánh gốc",
}
_VALUE_ERRORS = {
    "an update of kind recategorized needs category": "đổi lĩnh vực cần mã lĩnh vực mới",
    "an update of kind relocated needs ward_code": "đổi địa bàn cần mã phường, xã (5 chữ số)",
    "an update of kind linked needs duplicate_of": "gộp cần phản ánh gốc",
    "a report cannot be linked to itself": "không thể gộp một phản ánh vào chính nó",
    "an agency cannot suggest itself": "đơn vị không thể đề xuất chính mình",
    "suggested_agency_id is only for updates of kind rejected": (
        "chỉ khi từ chối mới đề xuất đơn vị khác"
    ),
}


def _in_vietnamese(error: ValidationError) -> str:
    """The first problem of an update the contract refused, for officers (the field's
    contract name in brackets); the contract's own words when it is not one we know."""
    first = error.errors(include_url=False)[0]
    field_name = ".".join(str(part) for part in first["loc"])
    label = f"{_FIELD_LABELS[field_name]} ({field_name})" if field_name in _FIELD_LABELS else ""
    context = first.get("ctx") or {}
    match first["type"]:
        case "string_pattern_mismatch" if field_name == "suggested_agency_id":
            problem = "chỉ gồm chữ thường không dấu, chữ số, '.', '_' và '-', ví dụ ubnd-to-hieu"
        case "string_pattern_mismatch" if field_name == "category":
            problem = "chỉ gồm chữ thường không dấu, chữ số, '.', '_' và '-', ví dụ traffic_safety"
        case "string_pattern_mismatch" if field_name == "ward_code":
            problem = "gồm đúng 5 chữ số, ví dụ 03679"
        case "string_pattern_mismatch":
            problem = "không được có khoảng trắng"
        case "string_too_long" | "too_long":
            problem = f"dài quá {context.get('max_length', 'mức cho phép')} ký tự"
        case "value_error":
            message = first["msg"].removeprefix("Value error, ")
            return _VALUE_ERRORS.get(message, message)
        case _:
            return ContractViolation.from_validation_error(error).reason
    return f"{label} {problem}" if label else ContractViolation.from_validation_error(error).reason


def local_time(instant: datetime) -> str:
    """An instant as officers read it in Sơn La, e.g. ``21/03/2023 17:00``."""
    return instant.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
