"""POST /api/messages over a real socket: protocol errors, routing of every Teams event to the
handler, invoke answers, redeliveries, local mode; plus the health, readiness and metrics routes."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest

from bot.domain import ConversationRef, InvokeResult, Outgoing
from bot.netutil import is_loopback
from tests.edge.conftest import BOT_ID, USER, RunningBot, bot_settings, make_activity, start_bot, stop_bot
from tests.harness.openid_server import TENANT_ID, OpenIdStandIn

# ----------------------------------------------------------------------------- protocol errors
PROTOCOL_ERRORS: list[tuple[str, Any, str, int]] = [
    ("malformed JSON", b'{"type": "message",', "application/json", 400),
    ("not UTF-8", b'{"text": "\xff\xfe"}', "application/json", 400),
    ("JSON array", b"[1, 2]", "application/json", 400),
    ("JSON string", b'"message"', "application/json", 400),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ("empty body", b"", "application/json", 400),
    ("form content type", b"type=message", "application/x-www-form-urlencoded", 415),
    ("text content type", b"{}", "text/plain", 415),
    ("over 256 KiB", json.dumps(make_activity(text="あ" * 90_000)).encode(), "application/json", 413),
]


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status"), PROTOCOL_ERRORS, ids=[r[0] for r in PROTOCOL_ERRORS]
)
async def test_protocol_errors(
    bot: RunningBot, case: str, body: bytes, content_type: str, status: int
) -> None:
    got, answer = await bot.post(body, content_type=content_type)
    assert got == status
    assert isinstance(answer, dict) and answer["error"]
    assert bot.handler.messages == []


async def test_chunked_body_over_limit_is_413(bot: RunningBot, openid: OpenIdStandIn) -> None:
    async def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"text": "'
        for _ in range(300):
            yield b"x" * 1024
        yield b'"}'

    async with bot.session.post(
        f"{bot.url}/api/messages",
        data=chunks(),
        headers={"Content-Type": "application/json", "Authorization": openid.authorization()},
    ) as response:
        assert response.status == 413


@pytest.mark.parametrize(
    "activity",
    [
        make_activity(type="somethingNew"),
        make_activity(type=42),
        make_activity(type="typing"),
        make_activity(type="messageReaction", reactionsAdded=[{"type": "like"}]),
        make_activity(
            type="messageDelete", channelData={"tenant": {"id": TENANT_ID}, "eventType": "softDeleteMessage"}
        ),
        make_activity(
            type="messageUpdate", channelData={"tenant": {"id": TENANT_ID}, "eventType": "softDeleteMessage"}
        ),
        make_activity(type="invoke", name="composeExtension/query", value={}),
        make_activity(
            type="conversationUpdate",
            channelData={"tenant": {"id": TENANT_ID}, "eventType": "channelRenamed"},
        ),
    ],
    ids=[
        "unknown",
        "non-string",
        "typing",
        "reaction",
        "delete",
        "soft delete update",
        "other invoke",
        "rename",
    ],
)
async def test_ignored_activities_get_an_empty_200(bot: RunningBot, activity: dict[str, Any]) -> None:
    assert await bot.post(activity) == (200, None)
    assert (bot.handler.messages, bot.handler.installs, bot.handler.actions) == ([], [], [])


async def test_message_without_conversation_is_400(bot: RunningBot) -> None:
    activity = make_activity(conversation={"tenantId": TENANT_ID})
    assert (await bot.post(activity))[0] == 400


# ----------------------------------------------------------------------------- messages
@pytest.mark.parametrize(
    ("kind", "conversation_id", "is_reply"),
    [
        ("channel", "19:abc@thread.tacv2;messageid=1700000000001", False),
        ("groupChat", "19:group@thread.v2", False),
        ("personal", "a:1personal", False),
    ],
)
async def test_each_conversation_type_reaches_the_handler(
    bot: RunningBot, kind: str, conversation_id: str, is_reply: bool
) -> None:
    activity = make_activity(
        kind,
        text="<at>ポリシーボット</at> <p>お疲れ様です。&amp; 資料は<b>こちら</b></p><div>よろしく</div>",
        entities=[
            {
                "type": "mention",
                "mentioned": {"id": BOT_ID, "name": "ポリシーボット"},
                "text": "<at>ポリシーボット</at>",
            }
        ],
    )
    assert await bot.post(activity) == (200, None)
    [message] = bot.handler.messages
    assert message.conversation.kind == kind
    assert message.conversation.conversation_id == conversation_id
    assert message.conversation.tenant_id == TENANT_ID
    assert message.conversation.bot_id == BOT_ID
    assert message.text == "お疲れ様です。& 資料はこちら\nよろしく"
    assert message.original_text == activity["text"]
    assert message.mentions_bot
    assert message.is_reply is is_reply
    assert not message.is_edit
    assert message.sender.teams_id == USER["id"]
    assert message.sender.aad_object_id == USER["aadObjectId"]
    if kind == "channel":
        assert (message.conversation.team_id, message.conversation.channel_id) == (
            "19:team@thread.tacv2",
            "19:abc@thread.tacv2",
        )
        assert message.conversation.team_aad_group_id == "7a1b2c3d-0000-4000-8000-00000000abcd"


@pytest.mark.parametrize(
    ("overrides", "is_reply"),
    [
        ({"id": "1700000000002"}, True),  # messageid in the conversation id names another root
        ({"replyToId": "1700000000001", "id": "1700000000003"}, True),
        ({}, False),  # the root post itself
    ],
)
async def test_replies_are_detected(bot: RunningBot, overrides: dict[str, Any], is_reply: bool) -> None:
    await bot.post(make_activity("channel", **overrides))
    [message] = bot.handler.messages
    assert message.is_reply is is_reply
    assert message.conversation.thread_root_id == "1700000000001"


async def test_attachments_are_passed_without_the_html_copy(bot: RunningBot) -> None:
    activity = make_activity(
        "personal",
        text="",
        attachments=[
            {"contentType": "text/html", "content": "<p>音声メモです</p>"},
            {
                "contentType": "application/vnd.microsoft.teams.file.download.info",
                "name": "memo.m4a",
                "contentUrl": "https://x/memo.m4a",
            },
        ],
    )
    await bot.post(activity)
    [message] = bot.handler.messages
    assert message.text == "音声メモです"
    assert [(a.name, a.content_url) for a in message.attachments] == [("memo.m4a", "https://x/memo.m4a")]


@pytest.mark.parametrize(
    "sender",
    [{"id": BOT_ID}, {"id": "28:another-bot"}, {"id": "29:x", "role": "bot"}],
    ids=["itself", "another bot", "role bot"],
)
async def test_bots_are_ignored(bot: RunningBot, sender: dict[str, Any]) -> None:
    activity = make_activity()
    activity["from"] = sender
    assert await bot.post(activity) == (200, None)
    assert bot.handler.messages == []


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("messageUpdate", "editMessage"),
        ("messageUpdate", None),
        ("message", "editMessage"),
        ("messageUpdate", "undeleteMessage"),
    ],
)
async def test_edits_are_rechecked(bot: RunningBot, kind: str, event: str | None) -> None:
    channel_data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
    if event:
        channel_data["eventType"] = event
    await bot.post(make_activity("groupChat", type=kind, channelData=channel_data))
    [message] = bot.handler.messages
    assert message.is_edit


async def test_successive_edits_are_each_handled(bot: RunningBot) -> None:
    data = {"tenant": {"id": TENANT_ID}, "eventType": "editMessage"}
    for stamp in ("2026-11-25T01:00:01Z", "2026-11-25T01:00:02Z", "2026-11-25T01:00:02Z"):
        await bot.post(make_activity(type="messageUpdate", channelData=data, timestamp=stamp))
    assert len(bot.handler.messages) == 2


async def test_handler_replies_are_queued_not_sent(bot: RunningBot) -> None:
    reply = Outgoing(conversation=ConversationRef("a:1personal", "personal", "https://x/"), text="hi")
    bot.handler.replies = (reply, reply)
    await bot.post(make_activity("personal"))
    assert bot.sender.queued == [reply, reply]


async def test_full_send_queue_is_counted_not_fatal(bot: RunningBot) -> None:
    bot.handler.replies = (
        Outgoing(conversation=ConversationRef("a:1", "personal", "https://x/"), text="hi"),
    )
    bot.sender.full = True
    assert await bot.post(make_activity("personal")) == (200, None)
    _, text = await bot.get("/metrics")
    assert "outgoing_rejected_total 1.0" in text


async def test_handler_failure_is_logged_and_answered_cleanly(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.handler.fail = True
    assert await bot.post(make_activity()) == (200, None)
    assert "event handler failed on message" in caplog.text
    _, text = await bot.get("/metrics")
    assert 'handler_errors_total{event="message"} 1.0' in text


# ----------------------------------------------------------------------------- redelivery
async def test_redelivered_activity_is_handled_once(bot: RunningBot) -> None:
    activity = make_activity()
    answers = await asyncio.gather(*(bot.post(activity) for _ in range(5)))
    answers.append(await bot.post(activity))
    assert answers == [(200, None)] * 6
    assert len(bot.handler.messages) == 1
    await bot.post(make_activity(id="1700000000099"))
    assert len(bot.handler.messages) == 2


# ----------------------------------------------------------------------------- installs
async def test_installation_update_is_recorded(bot: RunningBot) -> None:
    activity = make_activity("personal", type="installationUpdate", action="add", text=None)
    assert await bot.post(activity) == (200, None)
    [event] = bot.handler.installs
    assert (event.action, event.bot_added, event.conversation.conversation_id) == ("add", True, "a:1personal")
    assert event.actor is not None and event.actor.teams_id == USER["id"]


async def test_bot_added_to_team_is_recorded_with_new_members(bot: RunningBot) -> None:
    activity = make_activity(
        "channel",
        type="conversationUpdate",
        membersAdded=[
            {"id": BOT_ID},
            {"id": "29:newcomer", "aadObjectId": "99999999-2222-3333-4444-555555555555"},
        ],
        channelData={
            "tenant": {"id": TENANT_ID},
            "eventType": "teamMemberAdded",
            "team": {"id": "19:team@thread.tacv2"},
        },
    )
    await bot.post(activity)
    [event] = bot.handler.installs
    assert event.bot_added
    assert [m.teams_id for m in event.added_members] == ["29:newcomer"]
    assert event.conversation.team_id == "19:team@thread.tacv2"


async def test_uninstall_is_recorded(bot: RunningBot) -> None:
    await bot.post(make_activity("personal", type="installationUpdate", action="remove-upgrade"))
    [event] = bot.handler.installs
    assert (event.action, event.bot_added) == ("remove", False)


# ----------------------------------------------------------------------------- invokes
def _card_invoke(**value: Any) -> dict[str, Any]:
    return make_activity(
        "channel",
        type="invoke",
        id="f:invoke-1",
        name="adaptiveCard/action",
        replyToId="1700000000005",
        value={
            "action": {"type": "Action.Execute", "verb": "nudge.ack", "data": {"finding": "k1"}},
            "trigger": "manual",
            **value,
        },
    )


async def test_action_execute_is_answered_with_a_card(bot: RunningBot) -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "ありがとうございます"}],
    }
    bot.handler.invoke_result = InvokeResult(card=card)
    status, body = await bot.post(_card_invoke())
    assert status == 200
    assert body == {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}
    [action] = bot.handler.actions
    assert (action.verb, action.data, action.card_activity_id) == (
        "nudge.ack",
        {"finding": "k1"},
        "1700000000005",
    )


async def test_action_execute_answered_with_a_message(bot: RunningBot) -> None:
    bot.handler.invoke_result = InvokeResult(message="受け付けました")
    assert await bot.post(_card_invoke()) == (
        200,
        {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "受け付けました"},
    )


async def test_redelivered_invoke_gets_the_same_answer(bot: RunningBot) -> None:
    first, second = await asyncio.gather(bot.post(_card_invoke()), bot.post(_card_invoke()))
    assert first == second and first[0] == 200
    assert len(bot.handler.actions) == 1


@pytest.mark.parametrize(
    ("setup", "value", "code"),
    [
        ("fail", {}, 500),
        ("refuse", {}, 403),
        (None, {"action": {"type": "Action.Execute"}}, 400),
        (None, {"action": "nonsense"}, 400),
    ],
    ids=["handler raises", "handler refuses", "no verb", "action not an object"],
)
async def test_invoke_errors_use_the_universal_actions_error_shape(
    bot: RunningBot, setup: str | None, value: dict[str, Any], code: int
) -> None:
    if setup == "fail":
        bot.handler.fail = True
    if setup == "refuse":
        bot.handler.invoke_result = InvokeResult(status=403, error_code=403, error_message="権限がありません")
    status, body = await bot.post(_card_invoke(**value))
    assert status == 200
    assert (body["statusCode"], body["type"]) == (code, "application/vnd.microsoft.error")


# ----------------------------------------------------------------------------- local mode
async def test_local_mode_accepts_loopback_without_a_token(local_bot: RunningBot) -> None:
    assert await local_bot.post(make_activity("personal"), authorization=None) == (200, None)
    assert len(local_bot.handler.messages) == 1


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent; this only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_local_mode_refuses_other_hosts() -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    bot = await start_bot(bot_settings(None, HOST="0.0.0.0"), None)
    try:
        port = bot.url.rsplit(":", 1)[1]
        bot.url = f"http://{address}:{port}"
        try:
            status, body = await bot.post(make_activity("personal"), authorization=None)
        except aiohttp.ClientConnectorError:
            pytest.skip(f"this sandbox cannot connect to its own address {address}")
        assert (status, body["error"]) == (401, "not_loopback")
    finally:
        await stop_bot(bot)


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("10.0.0.1", False),
        ("fd00::2", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_loopback_addresses(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback


async def test_local_mode_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    bot = await start_bot(bot_settings(None), None)
    await stop_bot(bot)
    assert "LOCAL MODE" in caplog.text


# ----------------------------------------------------------------------------- health, readiness, metrics
async def test_healthz(bot: RunningBot) -> None:
    assert await bot.get("/healthz") == (200, '{"status": "alive"}')


async def test_readyz_reports_each_check(openid: OpenIdStandIn) -> None:
    async def rules_loaded() -> bool:
        return True

    async def database_reachable() -> None:
        raise ConnectionRefusedError("127.0.0.1:5432")

    bot = await start_bot(
        bot_settings(openid), openid, readiness_checks={"rules": rules_loaded, "database": database_reachable}
    )
    try:
        status, text = await bot.get("/readyz")
        assert status == 503
        detail = json.loads(text)
        assert detail["ready"] is False
        assert detail["checks"]["rules"] == "ok"
        assert detail["checks"]["database"].startswith("failed: ConnectionRefusedError")
    finally:
        await stop_bot(bot)


async def test_readyz_includes_the_signing_keys(bot: RunningBot) -> None:
    status, text = await bot.get("/readyz")
    assert (status, json.loads(text)) == (200, {"ready": True, "checks": {"signing_keys": "ok"}})


async def test_readyz_not_ready_while_signing_keys_cannot_be_fetched(openid: OpenIdStandIn) -> None:
    openid.fail_with = 503
    bot = await start_bot(bot_settings(openid), openid)
    try:
        status, text = await bot.get("/readyz")
        assert (status, json.loads(text)["checks"]["signing_keys"]) == (503, "not ready")
    finally:
        await stop_bot(bot)


async def test_metrics_expose_requests_latency_and_activities(bot: RunningBot) -> None:
    await bot.post(make_activity())
    await bot.post(make_activity(type="typing", id="t1"))
    status, text = await bot.get("/metrics")
    assert status == 200
    for line in (
        'http_requests_total{route="/api/messages",status="200"} 2.0',
        'http_request_duration_seconds_count{route="/api/messages"} 2.0',
        'activities_total{type="message"} 1.0',
        'activities_total{type="typing"} 1.0',
        "# TYPE nudges_total counter",
        "# TYPE outgoing_calls_total counter",
        "# TYPE outgoing_retries_total counter",
    ):
        assert line in text


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_a_body_not_in_its_declared_encoding_is_400(
    bot: RunningBot, openid: OpenIdStandIn, encoding: str
) -> None:
    async with bot.session.post(
        f"{bot.url}/api/messages",
        data=json.dumps(make_activity()).encode(),
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": encoding,
            "Authorization": openid.authorization(),
        },
    ) as response:
        assert response.status < 500
        assert response.status in (400, 415)
        assert response.status == 400  # the body cannot be read as declared: a bad request
    assert bot.handler.messages == []
