"""Rate limits, the pure part: windows, verdicts, who a sender is, and counters' names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intake.domain.limits import (
    Limit,
    RateLimits,
    Scope,
    client_ip_identity,
    counter_id,
    decide,
    slot_id,
    subject_of,
)
from intake.domain.model import ChannelMessage, Contact
from intake.domain.normalize import sender_identity
from intake.settings import RateLimitSettings, Settings
from phananh_contracts import Channel
from phananh_platform.privacy import pseudonym

pytestmark = pytest.mark.unit

PER_MINUTE = Limit(Scope.API_KEY, 600, 60)
PER_HOUR = Limit(Scope.SENDER, 20, 3600)
AT = datetime(2026, 3, 14, 1, 30, 15, 250_000, tzinfo=UTC)


def test_windows_are_fixed_and_aligned_on_the_clock() -> None:
    assert PER_MINUTE.window_start(AT) == datetime(2026, 3, 14, 1, 30, tzinfo=UTC)
    assert PER_HOUR.window_start(AT) == datetime(2026, 3, 14, 1, 0, tzinfo=UTC)
    assert PER_HOUR.window_end(AT) == datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    # Every instance's clock puts a moment in the same window: it is the counter's name.
    assert Limit(Scope.SENDER, 5, 600).window_start(AT) == datetime(2026, 3, 14, 1, 30, tzinfo=UTC)


def test_the_limit_th_hit_is_admitted_and_the_next_refused_until_the_window_ends() -> None:
    assert decide(1, PER_HOUR, AT).allowed
    assert decide(20, PER_HOUR, AT).allowed

    refused = decide(21, PER_HOUR, AT)

    assert not refused.allowed
    assert refused.retry_after_s == 1785  # 01:30:15.25 -> 02:00:00, rounded up
    assert refused.limit == PER_HOUR
    assert refused.reason == (
        "rate limit reached: at most 20 messages from this sender an hour; send again in 1785 s"
    )


def test_retry_after_is_at_least_a_second() -> None:
    last_instant = datetime(2026, 3, 14, 1, 30, 59, 999_999, tzinfo=UTC)
    assert decide(601, PER_MINUTE, last_instant).retry_after_s == 1
    assert decide(601, PER_MINUTE, PER_MINUTE.window_start(AT)).retry_after_s == 60


def test_a_limit_of_zero_admits_everything() -> None:
    assert decide(10**6, Limit(Scope.SENDER, 0, 3600), AT).allowed


@pytest.mark.parametrize(("requests", "window_s"), [(-1, 60), (10**7, 60), (5, 0)])
def test_impossible_limits_are_refused(requests: int, window_s: int) -> None:
    with pytest.raises(ValueError):
        Limit(Scope.API_KEY, requests, window_s)


def test_clients_and_channels_may_have_limits_of_their_own() -> None:
    limits = RateLimitSettings.model_validate(
        {
            "api_key_clients": {"app:sonla-smart": 1200},
            "sender_channels": {"hotline": 60},
            "sender": {"requests": 30, "window_s": 3600},
        }
    ).limits()

    assert limits.for_api_client("app:sonla-smart") == Limit(Scope.API_KEY, 1200, 60)
    assert limits.for_api_client("web:cong-thong-tin") == Limit(Scope.API_KEY, 600, 60)
    assert limits.for_sender("hotline") == Limit(Scope.SENDER, 60, 3600)
    assert limits.for_sender("zalo") == Limit(Scope.SENDER, 30, 3600)
    assert limits.client_ip == Limit(Scope.CLIENT_IP, 120, 60)


def test_the_defaults() -> None:
    assert RateLimitSettings().limits() == RateLimits(
        api_key=Limit(Scope.API_KEY, 600, 60),
        sender=Limit(Scope.SENDER, 20, 3600),
        client_ip=Limit(Scope.CLIENT_IP, 120, 60),
    )


def test_a_channel_that_does_not_exist_cannot_have_a_limit() -> None:
    with pytest.raises(ValueError, match="sender_channels"):
        RateLimitSettings.model_validate({"sender_channels": {"fax": 10}})
    with pytest.raises(ValueError, match="must be 0 to"):
        RateLimitSettings.model_validate({"api_key_clients": {"app:x": -5}})


def test_a_client_s_own_limit_must_name_a_client_that_has_a_key() -> None:
    secrets = {
        "tracking_secret": "t" * 40,
        "contact_keys": ["k" * 43 + "="],
        "pseudonym_key": "p" * 40,
        "api_keys": {"app:sonla-smart": "app-key-0123456789abcdef"},
    }
    limits = {"api_key_clients": {"app:sonla-smart": 1200, "app:sonla-smrt": 5}}

    with pytest.raises(ValueError, match="clients without an API key: app:sonla-smrt"):
        Settings.model_validate({**secrets, "rate_limits": limits})


# --- who is counted --------------------------------------------------------------------


def message(channel: Channel, **fields: Any) -> ChannelMessage:
    return ChannelMessage(
        channel=channel, channel_message_id="m1", received_at=AT, text="…", **fields
    )


def test_a_sender_is_the_identity_of_its_pseudonym_whatever_the_channel() -> None:
    by_app = message(Channel.APP, contact=Contact(phone="0912 345 678"))
    by_hotline = message(Channel.HOTLINE, contact=Contact(phone="+84 912 345 678"))
    by_zalo = message(Channel.ZALO, contact=Contact(channel_user_ref="2468"))
    by_mail = message(Channel.EMAIL, contact=Contact(email="Minh@Example.VN"))
    collaborator = message(Channel.COLLABORATOR, collaborator_id="ctv-08")

    assert sender_identity(by_app) == sender_identity(by_hotline) == "phone:+84912345678"
    assert sender_identity(by_zalo) == "zalo:2468"
    assert sender_identity(by_mail) == "email:minh@example.vn"
    assert sender_identity(collaborator) == "collaborator:ctv-08"


def test_an_anonymous_message_has_no_sender_to_count() -> None:
    asked = message(Channel.APP, contact=Contact(phone="0912345678"), anonymous=True)
    assert sender_identity(asked) is None
    assert sender_identity(message(Channel.APP)) is None
    assert sender_identity(message(Channel.APP, contact=Contact(phone="12"))) is None


def test_a_counter_names_its_sender_by_the_pseudonym_s_hash_never_the_number() -> None:
    key = b"pseudonym-key-0123456789-0123456789"
    subject = subject_of(key, "phone:+84912345678")
    counter = counter_id(Scope.SENDER, subject, PER_HOUR.window_start(AT))

    assert pseudonym(key, "phone:+84912345678") == f"ctz-{subject}"
    assert counter == f"sender:{subject}:20260314T010000Z"
    assert "912345678" not in counter
    assert slot_id(counter, 7) == f"{counter}:0000007"
    assert subject_of(b"another-key-0123456789-0123456789", "phone:+84912345678") != subject


def test_an_ipv6_client_counts_by_its_network_and_a_mapped_ipv4_as_itself() -> None:
    assert client_ip_identity("203.0.113.7") == "ip:203.0.113.7"
    assert client_ip_identity("::ffff:203.0.113.7") == "ip:203.0.113.7"
    assert (
        client_ip_identity("2001:db8:1:2:a::1")
        == client_ip_identity("2001:db8:1:2:ffff::9")
        == "ip:2001:db8:1:2::/64"
    )
    assert client_ip_identity("testclient") == "ip:testclient"


def test_a_window_s_end_is_the_next_window_s_start() -> None:
    end = PER_MINUTE.window_end(AT)
    assert PER_MINUTE.window_start(end) == end
    assert PER_MINUTE.window_start(end - timedelta(microseconds=1)) == PER_MINUTE.window_start(AT)
