"""Reference agency client: ``phananh-agency --agency ID COMMAND``.

An agency (a ward's People's Committee, a market board …) receives its reports on its own
inbox topic, ``pakn.inbox.<agency-id>.v1``, and answers on ``pakn.agency.updates.v1``.
This module is all an agency needs to do that, as a command for officers and as a small
library (``AgencyClient``) for the agency's own system; copy it freely. It depends on the
contracts (``phananh_contracts``), the platform's Kafka wiring (``phananh_platform``) and
aiokafka only.

    phananh-agency --agency ubnd-chieng-sinh inbox [--json] [--all]
    phananh-agency --agency ubnd-chieng-sinh accept SL-2303-7KQ4M9 [--officer cb-042]
    phananh-agency --agency ubnd-chieng-sinh progress SL-2303-7KQ4M9 [--note "…"]
    phananh-agency --agency ubnd-chieng-sinh ask SL-2303-7KQ4M9 --note "câu hỏi …"
    phananh-agency --agency ubnd-chieng-sinh reject SL-2303-7KQ4M9 --note "lý do" [--suggest ID]
    phananh-agency --agency ubnd-chieng-sinh resolve SL-2303-7KQ4M9 --note "kết quả"
    phananh-agency --agency ubnd-chieng-sinh reopen SL-2303-7KQ4M9 --note "…"

The inbox is read from the beginning up to its end at the moment of reading, without a
consumer group, and folded by report id (latest event wins: a task assigned again after
it was withdrawn is open again). A report is named by its tracking code or its id; an
update the contract forbids, or about a report not in the inbox, is refused here and
nothing is sent. ``--wait SECONDS`` watches the inbox after sending for routing's refusal
of that very update. Exit status: 0 done, 1 refused or not found, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from phananh_contracts import (
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
    Event,
    Place,
    Topic,
    UpdateRefusalReason,
    agency_inbox_topic,
)
from phananh_platform.kafka import RecordProducer
from phananh_platform.settings import KafkaSettings
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

try:
    LOCAL_TIME: tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except ZoneInfoNotFoundError:  # no tz database (e.g. Windows without tzdata): no DST anyway
    LOCAL_TIME = timezone(timedelta(hours=7), "ICT")

EXCERPT_CHARS = 200
"""Length of the text excerpt shown for each task."""

AGENCY_ENV = "PHANANH_AGENCY_ID"
"""Environment variable that may give the agency id instead of ``--agency``."""

KIND_LABELS: dict[AgencyUpdateKind, str] = {
    AgencyUpdateKind.ACCEPTED: "tiếp nhận",
    AgencyUpdateKind.REJECTED: "từ chối",
    AgencyUpdateKind.IN_PROGRESS: "đang xử lý",
    AgencyUpdateKind.NEEDS_INFORMATION: "đề nghị người dân bổ sung thông tin",
    AgencyUpdateKind.RESOLVED: "đã giải quyết",
    AgencyUpdateKind.REOPENED: "mở lại",
}
"""How officers call each kind of update."""

REFUSAL_LABELS: dict[UpdateRefusalReason, str] = {
    UpdateRefusalReason.UNKNOWN_REPORT: "phản ánh chưa được giao",
    UpdateRefusalReason.NOT_HOLDER: "đơn vị không còn giữ phản ánh này",
    UpdateRefusalReason.UNKNOWN_AGENCY: "đơn vị (hoặc đơn vị được đề xuất) không có trong cấu hình",
    UpdateRefusalReason.NOT_ALLOWED_NOW: "cập nhật không phù hợp với trạng thái của phản ánh",
    UpdateRefusalReason.LEAD_ONLY: "chỉ đơn vị chủ trì được làm việc này",
}
"""Why routing refused an update, for officers."""

_LEAD_ONLY = frozenset({AgencyUpdateKind.NEEDS_INFORMATION, AgencyUpdateKind.REOPENED})
_NOTE_REQUIRED = frozenset(
    {AgencyUpdateKind.REJECTED, AgencyUpdateKind.NEEDS_INFORMATION, AgencyUpdateKind.RESOLVED}
)


# --- errors ---------------------------------------------------------------------------


class AgencyClientError(Exception):
    """Something the officer must be told; ``exit_code`` is the command's exit status."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InboxNotFound(AgencyClientError):
    """The agency's inbox topic does not exist (unknown agency, or not created yet)."""


