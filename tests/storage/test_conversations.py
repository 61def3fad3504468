"""Conversation references: upsert, lookup of a user's 1:1 chat, listing by kind."""

from __future__ import annotations

import pytest

from bot.domain import ConversationKind, ConversationRef
from bot.storage import Database

SERVICE = "https://smba.trafficmanager.net/jp/"


def ref(conversation_id: str, kind: ConversationKind = "personal", **extra: str) -> ConversationRef:
    return ConversationRef(
        conversation_id=conversation_id, kind=kind, service_url=SERVICE, tenant_id="t1", **extra
    )


async def test_remember_then_get_returns_the_same_reference(db: Database) -> None:
    channel = ref(
        "19:abc@thread.tacv2;messageid=17",
        "channel",
        bot_id="28:bot",
        team_id="19:team@thread.tacv2",
        channel_id="19:abc@thread.tacv2",
        thread_root_id="17",
    )
    await db.conversations.remember(channel)
    assert await db.conversations.get(channel.conversation_id) == channel
    assert await db.conversations.get("missing") is None


async def test_remember_updates_in_place_and_keeps_a_known_user(db: Database) -> None:
    await db.conversations.remember(ref("a:1"), user_aad_id="user-1")
    moved = ConversationRef("a:1", "personal", "https://smba.example/emea/", tenant_id="t1")
    await db.conversations.remember(moved)  # no user given this time
    assert await db.conversations.get("a:1") == moved
    assert await db.conversations.personal_for_user("user-1") == moved


async def test_personal_for_user_finds_only_a_one_to_one_chat(db: Database) -> None:
    await db.conversations.remember(ref("19:group@thread.v2", "groupChat"), user_aad_id="user-2")
    assert await db.conversations.personal_for_user("user-2") is None
    await db.conversations.remember(ref("a:2"), user_aad_id="user-2")
    found = await db.conversations.personal_for_user("user-2")
    assert found is not None and found.conversation_id == "a:2"
    assert await db.conversations.personal_for_user("nobody") is None


@pytest.mark.parametrize(
    ("kind", "tenant_id", "team_id", "expected"),
    [
        ("channel", None, None, ["19:c1", "19:c2", "19:c3"]),
        ("channel", None, "team-a", ["19:c1", "19:c2"]),
        ("channel", "t2", None, ["19:c3"]),
        ("personal", None, None, ["a:1"]),
        ("groupChat", None, None, []),
    ],
)
async def test_list_by_kind_filters_by_tenant_and_team(
    db: Database, kind: ConversationKind, tenant_id: str | None, team_id: str | None, expected: list[str]
) -> None:
    await db.conversations.remember(ref("19:c1", "channel", team_id="team-a"))
    await db.conversations.remember(ref("19:c2", "channel", team_id="team-a"))
    await db.conversations.remember(
        ConversationRef("19:c3", "channel", SERVICE, tenant_id="t2", team_id="team-b")
    )
    await db.conversations.remember(ref("a:1"))
    found = await db.conversations.list_by_kind(kind, tenant_id=tenant_id, team_id=team_id)
    assert [c.conversation_id for c in found] == expected


async def test_forget_removes_a_reference(db: Database) -> None:
    await db.conversations.remember(ref("a:9"))
    assert await db.conversations.forget("a:9") is True
    assert await db.conversations.forget("a:9") is False
    assert await db.conversations.get("a:9") is None
