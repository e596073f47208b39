"""Example events: the golden path of one report, and the events it does not need.

March 2023, Sơn La: a citizen reports through the app that a household sells fresh pork
and fish outside the corridor of Noong Đúc market (Tổ 8, Chiềng Sinh ward). The ward
People's Committee leads, the market management team supports; they find three sellers
on the pavement, record the violations and end the selling; the citizen is told.

These events feed the JSON Schema documents and are handy fixtures for services' tests.
"""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from phananh_contracts.envelope import Event
from phananh_contracts.events import (
    AgencyTaskAssigned,
    AgencyTaskAssignedEvent,
    AgencyTaskWithdrawn,
    AgencyTaskWithdrawnEvent,
    AgencyUpdate,
    AgencyUpdateEvent,
    AgencyUpdateRefused,
    AgencyUpdateRefusedEvent,
    AuditCheckpoint,
    AuditCheckpointEvent,
    ChainHead,
    CitizenReplied,
    CitizenRepliedEvent,
    ContactKeyDestroyed,
    ContactKeyDestroyedEvent,
    ContactKeyIssued,
    ContactKeyIssuedEvent,
    DeadlineBreached,
    DeadlineBreachedEvent,
    DeadlineMoved,
    DeadlineMovedEvent,
    DeadlineWarning,
    DeadlineWarningEvent,
    DuplicateLinkChanged,
    DuplicateLinkChangedEvent,
    NotificationFailed,
    NotificationFailedEvent,
    NotificationSent,
    NotificationSentEvent,
    RawChannelMessageReceived,
    RawChannelMessageReceivedEvent,
    ReportAssigned,
    ReportAssignedEvent,
    ReportEscalated,
    ReportEscalatedEvent,
    ReportReceived,
    ReportReceivedEvent,
    ReportRejected,
    ReportRejectedEvent,
    ReportStatusChanged,
    ReportStatusChangedEvent,
    RuleSetPublished,
    RuleSetPublishedEvent,
)
from phananh_contracts.values import (
    AgencyUpdateKind,
    Attachment,
    Channel,
    EscalationLevel,
    GeoPoint,
    Place,
    Priority,
    RejectionReason,
    Reporter,
    ReportStatus,
    UpdateRefusalReason,
)

_NAMESPACE = uuid.UUID("5b0c9a1e-7d3f-4c2a-9e8b-1f6a2d4c8e01")


def _event_id(label: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, label))


def _utc(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2023, 3, day, hour, minute, second, tzinfo=UTC)


REPORT_ID = "01GVHQ6JZ9Y3X5B7C2D4E6F8G0"
TRACKING_CODE = "SL-2303-7KQ4M9"
LEAD_AGENCY_ID = "ubnd-chieng-sinh"
SUPPORTING_AGENCY_ID = "bql-cho-noong-duc"
PSEUDONYM = hashlib.sha256(b"example pseudonym of the reporter").hexdigest()
REPORT_TEXT = (
    "Có hộ dân bày bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc (tổ 8, phường "
    "Chiềng Sinh), lấn chiếm lối đi, gây mất vệ sinh và vi phạm nội quy chợ. "
    "Đề nghị chính quyền kiểm tra, xử lý."
)
RESOLUTION_NOTE = "Đã lập biên bản 3 hộ kinh doanh, đề xuất xử phạt, chấm dứt việc bán hàng"
_APP_MESSAGE_ID = "app-7f3c2a9e4b1d"
_DEADLINE = _utc(21, 10, 0)  # 17:00 in Sơn La, five working days later

