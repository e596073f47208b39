"""Waiting, in a test, for something the running platform does in its own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def eventually(probe: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """The first truthy answer of ``probe`` (a function, or one returning a coroutine),
    asked every half second; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
