import base64
import json
from datetime import timedelta

import pytest
from phananh_contracts import AgencyUpdateKind, ReportStatus
from phananh_contracts.examples import (
    AGENCY_ACCEPTED,
    AGENCY_RESOLVED,
    AUDIT_CHECKPOINT,
    DEADLINE_WARNING,
    RAW_MESSAGE_RECEIVED,
    REPORT_ASSIGNED,
    REPORT_ESCALATED,
    REPORT_RECEIVED,
    RESOLUTION_NOTE,
    STATUS_RESOLVED,
)
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_golden_path_resolution_reaches_the_citizen_verbatim() -> None:
    assert AGENCY_RESOLVED.data.kind == AgencyUpdateKind.RESOLVED
    assert AGENCY_RESOLVED.data.note == RESOLUTION_NOTE
    assert STATUS_RESOLVED.data.status == ReportStatus.RESOLVED
    assert RESOLUTION_NOTE.encode() in STATUS_RESOLVED.to_kafka().value


@pytest.mark.parametrize(
    "kind",
    [AgencyUpdateKind.REJECTED, AgencyUpdateKind.NEEDS_INFORMATION, AgencyUpdateKind.RESOLVED],
)
def test_agency_updates_that_end_or_block_the_work_need_a_note(kind: AgencyUpdateKind) -> None:
    with pytest.raises(ValidationError, match=f"kind {kind} needs a note"):
        AGENCY_ACCEPTED.data.model_validate({**AGENCY_ACCEPTED.data.model_dump(), "kind": kind})


def test_only_a_rejecting_agency_suggests_another() -> None:
    accepted = AGENCY_ACCEPTED.data.model_dump()
    with pytest.raises(ValidationError, match="only for updates of kind rejected"):
        AGENCY_ACCEPTED.data.model_validate({**accepted, "suggested_agency_id": "cong-an-phuong"})

    rejected = AGENCY_ACCEPTED.data.model_validate(
        {
            **accepted,
            "kind": "rejected",
            "note": "Không thuộc thẩm quyền của phường, đề nghị chuyển Công an phường.",
            "suggested_agency_id": "cong-an-phuong",
        }
    )
    assert rejected.suggested_agency_id == "cong-an-phuong"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"supporting_agency_ids": ["ubnd-chieng-sinh"]}, "lead agency cannot also be"),
        ({"supporting_agency_ids": ["bql-cho", "bql-cho"]}, "must be distinct"),
        ({"deadline": "2023-03-14T01:00:00Z"}, "deadline must be after assigned_at"),
        ({"lead_agency_id": "UBND Chiềng Sinh"}, "lead_agency_id"),
    ],
)
def test_inconsistent_assignments_are_rejected(changes: dict[str, object], message: str) -> None:
    data = REPORT_ASSIGNED.data
    with pytest.raises(ValidationError, match=message):
        data.model_validate({**data.model_dump(), **changes})


def test_a_status_change_changes_the_status() -> None:
    data = STATUS_RESOLVED.data
    with pytest.raises(ValidationError, match="status must differ"):
        data.model_validate({**data.model_dump(), "previous_status": "resolved"})


def test_deadline_events_respect_the_deadline() -> None:
    warning = DEADLINE_WARNING.data
    with pytest.raises(ValidationError, match="before the deadline"):
        warning.model_validate(
            {**warning.model_dump(), "at": warning.deadline + timedelta(hours=1)}
        )
    escalated = REPORT_ESCALATED.data
    with pytest.raises(ValidationError, match="escalated to another agency"):
        escalated.model_validate({**escalated.model_dump(), "to_agency_id": escalated.agency_id})


def test_report_text_is_bounded() -> None:
    data = REPORT_RECEIVED.data
    with pytest.raises(ValidationError, match="at most 4000 characters"):
        data.model_validate({**data.model_dump(), "text": "ô" * 4001})


def test_raw_bytes_travel_as_base64_and_must_decode() -> None:
    raw = RAW_MESSAGE_RECEIVED.data
    email = b"From: nguoidan@example.vn\r\nSubject: =?utf-8?q?Ph=E1=BA=A3n_=C3=A1nh?=\r\n\r\n..."
    encoded = base64.b64encode(email).decode()

    parsed = raw.model_validate(
        {
            **raw.model_dump(),
            "content_type": "message/rfc822",
            "body": encoded,
            "body_encoding": "base64",
        }
    )
    assert base64.b64decode(parsed.body) == email
    with pytest.raises(ValidationError, match="not valid base64"):
        raw.model_validate({**raw.model_dump(), "body": "not base64!", "body_encoding": "base64"})


def test_raw_metadata_stays_small() -> None:
    raw = RAW_MESSAGE_RECEIVED.data
    with pytest.raises(ValidationError, match="metadata"):
        raw.model_validate({**raw.model_dump(), "metadata": {f"k{i}": "v" for i in range(33)}})


def test_checkpoint_signature_is_64_bytes_of_base64() -> None:
    data = AUDIT_CHECKPOINT.data
    with pytest.raises(ValidationError, match="64 bytes"):
        data.model_validate(
            {**data.model_dump(), "signature": base64.b64encode(b"x" * 32).decode()}
        )


def test_checkpoint_signed_bytes_are_canonical_json_without_the_signature() -> None:
    data = AUDIT_CHECKPOINT.data
    signed = data.signed_bytes()

    unsigned = json.loads(AUDIT_CHECKPOINT.to_kafka().value)["data"]
    del unsigned["signature"]
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert signed == canonical.encode()
    assert b" " not in signed
