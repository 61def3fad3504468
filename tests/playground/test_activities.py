"""The playground's activities have Teams' shape, and the Teams edge reads them as Teams'."""

from __future__ import annotations

from typing import Any

import pytest

from bot.playground.activities import (
    FileAttachment,
    Place,
    card_action_activity,
    edit_activity,
    install_activities,
    message_activity,
    message_html,
)
from bot.playground.personas import (
    BOT_ID,
    CHANNEL_ID,
    GROUP_CHAT_ID,
    SAMPLE_PERSONAS,
    TEAM_ID,
    TENANT_ID,
    WG_ADMIN_AAD_ID,
    persona_by_member_id,
)
from bot.teams import convert
from bot.teams.routing import is_card_action, is_edit, is_install, is_message

PERSONA = SAMPLE_PERSONAS[0]
SERVICE_URL = "http://127.0.0.1:3978/playground/connector/"
WHEN = "2026-11-25T01:00:00.000Z"


def post(place: Place, text: str = "会議の資料を共有します", **options: Any) -> dict[str, Any]:
    return message_activity(
        PERSONA, place, text, activity_id="1764032400000", timestamp=WHEN, service_url=SERVICE_URL, **options
    )


# place, conversation.id, conversationType, has team/channel, replyToId
PLACES = [
    (Place("channel"), f"{CHANNEL_ID};messageid=1764032400000", "channel", True, None),
    (
        Place("thread", "1764000000000"),
        f"{CHANNEL_ID};messageid=1764000000000",
        "channel",
        True,
        "1764000000000",
    ),
    (Place("groupChat"), GROUP_CHAT_ID, "groupChat", False, None),
    (Place("personal"), PERSONA.personal_conversation_id(), "personal", False, None),
]


@pytest.mark.parametrize(("place", "conversation_id", "kind", "in_team", "reply_to"), PLACES)
def test_message_has_teams_shape(
    place: Place, conversation_id: str, kind: str, in_team: bool, reply_to: str | None
) -> None:
    activity = post(place)
    assert activity["type"] == "message"
    assert activity["channelId"] == "msteams"
    assert activity["serviceUrl"] == SERVICE_URL
    assert activity["from"] == {
        "id": PERSONA.teams_id,
        "name": PERSONA.name,
        "aadObjectId": PERSONA.aad_object_id,
    }
    assert activity["from"]["id"].startswith("29:")
    assert activity["recipient"]["id"] == BOT_ID and BOT_ID.startswith("28:")
    assert activity["conversation"]["id"] == conversation_id
    assert activity["conversation"]["conversationType"] == kind
    assert activity["conversation"]["tenantId"] == TENANT_ID
    assert activity["channelData"]["tenant"] == {"id": TENANT_ID}
    assert ("team" in activity["channelData"]) is in_team
    assert ("channel" in activity["channelData"]) is in_team
    if in_team:
        assert activity["channelData"]["team"]["id"] == TEAM_ID
        assert activity["channelData"]["channel"]["id"] == CHANNEL_ID
    assert activity.get("replyToId") == reply_to
    assert activity["text"] == "<p>会議の資料を共有します</p>"


@pytest.mark.parametrize(("place", "conversation_id", "kind", "in_team", "reply_to"), PLACES)
def test_the_edge_reads_the_message_as_teams_message(
    place: Place, conversation_id: str, kind: str, in_team: bool, reply_to: str | None
) -> None:
    activity = post(place, mention_bot=place.kind != "personal")
    assert is_message(activity) and not is_edit(activity)
    message = convert.incoming_message(activity, is_edit=False)
    assert message is not None
    assert message.conversation.kind == kind
    assert message.conversation.conversation_id == conversation_id
    assert message.conversation.tenant_id == TENANT_ID
    assert message.conversation.bot_id == BOT_ID
    assert message.sender.aad_object_id == PERSONA.aad_object_id
    assert message.text == "会議の資料を共有します"  # mention and HTML stripped
    assert message.mentions_bot is (place.kind != "personal")
    assert message.is_reply is (place.kind == "thread")
    assert (message.conversation.team_id is not None) is in_team


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("お疲れ様です。", False, "<p>お疲れ様です。</p>"),
        ("ヘルプ", True, "<p><at>ポリシーボット</at> ヘルプ</p>"),
        ("1行目\n2行目", False, "<p>1行目<br>2行目</p>"),
        ("<b>太字</b> & 記号", False, "<p>&lt;b&gt;太字&lt;/b&gt; &amp; 記号</p>"),
        ("", True, "<p><at>ポリシーボット</at></p>"),
    ],
)
def test_message_html(text: str, mention: bool, expected: str) -> None:
    assert message_html(text, mention_bot=mention) == expected


