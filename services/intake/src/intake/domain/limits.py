"""Rate limits of the HTTP front: what is limited, in which window, and the verdict.

Three scopes (:class:`Scope`), each a fixed window of ``window_s`` seconds aligned on the
epoch (a minute's window starts at :00, an hour's at the full hour, in UTC):

* ``api_key``  requests of one API client (``app:sonla-smart`` …), on every API-key route;
* ``sender``   messages of one citizen, as intake identifies the reporter of a pseudonym
  (:func:`intake.domain.normalize.sender_identity`: the phone, else the email, else the
  channel's user id, or the collaborator id), counted over every channel;
* ``client_ip`` Open311 reads of one client address (an IPv6 client by its /64), the only
  routes anyone may call without a key.

The hits are counted in the database, shared by every instance of the front (see
:mod:`intake.adapters.limits`); this module only names the counters and decides. A
counter is named by a keyed hash of what it counts (:func:`subject_of`), never by a phone
number or an address in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SLOT_DIGITS = 7
"""Width of a hit's slot number in its ``_id``: limits go up to 9 999 999 a window."""
MAX_REQUESTS = 10**SLOT_DIGITS - 1


class Scope(StrEnum):
    """What a limit counts."""

    API_KEY = "api_key"
    SENDER = "sender"
    CLIENT_IP = "client_ip"


_WHAT = {
    Scope.API_KEY: "requests with this API key",
    Scope.SENDER: "messages from this sender",
    Scope.CLIENT_IP: "requests from this address",
}
_PERIODS = {60: "a minute", 3600: "an hour", 86_400: "a day"}


@dataclass(frozen=True)
class Limit:
    """At most ``requests`` hits of one subject every ``window_s`` seconds; 0 is no limit."""

    scope: Scope
    requests: int
    window_s: int

    def __post_init__(self) -> None:
        if not 0 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"a limit admits 0 to {MAX_REQUESTS} requests a window")
        if self.window_s < 1:
            raise ValueError("a limit's window lasts at least one second")

    @property
    def enforced(self) -> bool:
        return self.requests > 0

    def window_start(self, now: datetime) -> datetime:
        """Start of the window ``now`` falls in (windows are aligned on the epoch, UTC)."""
        seconds = math.floor(now.timestamp())
        return datetime.fromtimestamp(seconds - seconds % self.window_s, UTC)

    def window_end(self, now: datetime) -> datetime:
        return self.window_start(now) + timedelta(seconds=self.window_s)

    def describe(self) -> str:
        """E.g. '20 messages from this sender an hour'."""
        period = _PERIODS.get(self.window_s, f"every {self.window_s} seconds")
        return f"{self.requests} {_WHAT[self.scope]} {period}"


@dataclass(frozen=True)
class Verdict:
    """Whether one more hit is admitted; when not, when to try again."""

    limit: Limit
    allowed: bool
    retry_after_s: int = 0
    """Whole seconds until the window ends (at least 1) when refused; 0 when admitted."""

    @property
    def reason(self) -> str:
        """Why a refused hit is refused, naming the limit, for the client's developers."""
        return (
            f"rate limit reached: at most {self.limit.describe()}; "
            f"send again in {self.retry_after_s} s"
        )


def decide(count: int, limit: Limit, now: datetime) -> Verdict:
    """The verdict on a hit that is the ``count``-th of its subject in ``now``'s window.

    ``count`` includes the hit itself: the ``requests``-th hit is admitted, the next is
    refused until the window ends.
    """
    if not limit.enforced or count <= limit.requests:
        return Verdict(limit, allowed=True)
    remaining = (limit.window_end(now) - now).total_seconds()
    return Verdict(limit, allowed=False, retry_after_s=max(1, math.ceil(remaining)))


@dataclass(frozen=True)
class RateLimits:
    """Every limit of the front, with the exceptions configured per client and channel."""

    api_key: Limit
    sender: Limit
    client_ip: Limit
    api_key_clients: Mapping[str, int] = field(default_factory=dict)
    """Client name -> requests per ``api_key`` window, instead of ``api_key.requests``."""
    sender_channels: Mapping[str, int] = field(default_factory=dict)
    """Channel -> messages per ``sender`` window on that channel, instead of
    ``sender.requests`` (the sender's messages are counted over every channel)."""

    def for_api_client(self, client: str) -> Limit:
        requests = self.api_key_clients.get(client, self.api_key.requests)
        return Limit(Scope.API_KEY, requests, self.api_key.window_s)

    def for_sender(self, channel: str) -> Limit:
        requests = self.sender_channels.get(channel, self.sender.requests)
        return Limit(Scope.SENDER, requests, self.sender.window_s)


def subject_of(secret: bytes, identity: str) -> str:
    """The keyed hash naming what a counter counts (24 hex characters).

    For a sender's identity (``phone:+8491…``) it is the hex part of the reporter's
    pseudonym (``ctz-<hex>``, :func:`phananh_platform.privacy.pseudonym`), so an operator
    can tell which reporter a counter belongs to, and nobody can read the number.
    """
    return hmac.new(secret, identity.encode(), hashlib.sha256).hexdigest()[:24]


def api_client_identity(client: str) -> str:
    return f"api-key:{client}"


def client_ip_identity(host: str) -> str:
    """What a client address counts as: an IPv4 address, the /64 of an IPv6 one.

    Anything that is no address (a test client, a Unix socket) counts as itself.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"ip:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:203.0.113.7 is 203.0.113.7
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"


def counter_id(scope: Scope, subject: str, window_start: datetime) -> str:
    """The name of one subject's counter in one window, e.g. ``sender:3f…:20260314T0100Z``."""
    return f"{scope.value}:{subject}:{window_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def slot_id(counter: str, slot: int) -> str:
    """The ``_id`` of the ``slot``-th hit of a counter (1-based)."""
    return f"{counter}:{slot:0{SLOT_DIGITS}d}"
