"""Headless Chromium (Debian's, driven by Playwright) for the playground's page tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_EXECUTABLE = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "playground"


def _missing() -> str | None:
    if not CHROMIUM_EXECUTABLE:
        return "Chromium is not installed (/usr/bin/chromium); scripts/ensure-chromium installs it"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed"
    return None


needs_chromium = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium, shared by a module's tests (starting it costs seconds)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM_EXECUTABLE, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_page(browser: Any, url: str) -> AsyncIterator[Any]:
    """A fresh page on ``url`` once its event stream is connected; script errors fail the test."""
    errors: list[str] = []
    context = await browser.new_context(viewport={"width": 1440, "height": 960}, locale="ja-JP")
    try:
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        # a Content-Security-Policy violation or a failed load shows as a console error
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await page.goto(url)
        await wait_connected(page)
        yield page
    finally:
        await context.close()
    assert not errors, f"errors in the page: {errors}"


async def wait_connected(page: Any) -> None:
    """The page's event stream delivered its snapshot."""
    await page.wait_for_selector("body[data-connected=true]", state="attached")


async def act_as(page: Any, persona_key: str) -> None:
    """Switch the sender (the page reconnects as that persona)."""
    await page.select_option("#sender", persona_key)
    await wait_connected(page)


async def go_to(page: Any, place: str) -> None:
    """Open a conversation type: channel, thread, groupChat or personal."""
    await page.click(f".conv-item[data-place={place}]")


async def send(page: Any, text: str) -> None:
    """Type a message and send it."""
    from playwright.async_api import expect

    await page.fill("#compose-text", text)
    await page.click("#send")
    await expect(page.locator("#compose-status")).to_contain_text("HTTP")
    await expect(page.locator("#compose-text")).to_have_value("")


async def screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot under artifacts/playground/ (gitignored; CI keeps it as an artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path