def test_mention_has_its_entity() -> None:
    activity = post(Place("groupChat"), "ヘルプ", mention_bot=True)
    mentions = [e for e in activity["entities"] if e["type"] == "mention"]
    assert mentions == [
        {
            "type": "mention",
            "text": "<at>ポリシーボット</at>",
            "mentioned": {"id": BOT_ID, "name": "ポリシーボット"},
        }
    ]
    assert convert.incoming_message(activity, is_edit=False).mentions_bot  # type: ignore[union-attr]


def test_file_attachment_sends_name_and_type_only() -> None:
    file = FileAttachment(
        "定例会議の録音.wav", "ABC", "http://127.0.0.1:3978/playground/static/samples/x.wav"
    )
    activity = post(Place("personal"), "", files=(file,))
    sent = activity["attachments"][0]
    assert sent["contentType"] == "application/vnd.microsoft.teams.file.download.info"
    assert sent["name"] == "定例会議の録音.wav"
    assert sent["content"] == {"uniqueId": "ABC", "fileType": "wav"}
    message = convert.incoming_message(activity, is_edit=False)
    assert message is not None
    assert [(a.content_type, a.name) for a in message.attachments] == [
        ("application/vnd.microsoft.teams.file.download.info", "定例会議の録音.wav")
    ]


def test_edit_is_a_message_update_with_the_same_id() -> None:
    activity = edit_activity(
        PERSONA, Place("groupChat"), "直しました", activity_id="17", timestamp=WHEN, service_url=SERVICE_URL
    )
    assert activity["type"] == "messageUpdate"
    assert activity["id"] == "17"
    assert activity["channelData"]["eventType"] == "editMessage"
    assert is_edit(activity)
    message = convert.incoming_message(activity, is_edit=True)
    assert message is not None and message.is_edit and message.text == "直しました"


@pytest.mark.parametrize(
    ("place", "conversation_id", "kind"),
    [
        (Place("channel"), CHANNEL_ID, "channel"),
        (Place("thread", "1"), CHANNEL_ID, "channel"),
        (Place("groupChat"), GROUP_CHAT_ID, "groupChat"),
        (Place("personal"), PERSONA.personal_conversation_id(), "personal"),
    ],
)
def test_install_sends_conversation_update_and_installation_update(
    place: Place, conversation_id: str, kind: str
) -> None:
    update, install = install_activities(
        PERSONA, place, activity_ids=("1", "2"), timestamp=WHEN, service_url=SERVICE_URL
    )
    assert (update["type"], install["type"]) == ("conversationUpdate", "installationUpdate")
    assert update["membersAdded"] == [{"id": BOT_ID}]
    assert install["action"] == "add"
    for activity in (update, install):
        assert is_install(activity)
        event = convert.install_event(activity)
        assert event is not None and event.bot_added and event.action == "add"
        assert event.conversation.conversation_id == conversation_id
        assert event.conversation.kind == kind


def test_card_button_is_an_adaptive_card_action_invoke() -> None:
    activity = card_action_activity(
        PERSONA,
        Place("thread", "100"),
        activity_id="200",
        card_activity_id="150",
        verb="nudge.snooze_today",
        data={"verb": "nudge.snooze_today", "comment": "了解"},
        timestamp=WHEN,
        service_url=SERVICE_URL,
    )
    assert activity["type"] == "invoke"
    assert activity["name"] == "adaptiveCard/action"
    assert activity["replyToId"] == "150"
    assert activity["value"] == {
        "action": {
            "type": "Action.Execute",
            "verb": "nudge.snooze_today",
            "data": {"verb": "nudge.snooze_today", "comment": "了解"},
        },
        "trigger": "manual",
    }
    assert activity["conversation"]["id"] == f"{CHANNEL_ID};messageid=100"
    assert is_card_action(activity)
    action = convert.card_action(activity)
    assert (action.verb, action.card_activity_id, action.trigger) == ("nudge.snooze_today", "150", "manual")
    assert action.data["comment"] == "了解"
    assert action.conversation.thread_root_id == "100"


def test_personas_include_a_wg_admin_and_the_sample_contacts() -> None:
    assert any(p.aad_object_id == WG_ADMIN_AAD_ID for p in SAMPLE_PERSONAS)
    assert len({p.teams_id for p in SAMPLE_PERSONAS}) == len(SAMPLE_PERSONAS)
    assert persona_by_member_id(SAMPLE_PERSONAS, PERSONA.teams_id) is PERSONA
    assert persona_by_member_id(SAMPLE_PERSONAS, PERSONA.aad_object_id.upper()) is PERSONA
    assert persona_by_member_id(SAMPLE_PERSONAS, "29:someone-else") is None
