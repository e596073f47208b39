"""Whose keys ``phananh forget`` destroys (pure: the plan from the filed keys)."""

from datetime import UTC, datetime

import pytest
from phananh_cli.forget import ForgetError, Whom, plan_erasure
from phananh_contracts import ContactKeyDestroyed, ContactKeyIssued
from phananh_platform.contact_keys import Filed
from phananh_platform.privacy import pseudonym

pytestmark = pytest.mark.unit

KEY = b"pseudonym-key-for-tests"
AT = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
MINH = pseudonym(KEY, "phone:+84912345678")
HOA = pseudonym(KEY, "email:hoa@example.vn")


def issued(key_id: str, citizen: str, code: str | None) -> ContactKeyIssued:
    return ContactKeyIssued(
        key_id=key_id, pseudonym=citizen, tracking_code=code, wrapped_key="w", issued_at=AT
    )


FILED: dict[str, Filed] = {
    "ck-1": issued("ck-1", MINH, "SL-2303-AAAAAA"),
    "ck-2": issued("ck-2", MINH, "SL-2303-BBBBBB"),  # Minh's second report
    "ck-3": issued("ck-3", HOA, "SL-2303-CCCCCC"),
    "ck-4": ContactKeyDestroyed(
        key_id="ck-4",
        pseudonym=MINH,
        request_id="forget-old",
        reason="earlier request",
        destroyed_by="ioc",
        destroyed_at=AT,
    ),
}


def plan(whom: Whom, key: bytes | None = KEY) -> tuple[set[str], list[str], int]:
    erasure = plan_erasure(FILED, whom, pseudonym_key=key, reason="Đơn số 12", operator="ioc")
    assert all(r.data.request_id == erasure.request_id for r in erasure.records)
    return (
        erasure.citizens,
        [record.data.key_id for record in erasure.records],
        erasure.already_destroyed,
    )


def test_a_tracking_code_forgets_its_citizen_with_every_key_they_have() -> None:
    assert plan(Whom(tracking_codes=("SL-2303-AAAAAA",))) == ({MINH}, ["ck-1", "ck-2"], 1)


@pytest.mark.parametrize("phone", ["0912 345 678", "+84912345678", "84-912-345-678"])
def test_a_phone_number_in_any_form_names_the_same_citizen(phone: str) -> None:
    assert plan(Whom(phones=(phone,))) == ({MINH}, ["ck-1", "ck-2"], 1)


def test_an_email_names_its_citizen_whatever_the_case_of_its_domain() -> None:
    assert plan(Whom(emails=("hoa@EXAMPLE.vn",))) == ({HOA}, ["ck-3"], 0)


def test_someone_with_no_filed_key_is_named_but_nothing_is_destroyed() -> None:
    citizens, keys, _ = plan(Whom(phones=("0987654321",)))
    assert len(citizens) == 1 and keys == []
    assert plan(Whom(tracking_codes=("SL-2303-ZZZZZZ",))) == (set(), [], 0)


def test_requests_that_name_nobody_or_cannot_be_read_are_refused() -> None:
    with pytest.raises(ForgetError, match="name the citizen"):
        plan(Whom())
    with pytest.raises(ForgetError, match="not a phone number"):
        plan(Whom(phones=("12",)))
    with pytest.raises(ForgetError, match="PHANANH_PSEUDONYM_KEY"):
        plan(Whom(emails=("hoa@example.vn",)), key=None)
