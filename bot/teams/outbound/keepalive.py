"""A small HTTP/1.1 keep-alive client for the Bot Connector's JSON calls.

Why not aiohttp's ``ClientSession`` on this path: per request it builds a request and a
response object, a URL, header multidicts, a timer context and a tracing context, and reads
the body through a stream reader; profiled under the nudge benchmark that was about half of
the bot's CPU for each nudge. The connector needs much less, and this client does that only:

* one request at a time per connection, idle connections kept per origin (last in, first
  out) and closed after ``idle_s``, at most ``per_origin`` connections open per origin;
* the response parsed by httptools (llhttp, the parser of Node.js): Content-Length, chunked
  and until-close bodies, ``Connection: close`` and HTTP/1.0 honoured, a body size limit;
* one deadline per request (connection, TLS handshake, sending and the whole answer);
* a request that finds its reused connection closed by the server before any answer byte
  (the usual keep-alive race) is sent once more on a new connection when that cannot repeat
  it: it was never written, or its method is idempotent. A POST that was written is left to
  the caller's retry policy, which counts it (as aiohttp does).

No redirects, cookies, proxies or compression: the Bot Connector uses none of them. TLS is
verified with the context given (``http.client_ssl_context``: the system store or the
CA bundle named by ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools

DEFAULT_MAX_BODY = 4 * 1024 * 1024
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class HttpError(Exception):
    """No usable HTTP answer: refused, reset or closed connection, TLS failure, bad response."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete answer."""

    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes


