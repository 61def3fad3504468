"""Nudges end to end: through the real endpoint, services and storage, to the fake Bot Connector."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import app as app_module
from bot.settings import load_settings
from cards import verbs
from tests.e2e.conftest import (
    ALICE,
    BOB,
    TEAM_GROUP_ID,
    Stack,
    card_of,
    card_text,
    count_rows,
    query,
    stack_settings,
    start_stack,
    stop_stack,
    wait_for_rows,
)
from tests.harness.graph import file_attachment
from tests.harness.tls import TestCA
from tests.schemas.check import assert_valid_card

GREETING = "お疲れ様です。来週の会議資料を共有フォルダに置きました。"
PHONE = "この件は後ほどお電話ください。"
CLEAN = "来週の会議資料を共有フォルダに置きました。"


def execute_data(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The ``data`` of the card's Action.Execute with this verb (searching nested action sets)."""
    stack: list[Any] = [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("verb") == verb:
                return dict(node.get("data") or {})
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no Action.Execute {verb} on the card")


def all_cards_valid(stack: Stack) -> None:
    """Every card the bot sent is a valid Adaptive Card 1.5 as Teams renders it."""
    for request in stack.connector.requests:
        for attachment in (request.body or {}).get("attachments", []) or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                assert_valid_card(attachment["content"])


@pytest.mark.parametrize("kind", ["channel", "groupChat", "personal"])
async def test_a_greeting_gets_one_private_nudge_in_each_conversation_type(stack: Stack, kind: str) -> None:
    status, _ = await stack.post(stack.activity(GREETING, kind=kind))
    assert status == 200
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) >= 1)
    await stack.settle()
    cards = stack.cards_to()
    assert len(cards) == 1
    request = cards[0]
    if kind == "personal":
        assert not request.targeted  # a 1:1 chat is private already
    else:
        assert request.targeted, "in shared spaces the nudge is seen by the sender alone"
        assert request.body["recipient"]["id"] == ALICE.teams_id
    text = card_text(card_of(request))
    assert "お疲れ様です" in text
    assert "挨拶" in text
    assert request.bearer and stack.entra.is_valid(request.bearer), (
        "the real msal token reached the connector"
    )
    all_cards_valid(stack)


async def test_a_clean_message_sends_nothing(stack: Stack) -> None:
    status, _ = await stack.post(stack.activity(CLEAN))
    assert status == 200
    await stack.settle()
    assert stack.connector.activity_posts() == []


async def test_the_daily_cap_allows_one_nudge_per_rule(stack: Stack) -> None:
    await stack.post(stack.activity(GREETING))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    await stack.post(stack.activity("お疲れ様です。午後の打合せは予定どおりです。"))
    await stack.settle()
    assert len(stack.cards_to()) == 1
    # another person is not held back by Alice's cap
    await stack.post(stack.activity(GREETING, sender=BOB))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to(BOB.teams_id)) == 1)


async def test_a_redelivered_activity_is_handled_once(stack: Stack) -> None:
    activity = stack.activity(PHONE)
    assert (await stack.post(activity))[0] == 200
    assert (await stack.post(activity))[0] == 200
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) >= 1)
    await stack.settle()
    assert len(stack.cards_to()) == 1


async def test_a_refused_targeted_message_falls_back_to_the_personal_chat(
    tmp_path: Path, test_ca: TestCA
) -> None:
    stack = await start_stack(tmp_path, test_ca)
    stack.connector.refuse_targeted = 403
    try:
        await stack.post(stack.activity(PHONE))
        await stack.connector.wait_for(
            lambda requests: any(
                r.method == "POST" and r.path.rstrip("/").endswith("/v3/conversations") for r in requests
            )
        )
        await stack.connector.wait_for(lambda _r: any(not r.targeted for r in stack.cards_to()))
        personal = [r for r in stack.cards_to() if not r.targeted]
        assert len(personal) == 1
        created = stack.connector.conversations
        assert personal[0].conversation_id in created.values()
        assert "電話" in card_text(card_of(personal[0]))
    finally:
        await stop_stack(stack)


async def test_feedback_is_stored_once_and_the_card_updates_in_place(stack: Stack) -> None:
    await stack.post(stack.activity(GREETING))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    card = card_of(stack.cards_to()[0])
    data = execute_data(card, verbs.NUDGE_HELPFUL)
    invoke = stack.invoke(verbs.NUDGE_HELPFUL, data, card_activity_id="sent-1")
    status, body = await stack.post(invoke)
    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "ありがとう" in card_text(body["value"])
    assert_valid_card(body["value"])
    # a second click of the old card does no harm and stores nothing more
    status, body = await stack.post(stack.invoke(verbs.NUDGE_HELPFUL, data, card_activity_id="sent-1"))
    assert status == 200 and body["statusCode"] == 200
    assert await count_rows(stack, "nudge_feedback") == 1


