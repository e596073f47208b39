"""Pure decisions: which events tell whom what, on which providers, retried how."""

from __future__ import annotations

import random

import pytest
from notify.domain.delivery import (
    AttemptResult,
    ContactFacts,
    Delivered,
    ProviderOutcome,
    ProviderTraits,
    Undelivered,
    Verdict,
    backoff_delay,
    delivery_plan,
    error_code_verdict,
    http_verdict,
    smtp_verdict,
    verdict_of,
)
from notify.domain.notices import (
    TemplateId,
    assignment_notice,
    receipt_notice,
    rejection_notice,
    rejection_report_id,
    reply_intent,
    reply_notice,
    status_notice,
)
from notify.domain.recipients import (
    distinct_recipients,
    notification_id,
    recipient_of,
    root_report_id,
)
from phananh_contracts import Reporter, ReportStatus
from phananh_contracts.examples import (
    CITIZEN_REPLIED,
    REPORT_ASSIGNED,
    REPORT_RECEIVED,
    REPORT_REJECTED,
    STATUS_RESOLVED,
)
from phananh_contracts.values import RejectionReason

pytestmark = pytest.mark.unit

STOP = ("HỦY", "DỪNG NHẬN TIN", "STOP")
START = ("ĐĂNG KÝ",)


# --- notices ---------------------------------------------------------------------------


def test_a_receipt_goes_to_the_sender_and_a_duplicate_is_told_it_is_linked() -> None:
    report = REPORT_RECEIVED.data
    assert receipt_notice(report).template_id == TemplateId.REPORT_RECEIVED
    linked = receipt_notice(
        report.model_copy(update={"duplicate_of": "01GVHQ6JZ9Y3X5B7C2D4E6F8G1"})
    )
    assert linked.template_id == TemplateId.REPORT_LINKED
    assert linked.audience == "sender" and linked.report_id == report.report_id


def test_a_reassignment_names_the_new_agency() -> None:
    first = assignment_notice(REPORT_ASSIGNED.data)
    again = assignment_notice(REPORT_ASSIGNED.data.model_copy(update={"reassignment_of": "e-1"}))
    assert (first.template_id, again.template_id) == (
        TemplateId.REPORT_ASSIGNED,
        TemplateId.REPORT_REASSIGNED,
    )
    assert first.facts["agency_name"] == "Ủy ban nhân dân phường Chiềng Sinh"
    assert first.audience == "report"


@pytest.mark.parametrize(
    ("status", "previous", "expected"),
    [
        (ReportStatus.WAITING_FOR_CITIZEN, ReportStatus.IN_PROGRESS, "information-requested"),
        (ReportStatus.RESOLVED, ReportStatus.IN_PROGRESS, "report-resolved"),
        (ReportStatus.REJECTED, ReportStatus.ASSIGNED, "report-rejected"),
        (ReportStatus.REOPENED, ReportStatus.RESOLVED, "report-reopened"),
        (ReportStatus.CLOSED, ReportStatus.IN_PROGRESS, "report-closed"),
        (ReportStatus.CLOSED, ReportStatus.RESOLVED, None),
        (ReportStatus.IN_PROGRESS, ReportStatus.ASSIGNED, None),
        (ReportStatus.IN_PROGRESS, ReportStatus.WAITING_FOR_CITIZEN, "report-in-progress"),
        (ReportStatus.IN_PROGRESS, ReportStatus.REOPENED, "report-in-progress"),
        (ReportStatus.ASSIGNED, ReportStatus.RECEIVED, None),
        (ReportStatus.RECEIVED, None, None),
    ],
)
def test_which_status_changes_tell_the_citizen(
    status: ReportStatus, previous: ReportStatus | None, expected: str | None
) -> None:
    changed = STATUS_RESOLVED.data.model_copy(
        update={"status": status, "previous_status": previous}
    )
    notice = status_notice(changed)
    assert (notice.template_id.value if notice else None) == expected


def test_a_rejection_is_told_with_intakes_notice_unless_silent() -> None:
    rejected = REPORT_REJECTED.data.model_copy(
        update={"citizen_notice": "Nội dung quá ngắn, vui lòng mô tả rõ hơn."}
    )
    notice = rejection_notice(rejected, {RejectionReason.SPAM})
    assert notice is not None and notice.template_id == TemplateId.MESSAGE_REJECTED
    assert notice.facts["notice"] == "Nội dung quá ngắn, vui lòng mô tả rõ hơn."
    assert rejection_notice(rejected, {RejectionReason.TOO_SHORT}) is None
    assert rejection_notice(REPORT_REJECTED.data, ()) is None  # no notice: nothing to say


