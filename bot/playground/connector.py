"""A local stand-in for the Bot Connector service, the ``serviceUrl`` of playground activities.

The bot's real outbound sender calls it exactly as it calls Teams' connector:
``POST v3/conversations`` (create a 1:1 chat), ``POST v3/conversations/{id}/activities``
(send; ``?isTargetedActivity=true`` for a message seen by its recipient alone),
``POST .../activities/{id}`` (reply in a thread), ``PUT`` and ``DELETE .../activities/{id}``.
It answers like the real service (``{"id": ...}``, 400 for a malformed call, 404 for an
unknown activity) and records every message in the playground store, which pushes it to the
open pages. Served in local mode only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.playground.personas import CHANNEL_ID, PERSONAL_PREFIX, Persona, persona_by_member_id
from bot.playground.store import Entry, PlaygroundStore, split_conversation_id

TARGETED_QUERY = "isTargetedActivity"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrapper = Callable[[Handler], Handler]
MAX_ACTIVITY_BYTES = 256 * 1024


def _unwrapped(handler: Handler) -> Handler:
    return handler


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def personal_conversation_for(personas: tuple[Persona, ...], member_id: str) -> str:
    """The 1:1 chat id of a member: the persona's own chat, or a stable id for anyone else."""
    persona = persona_by_member_id(personas, member_id)
    if persona is not None:
        return persona.personal_conversation_id()
    digest = hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:12]
    return f"{PERSONAL_PREFIX}member-{digest}"


