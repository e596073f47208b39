"""What guards the web pages: the board's signed session cookie and per-client rate limits.

``BoardSessions`` signs a board session (the role name and an expiry) with HMAC-SHA256
under a key derived from the configured oversight keys, so every audit instance with the
same configuration accepts the same cookie, and changing any oversight key ends every
session. The cookie never holds a key; a role no longer configured is refused.

``RateLimiter`` is an in-memory token bucket per client (IP address): ``burst`` requests
at once, then ``rate_per_s``. It is per process: N instances behind a load balancer let
a client make N times as many requests. Its table is bounded: past ``max_clients`` the
least recently seen clients are forgotten (a forgotten client starts with a full bucket).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SESSION_CONTEXT = b"phananh-audit/board-session/v1"


def session_key(role_keys: Mapping[str, str]) -> bytes:
    """The key signing board sessions, derived from the oversight keys (key -> role)."""
    material = "\n".join(f"{role}={key}" for key, role in sorted(role_keys.items()))
    return hmac.new(SESSION_CONTEXT, material.encode("utf-8"), hashlib.sha256).digest()


class BoardSessions:
    """Issues and reads signed board sessions."""

    def __init__(
        self,
        role_keys: Mapping[str, str],
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = session_key(role_keys)
        self._roles = frozenset(role_keys.values())
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, role: str) -> str:
        """A cookie value for ``role``, valid for ``ttl_s``."""
        claims = {"r": role, "e": int(self._clock() + self.ttl_s)}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def read(self, value: str | None) -> str | None:
        """The role of a valid, unexpired session; None otherwise."""
        if not value or value.count(".") != 1:
            return None
        body, signature = value.split(".")
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            claims = json.loads(_unb64(body))
            role, expires = claims["r"], claims["e"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(role, str) or not isinstance(expires, int):
            return None
        if expires <= self._clock() or role not in self._roles:
            return None
        return role

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per client, in this process's memory."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0 when allowed, else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        self._buckets[client] = bucket  # most recently seen last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return max(1.0, math.ceil((1 - bucket.tokens) / self.rate_per_s))