class NotInInbox(AgencyClientError):
    """The report named is not (or no longer) in the agency's inbox."""


class UpdateNotAllowed(AgencyClientError):
    """The update breaks the contract or the agency's role; refused before sending."""


class KafkaUnavailable(AgencyClientError):
    """The broker cannot be reached (wrong address, broker down)."""

    exit_code = 2


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
class Inbox:
    """What an agency holds: open tasks (earliest deadline first) and closed ones."""

    open: tuple[Task, ...] = ()
    closed: tuple[ClosedTask, ...] = ()
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
    return Inbox(open=tuple(open_tasks), closed=tuple(closed), refusals=tuple(refusals))


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
) -> AgencyUpdateEvent:
    """The update event an agency publishes, or UpdateNotAllowed saying what is wrong."""
    note = note.strip() if note is not None else None
    now = now if now is not None else datetime.now(UTC)
    if kind in _NOTE_REQUIRED and not note:
        raise UpdateNotAllowed(
            f"«{KIND_LABELS[AgencyUpdateKind(kind)]}» cần ghi chú (--note): người dân sẽ đọc nó."
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
        )
    except ValidationError as error:
        reason = ContractViolation.from_validation_error(error).reason
        raise UpdateNotAllowed(f"cập nhật không hợp lệ: {reason}") from None
    except ValueError:
        raise UpdateNotAllowed(f"không có loại cập nhật {kind!r}") from None
    return AgencyUpdateEvent.new(data, source=f"/agencies/{agency_id}", time=now)


def target_of(inbox: Inbox, ref: str, kind: AgencyUpdateKind, agency_id: str) -> Task | ClosedTask:
    """The report an update is about, or why it cannot be sent.

    Updates are about open tasks; reopening is about a report that left the inbox
    (resolved) too. Asking the citizen and reopening are for the lead agency only.
    """
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
    return found


# --- the client -------------------------------------------------------------------------


