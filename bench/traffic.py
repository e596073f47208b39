"""Realistic raw channel messages for the pipeline benchmark: every channel, Vietnamese text.

Each message is a ``RawChannelMessageReceived`` event exactly as an adapter (or intake's own
HTTP front) puts it on ``pakn.channel.raw.v1``: the body is what the channel's route would
receive. The mix follows the channels' weight in a city like Sơn La (the app and Zalo
first); every channel but the collaborators' leaves a contact, so notify has someone to
tell. Texts name the four wards, their landmarks and the usual categories, and are varied
by number so that near-duplicate detection does not fold them into one.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from phananh_contracts import Channel, RawChannelMessageReceived, RawChannelMessageReceivedEvent

ISSUES = [
    "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, phường Chiềng "
    "Sinh, lấn chiếm lối đi và gây mất vệ sinh",
    "Rác thải ùn ứ bốc mùi cạnh bến xe khách Sơn La, phường Tô Hiệu, đề nghị cho xe thu gom",
    "Đèn đường hỏng cả tuần ở đường Tô Hiệu, phường Tô Hiệu, buổi tối rất tối, dễ tai nạn",
    "Mất nước sinh hoạt ba ngày nay ở bản Hụm, phường Chiềng An, bà con phải đi xin nước",
    "Xe tải chở đất rơi vãi trên đường qua bản Hìn, phường Chiềng Cơi, nguy hiểm cho xe máy",
    "Quán karaoke gần Bệnh viện Đa khoa tỉnh hát to quá 23 giờ, phường Chiềng Sinh",
    "Công trình xây nhà lấn ra vỉa hè gần Chợ Trung tâm Sơn La, phường Tô Hiệu",
    "Cống thoát nước bị tắc, nước thải tràn ra đường ở tổ 5 phường Chiềng An",
]
"""What citizens report: the issue and where."""
ISSUE_WARDS = [
    "Chiềng Sinh",
    "Tô Hiệu",
    "Tô Hiệu",
    "Chiềng An",
    "Chiềng Cơi",
    "Chiềng Sinh",
    "Tô Hiệu",
    "Chiềng An",
]
"""The ward each issue is in, as a channel's ward field says it (the text names it too)."""

WHEN = [
    "Tình trạng này kéo dài từ đầu tuần",
    "Sáng nay tôi đi qua thì thấy",
    "Đã ba hôm nay rồi mà chưa ai xử lý",
    "Cứ tối đến là lại như vậy",
    "Bà con trong tổ đã nhắc nhiều lần",
    "Từ hôm mưa to đến giờ",
    "Mấy tháng nay năm nào cũng thế",
]
EFFECT = [
    "trẻ con đi học rất nguy hiểm",
    "người già trong xóm khó chịu lắm",
    "ảnh hưởng đến việc buôn bán của các hộ xung quanh",
    "mùi hôi bay vào tận trong nhà",
    "xe cộ phải đi vòng sang làn bên kia",
    "ban đêm không ai dám đi qua",
    "khách du lịch đi qua đều phàn nàn",
    "nhiều hộ đã phải đóng cửa cả ngày",
]
PLEA = [
    "Đề nghị chính quyền kiểm tra, xử lý sớm.",
    "Mong các cơ quan chức năng vào cuộc.",
    "Xin cảm ơn và mong được phản hồi.",
    "Kính đề nghị phường cử người xuống xem.",
    "Rất mong được giải quyết dứt điểm.",
]

NAMES = ["Lò Văn Minh", "Cầm Thị Hoa", "Quàng Văn Thanh", "Lường Thị Mai", "Điêu Chính Tú"]

MIX: list[tuple[Channel, int]] = [
    (Channel.APP, 30),
    (Channel.ZALO, 25),
    (Channel.WEB, 10),
    (Channel.HOTLINE, 10),
    (Channel.FACEBOOK, 10),
    (Channel.EMAIL, 7),
    (Channel.OPEN311, 5),
    (Channel.COLLABORATOR, 3),
]
"""Channels and their share of messages, in percent."""

_SCHEDULE = [channel for channel, weight in MIX for _ in range(weight)]
_ZALO_APP = "360846524940903967"
_FACEBOOK_PAGE = "103265478891234"


@dataclass(frozen=True)
class RawMessage:
    """One raw channel message ready to publish, with what the benchmark expects of it."""

    channel: Channel
    channel_message_id: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    contactable: bool
    """True when the message carries a contact, so notify should tell the citizen."""