@dataclass(frozen=True, slots=True)
class _Origin:
    host: str
    port: int
    tls: bool
    host_header: str


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, parses its answer, says whether it can be reused."""

    def __init__(self, max_body: int) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._max_body = max_body
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[HttpResponse] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._headers_done = False
        self._delimited = False  # Content-Length or chunked: the end is known without EOF
        self.answered_any = False  # a byte of the current answer arrived
        self.written = False  # the current request went to the transport
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        """Feed the parser; bytes while idle mean the server is confused: drop the connection."""
        if self._waiter is None or self._waiter.done():
            self.close()
            return
        self.answered_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(HttpError("unexpected protocol upgrade"))
        except httptools.HttpParserError:
            self._fail(HttpError("malformed HTTP response"))

    def eof_received(self) -> bool:
        """The server closed its side: a body without a declared length ends here."""
        self.closed = True  # the transport closes itself next; nothing more may be sent on it
        self.reusable = False
        self._finish_at_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Closed (by either side): an answer still expected fails, or ends if it runs until close."""
        self.closed = True
        self.reusable = False
        self._finish_at_eof()
        self._fail(HttpError("connection closed before a complete answer"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header line."""
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        """Note how the body ends."""
        self._headers_done = True
        headers = self._headers
        self._delimited = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")

    def on_body(self, body: bytes) -> None:
        """A piece of the body (refused beyond the size limit)."""
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._fail(HttpError("response body too large"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        """The answer is complete."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        status = self._parser.get_status_code()
        if status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self._headers = {}
            self._body = []
            self._body_size = 0
            self._headers_done = False
            return
        self.reusable = self._parser.should_keep_alive() and not self.closed
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        waiter.set_result(HttpResponse(status, self._headers, body))

    # -- use ------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, and not closing (a request written now would be sent)."""
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def send(self, request: bytes, waiter: asyncio.Future[HttpResponse]) -> None:
        """Write one request; ``waiter`` gets its answer or an ``HttpError``."""
        assert self._transport is not None
        self._waiter = waiter
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._headers_done = False
        self._delimited = False
        self.answered_any = False
        self.written = False
        self.reusable = False
        if self.closed or self._transport.is_closing():
            # a write to a closing transport is dropped silently: fail now, not at the deadline
            waiter.set_exception(HttpError("connection closed before the request was sent"))
            return
        self._transport.write(request)
        self.written = True

    def close(self) -> None:
        """Abort the connection (nothing is left to send on it)."""
        self.closed = True
        self.reusable = False
        if self._transport is not None:
            self._transport.abort()

    def _finish_at_eof(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done() or not self._headers_done or self._delimited:
            return
        self.reusable = False
        status = self._parser.get_status_code()
        waiter.set_result(HttpResponse(status, self._headers, b"".join(self._body)))

    def _fail(self, error: HttpError) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if not self.closed:
            self.close()


class KeepAliveHttp:
    """HTTP/1.1 client with per-origin keep-alive pools; create inside the event loop."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        user_agent: str = "",
        per_origin: int = 32,
        timeout_s: float = 15.0,
        idle_s: float = 30.0,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        """``ssl_context`` None: a default verifying context from the system store."""
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._user_agent_line = f"User-Agent: {user_agent}\r\n" if user_agent else ""
        self._per_origin = per_origin
        self._timeout_s = timeout_s
        self._idle_s = idle_s
        self._max_body = max_body
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._slots: dict[_Origin, asyncio.Semaphore] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections currently open (idle or in use)."""
        return sum(1 for connection in self._open if not connection.closed)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request and return its complete answer.

        Raises ``HttpError`` when no usable answer came, ``TimeoutError`` after ``timeout_s``.
        """
        if self._closed:
            raise HttpError("client closed")
        origin, target = self._split(url)
        request = self._encode(method, target, origin, body, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self._per_origin)
        async with asyncio.timeout_at(deadline), slots:
            connection, reused = self._idle_connection(origin, loop.time())
            if connection is None:
                connection = await self._connect(origin)
            try:
                response = await self._exchange(connection, request, loop)
            except HttpError:
                self._drop(connection)
                repeatable = not connection.written or method in IDEMPOTENT_METHODS
                if not (reused and not connection.answered_any and repeatable):
                    raise
                # The server closed the idle connection as the request went out: once more, fresh.
                connection = await self._connect(origin)
                try:
                    response = await self._exchange(connection, request, loop)
                except BaseException:
                    self._drop(connection)
                    raise
            except BaseException:
                self._drop(connection)  # a timeout or cancellation mid-answer: the connection is unusable
                raise
        self._release(origin, connection, loop.time())
        return response

    async def __aenter__(self) -> KeepAliveHttp:
        """Use as ``async with KeepAliveHttp() as http:``; closed on exit."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close every connection."""
        await self.close()

    async def close(self) -> None:
        """Close every connection; later requests raise ``HttpError``."""
        self._closed = True
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run connection_lost

    # -- internals --------------------------------------------------------------------------

    def _split(self, url: str) -> tuple[_Origin, str]:
        scheme, sep, rest = url.partition("://")
        netloc, slash, path = rest.partition("/")
        origin = self._origins.get(f"{scheme}://{netloc}")
        if origin is None:
            origin = self._parse_origin(scheme, sep, netloc)
        target = f"/{path}" if slash else "/"
        if not target.isascii() or not target.isprintable() or " " in target or "#" in target:
            raise HttpError("URL path must be printable ASCII without spaces")
        return origin, target

    def _parse_origin(self, scheme: str, sep: str, netloc: str) -> _Origin:
        if not sep or scheme not in ("http", "https"):
            raise HttpError("only http and https URLs")
        if not netloc or "@" in netloc or not netloc.isascii() or not netloc.isprintable() or " " in netloc:
            raise HttpError("bad host in URL")
        host, port_text = netloc, ""
        if netloc.startswith("["):  # [IPv6]:port
            end = netloc.find("]")
            if end < 0:
                raise HttpError("bad host in URL")
            host, port_text = netloc[1:end], netloc[end + 1 :].removeprefix(":")
        elif ":" in netloc:
            host, _, port_text = netloc.rpartition(":")
        tls = scheme == "https"
        try:
            port = int(port_text) if port_text else (443 if tls else 80)
        except ValueError:
            raise HttpError("bad port in URL") from None
        if not host or not 0 < port < 65536:
            raise HttpError("bad host in URL")
        origin = _Origin(host, port, tls, netloc)
        if len(self._origins) < 1000:
            self._origins[f"{scheme}://{netloc}"] = origin
        return origin

    def _encode(
        self,
        method: str,
        target: str,
        origin: _Origin,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n{self._user_agent_line}"]
        if headers:
            for name, value in headers.items():
                if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                    raise HttpError(f"bad header {name!r}")
                lines.append(f"{name}: {value}\r\n")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body) if body is not None else 0}\r\n")
        lines.append("\r\n")
        try:
            head = "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            raise HttpError("request head must be ASCII") from None
        return head + body if body else head

    def _idle_connection(self, origin: _Origin, now: float) -> tuple[_Connection | None, bool]:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable and now - connection.idle_since < self._idle_s:
                return connection, True
            self._drop(connection)
        return None, False

    async def _connect(self, origin: _Origin) -> _Connection:
        if self._closed:  # closed while this request waited for a slot
            raise HttpError("client closed")
        loop = asyncio.get_running_loop()
        connection = _Connection(self._max_body)
        tls = self._ssl if origin.tls else None
        server_hostname = origin.host if origin.tls else None
        try:
            if isinstance(loop, asyncio.BaseEventLoop):  # IPv6 and IPv4 tried side by side
                await loop.create_connection(
                    lambda: connection,
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=server_hostname,
                    happy_eyeballs_delay=0.25,
                )
            else:  # uvloop has no happy_eyeballs_delay
                await loop.create_connection(
                    lambda: connection, origin.host, origin.port, ssl=tls, server_hostname=server_hostname
                )
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect: {type(exc).__name__}") from exc
        self._open.add(connection)
        return connection

    @staticmethod
    async def _exchange(
        connection: _Connection, request: bytes, loop: asyncio.AbstractEventLoop
    ) -> HttpResponse:
        waiter: asyncio.Future[HttpResponse] = loop.create_future()
        connection.send(request, waiter)
        return await waiter

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def _release(self, origin: _Origin, connection: _Connection, now: float) -> None:
        if not connection.reusable or connection.closed or self._closed:
            self._drop(connection)
            return
        connection.idle_since = now
        idle = self._idle.setdefault(origin, [])
        idle.append(connection)
        # the oldest are at the front: those idle too long are closed rather than kept open
        while idle and now - idle[0].idle_since >= self._idle_s:
            self._drop(idle.pop(0))
