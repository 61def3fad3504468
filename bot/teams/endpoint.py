"""``POST /api/messages``: checks, authenticates and parses a request, then routes the activity.

The order of the checks is chosen so that nothing costly happens for a request that will be
refused: content type (415), declared size (413), the token (401, cached), the body's size and
JSON (413/400), the token's ties to the activity (401), the tenant (403). Every refusal is a
short JSON body; nothing a client sends can produce a 5xx or a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import orjson
from aiohttp import web

from bot.metrics import Metrics
from bot.netutil import is_loopback
from bot.teams import convert
from bot.teams.auth import FAILURE_MESSAGES, AuthFailure, ChannelTokenValidator, ValidatedToken
from bot.teams.openid import SigningKeysUnavailable
from bot.teams.routing import ActivityRouter

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
RECENT_ACTIVITY_CAPACITY = 10_000
ROUTE_LABEL = "/api/messages"

Answer = tuple[int, dict[str, Any] | None]  # HTTP status and JSON body (None: no body)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()


_FAILURE_BODIES = {reason: _error_body(reason, message) for reason, message in FAILURE_MESSAGES.items()}
_UNSUPPORTED_TYPE = _error_body("unsupported_media_type", "Content-Type must be application/json")
_TOO_LARGE = _error_body("payload_too_large", f"body larger than {MAX_BODY_BYTES} bytes")
_NOT_JSON = _error_body("bad_request", "body is not a JSON object")
_KEYS_UNAVAILABLE = _error_body("unavailable", "signing keys unavailable, try again later")


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (``application/json``, any parameters, any case)."""
    if content_type is None:
        return False
    if content_type == "application/json" or content_type.startswith("application/json;"):
        return True
    return content_type.partition(";")[0].strip().lower() == "application/json"


