"""What happened in the playground's conversations, kept in memory and pushed to open pages.

Entries are the people's messages (as the page sent them) and the bot's activities (as the
Bot Connector stand-in received them). Each page views the conversations as one persona: a
targeted message is seen by its recipient alone, a 1:1 chat by its member alone, and the card
an invoke answer replaced is replaced for the person who clicked. Only in local mode, and only
in this process's memory: nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bot.playground.personas import PERSONAL_PREFIX, THREAD_SUFFIX, Persona

MAX_ENTRIES = 2000
MAX_CALLS = 200
SUBSCRIBER_QUEUE = 256

Author = Literal["bot", "person", "system"]


def split_conversation_id(conversation_id: str) -> tuple[str, str | None]:
    """``19:x@thread.tacv2;messageid=1`` -> (``19:x@thread.tacv2``, ``1``)."""
    base, _, root = conversation_id.partition(THREAD_SUFFIX)
    return base, root or None


@dataclass
class Entry:
    """One message in a conversation, with what has happened to it since."""

    id: str
    conversation_id: str  # without the ;messageid= thread suffix
    thread_root_id: str | None
    author: Author
    activity: dict[str, Any]  # the bot's activity, or {"text", "attachments"} for a person
    sender_key: str = ""  # the persona's key, for a person's message
    targeted_to: str | None = None  # the recipient's Teams id for a targeted message
    edited: bool = False
    deleted: bool = False
    version: int = 1
    timestamp: str = ""
    replaced_for: dict[str, dict[str, Any]] = field(default_factory=dict)  # viewer -> invoke card

    def visible_to(self, viewer: Persona) -> bool:
        """A targeted message is its recipient's; a 1:1 chat is its member's."""
        if self.targeted_to is not None and self.targeted_to != viewer.teams_id:
            return False
        return not (
            self.conversation_id.startswith(PERSONAL_PREFIX)
            and self.conversation_id != viewer.personal_conversation_id()
        )

    def view(self, viewer: Persona) -> dict[str, Any]:
        """The entry as ``viewer``'s page shows it (with their replaced card, if any)."""
        activity = self.activity
        replacement = self.replaced_for.get(viewer.teams_id)
        if replacement is not None:
            activity = {**activity, "attachments": [_card_attachment(replacement)]}
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "thread_root_id": self.thread_root_id,
            "author": self.author,
            "sender_key": self.sender_key,
            "targeted": self.targeted_to is not None,
            "edited": self.edited,
            "deleted": self.deleted,
            "version": self.version,
            "timestamp": self.timestamp,
            "activity": {} if self.deleted else activity,
        }


def _card_attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}


@dataclass(frozen=True, slots=True)
class ConnectorCall:
    """One call the bot made to the connector stand-in (for the page's log; no content)."""

    method: str
    operation: str
    conversation_id: str
    status: int
    targeted: bool
    at: str


class Subscriber:
    """One open page stream: the persona it shows and its queue of changes."""

    def __init__(self, viewer: Persona) -> None:
        self.viewer = viewer
        self.closed = False
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)


