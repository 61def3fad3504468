"""The Bot Connector's HTTP/1.1 keep-alive client against a scripted server on a real socket.

The server reads each request head and body and answers with the bytes a test scripts, so
framing (Content-Length, chunked, until close), keep-alive and failures are exercised exactly.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.teams.outbound import HttpError, KeepAliveHttp
from tests.harness.tls import TestCA, shared_test_ca

OK_JSON = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"a1"}'


@dataclass
class Seen:
    """One request as the server read it."""

    connection: int
    head: str
    body: bytes


@dataclass
class ScriptedServer:
    """Answers every request with ``answer(seen)``: bytes to write, or None to close at once."""

    answer: Callable[[Seen], bytes | None] = lambda seen: OK_JSON
    close_after_answer: bool = False
    delay_s: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self.writers.append(writer)
        try:
            while True:
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                seen = Seen(number, head, body)
                self.requests.append(seen)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                reply = self.answer(seen)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
                if self.close_after_answer:
                    return
        finally:
            self.open_now -= 1
            writer.close()

    def close_idle_connections(self) -> None:
        for writer in self.writers:
            writer.close()


async def serve(script: ScriptedServer, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    return server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedServer, str]]:
    script = ScriptedServer()
    server, base = await serve(script)
    yield script, base
    server.close()


@pytest.fixture
async def http() -> AsyncIterator[KeepAliveHttp]:
    async with KeepAliveHttp(user_agent="tests/1") as client:
        yield client


async def test_request_is_sent_exactly_and_the_answer_parsed(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    body = '{"text":"前橋"}'.encode()
    response = await http.request(
        "POST",
        f"{base}/v3/conversations/a%3Ab/activities?isTargetedActivity=true",
        body=body,
        headers={"Authorization": "Bearer t0k"},
    )
    assert (response.status, response.body) == (201, b'{"id":"a1"}')
    assert response.headers["content-type"] == "application/json"
    seen = script.requests[0]
    lines = seen.head.split("\r\n")
    assert lines[0] == "POST /v3/conversations/a%3Ab/activities?isTargetedActivity=true HTTP/1.1"
    assert f"Host: {base.removeprefix('http://')}" in lines
    assert "User-Agent: tests/1" in lines
    assert "Authorization: Bearer t0k" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert seen.body == body


async def test_connections_are_kept_alive_and_reused(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    for _ in range(5):
        assert (await http.request("POST", f"{base}/x", body=b"{}")).status == 201
    assert script.connections == 1
    assert http.open_connections == 1


@pytest.mark.parametrize(
    ("reply", "status", "body"),
    [
        (
            b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n',
            200,
            b'{"a":1}',
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n", 429, b""),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno", 500, b"no"),
    ],
)
async def test_response_framings(
    reply: bytes, status: int, body: bytes, scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    script.answer = lambda seen: reply
    for _ in range(2):  # the second answer arrives on the same connection: the first ended exactly
        response = await http.request("POST", f"{base}/x", body=b"{}")
        assert (response.status, response.body) == (status, body)
    assert script.connections == 1


async def test_a_body_without_length_runs_until_the_server_closes(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    script.answer = lambda seen: b"HTTP/1.1 200 OK\r\n\r\nall of it"
    script.close_after_answer = True
    for _ in range(2):
        response = await http.request("GET", f"{base}/x")
        assert (response.status, response.body) == (200, b"all of it")
    assert script.connections == 2


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    ],
)
async def test_connection_close_is_honoured(
    reply: bytes, scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    script.answer = lambda seen: reply
    for _ in range(3):
        assert (await http.request("POST", f"{base}/x", body=b"{}")).status == 201
    assert script.connections == 3
    assert http.open_connections == 0


async def test_an_idle_connection_closed_by_the_server_is_replaced_without_an_error(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    assert (await http.request("POST", f"{base}/x", body=b"{}")).status == 201
    script.close_idle_connections()
    await asyncio.sleep(0.05)
    assert (await http.request("POST", f"{base}/x", body=b"{}")).status == 201
    assert script.connections == 2


async def test_a_request_the_server_drops_on_a_fresh_connection_fails(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    script.answer = lambda seen: None
    with pytest.raises(HttpError, match="closed"):
        await http.request("POST", f"{base}/x", body=b"{}")
    assert len(script.requests) == 1  # not sent twice: the connection was new


async def test_a_dropped_request_on_a_reused_connection_is_sent_once_more_only(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    assert (await http.request("PUT", f"{base}/x", body=b"{}")).status == 201
    script.answer = lambda seen: None
    with pytest.raises(HttpError):
        await http.request("PUT", f"{base}/x", body=b"{}")
    assert len(script.requests) == 3  # the first, then the dropped one twice (reused, then fresh)


async def test_a_dropped_post_that_was_written_is_not_repeated(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    """The server may have acted on it: the caller's retry policy decides, and counts it."""
    script, base = scripted
    assert (await http.request("POST", f"{base}/x", body=b"{}")).status == 201
    script.answer = lambda seen: None
    with pytest.raises(HttpError):
        await http.request("POST", f"{base}/x", body=b"{}")
    assert len(script.requests) == 2