async def test_snooze_for_the_day_stops_further_nudges(stack: Stack) -> None:
    await stack.post(stack.activity(GREETING))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    data = execute_data(card_of(stack.cards_to()[0]), verbs.NUDGE_SNOOZE_TODAY)
    status, body = await stack.post(stack.invoke(verbs.NUDGE_SNOOZE_TODAY, data, card_activity_id="sent-1"))
    assert status == 200 and "今日はもう" in card_text(body["value"])
    await stack.post(stack.activity(PHONE))
    await stack.settle()
    assert len(stack.cards_to()) == 1


async def test_opting_out_of_a_rule_is_listed_in_settings_and_can_be_undone(stack: Stack) -> None:
    await stack.post(stack.activity(PHONE))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    data = execute_data(card_of(stack.cards_to()[0]), verbs.NUDGE_OPT_OUT)
    status, body = await stack.post(stack.invoke(verbs.NUDGE_OPT_OUT, data, card_activity_id="sent-1"))
    assert status == 200 and "表示しません" in card_text(body["value"])
    await stack.post(stack.activity("設定", kind="personal"))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 2)
    settings_card = card_of(stack.cards_to()[-1])
    optin = execute_data(settings_card, verbs.SETTINGS_OPTIN)
    assert optin["rule_id"] == "chat-before-phone"
    status, body = await stack.post(
        stack.invoke(verbs.SETTINGS_OPTIN, optin, card_activity_id="s-1", kind="personal")
    )
    assert status == 200
    assert verbs.SETTINGS_OPTIN not in card_text(body["value"])
    all_cards_valid(stack)


async def test_an_edit_that_fixes_the_message_withdraws_the_nudge(stack: Stack) -> None:
    message_id = stack.next_id()
    await stack.post(stack.activity(PHONE, activity_id=message_id))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    await wait_for_rows(stack, "sent_nudges", 1)
    edit = stack.activity(
        "この件はチャットで相談させてください。", activity_id=message_id, activity_type="messageUpdate"
    )
    edit["channelData"]["eventType"] = "editMessage"
    assert (await stack.post(edit))[0] == 200
    await stack.connector.wait_for(lambda requests: any(r.method in ("DELETE", "PUT") for r in requests))
    withdrawal = next(r for r in stack.connector.requests if r.method in ("DELETE", "PUT"))
    assert withdrawal.targeted
    assert withdrawal.activity_id, "the withdrawal names the nudge it takes back"


async def test_an_edit_that_adds_a_problem_is_checked_like_a_new_message(stack: Stack) -> None:
    message_id = stack.next_id()
    await stack.post(stack.activity(CLEAN, activity_id=message_id))
    await stack.settle()
    assert stack.cards_to() == []
    edit = stack.activity(CLEAN + PHONE, activity_id=message_id, activity_type="messageUpdate")
    edit["channelData"]["eventType"] = "editMessage"
    await stack.post(edit)
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)


async def test_a_greeting_only_message_then_the_content_gives_one_nudge(
    tmp_path: Path, test_ca: TestCA
) -> None:
    stack = await start_stack(tmp_path, test_ca, NUDGE_PER_RULE_DAILY_CAP="5", NUDGE_DAILY_CAP="10")
    try:
        await stack.post(stack.activity("お疲れ様です。"))
        await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
        await stack.post(stack.activity("財政課の須田です。補正予算の資料を共有しました。"))
        await stack.settle(0.5)
        assert len(stack.cards_to()) == 1
    finally:
        await stop_stack(stack)


async def test_an_audio_file_in_a_channel_is_found_through_graph(stack: Stack) -> None:
    message_id = stack.next_id()
    stack.graph.add_channel_message(
        TEAM_GROUP_ID, "19:general@thread.tacv2", message_id, [file_attachment("打合せ録音.m4a")]
    )
    activity = stack.activity(
        '会議の録音です <attachment id="f1"></attachment>',
        activity_id=message_id,
        attachments=[{"contentType": "text/html", "content": "<div>会議の録音です</div>"}],
    )
    await stack.post(activity)
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    assert "文字" in card_text(card_of(stack.cards_to()[0]))


async def test_a_graph_failure_never_blocks_the_other_rules(stack: Stack) -> None:
    stack.graph.fail_next(503, count=5)
    activity = stack.activity(
        'お電話ください <attachment id="f1"></attachment>',
        attachments=[{"contentType": "text/html", "content": "<div>x</div>"}],
    )
    await stack.post(activity)
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    assert "電話" in card_text(card_of(stack.cards_to()[0]))


async def test_the_welcome_card_on_install_and_the_conversation_is_remembered(stack: Stack) -> None:
    install = stack.activity("", activity_type="installationUpdate", action="add")
    install.pop("text")
    assert (await stack.post(install))[0] == 200
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    text = card_text(card_of(stack.cards_to()[0]))
    assert "保存しません" in text or "保存していません" in text
    stored = await query(stack, "select conversation_id, kind from conversations")
    assert ("19:general@thread.tacv2", "channel") in stored
    all_cards_valid(stack)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ヘルプ", "ヘルプ"),
        ("help", "ヘルプ"),
        ("ルール", "電話"),
        ("rules", "電話"),
        ("設定", "設定"),
        ("settings", "設定"),
    ],
)
async def test_each_command_answers_with_its_card(stack: Stack, command: str, expected: str) -> None:
    await stack.post(stack.activity(command, kind="personal"))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    assert expected in card_text(card_of(stack.cards_to()[0]))
    all_cards_valid(stack)


