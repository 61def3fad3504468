"""The dashboard driven in headless Chromium: sign-in, charts drawn, a filter applied, a CSV downloaded.

Needs Debian's chromium at /usr/bin/chromium (Playwright drives it); a screenshot is kept in
``artifacts/dashboard.png``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.storage import Database
from tests.dashboard.helpers import ADMIN_OID, CLIENT_ID, CLIENT_SECRET, seed_stats, start_dashboard
from tests.harness.entra_login import EntraLoginStandIn
from tests.harness.tls import shared_test_ca

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt install chromium)"
)


@pytest.fixture
async def signed_in_stack(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    ca = shared_test_ca()
    for key, value in ca.env().items():
        monkeypatch.setenv(key, value)
    await seed_stats(db, date.today())
    async with EntraLoginStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=ca) as entra:
        entra.sign_in_as(ADMIN_OID)
        runner, base = await start_dashboard(db, authority=entra.authority, marks=True)
        try:
            yield base
        finally:
            await runner.cleanup()


async def test_dashboard_in_chromium(signed_in_stack: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    base = signed_in_stack
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The Entra stand-in's certificate comes from the test CA, which this browser does not know.
            context = await browser.new_context(
                viewport={"width": 1366, "height": 768},
                locale="ja-JP",
                accept_downloads=True,
                ignore_https_errors=True,
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{base}/dashboard")
            await page.wait_for_selector("body[data-loaded]")
            assert page.url.startswith(f"{base}/dashboard")

            # Charts drawn: one SVG per trend with a line and points.
            charts = page.locator("#charts figure.chart")
            assert await charts.count() >= 5
            assert await page.locator("#charts svg path.line").count() >= 5
            assert await page.locator("#charts svg circle.point").count() >= 10
            assert await page.locator("#rule-chart svg rect").count() >= 1
            assert "DX推進WG" in await page.locator("#campaigns").inner_text()

            messages_total = page.locator('figure[data-series="messages"] .total')
            everyone = (await messages_total.inner_text()).strip()

            # A filter applied: one department, the figures change.
            loaded = await page.get_attribute("body", "data-loaded")
            await page.select_option("#department", "税務課")
            await expect(page.locator("body")).not_to_have_attribute("data-loaded", loaded or "")
            one_department = (await messages_total.inner_text()).strip()
            assert one_department != everyone
            assert one_department.startswith("108")  # 6 people x 3 messages x 6 weeks
            assert "department=" in page.url

            # The small department is shown as "<5" in the table.
            table = await page.locator("#department-table").inner_text()
            assert "税務課" in table

            # An admin marks a date (through the page, with its CSRF token): the charts show it
            # and the before/after table fills in.
            loaded = await page.get_attribute("body", "data-loaded")
            four_weeks_ago = (date.today() - timedelta(days=21)).isoformat()
            await page.fill("#mark-day", four_weeks_ago)
            await page.fill("#mark-label", "挨拶ルールの文言を変更")
            await page.click("#mark-form button[type=submit]")
            await expect(page.locator("body")).not_to_have_attribute("data-loaded", loaded or "")
            assert await page.locator("#charts svg line.mark").count() >= 5
            comparison = await page.locator("#comparison-table").inner_text()
            assert "挨拶ルールの文言を変更" in comparison
            assert "「承知しました」は いいね！で" in await page.locator("#rule-chart").inner_text()

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=False)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)

            # A CSV downloaded, for the filter on screen.
            await page.select_option("#department", "")
            async with page.expect_download() as download_info:
                await page.click("#csv-departments")
            download = await download_info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            data = saved.read_bytes()
            assert data.startswith(b"\xef\xbb\xbf")
            text = data.decode("utf-8-sig")
            assert "総務課" in text and "小さな係,<5" in text
            assert download.suggested_filename.startswith("departments_")

            # No layout overflow sideways on a small laptop screen.
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366
            assert errors == []
            await context.close()
        finally:
            await browser.close()
