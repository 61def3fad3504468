"""The baselines for bench_endpoint: aiohttp handlers that do as little as their figure allows.

* plain (the default): read and parse the JSON body, answer 200, nothing else;
* ``--forward-to SERVICE_URL --forward-body FILE`` (the nudge floor): the same, and then, as the
  bot does for a nudge, one targeted POST per message to the Bot Connector at SERVICE_URL over
  HTTPS, through the bot's own keep-alive client, from a bounded queue worked by as many
  senders as the bot has. FILE holds the activity to post (the bench builds it with the bot's
  real nudge card); only the recipient changes per message. No rules, no cards built, no
  database, no statistics, no retries: the least any bot must do to answer a message with a
  nudge, so that the bot's nudge figure can be read against it.

Both parse with orjson, as the bot's endpoint does (``bot.teams.endpoint.parse_json_body``), so
that the bot's figures are not flattered by a slower parser in its baseline. ``--parser json``
parses with the standard library instead, as aiohttp's ``request.json()`` does (the bench
prints the quiet ratio against that handler too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

QUEUE_SIZE = 100_000  # as the bench gives the bot


async def healthz(request: web.Request) -> web.Response:
    """Alive."""
    return web.Response(text="ok")


async def messages(request: web.Request) -> web.Response:
    """Parse the activity and answer 200, nothing else."""
    orjson.loads(await request.read())
    return web.Response(status=200)


async def messages_stdlib(request: web.Request) -> web.Response:
    """The same with the standard library's parser."""
    json.loads(await request.read())
    return web.Response(status=200)


def forwarding_app(service_url: str, template: dict[str, Any]) -> web.Application:
    """The nudge floor: parse, answer 200, and queue one targeted POST to the connector."""
    from bot.settings import Settings
    from bot.teams.outbound.connector import conversation_path
    from bot.teams.outbound.http import make_connector_http

    senders = Settings.model_fields["outbound_concurrency"].default  # as many as the bot has

    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_SIZE)
    headers = {"Authorization": "Bearer floor", "Content-Type": "application/json; charset=utf-8"}

    async def forward(request: web.Request) -> web.Response:
        activity = orjson.loads(await request.read())
        conversation_id = activity["conversation"]["id"]
        body = orjson.dumps({**template, "recipient": {"id": activity["from"]["id"]}})
        url = f"{conversation_path(service_url, conversation_id)}/activities?isTargetedActivity=true"
        queue.put_nowait((url, body))
        return web.Response(status=200)

    async def sender(http: Any) -> None:
        while True:
            url, body = await queue.get()
            # a failure shows in the sink's counts (a delivery that did not arrive)
            with contextlib.suppress(Exception):
                await http.request("POST", url, body=body, headers=headers)

    async def lifetime(app: web.Application) -> Any:
        http = make_connector_http()
        workers = [asyncio.create_task(sender(http)) for _ in range(senders)]
        yield
        for worker in workers:
            worker.cancel()
        await http.close()

    app = web.Application(client_max_size=256 * 1024)
    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/api/messages", forward)
    return app


def main() -> None:
    """Serve on 127.0.0.1:<port> with the access log off (as the bot)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--forward-to", metavar="SERVICE_URL")
    parser.add_argument("--forward-body", metavar="FILE", type=Path)
    parser.add_argument("--parser", choices=["orjson", "json"], default="orjson")
    arguments = parser.parse_args()
    if arguments.forward_to:
        app = forwarding_app(arguments.forward_to, json.loads(arguments.forward_body.read_text()))
    else:
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post("/api/messages", messages if arguments.parser == "orjson" else messages_stdlib)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=arguments.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