async def test_a_command_with_a_mention_in_a_channel_answers_the_asker_alone(stack: Stack) -> None:
    activity = stack.activity(
        "<at>ポリシーボット</at> ルール",
        entities=[
            {
                "type": "mention",
                "text": "<at>ポリシーボット</at>",
                "mentioned": {"id": "28:" + "x", "name": "ポリシーボット"},
            }
        ],
    )
    activity["entities"][0]["mentioned"]["id"] = activity["recipient"]["id"]
    await stack.post(activity)
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    assert stack.cards_to()[0].targeted


async def test_a_429_from_the_connector_is_retried_after_retry_after(stack: Stack) -> None:
    stack.connector.fail_next(429, 1, retry_after=1)
    await stack.post(stack.activity(PHONE))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1, timeout_s=10)
    posts = [r for r in stack.connector.requests if r.method == "POST" and "/activities" in r.path]
    assert len(posts) == 2
    assert posts[1].at - posts[0].at >= 0.95


async def test_several_findings_in_one_message_make_one_card(stack: Stack) -> None:
    await stack.post(stack.activity("お疲れ様です。この件は後ほどお電話ください。"))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) >= 1)
    await stack.settle()
    cards = stack.cards_to()
    assert len(cards) == 1
    card = card_of(cards[0])
    opt_outs = []
    pending: list[Any] = [card]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("verb") == verbs.NUDGE_OPT_OUT:
                opt_outs.append(node["data"]["rule_id"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    assert sorted(opt_outs) == ["chat-before-phone", "formulaic-greeting"]
    assert sorted(execute_data(card, verbs.NUDGE_HELPFUL)["rule_ids"]) == [
        "chat-before-phone",
        "formulaic-greeting",
    ]


async def test_personal_data_is_never_quoted_back(stack: Stack) -> None:
    await stack.post(stack.activity("申請者の携帯は090-8765-4321です。"))
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) == 1)
    text = card_text(card_of(stack.cards_to()[0]))
    assert "8765" not in text and "4321" not in text
    assert "電話番号" in text


async def test_an_install_announced_twice_gets_one_welcome(stack: Stack) -> None:
    """Teams sends conversationUpdate (bot in membersAdded) and installationUpdate for one install."""
    added = stack.activity("", activity_type="conversationUpdate", membersAdded=[{"id": "28:bot"}])
    added.pop("text")
    added["membersAdded"] = [{"id": added["recipient"]["id"]}]
    install = stack.activity("", activity_type="installationUpdate", action="add")
    install.pop("text")
    assert (await stack.post(added))[0] == 200
    assert (await stack.post(install))[0] == 200
    await stack.connector.wait_for(lambda _r: len(stack.cards_to()) >= 1)
    await stack.settle(0.5)
    assert len(stack.cards_to()) == 1


async def test_an_edit_delivered_to_two_replicas_at_once_gets_one_new_nudge(
    tmp_path: Path, test_ca: TestCA
) -> None:
    """Two replicas on one database handle the same edit: the new problem is nudged once.

    The daily caps are raised, so that only the edit's handled-once claim can stop a second nudge.
    """
    caps = {"NUDGE_PER_RULE_DAILY_CAP": "5", "NUDGE_DAILY_CAP": "10"}
    stack = await start_stack(tmp_path, test_ca, **caps)
    values = stack_settings(tmp_path, stack.openid, stack.entra, stack.graph, **caps)
    other = web.AppRunner(await app_module.build_app(load_settings(**values)), access_log=None)
    await other.setup()
    await web.TCPSite(other, "127.0.0.1", 0).start()
    other_url = f"http://127.0.0.1:{other.addresses[0][1]}"
    try:
        message_id = stack.next_id()
        await stack.post(stack.activity(CLEAN, activity_id=message_id))
        await stack.settle()
        edit = stack.activity(
            CLEAN + PHONE,
            activity_id=message_id,
            activity_type="messageUpdate",
            timestamp="2026-11-25T01:05:00Z",
        )
        edit["channelData"]["eventType"] = "editMessage"
        token = stack.openid.authorization(service_url=stack.connector.service_url)
        headers = {"Authorization": token, "Content-Type": "application/json"}

        async def post_to(url: str) -> int:
            async with stack.session.post(
                f"{url}/api/messages", data=json.dumps(edit), headers=headers
            ) as answer:
                return answer.status

        assert await asyncio.gather(post_to(stack.url), post_to(other_url)) == [200, 200]
        await stack.connector.wait_for(lambda _r: len(stack.cards_to()) >= 1)
        await stack.settle(0.5)
        assert len(stack.cards_to()) == 1
    finally:
        await other.cleanup()
        await stop_stack(stack)
