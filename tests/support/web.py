"""Browser tests: an ASGI app served on a real local port (uvicorn, in the test's event
loop), Debian's chromium driven by Playwright, and screenshots kept for review."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from tests.support.platform import ROOT, free_port
from tests.support.servers import in_ci

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (``scripts/install-browser.sh``)."""
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def chromium_missing() -> bool:
    return not CHROMIUM.is_file()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless chromium; without it the test fails under CI and is skipped elsewhere."""
    if chromium_missing():
        message = f"{CHROMIUM} is missing: run scripts/install-browser.sh (Debian's chromium)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        await launched.close()


async def screenshot(page: Page, name: str) -> None:
    """The whole page as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The ASGI app on a free local port; yields its base URL, stops it on the way out."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn did not start on port {port}")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
