"""A fake Bot Connector (the ``serviceUrl`` Teams gives a bot) that records what it is sent.

It answers like the real service (``{"id": ...}``) for send, reply, update, delete and
create-conversation, checks the Bearer token when told how, and can be scripted: answer the
next k matching calls with a status (429 with ``Retry-After``, 503, ...), or refuse targeted
messages. HTTPS with the test CA by default; ``tls=False`` serves plain HTTP on loopback.

Run alone: ``python -m tests.harness.fake_connector [port] [--https]`` prints its service URL and
logs each call (set ``TEST_CA_DIR`` to share one CA between processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.harness.tls import TestCA, serve_on_loopback, shared_test_ca

TARGETED_QUERY = "isTargetedActivity"


@dataclass
class RecordedRequest:
    """One request as the fake connector received it."""

    method: str
    path: str  # decoded path, e.g. /v3/conversations/19:abc@thread.tacv2/activities
    raw_path: str  # as sent on the wire (percent-encoded)
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival
    status: int = 0

    @property
    def targeted(self) -> bool:
        """Sent with ``?isTargetedActivity=true``."""
        return self.query.get(TARGETED_QUERY, "").lower() == "true"

    @property
    def segments(self) -> list[str]:
        """The path split on ``/`` and then percent-decoded (ids may hold encoded characters)."""
        return [unquote(part) for part in self.raw_path.strip("/").split("/")]

    @property
    def conversation_id(self) -> str | None:
        """The conversation id from the path, if the path has one."""
        parts = self.segments
        return parts[2] if len(parts) > 2 and parts[:2] == ["v3", "conversations"] else None

    @property
    def activity_id(self) -> str | None:
        """The activity id from ``.../activities/{id}``, if any."""
        parts = self.segments
        return parts[4] if len(parts) > 4 and parts[3] == "activities" else None

    @property
    def bearer(self) -> str | None:
        """The Bearer token, if any."""
        value = self.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None


Matcher = Callable[[RecordedRequest], bool]


@dataclass
class ScriptedFailure:
    """Answer the next ``remaining`` matching calls with ``status`` (and headers/body)."""

    status: int
    remaining: int
    match: Matcher
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


class FakeConnector:
    """Bot Connector v3 stand-in on 127.0.0.1, recording every request."""

    def __init__(
        self,
        *,
        tls: TestCA | bool | None = True,
        token_validator: Callable[[str], bool] | None = None,
        refuse_targeted: int | None = None,
    ) -> None:
        """``token_validator`` None accepts any (or no) Authorization header."""
        self.tls: TestCA | None = (shared_test_ca() if tls is True else tls) or None
        self.token_validator = token_validator
        self.refuse_targeted = refuse_targeted
        self.requests: list[RecordedRequest] = []
        self.script: list[ScriptedFailure] = []
        self.conversations: dict[str, str] = {}  # member id -> created 1:1 conversation id
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self.port = 0

    # -- control ----------------------------------------------------------------------------

    @property
    def service_url(self) -> str:
        """The ``serviceUrl`` to put in activities (with a trailing slash, as Teams does)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/"

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: str | float | None = None,
        match: Matcher | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``count`` calls (that ``match``) with ``status``."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.script.append(ScriptedFailure(status, count, match or (lambda _r: True), headers, body or {}))

    def activity_posts(self, conversation_id: str | None = None) -> list[RecordedRequest]:
        """Successful POSTs of activities (optionally to one conversation)."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and (r.path.endswith("/activities") or "/activities/" in r.path)
            and (conversation_id is None or r.conversation_id == conversation_id)
        ]

    async def wait_for(
        self, predicate: Callable[[list[RecordedRequest]], bool], timeout_s: float = 5.0
    ) -> None:
        """Wait until ``predicate(self.requests)`` holds."""
        deadline = time.monotonic() + timeout_s
        while not predicate(self.requests):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake connector: condition not met; {len(self.requests)} requests seen")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def start(self, port: int = 0) -> FakeConnector:
        """Listen on 127.0.0.1 (``port`` 0: an ephemeral port)."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        ssl_context = self.tls.server_ssl_context() if self.tls else None
        self._runner, self.port = await serve_on_loopback(app, ssl_context, port)
        return self

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- serving ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            raw_path=request.raw_path.split("?", 1)[0],
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            at=time.monotonic(),
        )
        response = self._answer(recorded)
        recorded.status = response.status
        self.requests.append(recorded)
        self._changed.set()
        return response

    def _answer(self, r: RecordedRequest) -> web.Response:
        if self.token_validator is not None and not (r.bearer and self.token_validator(r.bearer)):
            return web.json_response(
                {"message": "Authorization has been denied for this request."}, status=401
            )
        for failure in self.script:
            if failure.remaining > 0 and failure.match(r):
                failure.remaining -= 1
                return web.json_response(
                    failure.body or {"error": {"code": "Scripted", "message": "scripted failure"}},
                    status=failure.status,
                    headers=failure.headers,
                )
        parts = r.segments
        if parts[:2] != ["v3", "conversations"]:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        if len(parts) == 2 and r.method == "POST":
            return self._create_conversation(r)
        if len(parts) < 4 or parts[3] != "activities":
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        if r.targeted and self.refuse_targeted:
            return web.json_response(
                {"error": {"code": "BadArgument", "message": "Targeted messages are not available"}},
                status=self.refuse_targeted,
            )
        activity = r.body if isinstance(r.body, dict) else {}
        if r.method == "POST":
            if r.targeted and not activity.get("recipient", {}).get("id"):
                return web.json_response(
                    {"error": {"code": "BadArgument", "message": "recipient"}}, status=400
                )
            if activity.get("type") != "message":
                return web.json_response({"error": {"code": "BadArgument", "message": "type"}}, status=400)
            return web.json_response({"id": f"{int(time.time() * 1000)}{next(self._ids):04d}"}, status=201)
        if len(parts) < 5:
            return web.json_response({"error": {"code": "BadArgument"}}, status=405)
        if r.method == "PUT":
            if r.targeted and "recipient" in activity:
                return web.json_response(
                    {"error": {"code": "BadArgument", "message": "recipient"}}, status=400
                )
            return web.json_response({"id": parts[4]})
        if r.method == "DELETE":
            return web.Response(status=200)
        return web.json_response({"error": {"code": "MethodNotAllowed"}}, status=405)

    def _create_conversation(self, r: RecordedRequest) -> web.Response:
        body = r.body if isinstance(r.body, dict) else {}
        members = body.get("members") or []
        if not body.get("bot", {}).get("id") or len(members) != 1 or not members[0].get("id"):
            return web.json_response({"error": {"code": "BadArgument", "message": "members"}}, status=400)
        member = members[0]["id"]
        conversation_id = self.conversations.setdefault(member, f"a:1personal-{next(self._ids)}")
        return web.json_response({"id": conversation_id}, status=201)


async def _main() -> None:
    import sys

    args = sys.argv[1:]
    fake = FakeConnector(tls="--https" in args)
    await fake.start(next((int(a) for a in args if a.isdigit()), 0))
    print(f"serviceUrl={fake.service_url}", flush=True)
    seen = 0
    while True:
        await fake.wait_for(lambda rs, n=seen: len(rs) > n, timeout_s=3600)
        for r in fake.requests[seen:]:
            print(f"{r.method} {r.path} {r.query} -> {r.status}", flush=True)
        seen = len(fake.requests)


if __name__ == "__main__":
    asyncio.run(_main())
