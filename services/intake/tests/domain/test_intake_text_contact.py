"""Vietnamese text, contacts, tracking codes and near-duplicates (pure functions)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from intake.domain.contact import mask_contacts, normalize_email, normalize_phone
from intake.domain.dedupe import (
    EarlierReport,
    Thresholds,
    find_original,
    fingerprint,
    place_anchors,
    similarity,
)
from intake.domain.text import contains_phrase, fold, normalize_text
from intake.domain.tracking import report_id, tracking_code
from phananh_contracts.values import TrackingCode
from phananh_platform.privacy import ContactSealer, SealedContact, new_contact_key, pseudonym
from pydantic import TypeAdapter

pytestmark = pytest.mark.unit

SEED = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng Sinh"


def test_nfd_input_and_old_tone_marks_become_one_canonical_text() -> None:
    nfd = unicodedata.normalize("NFD", "Hoà bình, thuỷ điện, khoẻ")
    assert normalize_text(nfd) == "Hòa bình, thủy điện, khỏe"
    assert unicodedata.is_normalized("NFC", normalize_text(nfd))


def test_html_and_whitespace_are_stripped_but_lines_kept() -> None:
    html = "<p>Đường  Tô Hiệu&nbsp;có <b>ổ gà</b></p><p>rất   nguy hiểm</p><script>x()</script>"
    assert normalize_text(html) == "Đường Tô Hiệu có ổ gà\nrất nguy hiểm"


def test_text_typed_without_diacritics_folds_to_the_same_key() -> None:
    assert fold("chợ Noong Đúc") == fold("cho noong duc") == "cho noong duc"
    assert fold("ĐƯỜNG Lê Duẩn!!!") == "duong le duan"
    assert contains_phrase(fold(SEED), fold("chợ Noong Đúc"))
    assert not contains_phrase(fold("chợ Noong Đúcxyz"), fold("chợ Noong Đúc"))


def test_teencode_is_expanded_for_matching() -> None:
    teencode = {"ko": "khong", "dc": "duoc", "j": "gi"}
    assert fold("đèn đường ko sáng, báo mãi ko dc j", teencode) == (
        "den duong khong sang bao mai khong duoc gi"
    )


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("+84 912.345.678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("0212 3852 999", "+842123852999"),
        ("113", None),
        ("không có", None),
    ],
)
def test_phones_become_e164_or_nothing(raw: str, e164: str | None) -> None:
    assert normalize_phone(raw) == e164


def test_emails_keep_their_local_part_and_lowercase_the_domain() -> None:
    assert normalize_email(" <Nguyen.Van.A@GMAIL.COM> ") == "Nguyen.Van.A@gmail.com"
    assert normalize_email("không phải email") is None


def test_contacts_are_masked_in_free_text_but_emergency_numbers_stay() -> None:
    text = "Gọi tôi 0912 345 678 hoặc mail an.nguyen@example.vn. Cháy thì gọi 114."
    assert mask_contacts(text) == ("Gọi tôi [số điện thoại] hoặc mail [email]. Cháy thì gọi 114.")


def test_sealed_contacts_open_only_with_the_key_and_survive_rotation() -> None:
    old, new = new_contact_key(), new_contact_key()
    contact = SealedContact(channel="zalo", phone="+84912345678", name="Lò Văn Hùng")
    ciphertext, key = ContactSealer([old]).seal(contact)
    assert "0912345678" not in ciphertext and "Hùng" not in ciphertext
    assert ContactSealer([new, old]).open(ciphertext, key) == contact
    with pytest.raises(ValueError, match="cannot be opened"):
        ContactSealer([new]).open(ciphertext, key)


def test_pseudonyms_are_stable_and_keyed() -> None:
    assert pseudonym(b"k1", "phone:+84912345678") == pseudonym(b"k1", "phone:+84912345678")
    assert pseudonym(b"k1", "phone:+84912345678") != pseudonym(b"k2", "phone:+84912345678")
    assert "84912345678" not in pseudonym(b"k1", "phone:+84912345678")


def test_tracking_codes_are_stable_valid_and_keyed() -> None:
    at = datetime(2023, 3, 13, 18, 0, tzinfo=UTC)  # already 14 March in Sơn La
    code = tracking_code(b"secret", "SL", "app", "msg-1", at)
    assert code == tracking_code(b"secret", "SL", "app", "msg-1", at)
    assert code.startswith("SL-2303-")
    TypeAdapter(TrackingCode).validate_python(code)
    assert code != tracking_code(b"other", "SL", "app", "msg-1", at)
    codes = {tracking_code(b"secret", "SL", "app", f"msg-{n}", at) for n in range(5000)}
    assert len(codes) == 5000, "codes of one month collided"
    assert report_id("app", "msg-1") == report_id("app", "msg-1") != report_id("web", "msg-1")


def test_a_similar_report_of_the_same_ward_is_linked_to_the_first() -> None:
    now = datetime(2023, 3, 14, 9, tzinfo=UTC)
    seed, places = fingerprint(fold(SEED)), place_anchors(SEED)
    first = EarlierReport(
        "r1", "03679", "urban_order", seed, now - timedelta(hours=5), None, places
    )
    second = EarlierReport(
        "r2", "03679", "urban_order", seed, now - timedelta(hours=2), "r1", places
    )
    other_ward = EarlierReport("r3", "03646", "urban_order", seed, now - timedelta(hours=1))
    text = "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc tổ 8"
    assert similarity(fold(text), fold(SEED)) > 0.6

    def original(earlier: list[EarlierReport], window: float = 72) -> str | None:
        return find_original(
            fingerprint_of=fingerprint(fold(text)),
            anchors=place_anchors(text),
            ward_code="03679",
            category="urban_order",
            received_at=now,
            earlier=earlier,
            window=timedelta(hours=window),
            thresholds=Thresholds(0.28, 0.44, 0.8),
        )

    assert original([second, first, other_ward]) == "r1"
    assert original([second]) == "r1", "a duplicate of a duplicate points at the original"
    assert original([other_ward]) is None
    assert original([first], window=4) is None, "outside the window"
    unrelated = EarlierReport(
        "r4", "03679", "urban_order", fingerprint(fold("Xe máy đỗ trên vỉa hè")), now
    )
    assert original([unrelated]) is None


def test_intake_normalizes_tone_marks_without_loading_underthesea_or_joblib() -> None:
    """underthesea's package would cost intake ~60 MB and joblib 11 MB, for two tables."""
    import subprocess
    import sys

    probe = (
        "import sys, intake.app\n"
        "from intake.domain.text import normalize_text\n"
        "print(normalize_text('Nước thải hoà vào suối, thuỷ lợi'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('underthesea', 'joblib')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    normalized, loaded = done.stdout.splitlines()
    assert normalized == "Nước thải hòa vào suối, thủy lợi"
    assert loaded == "[]"


def test_tone_marks_are_normalized_as_underthesea_does() -> None:
    """Every respelled word of underthesea's rules, alone, in a sentence, after
    punctuation, capitalised and next to a long word, gives what underthesea's own
    ``text_normalize(line, tokenizer="space")`` gives; and the labelled reports too."""
    import json
    import unicodedata
    from pathlib import Path

    from intake.domain.text import underthesea_rules
    from underthesea.pipeline.text_normalize import text_normalize

    rules = underthesea_rules()
    assert len(rules.words) > 2_000, "the installed rules were read"
    lines = ["", " ", "a  b", "Ðường ðiện ðã hỏng", "ðườngxá ðiệnthoại"]
    for word in rules.words:
        lines += [word, f"Nhà {word} ở tổ 5", f"({word}, {word.capitalize()})"]
        lines.append(f"{word} nghiêngngả {unicodedata.normalize('NFD', word)}")
    labelled = Path(__file__).resolve().parent / "data/labelled_reports.jsonl"
    with labelled.open(encoding="utf-8") as stream:
        for row in stream:
            lines += json.loads(row)["text"].split("\n")
    assert len(lines) > 10_000
    differing = [
        line
        for line in lines
        if rules.normalize_line(line) != text_normalize(line, tokenizer="space")
    ]
    assert differing == []
    assert rules.normalize_line("Nước thải hoà vào suối") == "Nước thải hòa vào suối"
