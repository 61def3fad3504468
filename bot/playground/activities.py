"""The activities Teams sends a bot, built for the playground's fake organisation.

These are the shapes Microsoft Teams posts to a bot's messaging endpoint (as captured from
Teams and documented for the Bot Framework): messages with HTML text, ``<at>`` mentions and
their ``mention`` entities; edits as ``messageUpdate`` with ``eventType`` ``editMessage``;
installs as ``installationUpdate`` and ``conversationUpdate``; card buttons as ``invoke``
``adaptiveCard/action``. Pure functions: no I/O, no clock (the caller passes ids and times).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from bot.playground.personas import (
    BOT_ID,
    BOT_NAME,
    CHANNEL_ID,
    CHANNEL_NAME,
    GROUP_CHAT_ID,
    TEAM_ID,
    TEAM_NAME,
    TENANT_ID,
    THREAD_SUFFIX,
    Persona,
)

PlaceKind = Literal["channel", "thread", "groupChat", "personal"]
PLACE_KINDS: tuple[PlaceKind, ...] = ("channel", "thread", "groupChat", "personal")

FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
TEAMS_AAD_GROUP_ID = "00000000-0000-4000-8000-0000000000ee"
_JAPAN = timezone(timedelta(hours=9))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a persona posts: a new channel post, a reply in a channel thread, a chat."""

    kind: PlaceKind
    thread_root_id: str | None = None  # the root post, for a thread reply

    def conversation_id(self, persona: Persona, activity_id: str) -> str:
        """The ``conversation.id`` Teams uses for a message here."""
        if self.kind == "channel":
            # A new channel post starts its own thread, named after the post itself.
            return f"{CHANNEL_ID}{THREAD_SUFFIX}{activity_id}"
        if self.kind == "thread":
            return f"{CHANNEL_ID}{THREAD_SUFFIX}{self.thread_root_id}"
        if self.kind == "groupChat":
            return GROUP_CHAT_ID
        return persona.personal_conversation_id()


@dataclass(frozen=True, slots=True)
class FileAttachment:
    """A file someone attached (Teams sends its name and type, never its bytes)."""

    name: str
    unique_id: str
    content_url: str


def conversation_for(place: Place, persona: Persona, activity_id: str) -> dict[str, Any]:
    """The ``conversation`` object of an activity posted at ``place``."""
    conversation: dict[str, Any] = {
        "id": place.conversation_id(persona, activity_id),
        "tenantId": TENANT_ID,
    }
    if place.kind in ("channel", "thread"):
        conversation |= {"conversationType": "channel", "isGroup": True, "name": CHANNEL_NAME}
    elif place.kind == "groupChat":
        conversation |= {"conversationType": "groupChat", "isGroup": True}
    else:
        conversation |= {"conversationType": "personal"}
    return conversation


def channel_data_for(place: Place) -> dict[str, Any]:
    """Teams' ``channelData``: the tenant, and the team and channel for channel messages."""
    data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
    if place.kind in ("channel", "thread"):
        data |= {
            "teamsChannelId": CHANNEL_ID,
            "teamsTeamId": TEAM_ID,
            "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
            "team": {"id": TEAM_ID, "name": TEAM_NAME, "aadGroupId": TEAMS_AAD_GROUP_ID},
        }
    return data


def _base(
    kind: str,
    place: Place,
    persona: Persona,
    *,
    activity_id: str,
    timestamp: str,
    service_url: str,
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": activity_id,
        "timestamp": timestamp,
        "localTimestamp": _local_timestamp(timestamp),
        "localTimezone": "Asia/Tokyo",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": persona.account(),
        "conversation": conversation_for(place, persona, activity_id),
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": "ja-JP",
        "channelData": channel_data_for(place),
    }


def _local_timestamp(timestamp: str) -> str:
    # Teams sends the sender's local time alongside UTC; the playground's people are in Japan.
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    local = moment.astimezone(_JAPAN)
    return local.isoformat(timespec="milliseconds")


def message_html(text: str, *, mention_bot: bool) -> str:
    """The HTML Teams puts in ``text``: paragraphs, escaped text, an ``<at>`` tag for a mention."""
    lines = [html.escape(line, quote=False) for line in text.split("\n")]
    body = "<br>".join(lines)
    if mention_bot:
        body = f"<at>{html.escape(BOT_NAME)}</at> {body}" if body else f"<at>{html.escape(BOT_NAME)}</at>"
    return f"<p>{body}</p>"


