"""The baseline for bench_endpoint: an aiohttp handler that only reads and parses the JSON body."""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def messages(request: web.Request) -> web.Response:
    """Parse the activity and answer 200, nothing else."""
    json.loads(await request.read())
    return web.Response(status=200)


async def healthz(request: web.Request) -> web.Response:
    """Alive."""
    return web.Response(text="ok")


def main() -> None:
    """Serve on 127.0.0.1:<port> with the access log off (as the bot)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = web.Application(client_max_size=256 * 1024)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
