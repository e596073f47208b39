# ruff: noqa: E501  (the tellings are whole sentences)
"""Write the labelled pairs that choose and check the near-duplicate threshold.

Each *scene* is one kind of incident a ward sees, told in several ways that share few
words (the way two citizens describe the same trucks, lamp or rubbish heap from the app
and from the ward's Zalo group), each with a {place} slot filled from the ward's streets
and landmarks. From them:

* duplicates: two different tellings of one scene at one place;
* hard non-duplicates: one scene at two different places of the same ward (the same words,
  another street);
* other non-duplicates: two different scenes at one place (another category, or the same),
  and two different scenes at two places.

Scenes are split between ``dev`` (the threshold is chosen there) and ``test`` (never
looked at while choosing), so the test figures measure rewordings of incidents the
threshold never saw. Seeded: the same files every run.

    uv run python scripts/make_duplicate_pairs.py
"""

from __future__ import annotations

import itertools
import json
import random
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "services/intake/tests/domain/data/duplicate_pairs"

PLACES = [
    "đường Tô Hiệu",
    "đường Lò Văn Giá",
    "đường Chu Văn Thịnh",
    "đường Trường Chinh",
    "đường Nguyễn Lương Bằng",
    "đường 26/8",
    "đường Điện Biên",
    "đường Lê Duẩn",
    "ngõ 12 đường Hoàng Quốc Việt",
    "tổ 8 gần chợ Noong Đúc",
    "bản Hìn, phường Chiềng An",
    "khu vực cầu Trắng",
]

SCENES: dict[str, list[str]] = {
    "soil_trucks": [
        "Xe tải chở đất đá ở {place} không che bạt, rơi vãi đầy đường, bụi mù mịt cả ngày.",
        "Mấy xe ben chở vật liệu chạy qua {place} làm đất cát rơi xuống mặt đường, người đi xe máy rất nguy hiểm.",
        "De nghi kiem tra xe cho dat qua {place}, dat roi vai tren duong, bui bay vao nha dan.",
        "Đất từ các xe chở đá thải đổ ra {place}, trời mưa thì trơn trượt, nắng thì bụi, mong cơ quan chức năng xử lý.",
    ],
    "streetlight": [
        "Đèn chiếu sáng ở {place} bị hỏng cả tuần nay, buổi tối tối om rất nguy hiểm.",
        "Cả dãy đèn đường {place} không sáng, đi lại ban đêm không nhìn thấy gì.",
        "Den duong o {place} tat het may hom roi, de nghi thay bong.",
        "Tối đến {place} mất điện chiếu sáng công cộng, trẻ con đi học thêm về sợ lắm.",
    ],
    "garbage": [
        "Rác thải tồn đọng ở {place} mấy ngày không có xe thu gom, bốc mùi hôi thối.",
        "Đống rác {place} chất cao, ruồi muỗi nhiều, công ty môi trường không đến lấy.",
        "Rac o {place} ko ai don, ve sinh kem qua, de nghi thu gom som.",
        "Người dân vứt rác bừa bãi tại {place}, lâu rồi chưa được dọn, mùi rất khó chịu.",
    ],
    "pipe_burst": [
        "Đường ống nước ở {place} bị vỡ, nước chảy lênh láng ra đường từ sáng.",
        "Ống cấp nước {place} bị bục, nước phun lên mặt đường, lãng phí quá.",
        "Vo ong nuoc sach tai {place}, nuoc tran ra ca mot doan duong.",
        "Từ hôm qua {place} rò rỉ nước máy rất lớn, nhà dân quanh đó mất nước.",
    ],
    "noise": [
        "Hàng quán karaoke gần {place} hát to đến 1-2 giờ sáng, cả khu không ngủ được.",
        "Tiếng hát karaoke ồn ào ở {place} kéo dài tới nửa đêm, ảnh hưởng người già trẻ nhỏ.",
        "Quan hat o {place} mo loa cong suat lon den khuya, de nghi xu ly.",
        "Đêm nào cũng có tiếng nhạc ầm ĩ từ quán ở {place}, gọi nhắc mãi không được.",
    ],
    "pothole": [
        "Mặt đường {place} bị sụt lún, ổ gà to, nhiều người đi xe máy bị ngã.",
        "Đoạn {place} hư hỏng nặng, nhiều hố sâu đọng nước, rất nguy hiểm.",
        "Duong {place} bi lun, co o ga lon giua duong, de nghi sua chua.",
        "Mưa xong {place} toàn ổ voi ổ gà, xe cộ đi lại khó khăn.",
    ],
    "fallen_tree": [
        "Cây to ở {place} bị đổ sau trận mưa giông, chắn ngang đường.",
        "Sau cơn bão đêm qua một cây xà cừ tại {place} gãy đổ, chưa ai dọn.",
        "Cay do chan het loi di o {place}, xe khong qua duoc.",
        "Cành cây lớn gãy rơi xuống {place}, đè lên dây điện, đề nghị xử lý gấp.",
    ],
    "market_stalls": [
        "Hộ kinh doanh bày bán hàng lấn chiếm vỉa hè ở {place}, người đi bộ phải xuống lòng đường.",
        "Các quầy hàng lấn ra lòng đường {place}, gây ách tắc giao thông giờ cao điểm.",
        "Buon ban tran ra via he tai {place}, khong con cho di bo.",
        "Tại {place} người ta dựng lều bán hàng chiếm hết lối đi chung.",
    ],
    "drain_blocked": [
        "Cống thoát nước ở {place} bị tắc, mưa xuống là ngập cả đoạn đường.",
        "Rãnh thoát nước {place} đầy bùn đất, nước thải tràn lên mặt đường hôi thối.",
        "Cong o {place} tac lau roi, mua to la ngap vao nha dan.",
        "Mỗi khi mưa {place} lại ngập sâu vì hố ga không thoát được nước.",
    ],
    "stray_cattle": [
        "Trâu bò thả rông đi lại trên {place}, gây mất an toàn giao thông và phóng uế bừa bãi.",
        "Đàn bò ai đó thả ra {place} cả ngày, xe máy suýt đâm phải.",
        "Gia suc tha rong o {place}, phan bo day duong.",
        "Người dân để trâu đi lang thang ở {place}, đề nghị nhắc nhở chủ nuôi.",
    ],
    "illegal_build": [
        "Có hộ đang xây nhà lấn ra phần đất công ở {place}, chưa thấy giấy phép.",
        "Công trình xây dựng trái phép tại {place} đổ vật liệu ra đường, lấn hành lang.",
        "Nha dan o {place} xay lan chiem dat cong, de nghi kiem tra giay phep.",
        "Ở {place} người ta dựng thêm tầng và cơi nới ra lối đi chung không phép.",
    ],
    "parking_school": [
        "Phụ huynh đỗ xe máy tràn ra đường trước cổng trường ở {place}, giờ tan học tắc nghẽn.",
        "Giờ đón con xe cộ đậu kín {place}, ô tô không đi được.",
        "Xe dau lon xon truoc truong hoc tai {place} gay un tac.",
        "Trước cổng trường {place} sáng nào cũng ùn tắc vì xe đỗ bừa bãi.",
    ],
    "smoke_burning": [
        "Có người đốt rác, đốt rơm rạ ở {place} khói bay vào nhà dân rất ngột ngạt.",
        "Khói đốt rác từ khu đất trống {place} chiều nào cũng mù mịt.",
        "Dot rac o {place} khoi den nghit, tre con bi ho.",
        "Hàng xóm ở {place} hay đốt lá cây và túi ni lông, mùi khét lẹt cả xóm.",
    ],
    "power_line": [
        "Dây điện ở {place} bị võng thấp, xe tải đi qua có thể vướng vào.",
        "Cột điện {place} nghiêng, dây điện chùng xuống sát đầu người.",
        "Day dien sa xuong thap o {place}, rat nguy hiem.",
        "Một đoạn dây điện trung thế ở {place} lủng lẳng sau gió lớn, đề nghị điện lực xử lý.",
    ],
}

