"""Turns Bot Framework activities (parsed JSON dicts) into the frozen domain objects, and back.

Conversion works on the dict from ``json.loads`` directly: msrest's ``Activity().deserialize``
costs about 40 times the JSON parse itself. Every accessor tolerates any JSON type where an
object or string is expected; what the services cannot do without raises ``InvalidActivity``
(answered 400).
"""

from __future__ import annotations

import html
import re
from typing import Any, Final

from botbuilder.schema import ActivityTypes

from bot.domain import (
    Attachment,
    CardAction,
    ConversationKind,
    ConversationRef,
    IncomingMessage,
    InstallEvent,
    InvokeResult,
    Person,
)

MESSAGE: Final = ActivityTypes.message.value
MESSAGE_UPDATE: Final = ActivityTypes.message_update.value
MESSAGE_DELETE: Final = ActivityTypes.message_delete.value
CONVERSATION_UPDATE: Final = ActivityTypes.conversation_update.value
INSTALLATION_UPDATE: Final = ActivityTypes.installation_update.value
INVOKE: Final = ActivityTypes.invoke.value
ADAPTIVE_CARD_ACTION: Final = "adaptiveCard/action"

# Teams channelData.eventType values that matter here.
EDIT_EVENT: Final = "editMessage"
UNDELETE_EVENT: Final = "undeleteMessage"
SOFT_DELETE_EVENT: Final = "softDeleteMessage"

CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
MESSAGE_CONTENT_TYPE: Final = "application/vnd.microsoft.activity.message"
ERROR_CONTENT_TYPE: Final = "application/vnd.microsoft.error"
HTML_CONTENT_TYPE: Final = "text/html"

_CONVERSATION_KINDS: Final[frozenset[str]] = frozenset({"channel", "groupChat", "personal"})
_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|li|h[1-6]|tr|blockquote)>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->", re.DOTALL)  # only what looks like a tag: "x < y" stays
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


class InvalidActivity(ValueError):
    """The activity lacks something the bot needs (answered 400)."""


