"""End-to-end fixtures: the real app (real settings, services, SQLite, msal) against local stand-ins.

Every stand-in is a real server on 127.0.0.1: the OpenID/JWKS server signs the channel's tokens,
the HTTPS Entra stand-in issues the bot's outgoing tokens to the real msal client, the fake Bot
Connector records what the bot sends, and the Graph stand-in serves files and departments.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

import app as app_module
from bot.settings import load_settings
from tests.harness.entra import EntraStandIn
from tests.harness.fake_connector import FakeConnector, RecordedRequest
from tests.harness.graph import GraphStandIn
from tests.harness.openid_server import BOT_APP_ID, TENANT_ID, OpenIdStandIn
from tests.harness.tls import TestCA, shared_test_ca
from tests.storage.conftest import postgres_databases  # noqa: F401 - fixture re-exported here

BOT_SECRET = "e2e-client-secret-value"
BOT_ID = f"28:{BOT_APP_ID}"
TEAM_GROUP_ID = "7c1a3e55-1111-4a4a-9b9b-0123456789ab"
ADMIN_AAD = "aaaaaaaa-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Staff:
    """A member of staff as Teams names them."""

    teams_id: str
    aad: str
    name: str

    def account(self) -> dict[str, str]:
        """The ``from`` account of an activity."""
        return {"id": self.teams_id, "aadObjectId": self.aad, "name": self.name}


ALICE = Staff("29:1alice", "11111111-2222-4333-8444-555555555555", "前橋 花子")
BOB = Staff("29:1bob", "22222222-3333-4444-8555-666666666666", "赤城 一郎")


@dataclass
class Stack:
    """The app under test and its stand-ins."""

    url: str
    openid: OpenIdStandIn
    entra: EntraStandIn
    connector: FakeConnector
    graph: GraphStandIn
    session: aiohttp.ClientSession
    app: web.Application
    database_path: Path
    rules_dir: Path
    database_url: str
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_700_000_000_001))

    def next_id(self) -> str:
        """A fresh Teams message id."""
        return str(next(self.ids))

    def conversation(self, kind: str, *, thread_root: str | None = None) -> dict[str, Any]:
        """The ``conversation`` of a channel (thread), group chat or 1:1 chat."""
        if kind == "channel":
            conversation_id = "19:general@thread.tacv2"
            if thread_root:
                conversation_id += f";messageid={thread_root}"
            return {
                "id": conversation_id,
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT_ID,
            }
        if kind == "groupChat":
            return {
                "id": "19:group-chat@thread.v2",
                "conversationType": "groupChat",
                "isGroup": True,
                "tenantId": TENANT_ID,
            }
        return {"id": f"a:1personal-{kind}", "conversationType": "personal", "tenantId": TENANT_ID}

    def activity(
        self,
        text: str,
        *,
        kind: str = "channel",
        sender: Staff = ALICE,
        activity_type: str = "message",
        activity_id: str | None = None,
        thread_root: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A Teams activity as the channel would POST it (HTML text, channelData, ids)."""
        channel_data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
        if kind == "channel":
            channel_data |= {
                "team": {"id": "19:team@thread.tacv2", "aadGroupId": TEAM_GROUP_ID},
                "channel": {"id": "19:general@thread.tacv2"},
            }
        conversation = self.conversation(kind, thread_root=thread_root)
        if kind == "personal":
            conversation["id"] = f"a:1personal-{sender.teams_id}"
        activity: dict[str, Any] = {
            "type": activity_type,
            "id": activity_id or self.next_id(),
            "timestamp": "2026-11-25T01:00:00.000Z",
            "serviceUrl": self.connector.service_url,
            "channelId": "msteams",
            "from": sender.account(),
            "conversation": conversation,
            "recipient": {"id": BOT_ID, "name": "ポリシーボット"},
            "text": f"<p>{text}</p>",
            "textFormat": "xml",
            "locale": "ja-JP",
            "channelData": channel_data,
        }
        if thread_root:
            activity["replyToId"] = thread_root
        activity.update(extra)
        return activity

    def invoke(
        self,
        verb: str,
        data: dict[str, Any],
        *,
        card_activity_id: str,
        kind: str = "channel",
        sender: Staff = ALICE,
    ) -> dict[str, Any]:
        """An Action.Execute (``adaptiveCard/action``) invoke from a card's button."""
        activity = self.activity("", kind=kind, sender=sender, activity_type="invoke")
        activity.pop("text")
        activity.update(
            name="adaptiveCard/action",
            replyToId=card_activity_id,
            value={
                "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}},
                "trigger": "manual",
            },
        )
        return activity

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        """POST an activity with a freshly signed channel token; (status, JSON body or None)."""
        token = self.openid.authorization(service_url=activity.get("serviceUrl", self.connector.service_url))
        async with self.session.post(
            f"{self.url}/api/messages",
            data=json.dumps(activity),
            headers={"Authorization": token, "Content-Type": "application/json"},
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def settle(self, seconds: float = 0.3) -> None:
        """Give the send queue time to drain (the endpoint answers before sending)."""
        await asyncio.sleep(seconds)

    def cards_to(self, member_id: str | None = None) -> list[RecordedRequest]:
        """Activity POSTs carrying an Adaptive Card (optionally targeted at one member)."""
        found = []
        for request in self.connector.activity_posts():
            if not 200 <= request.status < 300:
                continue
            body = request.body or {}
            if not any(
                a.get("contentType") == "application/vnd.microsoft.card.adaptive"
                for a in body.get("attachments", [])
            ):
                continue
            if member_id is not None and (body.get("recipient") or {}).get("id") != member_id:
                continue
            found.append(request)
        return found


def card_of(request: RecordedRequest) -> dict[str, Any]:
    """The Adaptive Card in a recorded activity POST/PUT."""
    for attachment in (request.body or {}).get("attachments", []):
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            return attachment["content"]
    raise AssertionError("no card in the request")


def card_text(card: dict[str, Any]) -> str:
    """All text of a card, for assertions on wording."""
    return json.dumps(card, ensure_ascii=False)


def stack_settings(
    tmp_path: Path, openid: OpenIdStandIn, entra: EntraStandIn, graph: GraphStandIn, **overrides: Any
) -> dict[str, Any]:
    """The environment of the bot under test, as an operator would set it."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "MicrosoftAppId": BOT_APP_ID,
        "MicrosoftAppPassword": BOT_SECRET,
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT_ID,
        "ToBotFromChannelOpenIdMetadataUrl": openid.metadata_url,
        "ToChannelFromBotLoginUrl": entra.authority(TENANT_ID),
        "ALLOWED_TENANT_IDS": TENANT_ID,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "RULES_DIR": str(rules_dir),
        "DATA_DIR": str(tmp_path / "data"),
        "USER_KEY_SECRET": "e2e-user-key-secret-0123456789abcdef",
        "GRAPH_BASE_URL": graph.base_url,
        "WG_ADMIN_IDS": ADMIN_AAD,
        "HOWTO_URLS": json.dumps({"chat": "https://portal.example.jp/ms365/chat"}),
    }
    values |= overrides
    return values


async def query(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the bot's database (SQLite or PostgreSQL), read as an operator would."""
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(sa.text(sql))]
    finally:
        await engine.dispose()