RAW_MESSAGE_RECEIVED = RawChannelMessageReceivedEvent.new(
    RawChannelMessageReceived(
        channel=Channel.APP,
        channel_message_id=_APP_MESSAGE_ID,
        received_at=_utc(14, 1, 12, 30),
        content_type="application/json",
        body=json.dumps(
            {
                "client_message_id": _APP_MESSAGE_ID,
                "title": "Bán thịt, cá ngoài hành lang chợ Noong Đúc",
                "text": REPORT_TEXT,
                "ward": "Chiềng Sinh",
                "location": {"lat": 21.3035, "lon": 103.9472, "address": "Chợ Noong Đúc"},
                "photos": ["https://media.sonla.example/u/8841/cho.jpg"],
                "contact": {"name": "Lò Văn Minh", "phone": "0912000000"},
                "anonymous": False,
                "consent": True,
            },
            ensure_ascii=False,
        ),
        body_encoding="utf-8",
        authenticated_as="app-key:sonla-smart",
        metadata={"app_version": "2.4.1", "platform": "android"},
    ),
    source="/channels/app",
    id=_event_id("raw"),
    time=_utc(14, 1, 12, 30),
)

REPORT_RECEIVED = ReportReceivedEvent.new(
    ReportReceived(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        channel=Channel.APP,
        channel_message_id=_APP_MESSAGE_ID,
        received_at=_utc(14, 1, 12, 30),
        text=REPORT_TEXT,
        title="Bán thịt, cá ngoài hành lang chợ Noong Đúc",
        category="urban_order",
        category_confidence=0.87,
        place=Place(
            ward_code="03679",
            ward_name="Chiềng Sinh",
            residential_group="Tổ 8",
            address_text="Hành lang chợ Noong Đúc, phường Chiềng Sinh",
            point=GeoPoint(lat=21.3035, lon=103.9472),
        ),
        priority=Priority.NORMAL,
        reporter=Reporter(
            anonymous=False,
            pseudonym=PSEUDONYM,
            contact_ciphertext="gAAAAABkEJ1xq3pJ2Yv0c8Qm6l1ZyT4wRk9sN7uE5bH3dF2aC0xV",
        ),
        attachments=(
            Attachment(
                url=f"https://media.pakn.example/reports/{REPORT_ID}/1.jpg",
                media_type="image/jpeg",
                name="cho-noong-duc.jpg",
            ),
        ),
    ),
    source="/services/intake",
    id=_event_id("received"),
    time=_utc(14, 1, 12, 31),
)

ACKNOWLEDGEMENT_SENT = NotificationSentEvent.new(
    NotificationSent(
        report_id=REPORT_ID,
        notification_id=f"{REPORT_ID}:vn.pakn.report.received:{PSEUDONYM}:{REPORT_RECEIVED.id}",
        trigger_event_id=REPORT_RECEIVED.id,
        trigger_event_type=REPORT_RECEIVED.type,
        recipient_pseudonym=PSEUDONYM,
        channel="app",
        provider="app-push",
        template_id="report-received",
        attempts=1,
        at=_utc(14, 1, 12, 40),
    ),
    source="/services/notify",
    id=_event_id("ack"),
    time=_utc(14, 1, 12, 40),
)

REPORT_ASSIGNED = ReportAssignedEvent.new(
    ReportAssigned(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        lead_agency_id=LEAD_AGENCY_ID,
        lead_agency_name="Ủy ban nhân dân phường Chiềng Sinh",
        supporting_agency_ids=(SUPPORTING_AGENCY_ID,),
        deadline=_DEADLINE,
        priority=Priority.NORMAL,
        category="urban_order",
        rule_id="urban-order-market",
        ruleset_version="2023.03.1",
        matched={"category": "urban_order", "ward_code": "03679", "keyword": "chợ"},
        assigned_at=_utc(14, 1, 12, 32),
    ),
    source="/services/routing",
    id=_event_id("assigned"),
    time=_utc(14, 1, 12, 32),
)

STATUS_ASSIGNED = ReportStatusChangedEvent.new(
    ReportStatusChanged(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        status=ReportStatus.ASSIGNED,
        previous_status=ReportStatus.RECEIVED,
        agency_id=LEAD_AGENCY_ID,
        agency_name="Ủy ban nhân dân phường Chiềng Sinh",
        note="Phản ánh đã được chuyển UBND phường Chiềng Sinh chủ trì xử lý.",
        changed_at=_utc(14, 1, 12, 32),
    ),
    source="/services/routing",
    id=_event_id("status-assigned"),
    time=_utc(14, 1, 12, 32),
)