class ConnectorStandIn:
    """aiohttp handlers for ``{prefix}/v3/conversations...``."""

    def __init__(self, store: PlaygroundStore, personas: tuple[Persona, ...]) -> None:
        self._store = store
        self._personas = personas

    def add_routes(self, app: web.Application, prefix: str, *, wrap: Wrapper = _unwrapped) -> None:
        """Register the connector's routes under ``prefix`` (e.g. ``/playground/connector``)."""
        conversations = f"{prefix}/v3/conversations"
        activities = conversations + "/{conversation_id}/activities"
        app.router.add_post(conversations, wrap(self.create_conversation))
        app.router.add_post(activities, wrap(self.send_activity))
        app.router.add_post(activities + "/{activity_id}", wrap(self.reply_to_activity))
        app.router.add_put(activities + "/{activity_id}", wrap(self.update_activity))
        app.router.add_delete(activities + "/{activity_id}", wrap(self.delete_activity))

    # -- handlers ---------------------------------------------------------------------------

    async def create_conversation(self, request: web.Request) -> web.Response:
        """``POST v3/conversations``: the 1:1 chat of one member with the bot (existing or new)."""
        body = await _json_body(request)
        if body is None:
            return self._log(request, "create", "", _error(400, "BadArgument", "body must be a JSON object"))
        members = body.get("members")
        bot = body.get("bot")
        if (
            not isinstance(bot, dict)
            or not bot.get("id")
            or not isinstance(members, list)
            or len(members) != 1
            or not isinstance(members[0], dict)
            or not isinstance(members[0].get("id"), str)
            or not members[0]["id"]
        ):
            return self._log(
                request, "create", "", _error(400, "BadArgument", "bot and one member are required")
            )
        conversation_id = personal_conversation_for(self._personas, members[0]["id"])
        if not any(e.conversation_id == conversation_id for e in self._store.entries()):
            self._store.add(
                Entry(
                    id=self._store.new_activity_id(),
                    conversation_id=conversation_id,
                    thread_root_id=None,
                    author="system",
                    activity={"text": "ボットがこの1:1チャットを開始しました（POST /v3/conversations）"},
                )
            )
        return self._log(
            request, "create", conversation_id, web.json_response({"id": conversation_id}, status=201)
        )

    async def send_activity(self, request: web.Request) -> web.Response:
        """``POST .../activities``: a new message (targeted when the query says so)."""
        conversation_id = request.match_info["conversation_id"]
        return await self._post(request, conversation_id, reply_to=None)

    async def reply_to_activity(self, request: web.Request) -> web.Response:
        """``POST .../activities/{id}``: a reply to an activity (in its thread, in channels)."""
        conversation_id = request.match_info["conversation_id"]
        return await self._post(request, conversation_id, reply_to=request.match_info["activity_id"])

    async def update_activity(self, request: web.Request) -> web.Response:
        """``PUT .../activities/{id}``: a new version of an earlier message of the bot."""
        conversation_id = request.match_info["conversation_id"]
        activity_id = request.match_info["activity_id"]
        body = await _json_body(request)
        targeted = _is_targeted(request)
        if body is None:
            return self._log(
                request, "update", conversation_id, _error(400, "BadArgument", "body must be a JSON object")
            )
        if targeted and "recipient" in body:
            # Teams refuses a recipient on the update of a targeted message.
            return self._log(
                request,
                "update",
                conversation_id,
                _error(400, "BadArgument", "recipient not allowed on update"),
            )
        entry = self._bot_entry(conversation_id, activity_id)
        if entry is None:
            return self._log(request, "update", conversation_id, _error(404, "NotFound", "unknown activity"))
        self._store.update(entry, _shown_activity(body))
        return self._log(request, "update", conversation_id, web.json_response({"id": activity_id}))

    async def delete_activity(self, request: web.Request) -> web.Response:
        """``DELETE .../activities/{id}``: remove an earlier message of the bot."""
        conversation_id = request.match_info["conversation_id"]
        entry = self._bot_entry(conversation_id, request.match_info["activity_id"])
        if entry is None:
            return self._log(request, "delete", conversation_id, _error(404, "NotFound", "unknown activity"))
        self._store.delete(entry)
        return self._log(request, "delete", conversation_id, web.Response(status=200))

    # -- helpers ----------------------------------------------------------------------------

    async def _post(
        self, request: web.Request, conversation_id: str, *, reply_to: str | None
    ) -> web.Response:
        operation = "reply" if reply_to else "send"
        body = await _json_body(request)
        if body is None:
            return self._log(
                request, operation, conversation_id, _error(400, "BadArgument", "body must be a JSON object")
            )
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            return self._log(
                request, operation, conversation_id, _error(400, "BadArgument", "type is required")
            )
        targeted = _is_targeted(request)
        recipient = body.get("recipient")
        recipient_id = recipient.get("id") if isinstance(recipient, dict) else None
        if targeted and (not isinstance(recipient_id, str) or not recipient_id):
            return self._log(
                request,
                operation,
                conversation_id,
                _error(400, "BadArgument", "a targeted activity needs a recipient"),
            )
        activity_id = self._store.new_activity_id()
        if kind == "message":
            base, root = split_conversation_id(conversation_id)
            if root is None and reply_to and base == CHANNEL_ID:
                root = reply_to
            self._store.add(
                Entry(
                    id=activity_id,
                    conversation_id=base,
                    thread_root_id=root,
                    author="bot",
                    activity=_shown_activity(body),
                    targeted_to=recipient_id if targeted else None,
                )
            )
        return self._log(
            request, operation, conversation_id, web.json_response({"id": activity_id}, status=201)
        )

    def _bot_entry(self, conversation_id: str, activity_id: str) -> Entry | None:
        entry = self._store.get(activity_id)
        base, _ = split_conversation_id(conversation_id)
        if entry is None or entry.author != "bot" or entry.conversation_id != base:
            return None
        return entry

    def _log(
        self, request: web.Request, operation: str, conversation_id: str, response: web.Response
    ) -> web.Response:
        self._store.log_call(
            request.method, operation, conversation_id, response.status, _is_targeted(request)
        )
        return response


def _is_targeted(request: web.Request) -> bool:
    return request.query.get(TARGETED_QUERY, "").lower() == "true"


def _shown_activity(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a bot activity the page renders."""
    shown: dict[str, Any] = {"type": body.get("type", "message")}
    for key in ("text", "textFormat", "attachments", "attachmentLayout", "summary"):
        if key in body:
            shown[key] = body[key]
    return shown


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
        return None
    try:
        raw = await request.read()
        value = json.loads(raw) if raw else None
    except (ValueError, RecursionError, web.HTTPRequestEntityTooLarge):  # RecursionError: nested too deeply
        return None
    return value if isinstance(value, dict) else None
