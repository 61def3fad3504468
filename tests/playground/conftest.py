"""Fixtures: the real app in local mode with the playground, on an ephemeral loopback port.

``playground`` runs the real web app (``bot.web.create_app``), the real outbound sender
(``TeamsSender`` over ``ConnectorClient``, no token: local mode) and the playground, with a
small scripted event handler standing in for the services (nudges, nominations), which have
their own tests. ``tests/playground/test_services_e2e.py`` drives the real services instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.domain import CardAction, Delivery, IncomingMessage, InstallEvent, InvokeResult, Outgoing
from bot.playground import PLAYGROUND_KEY, Playground, setup_playground
from bot.playground.rules import reloading_rules_status
from bot.settings import load_settings
from bot.teams.outbound.connector import ConnectorClient
from bot.teams.outbound.http import make_connector_http
from bot.teams.outbound.sender import TeamsSender
from bot.web import create_app
from policy_rules.reload import ReloadingRuleSet

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "playground"

VALID_RULE = "# 空のルールファイル（テスト用）\nrules: []\n"
BROKEN_RULE = "rules:\n  - id: Bad_Id\n    kind: nope\n"


def nudge_card(label: str) -> dict[str, Any]:
    """A small card with one Action.Execute button and one text input."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": label, "wrap": True, "weight": "Bolder"},
            {
                "type": "Input.Text",
                "id": "comment",
                "label": "ひとこと",
                "isRequired": True,
                "errorMessage": "ひとこと を入力してください",
            },
        ],
        "actions": [
            {
                "type": "Action.Execute",
                "title": "今日はもう表示しない",
                "verb": "nudge.snooze_today",
                "data": {"verb": "nudge.snooze_today", "rule": "greeting"},
            },
            {
                "type": "Action.Execute",
                "title": "更新してもらう",
                "verb": "test.put",
                "data": {"verb": "test.put"},
            },
        ],
    }


def people_picker_card() -> dict[str, Any]:
    """A card with Teams' people picker (Data.Query on Graph users), as the WG form has."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {
                "type": "Input.ChoiceSet",
                "id": "person",
                "label": "職員",
                "choices": [],
                "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
            }
        ],
        "actions": [
            {"type": "Action.Execute", "title": "選ぶ", "verb": "test.pick", "data": {"verb": "test.pick"}}
        ],
    }


def refreshing_card(label: str, user_id: str) -> dict[str, Any]:
    """A card that asks Teams to refresh it (Universal Actions) when ``user_id`` opens it."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "refresh": {
            "action": {"type": "Action.Execute", "verb": "test.refresh", "data": {"verb": "test.refresh"}},
            "userIds": [user_id],
        },
        "body": [{"type": "TextBlock", "text": label}],
    }


def confirmation_card(text: str) -> dict[str, Any]:
    """What a clicked card turns into."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
    }


class ScriptedServices:
    """An EventHandler answering like the services would, recording what reached it."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.installs: list[InstallEvent] = []
        self.actions: list[CardAction] = []

    def clear(self) -> None:
        """Forget what reached the services."""
        self.messages.clear()
        self.installs.clear()
        self.actions.clear()

    async def on_message(self, message: IncomingMessage) -> Sequence[Outgoing]:
        self.messages.append(message)
        if "お疲れ様です" in message.text:
            return [
                Outgoing(
                    conversation=message.conversation,
                    card=nudge_card("あいさつだけのメッセージは省略できます"),
                    delivery=Delivery.TARGETED,
                    recipient=message.sender,
                )
            ]
        if message.conversation.kind == "personal" and message.text == "状況":
            return [
                Outgoing(
                    conversation=message.conversation,
                    card=refreshing_card("古い状況", message.sender.teams_id),
                )
            ]
        if message.conversation.kind == "personal" and "ピッカー" in message.text:
            return [Outgoing(conversation=message.conversation, card=people_picker_card())]
        if message.conversation.kind == "personal":
            return [Outgoing(conversation=message.conversation, text="受け取りました")]
        return []

    async def on_install(self, event: InstallEvent) -> Sequence[Outgoing]:
        self.installs.append(event)
        if event.bot_added and event.conversation.kind == "personal":
            return [Outgoing(conversation=event.conversation, text="ようこそ")]
        return []

    async def on_card_action(self, action: CardAction) -> tuple[InvokeResult, Sequence[Outgoing]]:
        self.actions.append(action)
        if action.verb == "nudge.snooze_today":
            return InvokeResult(card=confirmation_card("今日はこのヒントを表示しません")), []
        if action.verb == "test.put" and action.card_activity_id:
            update = Outgoing(
                conversation=action.conversation,
                card=confirmation_card("ボットが PUT で更新しました"),
                delivery=Delivery.TARGETED,
                recipient=action.sender,
                replaces_activity_id=action.card_activity_id,
            )
            return InvokeResult(message="更新します"), [update]
        if action.verb == "test.refresh":
            return InvokeResult(card=refreshing_card("最新の状況", action.sender.teams_id)), []
        if action.verb == "test.pick":
            return InvokeResult(card=confirmation_card(f"選ばれた職員: {action.data.get('person', '')}")), []
        return InvokeResult(status=400, error_code=400, error_message="このボタンは現在使えません。"), []


