"""Every message renders, in Vietnamese, for every channel; SMS fit in two segments."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from notify.adapters.templates import CHANNEL_BLOCKS, TemplateBook, TemplateProblem
from notify.config import load_notify_config
from notify.domain.notices import TemplateId
from notify.domain.samples import sample_contexts
from notify.domain.text import sms_segments, strip_diacritics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
CONFIG = load_notify_config(ROOT / "config/son-la/notify.yaml")
BOOK = TemplateBook(CONFIG.templates_dir, CONFIG.zone)
CONTEXTS = sample_contexts()
VIETNAMESE = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


@pytest.mark.parametrize("template_id", list(TemplateId), ids=str)
@pytest.mark.parametrize("channel", [*CHANNEL_BLOCKS, "sms"])
def test_every_template_renders_in_vietnamese_for_every_channel(
    template_id: TemplateId, channel: str
) -> None:
    message = BOOK.render(template_id, channel, CONTEXTS[template_id])
    for part in (message.subject, message.text, message.short):
        assert part, f"{template_id}: an empty part"
        assert unicodedata.is_normalized("NFC", part)
        assert "None" not in part and "{{" not in part and "{%" not in part
        assert VIETNAMESE & set(part.lower()), f"{template_id}: no Vietnamese letters: {part}"
    assert "\n" not in message.subject and "\n" not in message.short
    if template_id not in {TemplateId.OPTED_OUT, TemplateId.OPTED_IN}:
        assert "SL-2303-7KQ4M9" in message.text and "SL-2303-7KQ4M9" in message.short


@pytest.mark.parametrize("template_id", list(TemplateId), ids=str)
def test_the_sms_form_without_diacritics_fits_two_segments(template_id: TemplateId) -> None:
    short = strip_diacritics(BOOK.render(template_id, "sms", CONTEXTS[template_id]).short)
    assert short.isascii()
    assert sms_segments(short) <= 2, f"{len(short)} characters: {short}"


def test_the_receipt_tells_the_code_what_happens_next_and_intakes_notice() -> None:
    text = BOOK.render(TemplateId.REPORT_RECEIVED, "app", CONTEXTS[TemplateId.REPORT_RECEIVED])
    assert "Mã tra cứu: SL-2303-7KQ4M9." in text.text
    assert "tiếp nhận lúc 8 giờ 12, thứ Ba, ngày 14/3/2023" in text.text
    assert "chuyển đến cơ quan có thẩm quyền xử lý" in text.text
    assert "gọi 113, 114 hoặc 115" in text.text


def test_the_assignment_names_the_agency_and_the_deadline_on_sonla_time() -> None:
    text = BOOK.render(TemplateId.REPORT_ASSIGNED, "zalo", CONTEXTS[TemplateId.REPORT_ASSIGNED])
    assert "Ủy ban nhân dân phường Chiềng Sinh chủ trì giải quyết" in text.text
    # 10:00 UTC on 21 March 2023 is 17:00 in Sơn La.
    assert "Thời hạn giải quyết: 17 giờ 00, thứ Ba, ngày 21/3/2023." in text.text
    assert "hạn 21/03/2023" in text.short


def test_the_resolution_gives_the_result_and_asks_for_a_rating() -> None:
    text = BOOK.render(TemplateId.REPORT_RESOLVED, "email", CONTEXTS[TemplateId.REPORT_RESOLVED])
    assert "Kết quả: Đã lập biên bản 3 hộ kinh doanh" in text.text
    assert "từ 1 (rất không hài lòng) đến 5 (rất hài lòng)" in text.text
    assert text.subject == "Kết quả giải quyết phản ánh SL-2303-7KQ4M9"


def test_a_diversion_says_where_to_go_instead() -> None:
    text = BOOK.render(TemplateId.REPORT_REJECTED, "app", CONTEXTS[TemplateId.REPORT_REJECTED])
    assert "Bộ phận Một cửa UBND phường Chiềng Sinh" in text.text


def test_a_channel_block_replaces_the_text_there(tmp_path: Path) -> None:
    (tmp_path / "report-received.j2").write_text(
        "{% block subject %}S{% endblock %}{% block text %}Chung{% endblock %}"
        "{% block zalo %}Riêng Zalo {{ tracking_code }}{% endblock %}"
        "{% block sms %}Ngắn{% endblock %}",
        encoding="utf-8",
    )
    book = TemplateBook(tmp_path, CONFIG.zone)
    context = {"tracking_code": "SL-2303-7KQ4M9"}
    assert book.render(TemplateId.REPORT_RECEIVED, "zalo", context).text == (
        "Riêng Zalo SL-2303-7KQ4M9"
    )
    assert book.render(TemplateId.REPORT_RECEIVED, "app", context).text == "Chung"


def test_a_broken_or_missing_template_stops_the_start_naming_it(tmp_path: Path) -> None:
    for template_id in TemplateId:
        source = CONFIG.templates_dir / f"{template_id}.j2"
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "report-assigned.j2").write_text(
        "{% block subject %}x{% endblock %}{% block text %}{{ agency }}{% endblock %}"
        "{% block sms %}x{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "opted-in.j2").unlink()
    with pytest.raises(TemplateProblem) as problem:
        TemplateBook(tmp_path, CONFIG.zone).check(CONTEXTS)
    assert "report-assigned.j2: 'agency' is undefined" in str(problem.value)
    assert "opted-in.j2: no such template" in str(problem.value)