class PlaygroundStore:
    """The conversations' entries, the connector call log, and the pages listening for changes."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._order: deque[str] = deque()
        self._calls: deque[ConnectorCall] = deque(maxlen=MAX_CALLS)
        self._subscribers: set[Subscriber] = set()
        self._counter = itertools.count(1)
        self._last_id = 0

    # -- ids and times ----------------------------------------------------------------------

    def new_activity_id(self) -> str:
        """A Teams-like activity id (milliseconds since the epoch), unique in this process."""
        self._last_id = max(self._last_id + 1, int(time.time() * 1000))
        return str(self._last_id)

    @staticmethod
    def now() -> str:
        """The current UTC time as Teams writes it."""
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- entries ----------------------------------------------------------------------------

    def add(self, entry: Entry) -> Entry:
        """Record a new entry and push it to the pages that may see it."""
        if not entry.timestamp:
            entry.timestamp = self.now()
        self._entries[entry.id] = entry
        self._order.append(entry.id)
        while len(self._order) > MAX_ENTRIES:
            self._entries.pop(self._order.popleft(), None)
        self.publish(entry)
        return entry

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, or None."""
        return self._entries.get(entry_id)

    def entries(self) -> list[Entry]:
        """Every entry, oldest first."""
        return [self._entries[i] for i in self._order if i in self._entries]

    def latest_root(self, conversation_id: str) -> Entry | None:
        """The newest root post (not a reply) of a channel, for replying in its thread."""
        for entry in reversed(self.entries()):
            if entry.conversation_id == conversation_id and entry.thread_root_id in (None, entry.id):
                return entry
        return None

    def snapshot(self, viewer: Persona) -> list[dict[str, Any]]:
        """What ``viewer``'s page shows when it opens."""
        return [entry.view(viewer) for entry in self.entries() if entry.visible_to(viewer)]

    def replace_for(self, entry: Entry, viewer: Persona, card: dict[str, Any]) -> None:
        """An invoke answer replaced the card for the person who clicked."""
        entry.replaced_for[viewer.teams_id] = card
        entry.version += 1  # every replacement is a new version, so the page redraws the card
        self.publish(entry, only=viewer)

    def update(self, entry: Entry, activity: dict[str, Any]) -> None:
        """The bot updated its message (PUT): everyone sees the new version."""
        entry.activity = activity
        entry.version += 1
        entry.replaced_for.clear()
        self.publish(entry)

    def edit(self, entry: Entry, activity: dict[str, Any]) -> None:
        """A person edited their message."""
        entry.activity = activity
        entry.version += 1
        entry.edited = True
        self.publish(entry)

    def delete(self, entry: Entry) -> None:
        """The bot deleted its message."""
        entry.deleted = True
        entry.version += 1
        self.publish(entry)

    def clear(self) -> None:
        """Forget every conversation and call (the page's 会話をリセット); open pages start over."""
        self._entries.clear()
        self._order.clear()
        self._calls.clear()
        self._push({"event": "reset"}, None)

    # -- connector call log -----------------------------------------------------------------

    def log_call(
        self, method: str, operation: str, conversation_id: str, status: int, targeted: bool
    ) -> None:
        """Remember one call to the connector stand-in and show it on the pages."""
        call = ConnectorCall(method, operation, conversation_id, status, targeted, self.now())
        self._calls.append(call)
        self._push({"event": "call", "call": _call_json(call)}, None)

    def calls(self) -> list[dict[str, Any]]:
        """The latest calls, oldest first."""
        return [_call_json(call) for call in self._calls]

    # -- subscribers ------------------------------------------------------------------------

    def subscribe(self, viewer: Persona) -> Subscriber:
        """Start listening for changes ``viewer`` may see."""
        subscriber = Subscriber(viewer)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop listening."""
        self._subscribers.discard(subscriber)

    def close_all(self) -> None:
        """End every open stream (the app is shutting down)."""
        for subscriber in list(self._subscribers):
            subscriber.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
        self._subscribers.clear()

    def publish(self, entry: Entry, *, only: Persona | None = None) -> None:
        """Push an entry's current view to each page allowed to see it."""
        self._push({"event": "entry", "entry": entry}, only)

    def _push(self, message: dict[str, Any], only: Persona | None) -> None:
        entry = message.get("entry")
        for subscriber in list(self._subscribers):
            viewer = subscriber.viewer
            if only is not None and viewer.teams_id != only.teams_id:
                continue
            if isinstance(entry, Entry):
                if not entry.visible_to(viewer):
                    continue
                payload = {"event": "entry", "entry": entry.view(viewer)}
            else:
                payload = message
            try:
                subscriber.queue.put_nowait(payload)
            except asyncio.QueueFull:
                # A page that stopped reading loses its stream; it reconnects and gets a snapshot.
                subscriber.closed = True
                self._subscribers.discard(subscriber)


def _call_json(call: ConnectorCall) -> dict[str, Any]:
    return {
        "method": call.method,
        "operation": call.operation,
        "conversation_id": call.conversation_id,
        "status": call.status,
        "targeted": call.targeted,
        "at": call.at,
    }