AGENCY_ACCEPTED = AgencyUpdateEvent.new(
    AgencyUpdate(
        report_id=REPORT_ID,
        agency_id=LEAD_AGENCY_ID,
        kind=AgencyUpdateKind.ACCEPTED,
        officer_ref="cb-0142",
        updated_at=_utc(14, 2, 5),
    ),
    source=f"/agencies/{LEAD_AGENCY_ID}",
    id=_event_id("accepted"),
    time=_utc(14, 2, 5),
)

AGENCY_IN_PROGRESS = AgencyUpdateEvent.new(
    AgencyUpdate(
        report_id=REPORT_ID,
        agency_id=LEAD_AGENCY_ID,
        kind=AgencyUpdateKind.IN_PROGRESS,
        note="Đã phối hợp với Tổ quản lý chợ Noong Đúc kiểm tra, xác minh tại hiện trường.",
        officer_ref="cb-0142",
        updated_at=_utc(15, 3, 30),
    ),
    source=f"/agencies/{LEAD_AGENCY_ID}",
    id=_event_id("in-progress"),
    time=_utc(15, 3, 30),
)

AGENCY_RESOLVED = AgencyUpdateEvent.new(
    AgencyUpdate(
        report_id=REPORT_ID,
        agency_id=LEAD_AGENCY_ID,
        kind=AgencyUpdateKind.RESOLVED,
        note=RESOLUTION_NOTE,
        officer_ref="cb-0142",
        updated_at=_utc(16, 8, 45),
    ),
    source=f"/agencies/{LEAD_AGENCY_ID}",
    id=_event_id("resolved"),
    time=_utc(16, 8, 45),
)

STATUS_RESOLVED = ReportStatusChangedEvent.new(
    ReportStatusChanged(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        status=ReportStatus.RESOLVED,
        previous_status=ReportStatus.IN_PROGRESS,
        agency_id=LEAD_AGENCY_ID,
        note=RESOLUTION_NOTE,
        changed_at=_utc(16, 8, 45),
    ),
    source="/services/routing",
    id=_event_id("status-resolved"),
    time=_utc(16, 8, 45),
)

RESOLUTION_SENT = NotificationSentEvent.new(
    NotificationSent(
        report_id=REPORT_ID,
        notification_id=(
            f"{REPORT_ID}:vn.pakn.report.status.changed:{PSEUDONYM}:{STATUS_RESOLVED.id}"
        ),
        trigger_event_id=STATUS_RESOLVED.id,
        trigger_event_type=STATUS_RESOLVED.type,
        recipient_pseudonym=PSEUDONYM,
        channel="app",
        provider="app-push",
        template_id="report-resolved",
        attempts=1,
        at=_utc(16, 8, 46),
    ),
    source="/services/notify",
    id=_event_id("resolution-sent"),
    time=_utc(16, 8, 46),
)

AUDIT_CHECKPOINT = AuditCheckpointEvent.new(
    AuditCheckpoint(
        checkpoint_id="cp-2023-03-16T09",
        writer_id="audit-1",
        heads=(
            ChainHead(
                chain_id="pakn",
                sequence=1842,
                record_hash=hashlib.sha256(b"example audit record 1842").hexdigest(),
            ),
        ),
        created_at=_utc(16, 9, 0),
        algorithm="Ed25519",
        public_key_id="audit-2023-01",
        # Shape only: a real checkpoint carries the Ed25519 signature of signed_bytes().
        signature=base64.b64encode(hashlib.sha512(b"example signature").digest()).decode(),
    ),
    source="/services/audit",
    id=_event_id("checkpoint"),
    time=_utc(16, 9, 0),
)

GOLDEN_PATH: tuple[Event[Any], ...] = (
    RAW_MESSAGE_RECEIVED,
    REPORT_RECEIVED,
    REPORT_ASSIGNED,
    STATUS_ASSIGNED,
    ACKNOWLEDGEMENT_SENT,
    AGENCY_ACCEPTED,
    AGENCY_IN_PROGRESS,
    AGENCY_RESOLVED,
    STATUS_RESOLVED,
    RESOLUTION_SENT,
    AUDIT_CHECKPOINT,
)

