"""The playground end to end with the real services, in headless Chromium.

The real app (``app.build_app``: storage, rules, nudges, nominations, the sender) runs in local
mode on an ephemeral port with the playground; the browser posts as the sample personas:
a greeting gives a nudge card, a snooze click updates it in place; the WG admin starts a
campaign, and a department contact's form with a missing field shows the error, then succeeds.
Screenshots go to ``artifacts/playground/``.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.playground import PLAYGROUND_KEY, WG_ADMIN_AAD_ID
from bot.playground.personas import SAMPLE_DIRECTORY, SAMPLE_PERSONAS, persona_by_key
from bot.settings import load_settings
from tests.playground.browser import act_as, chromium, chromium_page, go_to, needs_chromium, screenshot, send

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

AKAGI = persona_by_key(SAMPLE_PERSONAS, "akagi")
TONE = persona_by_key(SAMPLE_PERSONAS, "tone")  # the contact of 行政管理課 in wg/departments_sample.csv
ADMIN = persona_by_key(SAMPLE_PERSONAS, "maebashi")


async def build_local_app(tmp_path: Path) -> web.Application:
    """``app.build_app`` with local-mode settings: a fresh SQLite file, the admin persona."""
    app_module = importlib.import_module("app")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    settings = load_settings(
        ENVIRONMENT="test",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        RULES_DIR=str(rules_dir),
        DATA_DIR=str(tmp_path / "data"),
        WG_ADMIN_IDS=WG_ADMIN_AAD_ID,
    )
    app: web.Application = await app_module.build_app(settings)
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def real_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The production app in local mode with the playground, shared by the module; its base URL."""
    tmp_path = tmp_path_factory.mktemp("real-app")
    app = await build_local_app(tmp_path)
    assert PLAYGROUND_KEY in app, "app.build_app serves the playground in local mode"
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_greeting_gives_a_nudge_and_snooze_updates_it(real_app: str, browser: Any) -> None:
    from playwright.async_api import expect

    assert AKAGI is not None
    async with chromium_page(browser, f"{real_app}/playground?as={AKAGI.key}") as page:
        await go_to(page, "channel")
        await send(page, "お疲れ様です。")
        card = page.locator(".message[data-author=bot]")
        await expect(card).to_have_count(1, timeout=10_000)
        await expect(card.locator(".targeted-label")).to_be_visible()
        snooze = card.locator(".ac-pushButton", has_text="今日はもう表示しない")
        await expect(snooze).to_be_visible()
        await screenshot(page, "e2e-1-nudge-card")

        await snooze.click()
        await expect(snooze).to_have_count(0, timeout=10_000)  # the card was replaced in place
        await expect(card.locator(".card-note.error")).to_have_count(0)
        await expect(card.locator(".ac-adaptiveCard")).to_be_visible()
        await screenshot(page, "e2e-2-snoozed")


def _innermost_first_rows(card: Any, page: Any) -> Any:
    """The nominee rows "1人目" of each WG on the department form."""
    first = page.get_by_text("1人目", exact=True)
    return (
        card.locator(".ac-container")
        .filter(has=first)
        .filter(has_not=page.locator(".ac-container", has=first))
    )


async def test_nomination_form_shows_the_missing_field_then_succeeds(real_app: str, browser: Any) -> None:
    from playwright.async_api import expect

    assert ADMIN is not None and TONE is not None
    async with chromium_page(browser, f"{real_app}/playground?as={ADMIN.key}") as page:
        await go_to(page, "personal")
        await send(page, "キャンペーン開始")
        await expect(page.locator(".message[data-author=bot]")).not_to_have_count(0, timeout=8_000)
        await screenshot(page, "e2e-3-campaign-started")

        await act_as(page, TONE.key)
        await go_to(page, "personal")
        form = page.locator(
            ".message[data-author=bot]", has=page.locator(".ac-pushButton", has_text="提出する")
        )
        await expect(form).to_have_count(1, timeout=8_000)
        # the card keeps its message id when the invoke answer replaces it
        entry_id = await form.first.get_attribute("data-entry-id")
        form = page.locator(f".message[data-entry-id='{entry_id}']")

        rows = _innermost_first_rows(form, page)
        count = await rows.count()
        assert count >= 1
        people = list(SAMPLE_DIRECTORY)[:count]
        for index in range(count):
            row = rows.nth(index)
            await row.get_by_label("氏名", exact=True).fill(people[index].name)
            await row.get_by_label("職員（Teams で検索）", exact=True).select_option(
                people[index].aad_object_id
            )
        # 職名 left empty in the first row: the bot answers with the form and the error by the field
        for index in range(1, count):
            await rows.nth(index).get_by_label("職名", exact=True).fill("主任")
        await form.locator(".ac-pushButton", has_text="提出する").click()
        error = form.get_by_text("職名を入力してください。")
        await expect(error).to_be_visible(timeout=10_000)
        await error.scroll_into_view_if_needed()
        await screenshot(page, "e2e-4-form-error")

        rows = _innermost_first_rows(form, page)
        await rows.nth(0).get_by_label("職名", exact=True).fill("主査")
        await form.locator(".ac-pushButton", has_text="提出する").click()
        await expect(form.get_by_text("職名を入力してください。")).to_have_count(0, timeout=10_000)
        await expect(form.locator(".ac-pushButton", has_text="提出する")).to_have_count(0)
        await expect(form).to_contain_text(people[0].name)
        await screenshot(page, "e2e-5-form-received")


async def test_app_py_serves_the_playground_in_local_mode(tmp_path: Path) -> None:
    app = await build_local_app(tmp_path)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as session, session.get(f"{url}/playground/api/rules") as response:
            assert response.status == 200
            status = (await response.json())["status"]
        assert status["version"]  # wired to the real rule engine, not a placeholder
    finally:
        await runner.cleanup()
