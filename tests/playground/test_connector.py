"""The Bot Connector stand-in, over real sockets: it answers like the real service and records."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.playground.personas import CHANNEL_ID, GROUP_CHAT_ID, SAMPLE_PERSONAS
from bot.playground.web import _guarded
from tests.playground.conftest import RunningPlayground

AKAGI, HARUNA = SAMPLE_PERSONAS[0], SAMPLE_PERSONAS[1]

# The module shares one app (see conftest.py), so its tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")
CONNECTOR = "/playground/connector/v3/conversations"


def activities_path(conversation_id: str, activity_id: str | None = None) -> str:
    path = f"{CONNECTOR}/{quote(conversation_id, safe='')}/activities"
    return path + (f"/{quote(activity_id, safe='')}" if activity_id else "")


def card(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.5",
                    "body": [{"type": "TextBlock", "text": text}],
                },
            }
        ],
    }


async def call(pg: RunningPlayground, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with pg.session.request(method, pg.url + path, json=body) as response:
        text = await response.text()
        try:
            return response.status, (await response.json(content_type=None)) if text else None
        except ValueError:
            return response.status, text


async def test_send_records_and_returns_an_id(playground: RunningPlayground) -> None:
    status, body = await call(
        playground, "POST", activities_path(GROUP_CHAT_ID), {"type": "message", "text": "こんにちは"}
    )
    assert status == 201
    entries = await playground.entries(AKAGI.key)
    assert [(e["id"], e["author"], e["activity"]["text"]) for e in entries] == [
        (body["id"], "bot", "こんにちは")
    ]
    assert entries[0]["conversation_id"] == GROUP_CHAT_ID


async def test_ids_are_unique(playground: RunningPlayground) -> None:
    ids = set()
    for _ in range(20):
        _, body = await call(
            playground, "POST", activities_path(GROUP_CHAT_ID), {"type": "message", "text": "x"}
        )
        ids.add(body["id"])
    assert len(ids) == 20


async def test_targeted_message_is_seen_by_its_recipient_alone(playground: RunningPlayground) -> None:
    thread = f"{CHANNEL_ID};messageid=1700000000000"
    path = activities_path(thread) + "?isTargetedActivity=true"
    status, body = await call(
        playground, "POST", path, {**card("ヒント"), "recipient": {"id": AKAGI.teams_id}}
    )
    assert status == 201
    mine = await playground.entries(AKAGI.key)
    assert [(e["id"], e["targeted"], e["thread_root_id"]) for e in mine] == [
        (body["id"], True, "1700000000000")
    ]
    assert await playground.entries(HARUNA.key) == []


async def test_reply_goes_into_the_thread(playground: RunningPlayground) -> None:
    status, body = await call(
        playground,
        "POST",
        activities_path(f"{CHANNEL_ID};messageid=42", "42"),
        {"type": "message", "text": "返信"},
    )
    assert status == 201
    (entry,) = await playground.entries(AKAGI.key)
    assert (entry["id"], entry["conversation_id"], entry["thread_root_id"]) == (body["id"], CHANNEL_ID, "42")


async def test_update_replaces_and_delete_removes(playground: RunningPlayground) -> None:
    _, sent = await call(playground, "POST", activities_path(GROUP_CHAT_ID), card("前"))
    path = activities_path(GROUP_CHAT_ID, sent["id"])
    status, body = await call(playground, "PUT", path, card("後"))
    assert (status, body) == (200, {"id": sent["id"]})
    (entry,) = await playground.entries(AKAGI.key)
    assert entry["version"] == 2
    assert entry["activity"]["attachments"][0]["content"]["body"][0]["text"] == "後"
    status, _ = await call(playground, "DELETE", path)
    assert status == 200
    (entry,) = await playground.entries(AKAGI.key)
    assert entry["deleted"] and entry["activity"] == {}


@pytest.mark.parametrize("member_id", [HARUNA.teams_id, HARUNA.aad_object_id, HARUNA.aad_object_id.upper()])
async def test_create_conversation_gives_the_personas_own_chat(
    playground: RunningPlayground, member_id: str
) -> None:
    body = {"isGroup": False, "bot": {"id": "28:bot"}, "members": [{"id": member_id}], "tenantId": "t"}
    status, created = await call(playground, "POST", CONNECTOR, body)
    assert (status, created) == (201, {"id": HARUNA.personal_conversation_id()})
    again = await call(playground, "POST", CONNECTOR, body)
    assert again == (201, created)
    status, _ = await call(
        playground, "POST", activities_path(created["id"]), {"type": "message", "text": "1:1です"}
    )
    assert status == 201
    theirs = await playground.entries(HARUNA.key)
    assert [e["author"] for e in theirs] == ["system", "bot"]  # "the bot started this chat", then the message
    assert await playground.entries(AKAGI.key) == []


BAD_CALLS = [
    ("POST", activities_path(GROUP_CHAT_ID), "not json", 400),
    ("POST", activities_path(GROUP_CHAT_ID), [1, 2], 400),
    ("POST", activities_path(GROUP_CHAT_ID), {"text": "no type"}, 400),
    (
        "POST",
        activities_path(GROUP_CHAT_ID) + "?isTargetedActivity=true",
        {"type": "message", "text": "x"},
        400,
    ),
    ("PUT", activities_path(GROUP_CHAT_ID, "999"), card("x"), 404),
    ("DELETE", activities_path(GROUP_CHAT_ID, "999"), None, 404),
    ("POST", CONNECTOR, {"bot": {"id": "28:b"}, "members": []}, 400),
    ("POST", CONNECTOR, {"members": [{"id": "29:x"}]}, 400),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), BAD_CALLS)
async def test_bad_calls_are_refused_like_the_real_service(
    playground: RunningPlayground, method: str, path: str, body: Any, expected: int
) -> None:
    if isinstance(body, str):  # malformed JSON, still labelled JSON (anything else is a 415)
        async with playground.session.request(
            method, playground.url + path, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            status = response.status
            answer = await response.json(content_type=None)
    else:
        status, answer = await call(playground, method, path, body)
    assert status == expected
    assert "error" in answer


async def test_update_of_a_targeted_message_refuses_a_recipient(playground: RunningPlayground) -> None:
    path = activities_path(GROUP_CHAT_ID) + "?isTargetedActivity=true"
    _, sent = await call(playground, "POST", path, {**card("a"), "recipient": {"id": AKAGI.teams_id}})
    update = activities_path(GROUP_CHAT_ID, sent["id"]) + "?isTargetedActivity=true"
    status, _ = await call(playground, "PUT", update, {**card("b"), "recipient": {"id": AKAGI.teams_id}})
    assert status == 400
    status, _ = await call(playground, "PUT", update, card("b"))
    assert status == 200


async def test_calls_are_logged_without_content(playground: RunningPlayground) -> None:
    await call(playground, "POST", activities_path(GROUP_CHAT_ID), {"type": "message", "text": "秘密の内容"})
    status, body = await playground.get_json(f"/playground/api/entries?viewer={AKAGI.key}")
    assert status == 200
    assert body["calls"][-1]["operation"] == "send"
    assert body["calls"][-1]["status"] == 201
    assert "秘密" not in str(body["calls"])


@pytest.mark.parametrize(
    ("remote", "expected"), [("10.0.0.7", 403), ("192.168.1.2", 403), ("127.0.0.1", 200), ("::1", 200)]
)
async def test_only_loopback_callers_are_answered(remote: str, expected: int) -> None:
    async def ok(request: Any) -> Any:
        from aiohttp import web

        return web.Response(text="ok")

    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (remote, 50000) if name == "peername" else default

    request = make_mocked_request("GET", "/playground", transport=Transport())
    response = await _guarded(ok)(request)
    assert response.status == expected
