"""One sample notice per template, built from the contracts' golden-path examples.

They are rendered at start (a broken template stops the service) and in the tests, so the
samples go through the same decisions as real events.
"""

from __future__ import annotations

from datetime import timedelta

from phananh_contracts import ReportStatus
from phananh_contracts.examples import (
    CITIZEN_REPLIED,
    DEADLINE_BREACHED,
    REPORT_ASSIGNED,
    REPORT_RECEIVED,
    REPORT_REJECTED,
    STATUS_RESOLVED,
    TRACKING_CODE,
)
from phananh_contracts.values import RejectionReason

from notify.domain.notices import (
    Notice,
    TemplateId,
    assignment_notice,
    breach_notice,
    message_context,
    receipt_notice,
    rejection_notice,
    reply_notice,
    status_notice,
)

_QUESTION = "Đề nghị cho biết số nhà hoặc vị trí cụ thể các hộ bán hàng trên hành lang chợ."
_DIVERSION = (
    "Nội dung là khiếu nại quyết định hành chính, không thuộc phạm vi phản ánh, kiến nghị. "
    "Đề nghị gửi đơn khiếu nại đến Bộ phận Một cửa UBND phường Chiềng Sinh (số 1 đường "
    "Lò Văn Giá) theo Luật Khiếu nại."
)


def sample_notices() -> dict[TemplateId, Notice]:
    """A notice for every template, as the domain makes it from example events."""
    report = REPORT_RECEIVED.data.model_copy(
        update={"citizen_notices": ("Trường hợp khẩn cấp, hãy gọi 113, 114 hoặc 115.",)}
    )
    resolved = STATUS_RESOLVED.data
    by_status = {
        status: status_notice(
            resolved.model_copy(
                update={
                    "status": status,
                    "previous_status": previous,
                    "note": note,
                    "agency_name": "Ủy ban nhân dân phường Chiềng Sinh",
                }
            )
        )
        for status, previous, note in (
            (ReportStatus.RESOLVED, ReportStatus.IN_PROGRESS, resolved.note),
            (ReportStatus.WAITING_FOR_CITIZEN, ReportStatus.IN_PROGRESS, _QUESTION),
            (ReportStatus.IN_PROGRESS, ReportStatus.WAITING_FOR_CITIZEN, None),
            (ReportStatus.REJECTED, ReportStatus.ASSIGNED, _DIVERSION),
            (ReportStatus.REOPENED, ReportStatus.RESOLVED, None),
            (ReportStatus.CLOSED, ReportStatus.IN_PROGRESS, "Người phản ánh đã rút phản ánh."),
        )
    }
    rejected = REPORT_REJECTED.data.model_copy(
        update={
            "reason": RejectionReason.OUT_OF_SCOPE,
            "tracking_code": TRACKING_CODE,
            "citizen_notice": _DIVERSION,
        }
    )
    assigned = REPORT_ASSIGNED.data
    reassigned = assigned.model_copy(
        update={
            "reassignment_of": "3b1d6c0e-1f0a-4c55-9d0c-6d1b9a7f0e11",
            "lead_agency_name": "Đội Quản lý trật tự đô thị thành phố Sơn La",
            "deadline": assigned.deadline + timedelta(days=3),
        }
    )
    notices: list[Notice | None] = [
        receipt_notice(report),
        receipt_notice(report.model_copy(update={"duplicate_of": "01GVHQ0000000000000000000A"})),
        assignment_notice(assigned),
        assignment_notice(reassigned),
        *by_status.values(),
        breach_notice(DEADLINE_BREACHED.data, "Ủy ban nhân dân phường Tô Hiệu"),
        rejection_notice(rejected, ()),
        reply_notice(CITIZEN_REPLIED.data, None),
        reply_notice(CITIZEN_REPLIED.data, "opt_out"),
        reply_notice(CITIZEN_REPLIED.data, "opt_in"),
    ]
    found = {notice.template_id: notice for notice in notices if notice is not None}
    missing = set(TemplateId) - set(found)
    if missing:  # a new template needs a sample here
        raise LookupError(f"no sample notice for {sorted(missing)}")
    return found


def sample_contexts() -> dict[TemplateId, dict[str, object]]:
    """The context each template renders with for the samples (tracking code included)."""
    return {
        template_id: message_context(notice, TRACKING_CODE)
        for template_id, notice in sample_notices().items()
    }