def test_a_rejected_message_is_keyed_on_its_code_or_its_channel_message() -> None:
    rejected = REPORT_REJECTED.data
    key = rejection_report_id(rejected)
    assert key.startswith("msg-") and key == rejection_report_id(rejected)
    coded = rejected.model_copy(update={"tracking_code": "SL-2303-7KQ4M9"})
    assert rejection_report_id(coded) == "SL-2303-7KQ4M9"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("HUY", "opt_out"),
        ("hủy", "opt_out"),
        ("Mã SL-2303-7KQ4M9: Hủy!", "opt_out"),
        ("dung nhan tin", "opt_out"),
        ("Đăng ký", "opt_in"),
        ("Đề nghị hủy bỏ quyết định xử phạt", None),
        ("Mã SL-2303-7KQ4M9: đã hết bán hàng, đánh giá 5/5", None),
    ],
)
def test_only_a_reply_that_is_the_keyword_changes_the_opt_out(
    text: str, intent: str | None
) -> None:
    assert reply_intent(text, STOP, START) == intent


def test_replies_get_a_confirmation_or_thanks_for_a_rating() -> None:
    replied = CITIZEN_REPLIED.data
    assert reply_notice(replied, None).template_id == TemplateId.RATING_THANKS  # type: ignore[union-attr]
    stop = reply_notice(replied, "opt_out")
    assert stop is not None and stop.ignores_opt_out
    assert reply_notice(replied.model_copy(update={"rating": None}), None) is None


# --- recipients ------------------------------------------------------------------------


def test_anonymous_reporters_and_collaborators_are_nobody_to_tell() -> None:
    assert recipient_of(Reporter(anonymous=True), tracking_code=None, own_report_id="r") is None
    collaborator = Reporter(anonymous=False, pseudonym="ctz-0123456789abcdef01234567")
    assert recipient_of(collaborator, tracking_code=None, own_report_id="r") is None
    assert recipient_of(None, tracking_code=None, own_report_id="r") is None
    reporter = REPORT_RECEIVED.data.reporter
    found = recipient_of(reporter, tracking_code="SL-2303-7KQ4M9", own_report_id="r")
    assert found is not None and found.pseudonym == reporter.pseudonym


def test_a_person_linked_twice_is_told_once_and_duplicates_hear_about_the_original() -> None:
    reporter = REPORT_RECEIVED.data.reporter
    first = recipient_of(reporter, tracking_code="SL-2303-7KQ4M9", own_report_id="a")
    again = recipient_of(reporter, tracking_code="SL-2303-AAAAAA", own_report_id="b")
    assert first is not None and again is not None
    assert distinct_recipients([first, again]) == (first,)
    assert root_report_id("b", "a") == "a" and root_report_id("a", None) == "a"


def test_the_idempotency_key_is_per_report_event_and_recipient() -> None:
    key = notification_id("01GV", "vn.pakn.report.status.changed", "ctz-1", "ev-1")
    assert key == "01GV:vn.pakn.report.status.changed:ctz-1:ev-1"
    assert key != notification_id("01GV", "vn.pakn.report.status.changed", "ctz-1", "ev-2")


# --- delivery --------------------------------------------------------------------------

PROVIDERS = {
    "app-push": ProviderTraits("app-push", "app", "phone", "app"),
    "zalo-oa": ProviderTraits("zalo-oa", "zalo", "user_ref", "zalo"),
    "zalo-zns": ProviderTraits("zalo-zns", "zalo", "phone"),
    "sms": ProviderTraits("sms", "sms", "phone"),
    "smtp": ProviderTraits("smtp", "email", "email"),
    "facebook": ProviderTraits("facebook", "facebook", "user_ref", "facebook"),
}
OWN = {"app": "app-push", "zalo": "zalo-oa", "facebook": "facebook", "email": "smtp"}
FALLBACK = ("zalo-zns", "sms", "smtp")


def facts(channel: str, *, phone: bool = False, email: bool = False, ref: bool = False):
    return ContactFacts(channel, has_phone=phone, has_email=email, has_user_ref=ref)