# A second report, in Tô Hiệu ward, goes overdue.
OVERDUE_REPORT_ID = "01GVK2M8QW3E5R7T9Y1V3H5N7P"
_OVERDUE_DEADLINE = _utc(20, 10, 0)

REPORT_REJECTED = ReportRejectedEvent.new(
    ReportRejected(
        channel=Channel.ZALO,
        channel_message_id="a3f9c1e27b8d4c05",
        raw_event_id=_event_id("raw-zalo"),
        reason=RejectionReason.TOO_SHORT,
        detail="Nội dung quá ngắn (2 ký tự), chưa đủ thông tin để tiếp nhận phản ánh.",
        rejected_at=_utc(14, 3, 20, 5),
    ),
    source="/services/intake",
    id=_event_id("rejected"),
    time=_utc(14, 3, 20, 5),
)

DEADLINE_WARNING = DeadlineWarningEvent.new(
    DeadlineWarning(
        report_id=OVERDUE_REPORT_ID,
        agency_id="ubnd-to-hieu",
        deadline=_OVERDUE_DEADLINE,
        at=_utc(19, 10, 0),
    ),
    source="/services/routing",
    id=_event_id("warning"),
    time=_utc(19, 10, 0),
)

DEADLINE_BREACHED = DeadlineBreachedEvent.new(
    DeadlineBreached(
        report_id=OVERDUE_REPORT_ID,
        agency_id="ubnd-to-hieu",
        deadline=_OVERDUE_DEADLINE,
        at=_utc(20, 10, 0),
    ),
    source="/services/routing",
    id=_event_id("breached"),
    time=_utc(20, 10, 0),
)

REPORT_ESCALATED = ReportEscalatedEvent.new(
    ReportEscalated(
        report_id=OVERDUE_REPORT_ID,
        agency_id="ubnd-to-hieu",
        deadline=_OVERDUE_DEADLINE,
        at=_utc(20, 10, 0),
        to_agency_id="ubnd-thanh-pho-son-la",
        level=EscalationLevel.CITY,
        reason="Quá hạn xử lý phản ánh về đổ phế thải xây dựng tại tổ 3, phường Tô Hiệu.",
        from_level=EscalationLevel.WARD,
        new_deadline=_utc(27, 10, 0),
    ),
    source="/services/routing",
    id=_event_id("escalated"),
    time=_utc(20, 10, 0),
)

DEADLINE_MOVED = DeadlineMovedEvent.new(
    DeadlineMoved(
        report_id=OVERDUE_REPORT_ID,
        agency_id="ubnd-to-hieu",
        deadline=_OVERDUE_DEADLINE,
        previous_deadline=_utc(17, 10, 0),
        at=_utc(15, 2, 0),
    ),
    source="/services/routing",
    id=_event_id("deadline-moved"),
    time=_utc(16, 2, 0),
)

NOTIFICATION_FAILED = NotificationFailedEvent.new(
    NotificationFailed(
        report_id=OVERDUE_REPORT_ID,
        notification_id=(
            f"{OVERDUE_REPORT_ID}:vn.pakn.report.escalated:{PSEUDONYM}:{_event_id('escalated')}"
        ),
        trigger_event_id=_event_id("escalated"),
        trigger_event_type="vn.pakn.report.escalated",
        recipient_pseudonym=PSEUDONYM,
        channel="zalo",
        provider="zalo-oa",
        template_id="report-escalated",
        attempts=3,
        at=_utc(20, 10, 5),
        reason="Zalo OA từ chối gửi: người dùng chưa quan tâm Official Account.",
        permanent=True,
    ),
    source="/services/notify",
    id=_event_id("notification-failed"),
    time=_utc(20, 10, 5),
)

CITIZEN_REPLIED = CitizenRepliedEvent.new(
    CitizenReplied(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        channel=Channel.APP,
        channel_message_id="app-7f1c9e20-reply-1",
        received_at=_utc(18, 9, 0),
        text=f"Mã {TRACKING_CODE}: đã hết bán hàng ngoài hành lang chợ, cảm ơn. Đánh giá 5/5.",
        rating=5,
        reporter=REPORT_RECEIVED.data.reporter,
    ),
    source="/services/intake",
    id=_event_id("citizen-replied"),
    time=_utc(18, 9, 1),
)

