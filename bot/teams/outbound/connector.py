"""Bot Connector REST calls on one keep-alive HTTP client, paced and retried.

The SDK's ConnectorClient builds a client (and a token client) per request and blocks on
token I/O; this one is built once, on ``KeepAliveHttp`` (see there why not aiohttp's client). It never raises for an HTTP answer: callers get a
``ConnectorResponse`` and decide (for example, fall back when a targeted message is refused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from bot.teams.outbound.http import is_allowed_service_url
from bot.teams.outbound.keepalive import HttpError, KeepAliveHttp
from bot.teams.outbound.ratelimit import SendLimiter
from bot.teams.outbound.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

TokenSource = Callable[[], Awaitable[str]]


class _Counter(Protocol):
    def labels(self, *args: str, **kwargs: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class ConnectorResponse:
    """The outcome of one logical call (after retries)."""

    status: int | None  # HTTP status of the last attempt; None when no answer came
    body: dict[str, Any] | None = None
    attempts: int = 0
    error: str | None = None  # short reason when status is None or the URL was refused

    @property
    def ok(self) -> bool:
        """2xx."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        """The service understood and said no (4xx other than throttling/timeouts, or 501)."""
        return self.status is not None and (
            (400 <= self.status < 500 and self.status not in (408, 429)) or self.status == 501
        )

    @property
    def resource_id(self) -> str | None:
        """The ``id`` of the created activity or conversation."""
        value = (self.body or {}).get("id")
        return str(value) if value else None


def conversation_path(service_url: str, conversation_id: str) -> str:
    """``{serviceUrl}/v3/conversations/{id}`` with the id URL-encoded."""
    return f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}"


class ConnectorClient:
    """Send, reply, target, update, delete activities and create 1:1 conversations."""

    def __init__(
        self,
        http: KeepAliveHttp,
        tokens: TokenSource | None,
        *,
        limiter: SendLimiter | None = None,
        retry: RetryPolicy | None = None,
        calls_counter: _Counter | None = None,
        retries_counter: _Counter | None = None,
        is_trusted_service_url: Callable[[str], bool] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``tokens`` None means local mode: no Authorization header is sent."""
        self._http = http
        self._tokens = tokens
        # `is None`, not `or`: an unused SendLimiter is empty, so falsy, and would be replaced
        self.limiter = limiter if limiter is not None else SendLimiter()
        self.retry = retry if retry is not None else RetryPolicy()
        self._calls = calls_counter
        self._retries = retries_counter
        self._is_trusted = is_trusted_service_url
        self._sleep = sleep
        self._call_counters: dict[str, Any] = {}
        self._checked_origins: dict[str, bool] = {}  # "https://host/path-before-/v3/" -> allowed

    def _allowed(self, url: str) -> bool:
        """Whether ``url`` may be called (decided once per service URL: it holds no ids)."""
        origin = url.partition("/v3/")[0]
        allowed = self._checked_origins.get(origin)
        if allowed is None:
            allowed = is_allowed_service_url(url) and (self._is_trusted is None or self._is_trusted(url))
            if len(self._checked_origins) < 1000:
                self._checked_origins[origin] = allowed
        return allowed

    async def send_to_conversation(
        self, service_url: str, conversation_id: str, activity: dict[str, Any], *, targeted: bool = False
    ) -> ConnectorResponse:
        """POST an activity into a conversation (targeted: seen by ``activity['recipient']`` alone)."""
        url = f"{conversation_path(service_url, conversation_id)}/activities"
        return await self._call("POST", url, conversation_id, activity, targeted=targeted)

    async def reply_to_activity(
        self, service_url: str, conversation_id: str, reply_to_id: str, activity: dict[str, Any]
    ) -> ConnectorResponse:
        """POST a reply to a given activity (a thread reply in channels)."""
        url = f"{conversation_path(service_url, conversation_id)}/activities/{quote(reply_to_id, safe='')}"
        body = {**activity, "replyToId": reply_to_id}
        return await self._call("POST", url, conversation_id, body)

    async def update_activity(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: dict[str, Any],
        *,
        targeted: bool = False,
    ) -> ConnectorResponse:
        """PUT a new version of an earlier activity."""
        url = f"{conversation_path(service_url, conversation_id)}/activities/{quote(activity_id, safe='')}"
        body = {**activity, "id": activity_id}
        if targeted:
            # The service refuses a recipient on update of a targeted message (400).
            body.pop("recipient", None)
        return await self._call("PUT", url, conversation_id, body, targeted=targeted)

    async def delete_activity(
        self, service_url: str, conversation_id: str, activity_id: str, *, targeted: bool = False
    ) -> ConnectorResponse:
        """DELETE an earlier activity."""
        url = f"{conversation_path(service_url, conversation_id)}/activities/{quote(activity_id, safe='')}"
        return await self._call("DELETE", url, conversation_id, None, targeted=targeted)

    async def create_personal_conversation(
        self, service_url: str, *, bot_id: str, member_id: str, tenant_id: str | None
    ) -> ConnectorResponse:
        """POST /v3/conversations: the 1:1 chat of ``member_id`` with the bot (existing or new)."""
        body: dict[str, Any] = {
            "isGroup": False,
            "bot": {"id": bot_id},
            "members": [{"id": member_id}],
        }
        if tenant_id:
            body["tenantId"] = tenant_id
            body["channelData"] = {"tenant": {"id": tenant_id}}
        url = f"{service_url.rstrip('/')}/v3/conversations"
        return await self._call("POST", url, None, body)

    async def _call(
        self,
        method: str,
        url: str,
        conversation_key: str | None,
        body: dict[str, Any] | None,
        *,
        targeted: bool = False,
    ) -> ConnectorResponse:
        if not self._allowed(url):
            log.warning("refused to call an untrusted service URL (%s)", method)
            self._count_call("refused_url")
            return ConnectorResponse(None, error="untrusted service url")
        # The path is built percent-encoded already (conversation_path); serialised once for
        # every attempt, as UTF-8 rather than \u escapes (a Japanese card is a third the size),
        # by orjson (a card takes the standard library about ten times as long).
        target = f"{url}?isTargetedActivity=true" if targeted else url
        data = None if body is None else orjson.dumps(body)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(conversation_key)
            status: int | None = None
            retry_after: float | None = None
            reason: str
            try:
                headers = await self._headers()
                if data is not None:
                    headers["Content-Type"] = "application/json; charset=utf-8"
            except Exception as exc:
                log.warning("no outgoing token: %s", type(exc).__name__)
                self._count_call("token_error")
                return ConnectorResponse(None, attempts=attempt, error="token unavailable")
            try:
                response = await self._http.request(method, target, body=data, headers=headers)
            except (HttpError, TimeoutError) as exc:
                reason = "timeout" if isinstance(exc, TimeoutError) else "connection"
                self._count_call(reason)
                log.info("%s %s failed on attempt %d: %s", method, _route(url), attempt, type(exc).__name__)
            else:
                status = response.status
                payload = _json_or_none(response.body)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                self._count_call(str(status))
                if status not in RETRYABLE_STATUSES:
                    if status >= 400:
                        log.info("%s %s answered %d", method, _route(url), status)
                    return ConnectorResponse(status, payload, attempt)
                reason = str(status)
            delay = self.retry.delay(attempt, retry_after)
            if delay is None:
                log.warning("%s %s gave up after %d attempts (%s)", method, _route(url), attempt, reason)
                return ConnectorResponse(status, None, attempt, error=f"gave up: {reason}")
            if self._retries is not None:
                self._retries.labels(reason=reason).inc()
            await self._sleep(delay)

    async def _headers(self) -> dict[str, str]:
        if self._tokens is None:
            return {}
        return {"Authorization": f"Bearer {await self._tokens()}"}

    def _count_call(self, status: str) -> None:
        if self._calls is not None:
            child = self._call_counters.get(status)
            if child is None:  # labels() costs microseconds; statuses are few
                child = self._call_counters[status] = self._calls.labels(status=status)
            child.inc()


def _json_or_none(body: bytes) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _route(url: str) -> str:
    """The URL without ids, for logs (conversation ids identify people's chats)."""
    tail = url.partition("/v3/conversations")[2]
    return "/v3/conversations" + ("/{id}/activities" if "/activities" in tail else "")