class AgencyClient:
    """One agency's view of the platform: read its inbox, send its updates."""

    def __init__(
        self,
        kafka: KafkaSettings,
        agency_id: str,
        *,
        read_timeout_s: float = 60.0,
    ) -> None:
        self.kafka = kafka
        self.agency_id = agency_id
        self.topic: Topic = agency_inbox_topic(agency_id)  # ValueError for a bad id
        self.read_timeout_s = read_timeout_s
        self._read_up_to: dict[TopicPartition, int] | None = None

    async def inbox(self) -> Inbox:
        """The inbox as it is now: read from the beginning to the current end, folded."""
        try:
            events, unreadable = await asyncio.wait_for(self._read(), self.read_timeout_s)
        except TimeoutError:
            raise KafkaUnavailable(
                f"đọc hộp thư {self.topic.name} quá {self.read_timeout_s:g} giây"
            ) from None
        return replace(fold_inbox(events), unreadable=unreadable)

    async def send(
        self,
        report_ref: str,
        kind: AgencyUpdateKind | str,
        note: str | None = None,
        suggested_agency_id: str | None = None,
        officer_ref: str | None = None,
    ) -> AgencyUpdateEvent:
        """Send an update about a report in the inbox (tracking code or report id).

        Checked first (contract, then inbox and role): UpdateNotAllowed or NotInInbox
        and nothing is sent. Returns once the broker has the update.
        """
        _, update = await self.prepare(
            report_ref,
            kind,
            note=note,
            suggested_agency_id=suggested_agency_id,
            officer_ref=officer_ref,
        )
        await self.publish(update)
        return update

    async def prepare(
        self,
        report_ref: str,
        kind: AgencyUpdateKind | str,
        *,
        note: str | None = None,
        suggested_agency_id: str | None = None,
        officer_ref: str | None = None,
    ) -> tuple[Task | ClosedTask, AgencyUpdateEvent]:
        """The report an update is about and the update, checked but not sent."""
        options: dict[str, Any] = {
            "note": note,
            "suggested_agency_id": suggested_agency_id,
            "officer_ref": officer_ref,
        }
        draft = new_update(self.agency_id, "draft", kind, **options)  # fail before any I/O
        target = target_of(await self.inbox(), report_ref, draft.data.kind, self.agency_id)
        return target, new_update(self.agency_id, target.report_id, kind, **options)

    async def publish(self, update: AgencyUpdateEvent) -> None:
        """Put an update on ``pakn.agency.updates.v1``; returns once the broker has it."""
        producer = RecordProducer(self.kafka, client_id=f"phananh-agency-{self.agency_id}")
        async with self._kafka_errors():
            await producer.start()
            try:
                await producer.publish(update.to_kafka())
            finally:
                await producer.stop()

    async def wait_for_refusal(
        self, update_event_id: str, *, timeout_s: float
    ) -> RefusedUpdate | None:
        """Watch the inbox up to ``timeout_s`` for routing's refusal of one update.

        Starts where the last ``inbox()`` stopped reading (so a refusal that came right
        after sending is not missed), or from the beginning.
        """
        deadline = time.monotonic() + timeout_s
        consumer = self._consumer()
        async with self._kafka_errors():
            try:
                await consumer.start()  # stopped below even if it fails half-way
                partitions = await self._assign(consumer)
                if self._read_up_to is None:
                    await consumer.seek_to_beginning(*partitions)
                else:
                    for partition in partitions:
                        consumer.seek(partition, self._read_up_to.get(partition, 0))
                while (remaining := deadline - time.monotonic()) > 0:
                    batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
                    for records in batch.values():
                        for record in records:
                            event = self._decode(record.value)
                            if (
                                isinstance(event, AgencyUpdateRefusedEvent)
                                and event.data.update_event_id == update_event_id
                            ):
                                return RefusedUpdate.of(event.data)
            finally:
                await consumer.stop()
        return None

    async def _read(self) -> tuple[list[Event[Any]], int]:
        consumer = self._consumer()
        events: list[Event[Any]] = []
        unreadable = 0
        async with self._kafka_errors():
            try:
                await consumer.start()  # stopped below even if it fails half-way
                partitions = await self._assign(consumer)
                await consumer.seek_to_beginning(*partitions)
                ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
                while [p for p in partitions if await consumer.position(p) < ends[p]]:
                    batch = await consumer.getmany(*partitions, timeout_ms=500)
                    for partition, records in batch.items():
                        for record in records:
                            if record.offset >= ends[partition]:
                                continue  # came after we started: the next read shows it
                            event = self._decode(record.value)
                            if event is None:
                                unreadable += 1
                            else:
                                events.append(event)
                self._read_up_to = ends
            finally:
                await consumer.stop()
        return events, unreadable

    def _decode(self, value: bytes | None) -> Event[Any] | None:
        if value is None:
            return None
        try:
            return self.topic.decode(value)
        except ContractViolation:
            return None

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            client_id=f"phananh-agency-{self.agency_id}",
            group_id=None,  # no consumer group: nothing to commit, no GROUP ACL needed
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=self.kafka.request_timeout_ms,
        )

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        # Listing topics asks for no topic by name, so it never auto-creates the inbox.
        if self.topic.name not in await consumer.topics():
            raise InboxNotFound(
                f"chưa có hộp thư {self.topic.name}: kiểm tra mã đơn vị {self.agency_id!r} "
                "(định tuyến tạo hộp thư cho mỗi đơn vị trong cấu hình) và quyền READ trên topic."
            )
        first = TopicPartition(self.topic.name, 0)
        consumer.assign([first])
        await consumer.end_offsets([first])  # loads the topic's metadata
        numbers = consumer.partitions_for_topic(self.topic.name) or {0}
        partitions = [TopicPartition(self.topic.name, number) for number in sorted(numbers)]
        if len(partitions) > 1:  # the contract says one; read them all anyway
            consumer.assign(partitions)
        return partitions

    def _kafka_errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return _broker_errors(self.kafka.bootstrap_servers)