class RulesUnderTest:
    """The real hot-reloading rule set over a temporary directory, with the status the page reads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rules = ReloadingRuleSet([directory])

    def status(self) -> dict[str, Any]:
        return reloading_rules_status(self.rules)


@dataclass
class RunningPlayground:
    """The app under test on 127.0.0.1:<port>."""

    url: str
    app: web.Application
    playground: Playground
    services: ScriptedServices
    rules: RulesUnderTest
    session: aiohttp.ClientSession
    extra: dict[str, Any] = field(default_factory=dict)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST JSON; (status, parsed body or None)."""
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        async with self.session.post(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def get_json(self, path: str) -> tuple[int, Any]:
        """GET; (status, parsed body)."""
        async with self.session.get(self.url + path) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def reset(self) -> None:
        """Start a test afresh: nothing left to send, no conversations, the valid rule file only."""
        sender: TeamsSender = self.extra["sender"]
        await sender.stop(drain=True, timeout_s=5)
        await sender.start()
        self.playground.store.clear()
        self.services.clear()
        for path in self.rules.directory.iterdir():
            if path.name != "local.yaml":
                path.unlink()
        rule_file = self.rules.directory / "local.yaml"
        if rule_file.read_text(encoding="utf-8") != VALID_RULE:
            rule_file.write_text(VALID_RULE, encoding="utf-8")
        self.rules.rules.check_for_changes()
        assert not self.rules.rules.errors

    async def entries(self, viewer: str) -> list[dict[str, Any]]:
        """What the persona's page shows."""
        status, body = await self.get_json(f"/playground/api/entries?viewer={viewer}")
        assert status == 200, body
        return list(body["entries"])


async def start_playground(rules_dir: Path) -> RunningPlayground:
    """The real app (local mode) with the real sender and the playground, on an ephemeral port."""
    settings = load_settings(ENVIRONMENT="test")
    assert settings.local_mode
    services = ScriptedServices()
    http = make_connector_http()
    sender = TeamsSender(ConnectorClient(http, None))
    rules = RulesUnderTest(rules_dir)

    async def run_sender() -> None:
        await sender.start()

    async def close() -> None:
        await sender.stop(drain=False)
        await http.close()

    app = create_app(
        settings, handler=services, sender=sender, background_tasks=[run_sender], cleanup=[close]
    )
    setup_playground(app, rules_dir=rules_dir, rules_status=rules.status)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = aiohttp.ClientSession()
    running = RunningPlayground(f"http://127.0.0.1:{port}", app, app[PLAYGROUND_KEY], services, rules, client)
    running.extra["runner"] = runner
    running.extra["sender"] = sender
    return running


async def stop_playground(running: RunningPlayground) -> None:
    """Close the client and the app."""
    await running.session.close()
    await running.extra["runner"].cleanup()


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    (directory / "local.yaml").write_text(VALID_RULE, encoding="utf-8")
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_playground(rules_dir: Path) -> AsyncIterator[RunningPlayground]:
    """One app per module (starting one costs more than most tests); tests run in the module's loop."""
    running = await start_playground(rules_dir)
    yield running
    await stop_playground(running)


@pytest_asyncio.fixture(loop_scope="module")
async def playground(shared_playground: RunningPlayground) -> RunningPlayground:
    """The module's app, with empty conversations, fresh recordings and the valid rule file."""
    await shared_playground.reset()
    return shared_playground