async def count_rows(stack: Stack, table: str) -> int:
    """Rows in a table of the bot's database."""
    return int((await query(stack, f"select count(*) from {table}"))[0][0])


async def wait_for_rows(stack: Stack, table: str, count: int, timeout_s: float = 5.0) -> None:
    """Wait until ``table`` holds ``count`` rows (the bot writes after Teams answered the send)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await count_rows(stack, table) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{table} never reached {count} rows")
        await asyncio.sleep(0.05)


async def start_stack(tmp_path: Path, ca: TestCA, **overrides: Any) -> Stack:
    """Start the stand-ins and the real app (in-process, on an ephemeral port)."""
    openid = await OpenIdStandIn().start()
    entra = await EntraStandIn(client_id=BOT_APP_ID, client_secret=BOT_SECRET, tls=ca).start()
    graph = await GraphStandIn(token_validator=lambda token: entra.is_valid(token)).start()
    connector = await FakeConnector(tls=ca, token_validator=lambda token: entra.is_valid(token)).start()
    values = stack_settings(tmp_path, openid, entra, graph, **overrides)
    settings = load_settings(**values)
    application = await app_module.build_app(settings)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        openid=openid,
        entra=entra,
        connector=connector,
        graph=graph,
        session=aiohttp.ClientSession(),
        app=application,
        database_path=tmp_path / "bot.db",
        rules_dir=tmp_path / "rules",
        database_url=values["DATABASE_URL"],
    )
    stack._runner = runner  # type: ignore[attr-defined]
    return stack


async def stop_stack(stack: Stack) -> None:
    """Stop the app, then the stand-ins."""
    await stack.session.close()
    await stack._runner.cleanup()  # type: ignore[attr-defined]
    await stack.connector.stop()
    await stack.graph.stop()
    await stack.entra.stop()
    await stack.openid.close()


@pytest.fixture
def test_ca(monkeypatch: pytest.MonkeyPatch) -> TestCA:
    """The test CA, trusted by msal and aiohttp through the usual CA-bundle variables."""
    ca = shared_test_ca()
    for name, value in ca.env().items():
        monkeypatch.setenv(name, value)
    return ca


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stack(request: pytest.FixtureRequest, tmp_path: Path, test_ca: TestCA) -> AsyncIterator[Stack]:
    """The whole bot against its stand-ins, on SQLite and on PostgreSQL."""
    overrides = {}
    if request.param == "postgresql":
        databases = request.getfixturevalue("postgres_databases")
        url = await asyncio.to_thread(databases.create)  # it runs its own event loop
        overrides["DATABASE_URL"] = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    running = await start_stack(tmp_path, test_ca, **overrides)
    yield running
    await stop_stack(running)