_REPORT = REPORT_RECEIVED.data

TASK_ASSIGNED = AgencyTaskAssignedEvent.new(
    AgencyTaskAssigned(
        report_id=REPORT_ID,
        tracking_code=TRACKING_CODE,
        agency_id=SUPPORTING_AGENCY_ID,
        role="supporting",
        lead_agency_id=LEAD_AGENCY_ID,
        deadline=_DEADLINE,
        priority=_REPORT.priority,
        category=_REPORT.category,
        title=_REPORT.title,
        text=_REPORT.text,
        place=_REPORT.place,
        attachments=_REPORT.attachments,
        received_at=_REPORT.received_at,
        assigned_at=_utc(14, 1, 12, 32),
    ),
    source="/services/routing",
    id=_event_id("task-supporting"),
    time=_utc(14, 1, 12, 32),
)

TASK_WITHDRAWN = AgencyTaskWithdrawnEvent.new(
    AgencyTaskWithdrawn(
        report_id=OVERDUE_REPORT_ID,
        tracking_code="SL-2303-9XR2T5",
        agency_id="moi-truong-do-thi",
        reason="Đơn vị từ chối: không thuộc phạm vi thu gom; đã chuyển UBND phường Tô Hiệu.",
        withdrawn_at=_utc(15, 2, 0),
    ),
    source="/services/routing",
    id=_event_id("task-withdrawn"),
    time=_utc(15, 2, 0),
)

UPDATE_REFUSED = AgencyUpdateRefusedEvent.new(
    AgencyUpdateRefused(
        report_id=REPORT_ID,
        agency_id="doi-qltt-do-thi",
        update_event_id=_event_id("foreign-update"),
        update_kind=AgencyUpdateKind.RESOLVED,
        reason=UpdateRefusalReason.NOT_HOLDER,
        detail="Đơn vị doi-qltt-do-thi không được giao phản ánh này.",
        refused_at=_utc(16, 9, 5),
    ),
    source="/services/routing",
    id=_event_id("update-refused"),
    time=_utc(16, 9, 5),
)

_RULES_DOCUMENT = 'version: "2023.03.1"\ntriage_agency_id: ioc-tiep-nhan\n# …\n'

RULESET_PUBLISHED = RuleSetPublishedEvent.new(
    RuleSetPublished(
        ruleset_version="2023.03.1",
        document=_RULES_DOCUMENT,
        sha256=hashlib.sha256(_RULES_DOCUMENT.encode()).hexdigest(),
        published_by="operator-ioc",
        published_at=_utc(1, 1, 0),
    ),
    source="/operators/operator-ioc",
    id=_event_id("ruleset"),
    time=_utc(1, 1, 0),
)

_KEY_ID = "ck-3f9c1e27b8d44c05a1b2c3d4e5f60718"

CONTACT_KEY_ISSUED = ContactKeyIssuedEvent.new(
    ContactKeyIssued(
        key_id=_KEY_ID,
        pseudonym=PSEUDONYM,
        tracking_code=TRACKING_CODE,
        wrapped_key="gAAAAABkEJ1xW3ZrYXBwZWQta2V5LWV4YW1wbGUtb25seS1ub3QtYS1yZWFsLWtleQ==",
        issued_at=_utc(16, 8, 0),
    ),
    source="/services/intake",
    id=_event_id("contact-key-issued"),
    time=_utc(16, 8, 0),
)

CONTACT_KEY_DESTROYED = ContactKeyDestroyedEvent.new(
    ContactKeyDestroyed(
        key_id=_KEY_ID,
        pseudonym=PSEUDONYM,
        request_id="forget-2023-04-02-001",
        reason="Công dân yêu cầu xoá dữ liệu cá nhân (Nghị định 13/2023/NĐ-CP)",
        destroyed_by="operator-ioc",
        destroyed_at=_utc(2, 10, 0),
    ),
    source="/operators/operator-ioc",
    id=_event_id("contact-key-destroyed"),
    time=_utc(2, 10, 0),
)

