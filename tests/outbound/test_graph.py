"""GraphClient against the HTTPS Graph stand-in, with a real msal app token for Graph."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.graph import GraphClient, attachments_from_message, content_type_for_name
from bot.teams.outbound import GRAPH_SCOPE, TokenProvider
from tests.harness.entra import EntraStandIn
from tests.harness.graph import GraphStandIn, file_attachment
from tests.harness.tls import TestCA
from tests.outbound.conftest import APP_ID, APP_SECRET

TEAM = "aad-group-1"
CHANNEL = "19:general@thread.tacv2"


@pytest.fixture
def graph_tokens(entra: EntraStandIn) -> Iterator[TokenProvider]:
    provider = TokenProvider(
        APP_ID, APP_SECRET, tenant="city", authority=entra.authority("city"), scope=GRAPH_SCOPE
    )
    yield provider
    provider.close()


@pytest.fixture
async def graph_server(ca_env: TestCA, entra: EntraStandIn) -> AsyncIterator[GraphStandIn]:
    async with GraphStandIn(tls=ca_env, token_validator=lambda t: entra.is_valid(t, GRAPH_SCOPE)) as server:
        yield server


@pytest.fixture
def graph(
    session: aiohttp.ClientSession, graph_tokens: TokenProvider, graph_server: GraphStandIn
) -> GraphClient:
    return GraphClient(session, graph_tokens.get_token, base_url=graph_server.base_url)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("会議録音.m4a", "audio/mp4"),
        ("memo.MP3", "audio/mpeg"),
        ("voice.wav", "audio/wav"),
        ("rec.webm", "audio/webm"),
        ("report.pdf", "application/pdf"),
        ("no-extension", "application/octet-stream"),
        ("weird.zzz", "application/octet-stream"),
    ],
)
def test_content_type_for_name(name: str, expected: str) -> None:
    assert content_type_for_name(name) == expected


def test_attachments_from_message_keeps_cards_and_maps_files() -> None:
    message = {
        "attachments": [
            file_attachment("録音.m4a"),
            {"contentType": "reference", "contentUrl": "https://x/sites/a/Shared%20Documents/b.mp3?web=1"},
            {"contentType": "application/vnd.microsoft.card.adaptive", "name": None},
            "garbage",
        ]
    }
    assert attachments_from_message(message) == [
        ("audio/mp4", "録音.m4a"),
        ("audio/mpeg", "b.mp3"),
        ("application/vnd.microsoft.card.adaptive", ""),
    ]


async def test_channel_reply_attachments(graph: GraphClient, graph_server: GraphStandIn) -> None:
    graph_server.add_channel_message(TEAM, CHANNEL, "1702", [file_attachment("議事録.m4a")], root_id="1700")
    found = await graph.channel_message_attachments(TEAM, CHANNEL, "1702", root_id="1700")
    assert found == [("audio/mp4", "議事録.m4a")]
    (request,) = graph_server.requests
    assert request.path == f"/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages/1700/replies/1702"
    assert request.status == 200


async def test_channel_post_attachments(graph: GraphClient, graph_server: GraphStandIn) -> None:
    graph_server.add_channel_message(
        TEAM, CHANNEL, "1700", [file_attachment("a.mp3"), file_attachment("b.docx")]
    )
    found = await graph.channel_message_attachments(TEAM, CHANNEL, "1700", root_id="1700")
    assert found == [
        ("audio/mpeg", "a.mp3"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "b.docx"),
    ]


async def test_chat_message_attachments(graph: GraphClient, graph_server: GraphStandIn) -> None:
    graph_server.add_chat_message("19:group@thread.v2", "1800", [file_attachment("voice.wav")])
    assert await graph.chat_message_attachments("19:group@thread.v2", "1800") == [("audio/wav", "voice.wav")]


async def test_department_is_read_once_then_cached(graph: GraphClient, graph_server: GraphStandIn) -> None:
    graph_server.add_user("aad-alice", "情報政策課", displayName="Alice")
    assert await graph.user_department("aad-alice") == "情報政策課"
    assert await graph.user_department("aad-alice") == "情報政策課"
    (request,) = graph_server.requests
    assert request.query == {"$select": "department"}


async def test_unknown_user_has_no_department(graph: GraphClient) -> None:
    assert await graph.user_department("nobody") is None


@pytest.mark.parametrize("status", [403, 429, 500, 503])
async def test_graph_failure_returns_empty_without_raising(
    status: int, graph: GraphClient, graph_server: GraphStandIn
) -> None:
    graph_server.add_chat_message("19:g@thread.v2", "1", [file_attachment("x.m4a")])
    graph_server.add_user("aad-bob", "財政課")
    graph_server.fail_next(status, 2)
    assert await graph.chat_message_attachments("19:g@thread.v2", "1") == []
    assert await graph.user_department("aad-bob") is None
    # A failure is not cached: the next read succeeds.
    assert await graph.user_department("aad-bob") == "財政課"


async def test_missing_message_returns_empty(graph: GraphClient) -> None:
    assert await graph.channel_message_attachments(TEAM, CHANNEL, "404") == []


async def test_graph_unreachable_or_token_failure_returns_empty(
    session: aiohttp.ClientSession,
    graph_tokens: TokenProvider,
    entra: EntraStandIn,
    graph_server: GraphStandIn,
) -> None:
    graph_server.add_chat_message("19:g@thread.v2", "1", [file_attachment("x.m4a")])
    wrong_secret = TokenProvider(APP_ID, "wrong", authority=entra.authority(), scope=GRAPH_SCOPE)
    try:
        no_token = GraphClient(session, wrong_secret.get_token, base_url=graph_server.base_url)
        assert await no_token.chat_message_attachments("19:g@thread.v2", "1") == []
    finally:
        wrong_secret.close()
    bot_framework_token = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())  # wrong audience
    try:
        wrong_scope = GraphClient(session, bot_framework_token.get_token, base_url=graph_server.base_url)
        assert await wrong_scope.chat_message_attachments("19:g@thread.v2", "1") == []
        assert graph_server.requests[-1].status == 401
    finally:
        bot_framework_token.close()
    base = graph_server.base_url
    await graph_server.stop()
    gone = GraphClient(session, graph_tokens.get_token, base_url=base)
    assert await gone.chat_message_attachments("19:g@thread.v2", "1") == []
