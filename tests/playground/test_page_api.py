"""The page's API through the real endpoint and the real sender: what a persona does reaches
the bot as a Teams activity, and what the bot sends comes back on the event stream."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from bot.playground.personas import CHANNEL_ID, GROUP_CHAT_ID, SAMPLE_PERSONAS
from tests.playground.conftest import BROKEN_RULE, VALID_RULE, RunningPlayground

AKAGI, HARUNA = SAMPLE_PERSONAS[0], SAMPLE_PERSONAS[1]

# The module shares one app (see conftest.py), so its tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def wait_for_entries(
    pg: RunningPlayground, viewer: str, predicate: Any, timeout_s: float = 5.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        entries = await pg.entries(viewer)
        if predicate(entries):
            return entries
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not met; entries: {json.dumps(entries, ensure_ascii=False)[:2000]}"
            )
        await asyncio.sleep(0.05)


def bot_cards(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["author"] == "bot" and e["activity"].get("attachments")]


def card_texts(entry: dict[str, Any]) -> list[str]:
    content = entry["activity"]["attachments"][0]["content"]
    return [block.get("text", "") for block in content["body"]]


async def test_greeting_in_a_channel_reaches_the_bot_and_a_targeted_card_comes_back(
    playground: RunningPlayground,
) -> None:
    status, sent = await playground.post(
        "/playground/api/send", {"viewer": AKAGI.key, "place": "channel", "text": "お疲れ様です。"}
    )
    assert status == 200 and sent["bot_status"] == 200
    (message,) = playground.services.messages
    assert message.conversation.kind == "channel"
    assert message.conversation.conversation_id == f"{CHANNEL_ID};messageid={sent['activity_id']}"
    assert message.conversation.service_url.startswith("http://127.0.0.1:")
    assert message.conversation.service_url.endswith("/playground/connector/")
    assert message.sender.aad_object_id == AKAGI.aad_object_id
    entries = await wait_for_entries(playground, AKAGI.key, lambda es: bot_cards(es))
    (card,) = bot_cards(entries)
    assert card["targeted"] and card["thread_root_id"] == sent["activity_id"]
    others = await playground.entries(HARUNA.key)
    assert [e["author"] for e in others] == ["person"]  # the post, not the targeted card


async def test_card_click_is_an_invoke_whose_card_replaces_the_clicked_one(
    playground: RunningPlayground,
) -> None:
    await playground.post(
        "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "お疲れ様です"}
    )
    (card,) = bot_cards(await wait_for_entries(playground, AKAGI.key, bot_cards))
    status, answer = await playground.post(
        "/playground/api/invoke",
        {
            "viewer": AKAGI.key,
            "entry_id": card["id"],
            "verb": "nudge.snooze_today",
            "data": {"verb": "nudge.snooze_today", "comment": "了解"},
        },
    )
    assert status == 200 and answer["bot_status"] == 200
    assert answer["bot_body"]["type"] == "application/vnd.microsoft.card.adaptive"
    (action,) = playground.services.actions
    assert (action.verb, action.card_activity_id, action.data["comment"]) == (
        "nudge.snooze_today",
        card["id"],
        "了解",
    )
    (replaced,) = bot_cards(await playground.entries(AKAGI.key))
    assert card_texts(replaced) == ["今日はこのヒントを表示しません"]
    assert replaced["version"] > card["version"]
    await playground.post(
        "/playground/api/invoke",
        {"viewer": AKAGI.key, "entry_id": card["id"], "verb": "nudge.snooze_today", "data": {}},
    )
    (again,) = bot_cards(await playground.entries(AKAGI.key))
    assert again["version"] > replaced["version"]  # each answer redraws the card


async def test_a_put_from_the_bot_updates_the_card_for_everyone(playground: RunningPlayground) -> None:
    await playground.post(
        "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "お疲れ様です"}
    )
    (card,) = bot_cards(await wait_for_entries(playground, AKAGI.key, bot_cards))
    _, answer = await playground.post(
        "/playground/api/invoke",
        {"viewer": AKAGI.key, "entry_id": card["id"], "verb": "test.put", "data": {}},
    )
    assert answer["bot_body"] == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "更新します",
    }
    entries = await wait_for_entries(
        playground,
        AKAGI.key,
        lambda es: any(card_texts(c) == ["ボットが PUT で更新しました"] for c in bot_cards(es)),
    )
    assert bot_cards(entries)[0]["id"] == card["id"]


async def test_edit_is_rechecked_as_a_message_update(playground: RunningPlayground) -> None:
    _, sent = await playground.post(
        "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "最初"}
    )
    status, _ = await playground.post(
        "/playground/api/edit", {"viewer": AKAGI.key, "entry_id": sent["activity_id"], "text": "直した"}
    )
    assert status == 200
    first, edited = playground.services.messages
    assert (edited.activity_id, edited.is_edit, edited.text) == (first.activity_id, True, "直した")
    (entry,) = await playground.entries(AKAGI.key)
    assert entry["edited"] and entry["activity"]["text"] == "直した"
    status, _ = await playground.post(
        "/playground/api/edit",
        {"viewer": HARUNA.key, "entry_id": sent["activity_id"], "text": "他人のを直す"},
    )
    assert status == 400


async def test_thread_reply_in_an_empty_channel_gets_a_sample_root(playground: RunningPlayground) -> None:
    status, sent = await playground.post(
        "/playground/api/send",
        {"viewer": AKAGI.key, "place": "thread", "text": "議題を追加します", "mention_bot": True},
    )
    assert status == 200
    (message,) = playground.services.messages
    assert message.is_reply and message.mentions_bot
    assert message.conversation.thread_root_id == sent["thread_root_id"]
    assert sent["thread_root_id"] != sent["activity_id"]


async def test_sample_audio_is_sent_as_a_teams_file(playground: RunningPlayground) -> None:
    status, _ = await playground.post(
        "/playground/api/send",
        {"viewer": AKAGI.key, "place": "personal", "text": "", "attach_sample_audio": True},
    )
    assert status == 200
    (message,) = playground.services.messages
    (attachment,) = message.attachments
    assert attachment.content_type == "application/vnd.microsoft.teams.file.download.info"
    assert attachment.name.endswith(".wav")
    assert attachment.content_url is not None
    async with playground.session.get(attachment.content_url) as response:
        assert response.status == 200
        assert (await response.read())[:4] == b"RIFF"


async def test_install_in_a_personal_chat(playground: RunningPlayground) -> None:
    status, answer = await playground.post(
        "/playground/api/install", {"viewer": HARUNA.key, "place": "personal"}
    )
    assert (status, answer["bot_statuses"]) == (200, [200, 200])
    assert [e.bot_added for e in playground.services.installs] == [True, True]
    entries = await wait_for_entries(playground, HARUNA.key, lambda es: any(e["author"] == "bot" for e in es))
    assert entries[0]["author"] == "system"


BAD_REQUESTS = [
    ("/playground/api/send", {"viewer": "nobody", "place": "channel", "text": "x"}),
    ("/playground/api/send", {"viewer": "akagi", "place": "meeting", "text": "x"}),
    ("/playground/api/send", {"viewer": "akagi", "place": "channel", "text": "   "}),
    ("/playground/api/send", {"viewer": "akagi", "place": "channel", "text": 5}),
    ("/playground/api/send", {"viewer": "akagi", "place": "channel", "text": "x" * 4001}),
    ("/playground/api/send", {"viewer": "akagi", "place": "thread", "text": "x", "thread_root_id": "404"}),
    ("/playground/api/send", [1]),
    ("/playground/api/send", "not json"),
    ("/playground/api/invoke", {"viewer": "akagi", "entry_id": "404", "verb": "v", "data": {}}),
    ("/playground/api/edit", {"viewer": "akagi", "entry_id": "404", "text": "x"}),
    ("/playground/api/install", {"viewer": "akagi", "place": "nowhere"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_REQUESTS)
async def test_bad_requests_get_a_400_with_a_reason(
    playground: RunningPlayground, path: str, body: Any
) -> None:
    status, answer = await playground.post(path, body)
    assert status == 400
    assert answer["error"] == "bad_request" and answer["message"]
    assert playground.services.messages == []


async def test_stream_sends_a_snapshot_then_each_change(playground: RunningPlayground) -> None:
    await playground.post(
        "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "前から"}
    )
    url = f"{playground.url}/playground/api/stream?viewer={AKAGI.key}"
    async with playground.session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        event, data = await read_event(response)
        assert event == "snapshot"
        assert [e["activity"]["text"] for e in data["entries"]] == ["前から"]
        await playground.post(
            "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "お疲れ様です"}
        )
        seen: list[tuple[str, Any]] = []
        while not (
            any(kind == "entry" and d["entry"]["author"] == "bot" for kind, d in seen)
            and any(kind == "call" for kind, _ in seen)
        ):
            seen.append(await asyncio.wait_for(read_event(response), 5))
        entries = [d["entry"] for kind, d in seen if kind == "entry"]
        assert [e["author"] for e in entries] == ["person", "bot"]
        assert entries[1]["targeted"]


async def test_stream_does_not_leak_targeted_messages(playground: RunningPlayground) -> None:
    url = f"{playground.url}/playground/api/stream?viewer={HARUNA.key}"
    async with playground.session.get(url) as response:
        assert (await read_event(response))[0] == "snapshot"
        await playground.post(
            "/playground/api/send", {"viewer": AKAGI.key, "place": "groupChat", "text": "お疲れ様です"}
        )
        await wait_for_entries(playground, AKAGI.key, bot_cards)
        # a marker message sent after the targeted card: everything before it has been streamed
        await playground.post(
            "/playground/api/send", {"viewer": HARUNA.key, "place": "groupChat", "text": "目印"}
        )
        seen: list[dict[str, Any]] = []
        while not any(e["activity"].get("text") == "目印" for e in seen):
            kind, data = await asyncio.wait_for(read_event(response), 5)
            if kind == "entry":
                seen.append(data["entry"])
        assert all(not e["targeted"] for e in seen)


async def read_event(response: Any) -> tuple[str, Any]:
    event, data = "", ""
    while True:
        line = (await response.content.readline()).decode()
        if line in ("\n", "\r\n") and (event or data):
            return event, json.loads(data)
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: "):
            data += line[6:].strip()
        elif line == "":
            raise ConnectionError("stream closed")


async def test_rules_are_listed_with_their_status_and_content(
    playground: RunningPlayground, rules_dir: Path
) -> None:
    expected_path = str(rules_dir.resolve())  # noqa: ASYNC240 (a test's own temporary directory)
    status, rules = await playground.get_json("/playground/api/rules")
    assert status == 200
    assert rules["path"] == expected_path
    assert [f["name"] for f in rules["files"]] == ["local.yaml"]
    assert rules["status"]["ok"] is True
    good_version = rules["status"]["version"]
    status, text = await playground.get_json("/playground/api/rules/file?name=local.yaml")
    assert (status, text) == (200, VALID_RULE)

    (rules_dir / "local.yaml").write_text(BROKEN_RULE, encoding="utf-8")
    os.utime(rules_dir / "local.yaml", ns=(time.time_ns(), time.time_ns() + 1_000_000))
    _, rules = await playground.get_json("/playground/api/rules")
    assert rules["status"]["ok"] is False
    assert rules["status"]["version"] == good_version  # the previous rules stay in force
    errors = rules["status"]["errors"]
    assert {(e["line"], e["field_path"]) for e in errors} >= {(2, "rules[0].id"), (3, "rules[0].kind")}
    assert all(e["file"].endswith("local.yaml") and e["message_ja"] for e in errors)


@pytest.mark.parametrize("name", ["", "../conftest.py", "missing.yaml", "notes.txt", "/etc/passwd"])
async def test_only_rule_files_of_the_directory_can_be_read(
    playground: RunningPlayground, rules_dir: Path, name: str
) -> None:
    (rules_dir / "notes.txt").write_text("not a rule")
    status, _ = await playground.get_json(f"/playground/api/rules/file?name={name}")
    assert status == 404


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/playground", 200),
        ("/playground/static/playground.js", 200),
        ("/playground/static/vendor/adaptivecards.min.js", 200),
        ("/playground/static/vendor/markdown-it.min.js", 200),
        ("/playground/static/../web.py", 404),
        ("/playground/static/%2e%2e/web.py", 404),
        ("/playground/static/nothing.js", 404),
    ],
)
async def test_static_files(playground: RunningPlayground, path: str, expected: int) -> None:
    async with playground.session.get(playground.url + path) as response:
        assert response.status == expected


async def test_page_forbids_scripts_from_elsewhere(playground: RunningPlayground) -> None:
    async with playground.session.get(playground.url + "/playground") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


async def test_config_names_the_local_connector(playground: RunningPlayground) -> None:
    status, config = await playground.get_json("/playground/api/config")
    assert status == 200
    assert config["service_url"] == f"{playground.url}/playground/connector/"
    assert {p["key"] for p in config["personas"]} == {p.key for p in SAMPLE_PERSONAS}
    assert config["group_chat"]["id"] == GROUP_CHAT_ID


@pytest.mark.parametrize(("path", "body"), BAD_REQUESTS)
async def test_bad_request_reasons_are_japanese(playground: RunningPlayground, path: str, body: Any) -> None:
    """The page shows the reason as it is, so it is written for the person using the page."""
    _, answer = await playground.post(path, body)
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in answer["message"]), answer