_TRIAGE_AGENCY_ID = "ioc-tiep-nhan"
_WRONG_REPORT_ID = "01GVKA3C5E7G9J1K3M5P7R9T1V"
_WRONG_TRACKING_CODE = "SL-2303-4HC8WD"

AGENCY_RECATEGORIZED = AgencyUpdateEvent.new(
    AgencyUpdate(
        report_id=OVERDUE_REPORT_ID,
        agency_id=_TRIAGE_AGENCY_ID,
        kind=AgencyUpdateKind.RECATEGORIZED,
        category="traffic_safety",
        note="Xe tải chở đất gây bụi và nguy hiểm trên đường: thuộc an toàn giao thông.",
        officer_ref="tn-07",
        updated_at=_utc(14, 3, 10),
    ),
    source=f"/agencies/{_TRIAGE_AGENCY_ID}",
    id=_event_id("recategorized"),
    time=_utc(14, 3, 10),
)

AGENCY_UNLINKED = AgencyUpdateEvent.new(
    AgencyUpdate(
        report_id=_WRONG_REPORT_ID,
        agency_id=LEAD_AGENCY_ID,
        kind=AgencyUpdateKind.UNLINKED,
        note="Phản ánh về hàng rong ở cổng chợ phía bắc, không phải hành lang chợ.",
        officer_ref="cb-0142",
        updated_at=_utc(14, 4, 0),
    ),
    source=f"/agencies/{LEAD_AGENCY_ID}",
    id=_event_id("unlinked"),
    time=_utc(14, 4, 0),
)

STATUS_LINKED = ReportStatusChangedEvent.new(
    ReportStatusChanged(
        report_id=_WRONG_REPORT_ID,
        tracking_code=_WRONG_TRACKING_CODE,
        status=ReportStatus.CLOSED,
        previous_status=ReportStatus.ASSIGNED,
        agency_id=LEAD_AGENCY_ID,
        agency_name="Ủy ban nhân dân phường Chiềng Sinh",
        note=(
            f"Phản ánh của bạn trùng với phản ánh {TRACKING_CODE} và được gộp để xử lý cùng; "
            "bạn sẽ nhận thông báo về cơ quan xử lý, thời hạn và kết quả của phản ánh đó."
        ),
        changed_at=_utc(14, 5, 0),
        duplicate_of=REPORT_ID,
    ),
    source="/services/routing",
    id=_event_id("status-linked"),
    time=_utc(14, 5, 0),
)

DUPLICATE_LINKED = DuplicateLinkChangedEvent.new(
    DuplicateLinkChanged(
        report_id=_WRONG_REPORT_ID,
        tracking_code=_WRONG_TRACKING_CODE,
        agency_id=LEAD_AGENCY_ID,
        original_report_id=REPORT_ID,
        original_tracking_code=TRACKING_CODE,
        linked=True,
        text="Hộ dân bày bán thịt, cá tràn ra hành lang chợ Noong Đúc, mất vệ sinh.",
        received_at=_utc(14, 1, 40),
        at=_utc(14, 1, 41),
    ),
    source="/services/routing",
    id=_event_id("duplicate-linked"),
    time=_utc(14, 1, 41),
)

ALL_EXAMPLES: tuple[Event[Any], ...] = (
    *GOLDEN_PATH,
    UPDATE_REFUSED,
    RULESET_PUBLISHED,
    CITIZEN_REPLIED,
    REPORT_REJECTED,
    DEADLINE_WARNING,
    DEADLINE_BREACHED,
    REPORT_ESCALATED,
    DEADLINE_MOVED,
    NOTIFICATION_FAILED,
    CONTACT_KEY_ISSUED,
    CONTACT_KEY_DESTROYED,
    AGENCY_RECATEGORIZED,
    AGENCY_UNLINKED,
    STATUS_LINKED,
)

INBOX_EXAMPLES: tuple[Event[Any], ...] = (TASK_ASSIGNED, TASK_WITHDRAWN, DUPLICATE_LINKED)
"""Events only agencies' inboxes carry (``agency_inbox_topic``), not shared topics."""
