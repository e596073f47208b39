"""Realistic report data for tests: the seed's Noong Đúc market case, numbered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phananh_contracts.events import ReportReceived
from phananh_contracts.values import Channel, GeoPoint, Place, Priority, Reporter

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def tracking_code(number: int) -> str:
    digits = ""
    for _ in range(6):
        number, remainder = divmod(number, 32)
        digits = CROCKFORD[remainder] + digits
    return f"SL-2303-{digits}"


def sample_report(number: int) -> ReportReceived:
    """Report number ``number`` about the fresh-food sellers outside Noong Đúc market."""
    return ReportReceived(
        report_id=f"rpt-{number:06d}",
        tracking_code=tracking_code(number),
        channel=Channel.APP,
        channel_message_id=f"app-msg-{number:06d}",
        received_at=datetime(2023, 3, 14, 1, 30, tzinfo=UTC) + timedelta(minutes=number),
        text=(
            "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, "
            "lấn chiếm vỉa hè và gây mất vệ sinh môi trường."
        ),
        category="urban_order",
        place=Place(
            ward_code="03679",
            ward_name="Chiềng Sinh",
            residential_group="Tổ 8",
            point=GeoPoint(lat=21.3035, lon=103.9472),
        ),
        priority=Priority.NORMAL,
        reporter=Reporter(anonymous=False, pseudonym=f"ctz-{number:06d}", contact_ciphertext="x"),
    )