def _entities(*, mention_bot: bool) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if mention_bot:
        entities.append(
            {
                "type": "mention",
                "text": f"<at>{html.escape(BOT_NAME)}</at>",
                "mentioned": {"id": BOT_ID, "name": BOT_NAME},
            }
        )
    entities.append(
        {
            "type": "clientInfo",
            "locale": "ja-JP",
            "country": "JP",
            "platform": "Web",
            "timezone": "Asia/Tokyo",
        }
    )
    return entities


def _attachments(body_html: str, files: tuple[FileAttachment, ...]) -> list[dict[str, Any]]:
    attachments: list[dict[str, Any]] = [
        {
            "contentType": FILE_DOWNLOAD_INFO,
            "contentUrl": file.content_url,
            "name": file.name,
            "content": {"uniqueId": file.unique_id, "fileType": file.name.rsplit(".", 1)[-1].lower()},
        }
        for file in files
    ]
    attachments.append({"contentType": "text/html", "content": body_html})
    return attachments


def message_activity(
    persona: Persona,
    place: Place,
    text: str,
    *,
    activity_id: str,
    timestamp: str,
    service_url: str,
    mention_bot: bool = False,
    files: tuple[FileAttachment, ...] = (),
) -> dict[str, Any]:
    """A ``message`` activity as Teams sends it for a new post, a thread reply or a chat message."""
    body_html = message_html(text, mention_bot=mention_bot)
    activity = _base(
        "message", place, persona, activity_id=activity_id, timestamp=timestamp, service_url=service_url
    )
    activity |= {
        "text": body_html,
        "textFormat": "plain",
        "attachments": _attachments(body_html, files),
        "entities": _entities(mention_bot=mention_bot),
    }
    if place.kind == "thread" and place.thread_root_id:
        activity["replyToId"] = place.thread_root_id
    return activity


def edit_activity(
    persona: Persona,
    place: Place,
    text: str,
    *,
    activity_id: str,
    timestamp: str,
    service_url: str,
    mention_bot: bool = False,
    files: tuple[FileAttachment, ...] = (),
) -> dict[str, Any]:
    """The ``messageUpdate`` Teams sends when a person edits their message (same id, new text)."""
    activity = message_activity(
        persona,
        place,
        text,
        activity_id=activity_id,
        timestamp=timestamp,
        service_url=service_url,
        mention_bot=mention_bot,
        files=files,
    )
    activity["type"] = "messageUpdate"
    activity["channelData"] = {**activity["channelData"], "eventType": "editMessage"}
    return activity


def install_activities(
    persona: Persona, place: Place, *, activity_ids: tuple[str, str], timestamp: str, service_url: str
) -> list[dict[str, Any]]:
    """What Teams sends when someone adds the app: ``conversationUpdate`` then ``installationUpdate``."""
    # Both address the conversation itself (the channel, not a thread of it).
    where = Place("channel") if place.kind == "thread" else place
    update = _base(
        "conversationUpdate",
        where,
        persona,
        activity_id=activity_ids[0],
        timestamp=timestamp,
        service_url=service_url,
    )
    update["membersAdded"] = [{"id": BOT_ID}]
    install = _base(
        "installationUpdate",
        where,
        persona,
        activity_id=activity_ids[1],
        timestamp=timestamp,
        service_url=service_url,
    )
    install["action"] = "add"
    for activity in (update, install):
        if where.kind == "channel":
            activity["conversation"]["id"] = CHANNEL_ID
            activity["channelData"]["settings"] = {"selectedChannel": {"id": CHANNEL_ID}}
    if where.kind == "channel":
        update["channelData"]["eventType"] = "teamMemberAdded"
    return [update, install]


def card_action_activity(
    persona: Persona,
    place: Place,
    *,
    activity_id: str,
    card_activity_id: str,
    verb: str,
    data: dict[str, Any],
    timestamp: str,
    service_url: str,
    action_id: str | None = None,
    trigger: Literal["manual", "automatic"] = "manual",
) -> dict[str, Any]:
    """The ``invoke`` ``adaptiveCard/action`` Teams sends for an Action.Execute (a click, or a refresh)."""
    activity = _base(
        "invoke",
        place,
        persona,
        activity_id=activity_id,
        timestamp=timestamp,
        service_url=service_url,
    )
    action: dict[str, Any] = {"type": "Action.Execute", "verb": verb, "data": data}
    if action_id:
        action["id"] = action_id
    activity |= {
        "name": "adaptiveCard/action",
        "replyToId": card_activity_id,
        "value": {"action": action, "trigger": trigger},
    }
    return activity
