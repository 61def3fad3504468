"""Microsoft Graph reads the bot needs: file attachments of channel/chat messages, departments.

Teams hands file attachments to bots only in 1:1 chats; for channel and group-chat messages the
attachment list is read from Graph with the app's own token (resource-specific consent grants
``ChannelMessage.Read.Group`` / ``ChatMessage.Read.Chat``). Every failure returns an empty
answer and is logged without message content: Graph trouble must never block the rules.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

GRAPH_V1 = "https://graph.microsoft.com/v1.0"
REFERENCE_CONTENT_TYPE = "reference"  # a file shared from SharePoint/OneDrive
UNKNOWN_CONTENT_TYPE = "application/octet-stream"

# The formats Teams and phones record in, which the stdlib table misses or names oddly.
_EXTENSION_TYPES = {
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".wma": "audio/x-ms-wma",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
    ".amr": "audio/amr",
    ".3gp": "audio/3gpp",
    ".webm": "audio/webm",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
}

AttachmentInfo = tuple[str, str]
"""(content type, file name)."""

TokenSource = Callable[[], Awaitable[str]]


def content_type_for_name(name: str) -> str:
    """The MIME type for a file name by its extension (``application/octet-stream`` if unknown)."""
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot >= 0 else ""
    if extension in _EXTENSION_TYPES:
        return _EXTENSION_TYPES[extension]
    guessed, _ = mimetypes.guess_type("x" + extension) if extension else (None, None)
    return guessed or UNKNOWN_CONTENT_TYPE


def attachments_from_message(message: dict[str, Any]) -> list[AttachmentInfo]:
    """(content type, name) for each attachment of a Graph ``chatMessage``."""
    found: list[AttachmentInfo] = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        content_type = str(item.get("contentType") or "")
        name = str(item.get("name") or "")
        if content_type == REFERENCE_CONTENT_TYPE:
            if not name:
                url = str(item.get("contentUrl") or "")
                name = url.rsplit("/", 1)[-1].split("?", 1)[0]
            found.append((content_type_for_name(name), name))
        elif content_type:
            found.append((content_type, name))
    return found


class _TtlCache:
    """A small LRU with a time to live, for department look-ups."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, str | None]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        stored_at, value = entry
        if self._clock() - stored_at > self._ttl_s:
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, value

    def put(self, key: str, value: str | None) -> None:
        self._data[key] = (self._clock(), value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)


class GraphClient:
    """Reads from Microsoft Graph on the shared aiohttp session with an app-only token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        *,
        base_url: str = GRAPH_V1,
        department_ttl_s: float = 6 * 3600,
        department_cache_size: int = 10_000,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``tokens`` gives a token for ``https://graph.microsoft.com/.default``."""
        self._session = session
        self._tokens = tokens
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._departments = _TtlCache(department_ttl_s, department_cache_size, clock)

    async def channel_message_attachments(
        self, team_id: str, channel_id: str, message_id: str, *, root_id: str | None = None
    ) -> list[AttachmentInfo]:
        """Attachments of a channel post, or of a reply when ``root_id`` (the thread's first post) is given.

        ``team_id`` is the team's Entra group id (``channelData.team.aadGroupId``).
        """
        path = f"/teams/{_q(team_id)}/channels/{_q(channel_id)}/messages/"
        if root_id and root_id != message_id:
            path += f"{_q(root_id)}/replies/{_q(message_id)}"
        else:
            path += _q(message_id)
        message = await self._get_json(path, "channel message")
        return attachments_from_message(message) if message else []

    async def chat_message_attachments(self, chat_id: str, message_id: str) -> list[AttachmentInfo]:
        """Attachments of a (group) chat message."""
        message = await self._get_json(f"/chats/{_q(chat_id)}/messages/{_q(message_id)}", "chat message")
        return attachments_from_message(message) if message else []

    async def user_department(self, user_id: str) -> str | None:
        """The user's ``department`` (cached); None when unknown or Graph fails."""
        hit, value = self._departments.get(user_id)
        if hit:
            return value
        user = await self._get_json(f"/users/{_q(user_id)}?$select=department", "user", not_found_ok=True)
        if user is None:
            return None  # failure: not cached, so a later call may succeed
        department = user.get("department")
        value = str(department) if department else None
        self._departments.put(user_id, value)
        return value

    async def _get_json(self, path: str, what: str, *, not_found_ok: bool = False) -> dict[str, Any] | None:
        """GET and parse; None on any failure (an empty dict for a 404 when ``not_found_ok``)."""
        try:
            token = await self._tokens()
            async with self._session.get(
                self.base_url + path,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self._timeout,
            ) as response:
                if response.status == 404 and not_found_ok:
                    return {}
                if response.status != 200:
                    log.warning("Graph %s read answered %d", what, response.status)
                    return None
                data = await response.json(content_type=None)
        except Exception as exc:  # network, TLS, token, JSON: all mean "no answer"
            log.warning("Graph %s read failed: %s", what, type(exc).__name__)
            return None
        return data if isinstance(data, dict) else None


def _q(segment: str) -> str:
    return quote(segment, safe="")