def parse_json_body(body: bytes) -> Any:
    """The JSON value of a request body as ``json.loads`` reads it, about 3 times faster.

    orjson reads nearly every activity; what it refuses and the standard library accepts (NaN
    and Infinity, lone surrogates, UTF-16 and UTF-32 bodies, nesting deeper than 1024, numbers
    beyond a double) goes to ``json.loads``, so no request is refused that was read before. The
    one difference: an integer literal beyond 64 bits that a double can hold becomes a float
    (nothing the bot reads from an activity is such a number). Raises ``ValueError`` or
    ``RecursionError`` when the body is not JSON.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


_IN_FLIGHT: Any = object()  # the first delivery of an activity is still being handled


class RecentActivities:
    """A bounded record of activities being or already handled, for dropping redeliveries.

    Each entry holds the answer, so a redelivered invoke gets the same answer as the first
    delivery; one that arrives while the first is still being handled waits for it (a future
    is made only then: the first delivery, which is nearly every delivery, costs a dict entry).
    """

    def __init__(self, capacity: int = RECENT_ACTIVITY_CAPACITY) -> None:
        self._capacity = capacity
        # OrderedDict: evicting the oldest is O(1) (a plain dict degrades after many front deletions)
        self._answers: OrderedDict[tuple[str, ...], Answer] = OrderedDict()
        self._waiting: dict[tuple[str, ...], list[asyncio.Future[Answer]]] = {}

    def claim(self, key: tuple[str, ...]) -> bool:
        """True for a first delivery (the caller then calls ``settle`` or ``forget``)."""
        answers = self._answers
        if key in answers:
            return False
        answers[key] = _IN_FLIGHT
        if len(answers) > self._capacity:
            answers.popitem(last=False)
        return True

    async def answer_of(self, key: tuple[str, ...]) -> Answer:
        """The first delivery's answer (waiting for it while it is being handled)."""
        answer = self._answers.get(key, _IN_FLIGHT)
        if answer is not _IN_FLIGHT:
            return answer
        if key not in self._answers and key not in self._waiting:
            return (503, None)  # forgotten meanwhile: let the channel try again
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        return await asyncio.shield(future)

    def settle(self, key: tuple[str, ...], answer: Answer) -> None:
        """Record the first delivery's answer and hand it to redeliveries waiting for it."""
        if key in self._answers:
            self._answers[key] = answer
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(answer)

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop a claim so that a redelivery is handled again (waiting redeliveries get 503)."""
        self._answers.pop(key, None)
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result((503, None))


def dedupe_key(activity: dict[str, Any]) -> tuple[str, ...] | None:
    """What makes a delivery unique: type, conversation and id (plus the time, for edits)."""
    activity_id = activity.get("id")
    if not isinstance(activity_id, str) or not activity_id:
        return None
    conversation_id = activity.get("conversation", {})
    conversation_id = conversation_id.get("id") if isinstance(conversation_id, dict) else None
    kind = activity.get("type")
    key: tuple[str, ...] = (
        kind if isinstance(kind, str) else "",
        conversation_id if isinstance(conversation_id, str) else "",
        activity_id,
        convert.event_type(activity),
    )
    if kind == convert.MESSAGE_UPDATE or key[3] == convert.EDIT_EVENT:
        # an edit keeps the message's id; each edit has its own timestamp
        timestamp = activity.get("timestamp")
        key += (timestamp if isinstance(timestamp, str) else "",)
    return key


class MessagesEndpoint:
    """The Bot Framework messaging endpoint."""

    def __init__(
        self,
        router: ActivityRouter,
        metrics: Metrics,
        *,
        validator: ChannelTokenValidator | None,
        allowed_tenant_ids: frozenset[str] = frozenset(),
    ) -> None:
        self._router = router
        self._metrics = metrics
        self._validator = validator  # None: local mode (loopback only, no token)
        self._allowed_tenants = allowed_tenant_ids
        self._recent = RecentActivities()
        self._stats = metrics.route(ROUTE_LABEL)

    async def handle(self, request: web.Request) -> web.Response:
        """aiohttp handler for POST /api/messages."""
        started = time.perf_counter()
        response = await self._answer(request)
        self._stats.observe(response.status, time.perf_counter() - started)
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        if not _is_json(request.headers.get("Content-Type")):
            return _json(415, _UNSUPPORTED_TYPE)
        declared = request.content_length
        if declared is not None and declared > MAX_BODY_BYTES:
            return _json(413, _TOO_LARGE)
        token: ValidatedToken | None = None
        try:
            if self._validator is not None:
                token = await self._validator.validate(request.headers.get("Authorization"))
            elif not is_loopback(request.remote):
                raise AuthFailure("not_loopback")
        except AuthFailure as failure:
            return self._refuse(failure)
        except SigningKeysUnavailable:
            return _json(503, _KEYS_UNAVAILABLE)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, _TOO_LARGE)
        except web.RequestPayloadError:
            # e.g. a Content-Encoding the body does not have: the client's mistake, not ours
            return _json(400, _NOT_JSON)
        try:
            activity = parse_json_body(body)
        except (ValueError, RecursionError):
            return _json(400, _NOT_JSON)
        if activity.__class__ is not dict:
            return _json(400, _NOT_JSON)
        try:
            if token is not None:
                token.check_activity(activity.get("serviceUrl"), activity.get("channelId"))
            if (
                self._allowed_tenants
                and (convert.tenant_id(activity) or "").lower() not in self._allowed_tenants
            ):
                raise AuthFailure("tenant_not_allowed", status=403)
        except AuthFailure as failure:
            return self._refuse(failure)
        kind = activity.get("type")
        self._stats.count_activity(kind if kind.__class__ is str else "other")
        status, answer = await self._route_once(activity)
        if answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)

    async def _route_once(self, activity: dict[str, Any]) -> Answer:
        key = dedupe_key(activity)
        recent = self._recent
        if key is not None and not recent.claim(key):
            self._metrics.duplicate_activities_total.inc()
            return await recent.answer_of(key)
        try:
            answer: Answer = (200, await self._router.route(activity))
        except convert.InvalidActivity as problem:
            answer = (400, {"error": "bad_request", "message": str(problem)})
        except Exception:
            # a bug in conversion; the client still gets a clean answer and the log the traceback
            log.exception("reading an activity of type %r failed", str(activity.get("type"))[:40])
            answer = (400, {"error": "bad_request", "message": "activity could not be read"})
        except BaseException:
            # cancelled (server shutting down): let a redelivery try again
            if key is not None:
                recent.forget(key)
            raise
        if key is not None:
            recent.settle(key, answer)
        return answer

    def _refuse(self, failure: AuthFailure) -> web.Response:
        self._metrics.auth_failures_total.labels(failure.reason).inc()
        return _json(failure.status, _FAILURE_BODIES[failure.reason])
