"""Signals: urgency, emergencies with their notice, complaints and denunciations."""

import json
from pathlib import Path

import pytest
from intake.config import load_city_config
from intake.domain.signals import assess_signals
from phananh_contracts import Priority

pytestmark = pytest.mark.unit

CONFIG = load_city_config(Path(__file__).resolve().parents[4] / "config/son-la/city.yaml")
LABELLED = Path(__file__).resolve().parent / "data/labelled_reports.jsonl"
CALL_113 = (
    "Nếu có nguy hiểm đến tính mạng, tài sản, xin gọi ngay 113 (Công an), "
    "114 (Cứu hỏa, cứu nạn) hoặc 115 (Cấp cứu y tế)."
)


def test_ordinary_report_is_normal_in_scope() -> None:
    signals = assess_signals(
        CONFIG,
        "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc",
        urgent_flag=False,
    )

    assert signals.priority is Priority.NORMAL
    assert not signals.emergency
    assert signals.notices == ()
    assert signals.out_of_scope is None


def test_source_flag_makes_it_urgent() -> None:
    signals = assess_signals(CONFIG, "Cần hỗ trợ ở tổ 3", urgent_flag=True)

    assert signals.priority is Priority.URGENT
    assert not signals.emergency


@pytest.mark.parametrize(
    "text",
    [
        "Sạt lở taluy đường lên bản, đất đá tràn xuống",
        "Tai nạn giao thông ở ngã ba Chiềng Sinh",
        "chap dien o cot dien dau ngo",
        "Cây đổ chắn ngang đường Tô Hiệu",
    ],
)
def test_sudden_incidents_are_urgent_without_emergency(text: str) -> None:
    signals = assess_signals(CONFIG, text, urgent_flag=False)

    assert signals.priority is Priority.URGENT
    assert not signals.emergency


@pytest.mark.parametrize(
    "text",
    [
        "Nhà bên cạnh đang bốc cháy, khói đen mù mịt!",
        "nha ben canh chay nha roi moi nguoi oi",
        "Có người bị điện giật ở trạm biến áp",
        "Một cháu bé đuối nước ở suối Nậm La",
        "Tai nạn, có 2 người bị thương nằm giữa đường",
    ],
)
def test_emergencies_are_urgent_with_the_call_notice(text: str) -> None:
    signals = assess_signals(CONFIG, text, urgent_flag=False)

    assert signals.priority is Priority.URGENT
    assert signals.emergency
    assert signals.notices == (CALL_113,)


@pytest.mark.parametrize(
    "text",
    [
        "Xe tải chạy quá nhanh qua khu dân cư",  # "chạy" is not "cháy"
        "xe chay qua nhanh qua khu dan cu",
        "Va chạm nhẹ, may không có ai bị thương",
        "Ổ gà sâu, nguy cơ xảy ra tai nạn",
        "Đây không phải chuyện khẩn cấp",
    ],
)
def test_negated_or_hypothetical_incidents_are_not_urgent(text: str) -> None:
    signals = assess_signals(CONFIG, text, urgent_flag=False)

    assert signals.priority is Priority.NORMAL
    assert not signals.emergency


def test_qualifier_in_another_clause_does_not_cancel() -> None:
    signals = assess_signals(CONFIG, "Đèn đường không sáng, nguy hiểm", urgent_flag=False)

    assert signals.priority is Priority.URGENT


@pytest.mark.parametrize(
    ("text", "kind", "law"),
    [
        ("Tôi làm đơn khiếu nại quyết định thu hồi đất của UBND", "complaint", "Luật Khiếu nại"),
        ("khieu nai quyet dinh xu phat hanh chinh so 12", "complaint", "Luật Khiếu nại"),
        ("Đơn tố cáo cán bộ địa chính nhận tiền của dân", "denunciation", "Luật Tố cáo"),
        ("Tôi tố cáo hành vi tham nhũng của lãnh đạo phường", "denunciation", "Luật Tố cáo"),
    ],
)
def test_complaints_and_denunciations_are_out_of_scope(text: str, kind: str, law: str) -> None:
    signals = assess_signals(CONFIG, text, urgent_flag=False)

    assert signals.out_of_scope is not None
    assert signals.out_of_scope.kind == kind
    assert law in signals.out_of_scope.notice
    assert "Ban Tiếp công dân" in signals.out_of_scope.notice


@pytest.mark.parametrize(
    "text",
    [
        "Tôi tố cáo hành vi đổ trộm rác ra suối ở tổ 5",
        "Đây không phải đơn khiếu nại, chỉ phản ánh việc mất nước",
        "Tôi không muốn làm đơn tố cáo, chỉ mong phường nhắc nhở hàng xóm",
        "Nhiều lần khiếu nại với chủ quán karaoke mà họ vẫn hát đến nửa đêm",
    ],
)
def test_everyday_use_of_the_words_stays_in_scope(text: str) -> None:
    assert assess_signals(CONFIG, text, urgent_flag=False).out_of_scope is None


def test_an_emergency_is_never_out_of_scope() -> None:
    signals = assess_signals(CONFIG, "Đơn khiếu nại: nhà tôi đang cháy", urgent_flag=False)

    assert signals.emergency
    assert signals.out_of_scope is None


def test_labelled_reports_are_all_in_scope() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]

    out = [
        row["text"]
        for row in rows
        if assess_signals(CONFIG, row["text"], urgent_flag=False).out_of_scope
    ]

    assert out == []