_NOTHING: Final[dict[str, Any]] = {}  # stands for a missing or mistyped object; never written to


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _NOTHING


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def plain_text(text: str) -> str:
    """The text the rules see: mentions removed, HTML tags stripped, entities decoded."""
    if text.startswith("<p>") and text.endswith("</p>") and text.count("<") == 2:
        text = text[3:-4]  # Teams' usual one-paragraph message, without the regexes
    elif "<" in text:
        if "<at" in text or "<AT" in text or "<At" in text:
            text = _MENTION.sub("", text)
        text = _BREAK.sub("\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    if "  " in text or "\t" in text or "\u00a0" in text:
        text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _BLANK_LINES.sub("\n", text)
    return text.strip()


def person(account: Any) -> Person:
    """A domain Person from a ChannelAccount dict."""
    if not isinstance(account, dict):
        return Person(teams_id="", aad_object_id=None, name="")
    teams_id = account.get("id")
    name = account.get("name")
    return Person(
        teams_id=teams_id if isinstance(teams_id, str) else "",
        aad_object_id=_opt_str(account.get("aadObjectId")),
        name=name if isinstance(name, str) else "",
    )


# The accessors below run several times for every activity: written out, without the helpers.


def tenant_id(activity: dict[str, Any]) -> str | None:
    """The Entra tenant of the activity (channelData.tenant.id, else conversation.tenantId)."""
    channel_data = activity.get("channelData")
    if isinstance(channel_data, dict):
        tenant = channel_data.get("tenant")
        if isinstance(tenant, dict):
            found = tenant.get("id")
            if isinstance(found, str) and found:
                return found
    conversation = activity.get("conversation")
    if isinstance(conversation, dict):
        found = conversation.get("tenantId")
        if isinstance(found, str) and found:
            return found
    return None


def is_from_bot(activity: dict[str, Any]) -> bool:
    """The sender is this bot or another bot (Teams bot ids start with '28:')."""
    sender = activity.get("from")
    if not isinstance(sender, dict):
        return False
    sender_id = sender.get("id")
    if not isinstance(sender_id, str):
        sender_id = ""
    if sender_id.startswith("28:") or sender.get("role") == "bot":
        return True
    recipient = activity.get("recipient")
    return bool(sender_id) and isinstance(recipient, dict) and sender_id == recipient.get("id")


def event_type(activity: dict[str, Any]) -> str:
    """Teams' channelData.eventType ('' when absent)."""
    channel_data = activity.get("channelData")
    if isinstance(channel_data, dict):
        event = channel_data.get("eventType")
        if isinstance(event, str):
            return event
    return ""


def conversation_ref(activity: dict[str, Any]) -> ConversationRef:
    """Where the activity happened, enough to answer there later."""
    # written out rather than through the small helpers: this runs for every activity
    conversation = activity.get("conversation")
    if not isinstance(conversation, dict):
        conversation = _NOTHING
    conversation_id = conversation.get("id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise InvalidActivity("conversation.id missing")
    service_url = activity.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url:
        raise InvalidActivity("serviceUrl missing")
    channel_data = activity.get("channelData")
    if not isinstance(channel_data, dict):
        channel_data = _NOTHING
    team = channel_data.get("team")
    if not isinstance(team, dict):
        team = _NOTHING
    channel = channel_data.get("channel")
    channel_id = _opt_str(channel.get("id")) if isinstance(channel, dict) else None
    declared = conversation.get("conversationType")
    kind: ConversationKind
    if isinstance(declared, str) and declared in _CONVERSATION_KINDS:
        kind = declared  # type: ignore[assignment]
    elif channel_id:
        kind = "channel"
    elif conversation.get("isGroup") is True:
        kind = "groupChat"
    else:
        kind = "personal"
    _, _, thread_root = conversation_id.partition(";messageid=")
    recipient = activity.get("recipient")
    bot_id = recipient.get("id") if isinstance(recipient, dict) else None
    return ConversationRef(
        conversation_id=conversation_id,
        kind=kind,
        service_url=service_url,
        tenant_id=tenant_id(activity),
        bot_id=bot_id if isinstance(bot_id, str) else "",
        team_id=_opt_str(team.get("id")),
        channel_id=channel_id,
        thread_root_id=thread_root or None,
        team_aad_group_id=_opt_str(team.get("aadGroupId")),
    )


def _attachments(activity: dict[str, Any]) -> tuple[tuple[Attachment, ...], str]:
    """File/card attachments, and the HTML copy of the body Teams attaches (not an attachment)."""
    raw = activity.get("attachments")
    if not isinstance(raw, list) or not raw:
        return (), ""
    found: list[Attachment] = []
    html_body = ""
    for item in raw:
        item = _obj(item)
        content_type = _str(item.get("contentType"))
        if content_type == HTML_CONTENT_TYPE:
            html_body = html_body or _str(item.get("content"))
            continue
        if content_type:
            found.append(
                Attachment(
                    content_type=content_type,
                    name=_str(item.get("name")),
                    content_url=_opt_str(item.get("contentUrl")),
                )
            )
    return tuple(found), html_body


def _mentions_bot(activity: dict[str, Any], bot_id: str) -> bool:
    entities = activity.get("entities")
    if not bot_id or not isinstance(entities, list):
        return False
    for entity in entities:
        entity = _obj(entity)
        if entity.get("type") == "mention" and _obj(entity.get("mentioned")).get("id") == bot_id:
            return True
    return False


def incoming_message(activity: dict[str, Any], *, is_edit: bool) -> IncomingMessage | None:
    """A message or edit as the services see it; None when it carries neither text nor files."""
    conversation = conversation_ref(activity)
    sender = person(activity.get("from"))
    if not sender.teams_id:
        raise InvalidActivity("from.id missing")
    attachments, html_body = _attachments(activity)
    text = activity.get("text")
    original = text if isinstance(text, str) and text else html_body
    if not original and not attachments:
        return None
    activity_id = activity.get("id")
    if not isinstance(activity_id, str):
        activity_id = ""
    reply_to = activity.get("replyToId")
    is_reply = (isinstance(reply_to, str) and bool(reply_to)) or (
        conversation.thread_root_id is not None and conversation.thread_root_id != activity_id
    )
    locale = activity.get("locale")
    if not isinstance(locale, str) or not locale:
        locale = "ja-JP"
    timestamp = activity.get("timestamp")
    return IncomingMessage(
        activity_id=activity_id,
        conversation=conversation,
        sender=sender,
        text=plain_text(original),
        original_text=original,
        is_reply=is_reply,
        is_edit=is_edit,
        mentions_bot=_mentions_bot(activity, conversation.bot_id),
        attachments=attachments,
        locale=locale,
        timestamp=timestamp if isinstance(timestamp, str) and timestamp else None,
    )


def install_event(activity: dict[str, Any]) -> InstallEvent | None:
    """An installationUpdate or a conversationUpdate adding/removing members; None otherwise."""
    conversation = conversation_ref(activity)
    actor = person(activity.get("from"))
    actor_or_none = actor if actor.teams_id else None
    activity_id = _str(activity.get("id"))
    if activity.get("type") == INSTALLATION_UPDATE:
        action = _str(activity.get("action"))
        removing = action.startswith("remove")
        return InstallEvent(
            activity_id=activity_id,
            conversation=conversation,
            actor=actor_or_none,
            action="remove" if removing else "add",
            bot_added=not removing,
        )
    added = activity.get("membersAdded")
    removed = activity.get("membersRemoved")
    bot_id = conversation.bot_id
    if isinstance(added, list) and added:
        members = tuple(person(member) for member in added)
        return InstallEvent(
            activity_id=activity_id,
            conversation=conversation,
            actor=actor_or_none,
            action="add",
            bot_added=any(member.teams_id == bot_id for member in members),
            added_members=tuple(member for member in members if member.teams_id != bot_id),
        )
    if isinstance(removed, list) and any(_obj(member).get("id") == bot_id for member in removed):
        return InstallEvent(
            activity_id=activity_id,
            conversation=conversation,
            actor=actor_or_none,
            action="remove",
            bot_added=False,
        )
    return None


def card_action(activity: dict[str, Any]) -> CardAction:
    """An ``adaptiveCard/action`` invoke as a CardAction (InvalidActivity without a verb)."""
    conversation = conversation_ref(activity)
    value = _obj(activity.get("value"))
    action = _obj(value.get("action"))
    verb = _str(action.get("verb"))
    if not verb:
        raise InvalidActivity("action.verb missing")
    sender = person(activity.get("from"))
    if not sender.teams_id:
        raise InvalidActivity("from.id missing")
    data = action.get("data")
    return CardAction(
        activity_id=_str(activity.get("id")),
        conversation=conversation,
        sender=sender,
        verb=verb,
        data=data if isinstance(data, dict) else {},
        card_activity_id=_opt_str(activity.get("replyToId")),
        trigger="automatic" if value.get("trigger") == "automatic" else "manual",
    )


def invoke_response_body(result: InvokeResult) -> dict[str, Any]:
    """The Universal Actions response body for an InvokeResult."""
    if result.error_code is not None or result.status >= 400:
        code = result.error_code if result.error_code is not None else result.status
        return {
            "statusCode": code,
            "type": ERROR_CONTENT_TYPE,
            "value": {"code": str(code), "message": result.error_message or ""},
        }
    if result.card is not None:
        return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": result.card}
    return {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": result.message or ""}


def invoke_error_body(code: int, message: str) -> dict[str, Any]:
    """A Universal Actions error body (the HTTP status stays 200)."""
    return invoke_response_body(InvokeResult(error_code=code, error_message=message))