async def test_an_interim_answer_is_not_taken_for_the_answer(
    scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    script.answer = lambda seen: b"HTTP/1.1 100 Continue\r\n\r\n" + OK_JSON
    for _ in range(2):
        response = await http.request("POST", f"{base}/x", body=b"{}")
        assert (response.status, response.body) == (201, b'{"id":"a1"}')
        assert response.headers["content-type"] == "application/json"
    assert script.connections == 1


async def test_connections_left_idle_too_long_are_closed(scripted: tuple[ScriptedServer, str]) -> None:
    script, base = scripted
    script.delay_s = 0.05
    async with KeepAliveHttp(idle_s=0.2) as http:
        await asyncio.gather(*(http.request("POST", f"{base}/x", body=b"{}") for _ in range(4)))
        assert http.open_connections == 4
        script.delay_s = 0.0
        for _ in range(8):  # one connection kept busy; the three others sit idle past idle_s
            await http.request("POST", f"{base}/x", body=b"{}")
            await asyncio.sleep(0.05)
        assert http.open_connections == 1


async def test_requests_waiting_for_a_connection_fail_once_the_client_is_closed(
    scripted: tuple[ScriptedServer, str],
) -> None:
    script, base = scripted
    script.delay_s = 0.1
    http = KeepAliveHttp(per_origin=1)
    first = asyncio.create_task(http.request("POST", f"{base}/x", body=b"{}"))
    waiting = asyncio.create_task(http.request("POST", f"{base}/x", body=b"{}"))
    await asyncio.sleep(0.02)
    await http.close()
    results = await asyncio.gather(first, waiting, return_exceptions=True)
    assert isinstance(results[1], HttpError)
    assert len(script.requests) <= 1  # the waiting request was never sent


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"SMTP ready\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n" + b"x" * 70000, "too large"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed"),
    ],
)
async def test_bad_answers_are_errors(
    reply: bytes, message: str, scripted: tuple[ScriptedServer, str]
) -> None:
    script, base = scripted
    script.answer = lambda seen: reply
    script.close_after_answer = True
    async with KeepAliveHttp(max_body=64 * 1024) as http:
        with pytest.raises(HttpError, match=message):
            await http.request("POST", f"{base}/x", body=b"{}")
        assert http.open_connections == 0


async def test_a_silent_server_times_out_and_the_connection_is_dropped(
    scripted: tuple[ScriptedServer, str],
) -> None:
    script, base = scripted
    script.delay_s = 5.0
    async with KeepAliveHttp(timeout_s=0.2) as http:
        with pytest.raises(TimeoutError):
            await http.request("POST", f"{base}/x", body=b"{}")
        assert http.open_connections == 0


async def test_connections_per_origin_are_limited(scripted: tuple[ScriptedServer, str]) -> None:
    script, base = scripted
    script.delay_s = 0.05
    async with KeepAliveHttp(per_origin=2) as http:
        responses = await asyncio.gather(*(http.request("POST", f"{base}/x", body=b"{}") for _ in range(6)))
    assert [r.status for r in responses] == [201] * 6
    assert script.most_open == 2


async def test_connections_idle_too_long_are_not_reused(scripted: tuple[ScriptedServer, str]) -> None:
    script, base = scripted
    async with KeepAliveHttp(idle_s=0.0) as http:
        for _ in range(3):
            await http.request("POST", f"{base}/x", body=b"{}")
    assert script.connections == 3


async def test_nothing_refused_by_the_server_is_retried(http: KeepAliveHttp) -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(HttpError, match="cannot connect"):
        await http.request("POST", f"http://127.0.0.1:{port}/x", body=b"{}")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://{host}/x",
        "{host}/x",
        "http://user@{host}/x",
        "http://127.0.0.1:99999/x",
        "http://127.0.0.1:port/x",
        "http://{host}/a b",
        "http://{host}/a\r\nX-Evil: 1",
        "http://{host}/前橋",
    ],
)
async def test_unsafe_urls_are_refused_before_sending(
    url: str, scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    with pytest.raises(HttpError):
        await http.request("POST", url.format(host=base.removeprefix("http://")), body=b"{}")
    assert script.connections == 0 and http.open_connections == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer a\r\nX-Evil: 1"},
        {"Authorization": "Bearer a\nX-Evil: 1"},
        {"Bad:Name": "1"},
        {"X-Name": "前橋"},
    ],
)
async def test_unsafe_headers_are_refused_before_sending(
    headers: dict[str, str], scripted: tuple[ScriptedServer, str], http: KeepAliveHttp
) -> None:
    script, base = scripted
    with pytest.raises(HttpError):
        await http.request("POST", f"{base}/x", body=b"{}", headers=headers)
    assert script.connections == 0 and http.open_connections == 0


@pytest.fixture(scope="module")
def test_ca() -> TestCA:
    return shared_test_ca()


async def test_https_is_verified_against_the_given_trust(test_ca: TestCA) -> None:
    script = ScriptedServer()
    server, base = await serve(script, tls=test_ca.server_ssl_context())
    try:
        async with KeepAliveHttp(test_ca.client_ssl_context()) as trusting:
            assert (await trusting.request("POST", f"{base}/x", body=b"{}")).status == 201
            assert (await trusting.request("POST", f"{base}/x", body=b"{}")).status == 201
        assert script.connections == 1
        async with KeepAliveHttp(ssl.create_default_context(cafile=None, cadata=None)) as stranger:
            with pytest.raises(HttpError, match="cannot connect"):
                await stranger.request("POST", f"{base}/x", body=b"{}")
        assert len(script.requests) == 2  # nothing reached the server over the untrusted connection
    finally:
        server.close()


async def test_a_closed_client_refuses_requests(scripted: tuple[ScriptedServer, str]) -> None:
    _, base = scripted
    http = KeepAliveHttp()
    await http.request("POST", f"{base}/x", body=b"{}")
    await http.close()
    assert http.open_connections == 0
    with pytest.raises(HttpError, match="closed"):
        await http.request("POST", f"{base}/x", body=b"{}")