TEST_SCENES = {"garbage", "noise", "market_stalls", "stray_cattle", "smoke_burning", "power_line"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def pairs_of(scenes: dict[str, list[str]], rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    names = sorted(scenes)
    for name in names:
        tellings = scenes[name]
        for place in rng.sample(PLACES, 4):
            for a, b in itertools.combinations(tellings, 2):
                rows.append(_row(a, place, b, place, True, "paraphrase", name, name))
        for first, second in rng.sample(list(itertools.permutations(PLACES, 2)), 6):
            a, b = rng.sample(tellings, 2) if rng.random() < 0.5 else (tellings[0], tellings[0])
            rows.append(_row(a, first, b, second, False, "same_scene_other_place", name, name))
    for first, second in itertools.combinations(names, 2):
        place = rng.choice(PLACES)
        a, b = rng.choice(scenes[first]), rng.choice(scenes[second])
        rows.append(_row(a, place, b, place, False, "other_scene_same_place", first, second))
        other = rng.choice([p for p in PLACES if p != place])
        rows.append(_row(a, place, b, other, False, "other_scene_other_place", first, second))
    return rows


def _row(
    a: str, place_a: str, b: str, place_b: str, duplicate: bool, kind: str, sa: str, sb: str
) -> dict[str, object]:
    return {
        "a": nfc(a.format(place=place_a)),
        "b": nfc(b.format(place=place_b)),
        "duplicate": duplicate,
        "kind": kind,
        "scenes": [sa, sb],
    }


def main() -> None:
    rng = random.Random(20261206)
    OUT.mkdir(parents=True, exist_ok=True)
    dev = {name: tellings for name, tellings in SCENES.items() if name not in TEST_SCENES}
    test = {name: tellings for name, tellings in SCENES.items() if name in TEST_SCENES}
    for split, scenes in (("dev", dev), ("test", test)):
        rows = pairs_of(scenes, rng)
        path = OUT / f"{split}.jsonl"
        path.write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
        )
        positives = sum(1 for row in rows if row["duplicate"])
        print(f"{path}: {len(rows)} pairs, {positives} duplicates")


if __name__ == "__main__":
    main()
