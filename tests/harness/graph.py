"""A local HTTPS stand-in for the Microsoft Graph reads the bot makes.

Serves ``/v1.0/teams/{team}/channels/{channel}/messages/{id}`` (and ``.../{root}/replies/{id}``),
``/v1.0/chats/{chat}/messages/{id}`` and ``/v1.0/users/{id}`` (``$select`` honoured), each only
with an accepted Bearer token. Tests add messages and users, and can script failures.

Run alone: ``python -m tests.harness.graph [port]`` (accepts any token; prints the base URL).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.harness.tls import TestCA, serve_on_loopback, shared_test_ca


@dataclass
class GraphRequest:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int
    at: float


def file_attachment(name: str, *, site: str = "https://maebashi.sharepoint.com/sites/x") -> dict[str, Any]:
    """A Graph ``chatMessageAttachment`` for a shared file (contentType ``reference``)."""
    return {
        "id": name.encode().hex()[:32],
        "contentType": "reference",
        "contentUrl": f"{site}/Shared%20Documents/{name}",
        "content": None,
        "name": name,
        "thumbnailUrl": None,
    }


class GraphStandIn:
    """Graph v1.0 subset over HTTPS on 127.0.0.1."""

    def __init__(
        self, *, tls: TestCA | None = None, token_validator: Callable[[str], bool] | None = None
    ) -> None:
        """``token_validator`` None accepts any non-empty Bearer token."""
        self.tls = tls or shared_test_ca()
        self.token_validator = token_validator
        self.channel_messages: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.replies: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.chat_messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.requests: list[GraphRequest] = []
        self._failures: list[list[int]] = []  # [status, remaining]
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The Graph base URL to configure (``https://127.0.0.1:<port>/v1.0``)."""
        return f"https://127.0.0.1:{self.port}/v1.0"

    def add_channel_message(
        self,
        team_id: str,
        channel_id: str,
        message_id: str,
        attachments: list[dict[str, Any]],
        *,
        root_id: str | None = None,
    ) -> None:
        """A channel post (or, with ``root_id``, a reply in that thread)."""
        message = {
            "id": message_id,
            "body": {"contentType": "html", "content": ""},
            "attachments": attachments,
        }
        if root_id:
            self.replies[(team_id, channel_id, root_id, message_id)] = message
        else:
            self.channel_messages[(team_id, channel_id, message_id)] = message

    def add_chat_message(self, chat_id: str, message_id: str, attachments: list[dict[str, Any]]) -> None:
        """A chat message."""
        self.chat_messages[(chat_id, message_id)] = {"id": message_id, "attachments": attachments}

    def add_user(self, user_id: str, department: str | None, **fields: Any) -> None:
        """A user with a department."""
        self.users[user_id] = {"id": user_id, "department": department, **fields}

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self._failures.append([status, count])

    async def start(self, port: int = 0) -> GraphStandIn:
        """Listen on 127.0.0.1 (``port`` 0: an ephemeral port)."""
        app = web.Application()
        app.router.add_get("/v1.0/teams/{team}/channels/{channel}/messages/{message}", self._channel_message)
        app.router.add_get(
            "/v1.0/teams/{team}/channels/{channel}/messages/{root}/replies/{message}", self._reply
        )
        app.router.add_get("/v1.0/chats/{chat}/messages/{message}", self._chat_message)
        app.router.add_get("/v1.0/users/{user}", self._user)
        app.middlewares.append(self._guard)
        self._runner, self.port = await serve_on_loopback(app, self.tls.server_ssl_context(), port)
        return self

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> GraphStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        response: web.StreamResponse
        token = auth[7:] if auth and auth.startswith("Bearer ") else ""
        failure = next((f for f in self._failures if f[1] > 0), None)
        if not token or (self.token_validator is not None and not self.token_validator(token)):
            response = _error(401, "InvalidAuthenticationToken")
        elif failure is not None:
            failure[1] -= 1
            response = _error(failure[0], "Scripted")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = _error(exc.status, "NotFound")
        self.requests.append(
            GraphRequest(
                request.method, request.path, dict(request.query), auth, response.status, time.monotonic()
            )
        )
        return response

    async def _channel_message(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _found(self.channel_messages.get((m["team"], m["channel"], m["message"])))

    async def _reply(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _found(self.replies.get((m["team"], m["channel"], m["root"], m["message"])))

    async def _chat_message(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _found(self.chat_messages.get((m["chat"], m["message"])))

    async def _user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user"])
        if user is None:
            return _error(404, "Request_ResourceNotFound")
        select = request.query.get("$select")
        if select:
            user = {k: v for k, v in user.items() if k in {*select.split(","), "id"}}
        return web.json_response(user)


def _found(item: dict[str, Any] | None) -> web.Response:
    return web.json_response(item) if item is not None else _error(404, "NotFound")


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": code}}, status=status)


async def _main() -> None:
    import sys

    graph = GraphStandIn()
    await graph.start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"graph_base_url={graph.base_url}")
    for key, value in graph.tls.env().items():
        print(f"{key}={value}")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
