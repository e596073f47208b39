"""The normalization pipeline's own decisions (pure; the reference city configuration)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from intake.adapters.keys import KeyFiling
from intake.config import load_city_config
from intake.domain.model import ChannelMessage, Contact
from intake.domain.normalize import Keys, NewReport, Rejection, interpret, rating_in, reply_hint
from phananh_contracts import Channel, GeoPoint, RejectionReason
from phananh_platform.privacy import ContactKey, ContactSealer, key_id_of, new_contact_key

pytestmark = pytest.mark.unit

CONFIG = load_city_config(Path(__file__).resolve().parents[4] / "config/son-la/city.yaml")
SEALER = ContactSealer([new_contact_key()])
NOW = datetime(2023, 3, 14, 2, 0, tzinfo=UTC)
FILING = KeyFiling(SEALER, NOW)
KEYS = Keys(tracking_secret=b"t" * 32, pseudonym_key=b"p" * 32, seal=FILING.seal)
SEED = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, gây mất vệ sinh"


def message(text: str = SEED, **fields: object) -> ChannelMessage:
    base: dict[str, object] = {
        "channel": Channel.APP,
        "channel_message_id": "m-1",
        "received_at": NOW,
        "text": text,
    }
    return ChannelMessage(**{**base, **fields})  # type: ignore[arg-type]


def accepted(outcome: NewReport | Rejection) -> NewReport:
    assert isinstance(outcome, NewReport), outcome
    return outcome


def test_the_golden_path_message_becomes_a_report_of_the_ward_and_market() -> None:
    new = accepted(interpret(message(), raw_event_id="e", config=CONFIG, keys=KEYS, now=NOW))
    report = new.report
    assert (report.place.ward_name, report.place.residential_group) == ("Chiềng Sinh", "Tổ 8")
    assert report.category == "urban_order"
    assert report.reporter.anonymous is True, "no contact given"


def test_a_contact_is_sealed_and_masked_in_the_kept_original() -> None:
    text = f"{SEED}. Liên hệ 0912 345 678"
    new = accepted(
        interpret(
            message(text, contact=Contact(phone="0912345678", name="Lò Văn Minh")),
            raw_event_id="e",
            config=CONFIG,
            keys=KEYS,
            now=NOW,
        )
    )
    reporter = new.report.reporter
    sealed = reporter.contact_ciphertext or ""
    (filed,) = [key for key in FILING.issued if key.key_id == key_id_of(sealed)]
    assert filed.pseudonym == reporter.pseudonym
    assert filed.tracking_code == new.report.tracking_code
    assert SEALER.open(sealed, ContactKey(filed.key_id, filed.wrapped_key)).phone == "+84912345678"
    assert "0912" not in (new.report.original_text or "")
    assert "[số điện thoại]" in new.report.text


def test_names_in_the_text_are_masked_and_the_places_named_after_people_kept() -> None:
    text = (
        "Tôi là Lò Văn Minh, tổ 8 phường Tô Hiệu. Hộ ông Cầm Văn Thanh đổ rác ra đường "
        "Lò Văn Giá gần trường Chu Văn An."
    )
    new = accepted(interpret(message(text), raw_event_id="e", config=CONFIG, keys=KEYS, now=NOW))
    report = new.report
    for name in ("Lò Văn Minh", "Cầm Văn Thanh"):
        assert name not in report.text and name not in (report.original_text or "")
    assert report.text.count("[họ tên]") == 2
    assert "đường Lò Văn Giá" in report.text and "trường Chu Văn An" in report.text
    assert report.place is not None and report.place.ward_name == "Tô Hiệu"


def test_a_citizen_who_asks_for_anonymity_loses_the_contact() -> None:
    new = accepted(
        interpret(
            message(contact=Contact(phone="0912345678"), anonymous=True),
            raw_event_id="e",
            config=CONFIG,
            keys=KEYS,
            now=NOW,
        )
    )
    assert new.report.reporter.anonymous is True
    assert new.report.reporter.contact_ciphertext is None


def test_an_unknown_place_keeps_the_address_and_point_for_triage() -> None:
    new = accepted(
        interpret(
            message(
                "Cống thoát nước bị tắc, nước bẩn tràn ra đường gây mùi hôi",
                address_text="Đầu ngõ 12",
                point=GeoPoint(lat=21.33, lon=103.91),
            ),
            raw_event_id="e",
            config=CONFIG,
            keys=KEYS,
            now=NOW,
        )
    )
    report = new.report
    assert report.needs_triage and "unknown_place" in report.triage_reasons
    assert report.place is not None and report.place.ward_name is None
    assert report.place.address_text == "Đầu ngõ 12"


def test_a_category_chosen_by_the_citizen_has_no_machine_confidence() -> None:
    new = accepted(
        interpret(
            message(category_hint="urban_order"),
            raw_event_id="e",
            config=CONFIG,
            keys=KEYS,
            now=NOW,
        )
    )
    assert new.report.category == "urban_order"
    assert new.report.category_confidence is None


def test_too_long_text_is_rejected_with_a_vietnamese_notice() -> None:
    outcome = interpret(message("Rác " * 1500), raw_event_id="e", config=CONFIG, keys=KEYS, now=NOW)
    assert isinstance(outcome, Rejection)
    assert outcome.rejected.reason is RejectionReason.TOO_LONG
    assert "quá dài" in (outcome.rejected.citizen_notice or "")


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Đã xử lý tốt, đánh giá 5/5", 5),
        ("cho 4 / 5 thôi", 4),
        ("Đánh giá 2 vì còn bán lại", 2),
        ("3 sao", 3),
        ("Cảm ơn, 15/5 tôi sẽ kiểm tra lại", None),
        ("cảm ơn cán bộ phường", None),
    ],
)
def test_ratings_are_read_from_replies(text: str, rating: int | None) -> None:
    assert rating_in(text) == rating


def test_a_tracking_code_in_the_text_or_the_reply_field_points_at_a_report() -> None:
    assert reply_hint(message("Mã sl-2303-7kq4m9 vẫn chưa xử lý"), CONFIG).tracking_code == (
        "SL-2303-7KQ4M9"
    )
    hint = reply_hint(message("Vẫn còn bán", reply_to_channel_message_id="SL-2303-7KQ4M9"), CONFIG)
    assert hint is not None and hint.tracking_code == "SL-2303-7KQ4M9"
    assert reply_hint(message(), CONFIG) is None


def test_contacts_in_the_title_and_address_never_reach_the_report() -> None:
    new = accepted(
        interpret(
            message(
                title="Gọi tôi 0912 345 678 hoặc lo.minh@gmail.com",
                address_text="Nhà ông Minh, SĐT 0912345678, chợ Noong Đúc",
            ),
            raw_event_id="e",
            config=CONFIG,
            keys=KEYS,
            now=NOW,
        )
    )
    wire = new.report.model_dump_json()
    assert "0912" not in wire and "lo.minh@gmail.com" not in wire
