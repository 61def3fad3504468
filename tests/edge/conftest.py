"""Fixtures for the inbound edge: the real app on an ephemeral port, the OpenID stand-in, and
a recording event handler / sender (replaced by the real services in the end-to-end tests)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.domain import CardAction, IncomingMessage, InstallEvent, InvokeResult, Outgoing
from bot.ports import SendResult
from bot.settings import Settings, load_settings
from bot.web import create_app
from tests.harness.openid_server import BOT_APP_ID, SERVICE_URL, TENANT_ID, OpenIdStandIn

BOT_ID = f"28:{BOT_APP_ID}"
USER = {"id": "29:1user-abc", "aadObjectId": "11111111-2222-3333-4444-555555555555", "name": "前橋 太郎"}


class RecordingHandler:
    """An EventHandler that records what reached it and answers with preset values."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.installs: list[InstallEvent] = []
        self.actions: list[CardAction] = []
        self.replies: Sequence[Outgoing] = ()
        self.invoke_result = InvokeResult(card={"type": "AdaptiveCard", "version": "1.5", "body": []})
        self.fail = False

    async def on_message(self, message: IncomingMessage) -> Sequence[Outgoing]:
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("handler bug")
        return self.replies

    async def on_install(self, event: InstallEvent) -> Sequence[Outgoing]:
        self.installs.append(event)
        return self.replies

    async def on_card_action(self, action: CardAction) -> tuple[InvokeResult, Sequence[Outgoing]]:
        self.actions.append(action)
        if self.fail:
            raise RuntimeError("handler bug")
        return self.invoke_result, self.replies


class RecordingSender:
    """An OutboundSender that records what was queued."""

    def __init__(self) -> None:
        self.queued: list[Outgoing] = []
        self.full = False

    async def send(self, outgoing: Outgoing) -> SendResult:
        raise AssertionError("the edge must not send on the request path")

    def enqueue(self, outgoing: Outgoing) -> bool:
        if self.full:
            return False
        self.queued.append(outgoing)
        return True


@dataclass
class RunningBot:
    """The app under test, listening on 127.0.0.1:<port>."""

    url: str
    handler: RecordingHandler
    sender: RecordingSender
    openid: OpenIdStandIn | None
    session: aiohttp.ClientSession
    app: web.Application
    runner: web.AppRunner

    async def post(
        self,
        activity: dict[str, Any] | bytes | str,
        *,
        authorization: str | None = "auto",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """POST to /api/messages; returns (status, parsed JSON or raw text or None)."""
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if authorization == "auto":
            authorization = self.openid.authorization() if self.openid else None
        if authorization is not None:
            all_headers["Authorization"] = authorization
        body = activity if isinstance(activity, bytes | str) else json.dumps(activity)
        async with self.session.post(f"{self.url}/api/messages", data=body, headers=all_headers) as response:
            text = await response.text()
            if not text:
                return response.status, None
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def get(self, path: str) -> tuple[int, str]:
        """GET a path; (status, text)."""
        async with self.session.get(f"{self.url}{path}") as response:
            return response.status, await response.text()


def make_activity(kind: str = "channel", **overrides: Any) -> dict[str, Any]:
    """A Teams message activity in a channel, group chat or 1:1 chat."""
    conversation: dict[str, Any]
    channel_data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
    if kind == "channel":
        conversation = {
            "id": "19:abc@thread.tacv2;messageid=1700000000001",
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT_ID,
        }
        channel_data |= {
            "team": {"id": "19:team@thread.tacv2", "aadGroupId": "7a1b2c3d-0000-4000-8000-00000000abcd"},
            "channel": {"id": "19:abc@thread.tacv2"},
        }
    elif kind == "groupChat":
        conversation = {
            "id": "19:group@thread.v2",
            "conversationType": "groupChat",
            "isGroup": True,
            "tenantId": TENANT_ID,
        }
    else:
        conversation = {"id": "a:1personal", "conversationType": "personal", "tenantId": TENANT_ID}
    activity: dict[str, Any] = {
        "type": "message",
        "id": "1700000000001",
        "timestamp": "2026-11-25T01:00:00.000Z",
        "serviceUrl": SERVICE_URL,
        "channelId": "msteams",
        "from": copy.deepcopy(USER),
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": "ポリシーボット"},
        "text": "<p>会議の資料を共有します</p>",
        "textFormat": "plain",
        "locale": "ja-JP",
        "channelData": channel_data,
    }
    activity.update(overrides)
    return activity


def bot_settings(openid: OpenIdStandIn | None, **overrides: Any) -> Settings:
    """Real settings pointing at the stand-in (local mode when openid is None)."""
    values: dict[str, Any] = {"ENVIRONMENT": "test"}
    if openid is not None:
        values |= {
            "MicrosoftAppId": openid.app_id,
            "MicrosoftAppPassword": "not-used-by-the-inbound-edge",
            "ToBotFromChannelOpenIdMetadataUrl": openid.metadata_url,
        }
    values |= overrides
    return load_settings(**values)


async def start_bot(settings: Settings, openid: OpenIdStandIn | None, **app_options: Any) -> RunningBot:
    """Start the real app on an ephemeral loopback port."""
    handler, sender = RecordingHandler(), RecordingSender()
    app = create_app(settings, handler=handler, sender=sender, **app_options)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession()
    return RunningBot(f"http://127.0.0.1:{port}", handler, sender, openid, session, app, runner)


async def stop_bot(bot: RunningBot) -> None:
    """Stop the app and close the client session."""
    await bot.session.close()
    await bot.runner.cleanup()


@pytest.fixture
async def openid() -> AsyncIterator[OpenIdStandIn]:
    stand_in = await OpenIdStandIn().start()
    yield stand_in
    await stand_in.close()


@pytest.fixture
async def bot(openid: OpenIdStandIn) -> AsyncIterator[RunningBot]:
    running = await start_bot(bot_settings(openid, ALLOWED_TENANT_IDS=TENANT_ID), openid)
    yield running
    await stop_bot(running)


@pytest.fixture
async def local_bot() -> AsyncIterator[RunningBot]:
    running = await start_bot(bot_settings(None), None)
    yield running
    await stop_bot(running)
