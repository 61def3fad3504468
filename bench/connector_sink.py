"""A Bot Connector stand-in for the nudge benchmark that costs little per call.

The Bot Connector the bot talks to in production is Microsoft's service: its capacity is not
the bot's concern. In the benchmark its stand-in shares one CPU with the load generator, and
the test suite's stand-in (``tests.harness.fake_connector``: aiohttp, every request recorded
and logged) answers only about 3,600 calls a second there, which capped the nudge figure at
about 0.19 of the bare handler whatever the bot did. This one answers the calls the bot makes
in the benchmark at a fraction of that cost: HTTPS with the test CA (as the real one), HTTP/1.1
keep-alive parsed by httptools, and each call checked as the fake connector checks it:

* ``POST /v3/conversations/{id}/activities?isTargetedActivity=true`` with a bearer token and a
  ``message`` activity that names its recipient: 201 with an id, counted as a delivery;
* ``POST /v3/conversations`` (a 1:1 chat for a fallback): 201 with an id; other activity
  POSTs, PUTs and DELETEs: answered as the fake connector does; all counted as other calls;
* anything else: 4xx, counted as other calls.

It prints ``serviceUrl=...`` and ``counts=...`` (a plain-HTTP loopback address whose
``GET`` answers ``{"delivered": n, "other": m, "last_delivery_at": monotonic seconds}``), then
nothing per call.

    python bench/connector_sink.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httptools
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.tls import shared_test_ca  # noqa: E402


class Counts:
    """What the sink answered so far."""

    def __init__(self) -> None:
        self.delivered = 0
        self.other = 0
        self.last_delivery_at = 0.0
        self.ids = itertools.count(1)

    def as_json(self) -> bytes:
        """The counts as the ``counts`` address answers them."""
        return json.dumps(
            {"delivered": self.delivered, "other": self.other, "last_delivery_at": self.last_delivery_at}
        ).encode()


def _response(status: int, body: bytes, keep_alive: bool) -> bytes:
    reason = {200: b"OK", 201: b"Created", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, reason.get(status, b"Error")),
            b"Content-Type: application/json; charset=utf-8\r\n",
            b"Content-Length: %d\r\n" % len(body),
            b"" if keep_alive else b"Connection: close\r\n",
            b"\r\n",
            body,
        )
    )


def answer(counts: Counts, method: bytes, url: bytes, authorized: bool, body: bytes) -> tuple[int, bytes]:
    """The status and body for one call, counted."""
    path, _, query = url.partition(b"?")
    parts = [unquote(part) for part in path.decode("latin-1").strip("/").split("/")]
    targeted = b"isTargetedActivity=true" in query
    if not authorized:
        counts.other += 1
        return 401, b'{"message":"Authorization has been denied for this request."}'
    if parts[:2] != ["v3", "conversations"]:
        counts.other += 1
        return 404, b'{"error":{"code":"NotFound"}}'
    try:
        activity = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        counts.other += 1
        return 400, b'{"error":{"code":"BadArgument","message":"json"}}'
    if not isinstance(activity, dict):
        activity = {}
    new_id = b'{"id":"%d"}' % next(counts.ids)
    if len(parts) == 2 and method == b"POST":
        counts.other += 1
        return 201, new_id
    if len(parts) < 4 or parts[3] != "activities":
        counts.other += 1
        return 404, b'{"error":{"code":"NotFound"}}'
    if method == b"POST":
        recipient = activity.get("recipient")
        if activity.get("type") != "message" or (
            targeted and not (isinstance(recipient, dict) and recipient.get("id"))
        ):
            counts.other += 1
            return 400, b'{"error":{"code":"BadArgument"}}'
        if targeted and len(parts) == 4:
            counts.delivered += 1
            counts.last_delivery_at = time.monotonic()
        else:
            counts.other += 1
        return 201, new_id
    counts.other += 1
    return (200, b"{}") if method in (b"PUT", b"DELETE") and len(parts) >= 5 else (400, b"{}")


class SinkProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests as they come, answer each in order."""

    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url: list[bytes] = []
        self._body: list[bytes] = []
        self._authorized = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a malformed request closes the connection."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(_response(400, b"{}", False))
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        """A new request."""
        self._url.clear()
        self._body.clear()
        self._authorized = False

    def on_url(self, url: bytes) -> None:
        """Part of the target."""
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Only the bearer token matters."""
        if name.lower() == b"authorization" and value.startswith(b"Bearer ") and len(value) > 7:
            self._authorized = True

    def on_body(self, body: bytes) -> None:
        """Part of the body."""
        self._body.append(body)

    def on_message_complete(self) -> None:
        """Answer the request."""
        status, body = answer(
            self._counts,
            self._parser.get_method(),
            b"".join(self._url),
            self._authorized,
            b"".join(self._body),
        )
        keep_alive = self._parser.should_keep_alive()
        if self._transport is not None:
            self._transport.write(_response(status, body, keep_alive))
            if not keep_alive:
                self._transport.close()


async def serve_counts(counts: Counts) -> asyncio.Server:
    """The plain-HTTP loopback address the benchmark polls for the counts."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                keep_alive = b"connection: close" not in head.lower()
                writer.write(_response(200, counts.as_json(), keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def main() -> None:
    """Serve until killed."""
    counts = Counts()
    loop = asyncio.get_running_loop()
    ssl_context = shared_test_ca().server_ssl_context()
    server = await loop.create_server(lambda: SinkProtocol(counts), "127.0.0.1", 0, ssl=ssl_context)
    counts_server = await serve_counts(counts)
    port = server.sockets[0].getsockname()[1]
    counts_port = counts_server.sockets[0].getsockname()[1]
    print(f"serviceUrl=https://127.0.0.1:{port}/", flush=True)
    print(f"counts=http://127.0.0.1:{counts_port}/counts", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
