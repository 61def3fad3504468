"""Turn an ``Outgoing`` into the Bot Framework activity JSON the connector expects."""

from __future__ import annotations

from typing import Any

from bot.domain import ConversationRef, Outgoing, Person

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
THREAD_SUFFIX = ";messageid="


def message_activity(outgoing: Outgoing) -> dict[str, Any]:
    """A ``message`` activity with the card as an Adaptive Card attachment and/or the text."""
    activity: dict[str, Any] = {"type": "message"}
    if outgoing.text:
        activity["text"] = outgoing.text
        activity["textFormat"] = "plain"
    if outgoing.card is not None:
        activity["attachments"] = [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": outgoing.card}]
    return activity


def channel_account(person: Person) -> dict[str, Any]:
    """The ``ChannelAccount`` JSON for a person."""
    account: dict[str, Any] = {"id": person.teams_id}
    if person.name:
        account["name"] = person.name
    if person.aad_object_id:
        account["aadObjectId"] = person.aad_object_id
    return account


def base_conversation_id(conversation_id: str) -> str:
    """A channel conversation id without its ``;messageid=`` thread suffix."""
    return conversation_id.split(THREAD_SUFFIX, 1)[0]


def thread_conversation_id(conversation: ConversationRef) -> str:
    """The id that addresses the conversation's thread (channel reply chain) when it has one."""
    if conversation.thread_root_id and conversation.kind == "channel":
        return f"{base_conversation_id(conversation.conversation_id)}{THREAD_SUFFIX}{conversation.thread_root_id}"
    return conversation.conversation_id