def channel_of(number: int) -> Channel:
    """The channel of message ``number``: the mix, interleaved (1 in 100 per percent)."""
    return _SCHEDULE[(number * 37) % len(_SCHEDULE)]


_MOBILE_PREFIXES = ("090", "091", "093", "094", "096", "097", "098")
"""Vietnamese mobile prefixes (Viettel, VinaPhone, MobiFone): every number made from them
is valid, so a message's contact survives intake's phone check at any run size (0992…,
which plain digits reached from message 11,618 on, is not a mobile number)."""


def _phone(number: int) -> str:
    prefix = _MOBILE_PREFIXES[number % len(_MOBILE_PREFIXES)]
    return f"{prefix}{(number * 7919) % 10_000_000:07d}"


def _encoded(words: str) -> str:
    """A header value in RFC 2047 form, as mail programs write non-ASCII names."""
    return "=?utf-8?b?" + base64.b64encode(words.encode()).decode() + "?="


def _body(channel: Channel, number: int, message_id: str, text: str) -> tuple[str, str, str]:
    """(content type, body, body encoding) of message ``number`` on ``channel``."""
    ward, name = ISSUE_WARDS[number % len(ISSUES)], NAMES[number % len(NAMES)]
    if channel is Channel.APP:
        document = {
            "client_message_id": message_id,
            "text": text,
            "ward": ward,
            "location": {"lat": 21.3035, "lon": 103.9472},
            "contact": {"name": name, "phone": _phone(number)},
            "anonymous": False,
            "consent": True,
        }
        return "application/json", json.dumps(document, ensure_ascii=False), "utf-8"
    if channel is Channel.ZALO:
        document = {
            "app_id": _ZALO_APP,
            "user_id_by_app": f"55217727971758{number:06d}",
            "event_name": "user_send_text",
            "timestamp": "1678757400000",
            "sender": {"id": f"24684588352919{number:06d}"},
            "recipient": {"id": "388613280878808645"},
            "message": {"msg_id": message_id, "text": text},
        }
        return "application/json", json.dumps(document, ensure_ascii=False), "utf-8"
    if channel is Channel.WEB:
        form = {"text": text, "name": name, "phone": _phone(number), "ward": ward}
        return "application/x-www-form-urlencoded; charset=UTF-8", urlencode(form), "utf-8"
    if channel is Channel.HOTLINE:
        document = {
            "ticket_id": message_id,
            "summary": text,
            "urgent": number % 11 == 0,
            "caller_number": _phone(number),
            "caller_name": name,
            "ward": ward,
            "operator_id": f"dtv-{number % 12:02d}",
        }
        return "application/json", json.dumps(document, ensure_ascii=False), "utf-8"
    if channel is Channel.FACEBOOK:
        item = {
            "sender": {"id": f"71234567{number:08d}"},
            "recipient": {"id": _FACEBOOK_PAGE},
            "timestamp": 1678757400000,
            "message": {"mid": message_id, "text": text},
        }
        document = {
            "object": "page",
            "entry": [{"id": _FACEBOOK_PAGE, "time": 1678757400000, "messaging": [item]}],
        }
        return "application/json", json.dumps(document, ensure_ascii=False), "utf-8"
    if channel is Channel.EMAIL:
        mail = "\r\n".join(
            [
                f"From: {_encoded(name)} <dan{number}@example.vn>",
                "To: tiepnhan@sonla.gov.vn",
                f"Subject: {_encoded('Phản ánh')}",
                f"Message-ID: <{message_id}>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                "",
                text,
                "",
            ]
        )
        return "message/rfc822", base64.b64encode(mail.encode()).decode(), "base64"
    if channel is Channel.OPEN311:
        form = {
            "service_code": "urban_order",
            "description": text,
            "first_name": name.split()[-1],
            "last_name": name.split()[0],
            "phone": _phone(number),
            "address_string": f"Tổ {number % 12 + 1}, phường {ward}",
            "attribute[ward]": ward,
        }
        return "application/x-www-form-urlencoded", urlencode(form), "utf-8"
    document = {
        "collaborator_id": f"ctv-{number % 20:02d}",
        "kind": "periodic_summary",
        "report_id": message_id,
        "items": [{"text": text, "ward": ward}],
    }
    return "application/json", json.dumps(document, ensure_ascii=False), "utf-8"


