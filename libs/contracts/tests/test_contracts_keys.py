import pytest
from phananh_contracts import (
    Channel,
    ChannelMessageKey,
    CheckpointKey,
    ContractViolation,
    ReportKey,
)

pytestmark = pytest.mark.unit


def test_report_key_bytes_are_the_report_id() -> None:
    key = ReportKey(report_id="01GVHQ6JZ9Y3X5B7C2D4E6F8G0")

    assert key.to_bytes() == b"01GVHQ6JZ9Y3X5B7C2D4E6F8G0"
    assert ReportKey.from_bytes(key.to_bytes()) == key


def test_channel_message_key_keeps_colons_inside_the_message_id() -> None:
    key = ChannelMessageKey(channel=Channel.EMAIL, channel_message_id="<a1:b2@mail.sonla.example>")

    assert key.to_bytes() == b"email:<a1:b2@mail.sonla.example>"
    assert ChannelMessageKey.from_bytes(key.to_bytes()) == key
    assert ChannelMessageKey.text_form() == "{channel}:{channel_message_id}"


def test_checkpoint_key_round_trips() -> None:
    assert CheckpointKey.from_bytes(b"audit-1") == CheckpointKey(writer_id="audit-1")


@pytest.mark.parametrize(
    ("key_class", "raw", "reason"),
    [
        (ReportKey, b"", "invalid ReportKey: report_id: String should have at least 1 character"),
        (ReportKey, b"\xff", "invalid ReportKey: not UTF-8"),
        (ChannelMessageKey, b"zalo", "invalid ChannelMessageKey: expected"),
        (ChannelMessageKey, b"telegram:42", "invalid ChannelMessageKey: channel: Input should be"),
        (ChannelMessageKey, b"zalo:", "invalid ChannelMessageKey: channel_message_id: "),
    ],
)
def test_malformed_key_bytes_are_a_contract_violation(
    key_class: type[ReportKey | ChannelMessageKey], raw: bytes, reason: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        key_class.from_bytes(raw)

    assert caught.value.reason.startswith(reason)
