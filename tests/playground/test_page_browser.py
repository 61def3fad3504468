"""The page in headless Chromium against the real app, sender and connector stand-in.

The services here are the scripted stand-in of ``conftest.py`` (a greeting gives a targeted
card with a required input); ``test_services_e2e.py`` runs the same page against the real
nudge and nomination services.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.playground.personas import SAMPLE_PERSONAS
from tests.playground.browser import act_as, chromium, chromium_page, go_to, needs_chromium, screenshot, send
from tests.playground.conftest import BROKEN_RULE, VALID_RULE, RunningPlayground

# One browser and one app for the module: its tests share the module's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as running:
        yield running


AKAGI, HARUNA = SAMPLE_PERSONAS[0], SAMPLE_PERSONAS[1]


async def test_targeted_card_validation_and_invoke_in_the_browser(
    playground: RunningPlayground, browser: Any
) -> None:
    from playwright.async_api import expect

    async with chromium_page(browser, f"{playground.url}/playground?as={AKAGI.key}") as page:
        await go_to(page, "channel")
        await send(page, "お疲れ様です。")
        card = page.locator(".message[data-author=bot]")
        await expect(card).to_have_count(1)
        await expect(card.locator(".targeted-label")).to_have_text("◉ あなたにだけ表示されています")
        await expect(card.locator(".ac-pushButton", has_text="今日はもう表示しない")).to_be_visible()
        await screenshot(page, "scripted-1-targeted-card")

        await act_as(page, HARUNA.key)  # someone else in the channel sees the post, not the card
        await expect(page.locator(".message[data-author=person]")).to_have_count(1)
        await expect(page.locator(".message[data-author=bot]")).to_have_count(0)

        await act_as(page, AKAGI.key)
        card = page.locator(".message[data-author=bot]")
        await card.locator(".ac-pushButton", has_text="今日はもう表示しない").click()
        await expect(
            card.get_by_text("ひとこと を入力してください")
        ).to_be_visible()  # the renderer's own check
        assert playground.services.actions == []
        await screenshot(page, "scripted-2-required-input")

        await card.get_by_label("ひとこと").fill("了解です")
        await card.locator(".ac-pushButton", has_text="今日はもう表示しない").click()
        await expect(card.get_by_text("今日はこのヒントを表示しません")).to_be_visible()
        await expect(card.locator(".ac-pushButton")).to_have_count(0)
        (action,) = playground.services.actions
        assert action.verb == "nudge.snooze_today"
        assert action.data == {"verb": "nudge.snooze_today", "rule": "greeting", "comment": "了解です"}
        assert action.conversation.conversation_id.endswith(
            f";messageid={playground.services.messages[0].activity_id}"
        )
        await screenshot(page, "scripted-3-card-replaced")


async def test_personal_chat_reply_and_people_picker(playground: RunningPlayground, browser: Any) -> None:
    from playwright.async_api import expect

    async with chromium_page(browser, f"{playground.url}/playground?as={HARUNA.key}") as page:
        await go_to(page, "personal")
        await send(page, "こんにちは")
        await expect(page.locator(".message[data-author=bot]", has_text="受け取りました")).to_be_visible()
        await send(page, "ピッカー")
        card = page.locator(".message[data-author=bot]").last
        await card.get_by_label("職員").select_option(AKAGI.aad_object_id)
        await card.locator(".ac-pushButton", has_text="選ぶ").click()
        await expect(card.get_by_text(f"選ばれた職員: {AKAGI.aad_object_id}")).to_be_visible()
        await screenshot(page, "scripted-4-personal-chat")
        assert playground.services.actions[-1].data["person"] == AKAGI.aad_object_id


async def test_a_card_with_refresh_is_refreshed_once_for_its_listed_user(
    playground: RunningPlayground, browser: Any
) -> None:
    from playwright.async_api import expect

    async with chromium_page(browser, f"{playground.url}/playground?as={HARUNA.key}&place=personal") as page:
        await send(page, "状況")
        card = page.locator(".message[data-author=bot]")
        await expect(card.get_by_text("最新の状況")).to_be_visible()
        await page.wait_for_timeout(300)  # a second refresh would have been sent by now
        refreshes = [a for a in playground.services.actions if a.verb == "test.refresh"]
        assert [a.trigger for a in refreshes] == ["automatic"]
        assert refreshes[0].card_activity_id == await card.get_attribute("data-entry-id")


async def test_rule_edits_show_on_the_page(
    playground: RunningPlayground, rules_dir: Path, browser: Any
) -> None:
    from playwright.async_api import expect

    async with chromium_page(browser, f"{playground.url}/playground") as page:
        await expect(page.locator("#rules-status")).to_contain_text("読み込み済み")
        await page.locator("#rules-files button", has_text="local.yaml").click()
        await expect(page.locator("#rules-content")).to_contain_text("rules: []")

        rule_file = rules_dir / "local.yaml"
        rule_file.write_text(BROKEN_RULE, encoding="utf-8")
        os.utime(rule_file, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
        await expect(page.locator("#rules-status")).to_contain_text("エラー", timeout=8_000)
        errors = page.locator("#rules-errors")
        await expect(errors).to_contain_text("local.yaml:3 rules[0].kind")
        await expect(errors).to_contain_text("未知の項目です")
        await expect(page.locator("#rules-content")).to_contain_text("Bad_Id", timeout=8_000)
        await screenshot(page, "scripted-5-rule-errors")

        rule_file.write_text(VALID_RULE + "# fixed\n", encoding="utf-8")
        os.utime(rule_file, ns=(time.time_ns(), time.time_ns() + 4_000_000_000))
        await expect(page.locator("#rules-status")).to_contain_text("読み込み済み", timeout=8_000)
        await expect(page.locator("#rules-errors li")).to_have_count(0)