def test_the_citizens_own_channel_comes_first_then_the_fallback_order() -> None:
    assert delivery_plan(facts("zalo", ref=True, phone=True), PROVIDERS, OWN, FALLBACK) == (
        "zalo-oa",
        "zalo-zns",
        "sms",
    )
    assert delivery_plan(facts("app", phone=True, email=True), PROVIDERS, OWN, FALLBACK) == (
        "app-push",
        "zalo-zns",
        "sms",
        "smtp",
    )
    assert delivery_plan(facts("email", email=True), PROVIDERS, OWN, FALLBACK) == ("smtp",)
    assert delivery_plan(facts("hotline", phone=True), PROVIDERS, OWN, FALLBACK) == (
        "zalo-zns",
        "sms",
    )


def test_providers_without_an_address_or_for_another_channel_or_disabled_are_skipped() -> None:
    facebook_user = facts("facebook", ref=True)
    assert delivery_plan(facebook_user, PROVIDERS, OWN, FALLBACK) == ("facebook",)
    enabled = {key: value for key, value in PROVIDERS.items() if key != "facebook"}
    assert delivery_plan(facebook_user, enabled, OWN, FALLBACK) == ()
    # A Zalo user id is no use to the Facebook provider, even in the fallback.
    assert delivery_plan(facts("zalo", ref=True), PROVIDERS, OWN, ("facebook",)) == ("zalo-oa",)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ACCEPTED),
        (202, Verdict.ACCEPTED),
        (400, Verdict.PERMANENT),
        (401, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (408, Verdict.TRANSIENT),
        (429, Verdict.TRANSIENT),
        (500, Verdict.TRANSIENT),
        (503, Verdict.TRANSIENT),
    ],
)
def test_http_statuses_are_classified(status: int, verdict: Verdict) -> None:
    assert http_verdict(status) == verdict


def test_provider_and_smtp_codes_are_classified() -> None:
    assert error_code_verdict(0, frozenset({-32})) == Verdict.ACCEPTED
    assert error_code_verdict(-32, frozenset({-32})) == Verdict.TRANSIENT
    assert error_code_verdict(-213, frozenset({-32})) == Verdict.PERMANENT
    assert (smtp_verdict(250), smtp_verdict(451), smtp_verdict(550)) == (
        Verdict.ACCEPTED,
        Verdict.TRANSIENT,
        Verdict.PERMANENT,
    )


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    plain = [backoff_delay(n, base_s=1, cap_s=10, jitter=0, rng=rng) for n in range(1, 6)]
    assert plain == [1, 2, 4, 8, 10]
    jittered = [backoff_delay(3, base_s=1, cap_s=10, jitter=0.5, rng=rng) for _ in range(50)]
    assert all(2 <= pause <= 4 for pause in jittered)
    assert len(set(jittered)) > 40, "instances retrying together must spread out"
    with pytest.raises(ValueError):
        backoff_delay(0, base_s=1, cap_s=10, jitter=0, rng=rng)


def test_the_first_provider_that_accepts_decides_and_attempts_add_up() -> None:
    outcomes = [
        ProviderOutcome("zalo-oa", 3, AttemptResult.transient("HTTP 503: busy")),
        ProviderOutcome("sms", 1, AttemptResult.accepted("m-1")),
    ]
    assert verdict_of(outcomes) == Delivered("sms", 4, "m-1")


def test_a_failure_names_every_provider_and_is_permanent_only_if_all_were() -> None:
    outcomes = [
        ProviderOutcome("zalo-oa", 3, AttemptResult.transient("HTTP 503: busy")),
        ProviderOutcome("sms", 1, AttemptResult.permanent("HTTP 400: bad number")),
    ]
    failed = verdict_of(outcomes)
    assert isinstance(failed, Undelivered)
    assert failed.reason == (
        "zalo-oa: HTTP 503: busy (after 3 attempts); sms: HTTP 400: bad number (after 1 attempt)"
    )
    assert not failed.permanent and failed.code == "retries_exhausted" and failed.attempts == 4
    assert failed.provider_id == "sms"
    only_permanent = verdict_of(outcomes[1:])
    assert isinstance(only_permanent, Undelivered) and only_permanent.permanent


def test_no_provider_is_a_permanent_failure() -> None:
    failed = verdict_of([])
    assert isinstance(failed, Undelivered)
    assert (failed.provider_id, failed.code, failed.permanent) == ("none", "no_provider", True)