WHO = [
    "Tôi là người dân ở gần đó",
    "Gia đình tôi ở ngay cạnh",
    "Tôi là tổ trưởng tổ dân phố",
    "Tôi đi làm ngày nào cũng qua đây",
    "Tôi là giáo viên trường tiểu học gần đấy",
    "Nhà tôi bán hàng tạp hóa đối diện",
    "Tôi là người chạy xe ôm ở khu này",
    "Mẹ tôi năm nay đã ngoài bảy mươi",
    "Tôi thay mặt mấy hộ trong ngõ",
    "Tôi là sinh viên thuê trọ ở đây",
]
DETAIL = [
    "chiều qua còn có người bị ngã",
    "hôm trước có đoàn kiểm tra nhưng rồi đâu lại vào đấy",
    "tôi đã chụp ảnh gửi kèm",
    "nhiều người đã gọi đường dây nóng",
    "chỗ này gần cổng trường mầm non",
    "tối thứ bảy là đông nhất",
    "trời nắng thì đỡ, mưa xuống là nặng hơn",
    "có cả xe của khách từ Mộc Châu lên",
    "tổ dân phố đã họp bàn một lần",
    "người ta bảo để cuối tháng mới làm",
    "bên kia đường cũng bắt đầu bị như thế",
    "ai đi qua cũng phải bịt mũi",
]
SPOT = [
    "đoạn gần cây xăng",
    "chỗ ngã ba rẽ vào bản",
    "phía sau nhà văn hóa tổ 2",
    "ngay đầu dốc",
    "cạnh trạm biến áp",
    "đối diện cửa hàng điện máy",
    "sát bờ suối Nậm La",
    "trước cổng chùa",
    "chỗ bãi gửi xe",
    "gần trạm y tế phường",
    "cuối con hẻm nhỏ",
    "bên cạnh sân bóng",
    "ngay chỗ cột điện số 14",
    "trước quán phở đầu ngõ",
    "gần điểm chờ xe buýt",
    "sau dãy ki-ốt",
]
RE_REPORT_EVERY = 10
"""Every tenth message reports again what an earlier citizen reported (same words, another
channel and person): the near duplicates real traffic has, at the same share at any size."""


def citizen_text(number: int) -> str:
    """A citizen's report: an issue in its ward, told in a way of its own.

    The parts of the telling are drawn independently per message, and each message is
    at a lane of its own ("ngách 54/12", one of ~20,000 per issue), a named place intake
    reads: two tellings of one issue at two lanes are two incidents. Every tenth message
    repeats an earlier one (same words, ward and lane, another channel and person), a
    deliberate near duplicate. The share of near duplicates so stays close to 10 %.
    """
    if number % RE_REPORT_EVERY == RE_REPORT_EVERY - 1 and number >= 2 * len(ISSUES):
        return citizen_text(number - len(ISSUES))  # the same issue, told before
    draw = random.Random(number)
    issue = ISSUES[number % len(ISSUES)]
    effects = draw.sample(EFFECT, 2)
    house, lane, alley = draw.randint(1, 999), draw.randint(1, 99), draw.randint(1, 200)
    return (
        f"{draw.choice(WHO)}. {draw.choice(WHEN)}, {issue[0].lower()}{issue[1:]}, "
        f"{draw.choice(SPOT)}, trước nhà số {house} ngách {lane}/{alley}; "
        f"{effects[0]}, {effects[1]}, "
        f"{draw.choice(DETAIL)}. {draw.choice(PLEA)}"
    )


def raw_message(number: int, run: str, *, received_at: datetime | None = None) -> RawMessage:
    """Message ``number`` of benchmark run ``run`` (the run keeps ids unique across runs)."""
    channel = channel_of(number)
    message_id = f"bench-{run}-{number:07d}"
    if channel is Channel.EMAIL:
        message_id = f"{message_id}@example.vn"
    text = citizen_text(number)
    content_type, body, encoding = _body(channel, number, message_id, text)
    event = RawChannelMessageReceivedEvent.new(
        RawChannelMessageReceived(
            channel=channel,
            channel_message_id=message_id,
            received_at=received_at or datetime.now(UTC),
            content_type=content_type,
            body=body,
            body_encoding=encoding,
            authenticated_as=f"adapter:bench-{channel.value}",
        ),
        source=f"/adapters/bench/{channel.value}",
    )
    record = event.to_kafka()
    return RawMessage(
        channel=channel,
        channel_message_id=message_id,
        key=record.key or b"",
        value=record.value or b"",
        headers=list(record.headers),
        contactable=channel is not Channel.COLLABORATOR,
    )


def expected_message_ids(message: RawMessage) -> list[str]:
    """The channel message ids intake derives reports from (a collaborator's item is #1)."""
    if message.channel is Channel.COLLABORATOR:
        return [f"{message.channel_message_id}#1"]
    return [message.channel_message_id]