@contextlib.asynccontextmanager
async def _broker_errors(bootstrap: str) -> AsyncIterator[None]:
    """Turn the broker's errors into messages for officers."""
    try:
        yield
    except (KafkaConnectionError, OSError) as error:
        raise KafkaUnavailable(
            f"không kết nối được Kafka tại {bootstrap} ({error}); kiểm tra --bootstrap "
            "hoặc PHANANH_KAFKA__BOOTSTRAP_SERVERS."
        ) from None
    except KafkaError as error:
        raise AgencyClientError(f"Kafka từ chối: {error!r}") from None


# --- text and JSON for officers -------------------------------------------------------


def local_time(instant: datetime) -> str:
    """An instant as officers read it in Sơn La, e.g. ``21/03/2023 17:00``."""
    return instant.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def describe_place(place: Place | None) -> str | None:
    if place is None:
        return None
    parts: list[str] = []
    for part in (place.address_text, place.residential_group, place.ward_name):
        if part and not any(part in earlier for earlier in parts):
            parts.append(part)
    return ", ".join(parts) or None


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
    }
    if include_closed:
        document["closed"] = [gone.to_json() for gone in inbox.closed]
    return document


# --- the command ----------------------------------------------------------------------


class ClientSettings(BaseSettings):
    """What the command reads from the environment, the way the services do."""

    model_config = SettingsConfigDict(
        env_prefix="PHANANH_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


@dataclass(frozen=True)
class _Command:
    kind: AgencyUpdateKind
    help: str
    note: Literal["optional", "required"]
    note_help: str


_UPDATE_COMMANDS: dict[str, _Command] = {
    "accept": _Command(
        AgencyUpdateKind.ACCEPTED, "tiếp nhận phản ánh", "optional", "ghi chú (tuỳ chọn)"
    ),
    "progress": _Command(
        AgencyUpdateKind.IN_PROGRESS,
        "báo đang xử lý",
        "optional",
        "tiến độ, người dân sẽ được thông báo",
    ),
    "ask": _Command(
        AgencyUpdateKind.NEEDS_INFORMATION,
        "hỏi người dân thêm thông tin (chỉ đơn vị chủ trì)",
        "required",
        "câu hỏi cho người dân",
    ),
    "reject": _Command(
        AgencyUpdateKind.REJECTED,
        "từ chối: phản ánh không thuộc thẩm quyền",
        "required",
        "lý do từ chối",
    ),
    "resolve": _Command(
        AgencyUpdateKind.RESOLVED,
        "báo đã giải quyết",
        "required",
        "kết quả giải quyết, người dân sẽ được thông báo",
    ),
    "reopen": _Command(
        AgencyUpdateKind.REOPENED,
        "mở lại phản ánh đã giải quyết (chỉ đơn vị chủ trì)",
        "required",
        "lý do mở lại",
    ),
}


def _connection_options(*, before_command: bool) -> argparse.ArgumentParser:
    """``--agency`` and ``--bootstrap``, accepted before or after the command.

    After the command they default to nothing, so they never hide a value given before.
    """
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--agency",
        metavar="ID",
        default=os.environ.get(AGENCY_ENV) if before_command else argparse.SUPPRESS,
        help=f"mã đơn vị, ví dụ ubnd-chieng-sinh (hoặc biến môi trường {AGENCY_ENV})",
    )
    options.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=None if before_command else argparse.SUPPRESS,
        help="Kafka (mặc định: PHANANH_KAFKA__BOOTSTRAP_SERVERS, hoặc 127.0.0.1:9092)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phananh-agency",
        description="Hộp thư phản ánh kiến nghị của một đơn vị: xem và trả lời.",
        parents=[_connection_options(before_command=True)],
    )
    connection = _connection_options(before_command=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inbox = commands.add_parser("inbox", parents=[connection], help="xem hộp thư")
    inbox.add_argument("--json", action="store_true", help="in JSON cho máy đọc")
    inbox.add_argument("--all", action="store_true", help="kèm các phản ánh đã rời hộp thư")

    for name, command in _UPDATE_COMMANDS.items():
        sub = commands.add_parser(name, parents=[connection], help=command.help)
        sub.add_argument("ref", metavar="REF", help="mã tra cứu (SL-2303-7KQ4M9) hoặc mã phản ánh")
        sub.add_argument("--note", required=command.note == "required", help=command.note_help)
        if command.kind == AgencyUpdateKind.REJECTED:
            sub.add_argument("--suggest", metavar="AGENCY", help="mã đơn vị đề xuất xử lý thay")
        sub.add_argument("--officer", metavar="X", help="mã cán bộ phụ trách (của đơn vị)")
        sub.add_argument(
            "--wait",
            metavar="SECONDS",
            type=float,
            default=0.0,
            help="sau khi gửi, chờ chừng ấy giây xem định tuyến có từ chối không (mặc định 0)",
        )
        sub.add_argument("--json", action="store_true", help="in sự kiện đã gửi dạng JSON")
    return parser


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
    """Run one command; the exit status (0 done, 1 refused or not found, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if not args.agency:
        return _usage(parser, f"thiếu --agency (hoặc biến môi trường {AGENCY_ENV})")
    try:
        settings = ClientSettings()
    except ValidationError as error:
        for problem in error.errors():
            path = "__".join(str(part) for part in problem["loc"]).upper()
            _say(f"phananh-agency: PHANANH_{path}: {problem['msg']}")
        return 2
    kafka = settings.kafka
    if args.bootstrap is not None:
        kafka = kafka.model_copy(update={"bootstrap_servers": args.bootstrap})
    if not re.fullmatch(r"\S+:[0-9]+(,\S+:[0-9]+)*", kafka.bootstrap_servers):
        return _usage(parser, f"địa chỉ Kafka không hợp lệ: {kafka.bootstrap_servers!r}")
    try:
        client = AgencyClient(kafka, args.agency)
    except ValueError:
        return _usage(parser, f"mã đơn vị không hợp lệ: {args.agency!r}")
    if args.command != "inbox" and args.wait < 0:
        return _usage(parser, "--wait phải ≥ 0")
    try:
        return asyncio.run(_run(client, args, now))
    except AgencyClientError as error:
        _say(f"phananh-agency: {error.message}")
        return error.exit_code
    except KeyboardInterrupt:
        return 130


async def _run(client: AgencyClient, args: argparse.Namespace, now: datetime | None) -> int:
    if args.command == "inbox":
        inbox = await client.inbox()
        moment = now if now is not None else datetime.now(UTC)
        if args.json:
            document = inbox_json(inbox, client.agency_id, now=moment, include_closed=args.all)
            print(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            print(render_inbox(inbox, client.agency_id, now=moment, include_closed=args.all))
        return 0

    command = _UPDATE_COMMANDS[args.command]
    target, update = await client.prepare(
        args.ref,
        command.kind,
        note=args.note,
        suggested_agency_id=getattr(args, "suggest", None),
        officer_ref=args.officer,
    )
    await client.publish(update)
    if args.json:
        print(update.model_dump_json(exclude_none=True))
    else:
        print(
            f"Đã gửi «{KIND_LABELS[command.kind]}» cho {target.tracking_code} "
            f"(mã sự kiện {update.id})."
        )
    if args.wait <= 0:
        return 0
    refusal = await client.wait_for_refusal(update.id, timeout_s=args.wait)
    if refusal is not None:
        _say(f"phananh-agency: {target.tracking_code}: cập nhật {refusal.describe()}")
        return 1
    if not args.json:
        print(f"Không có từ chối nào trong {args.wait:g} giây.")
    return 0


def _usage(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    _say(f"phananh-agency: {message}")
    return 2


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def main_entry() -> None:
    """Console script ``phananh-agency``."""
    # Broker trouble reaches the officer as one clear message, not aiokafka's log lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. ``phananh-agency … inbox --json | head``
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    sys.exit(status)


if __name__ == "__main__":
    main_entry()
