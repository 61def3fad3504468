"""What reaches the playground from outside its own page: other hosts, forms, odd paths and
bodies. Each is refused with a 4xx and a Japanese message, never a 5xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.playground.personas import GROUP_CHAT_ID, SAMPLE_PERSONAS
from bot.playground.web import _guarded
from tests.playground.conftest import RunningPlayground

AKAGI = SAMPLE_PERSONAS[0]
CONNECTOR_SEND = f"/playground/connector/v3/conversations/{quote(GROUP_CHAT_ID, safe='')}/activities"
SEND = {"viewer": AKAGI.key, "place": "groupChat", "text": "こんにちは"}

# The module shares one app (see conftest.py), so its tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


def japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


# (case, path as sent, expected status)
STATIC_PATHS = [
    ("the script", "/playground/static/playground.js", 200),
    ("the host config", "/playground/static/hostconfig.js", 200),
    ("a vendored file", "/playground/static/vendor/adaptivecards.min.js", 200),
    ("the sample recording", "/playground/static/samples/meeting-recording.wav", 200),
    ("a name too long for the file system", "/playground/static/" + "a" * 300 + ".js", 404),
    ("a long path", "/playground/static/" + "/".join(["a" * 200] * 30) + ".js", 404),
    ("a NUL byte", "/playground/static/a%00.js", 404),
    ("a NUL byte in a known name", "/playground/static/playground.js%00", 404),
    ("a directory", "/playground/static/vendor", 404),
    ("a parent directory, encoded", "/playground/static/%2e%2e/web.py", 404),
    ("an encoded slash", "/playground/static/..%2Fweb.py", 404),
    ("non-ASCII", "/playground/static/%C3%A9.js", 404),
]


@pytest.mark.parametrize(("case", "path", "expected"), STATIC_PATHS, ids=[c[0] for c in STATIC_PATHS])
async def test_static_paths(playground: RunningPlayground, case: str, path: str, expected: int) -> None:
    async with playground.session.get(playground.url + path) as response:
        assert response.status == expected, case


# (case, path, body)
DEEP_JSON = [
    ("page API, arrays", "/playground/api/send", "[" * 100_000),
    ("page API, objects", "/playground/api/invoke", '{"a":' * 50_000),
    ("connector, arrays", CONNECTOR_SEND, "[" * 100_000),
    ("connector create, objects", "/playground/connector/v3/conversations", '{"a":' * 50_000),
]


@pytest.mark.parametrize(("case", "path", "body"), DEEP_JSON, ids=[c[0] for c in DEEP_JSON])
async def test_deeply_nested_json_is_a_400(
    playground: RunningPlayground, case: str, path: str, body: str
) -> None:
    status, answer = await playground.post(path, body)
    assert status == 400, case
    assert answer["error"]
    assert playground.services.messages == []


# (case, method, path, Content-Type or None)
NOT_JSON = [
    ("form to the page API", "POST", "/playground/api/send", "application/x-www-form-urlencoded"),
    ("multipart form to reset", "POST", "/playground/api/reset", "multipart/form-data; boundary=x"),
    ("text to the page API", "POST", "/playground/api/send", "text/plain"),
    ("no content type", "POST", "/playground/api/reset", None),
    ("text to the connector", "POST", CONNECTOR_SEND, "text/plain"),
    ("text update to the connector", "PUT", CONNECTOR_SEND + "/1", "text/plain"),
]


@pytest.mark.parametrize(("case", "method", "path", "content_type"), NOT_JSON, ids=[c[0] for c in NOT_JSON])
async def test_a_body_that_is_not_json_is_a_415(
    playground: RunningPlayground, case: str, method: str, path: str, content_type: str | None
) -> None:
    await playground.post("/playground/api/send", SEND)
    before = await playground.entries(AKAGI.key)
    headers = {"Content-Type": content_type} if content_type else {}
    data = b'{"viewer": "akagi", "place": "groupChat", "text": "x"}'
    async with playground.session.request(
        method, playground.url + path, data=data, headers=headers, skip_auto_headers=["Content-Type"]
    ) as response:
        assert response.status == 415, case
        answer = await response.json()
    assert answer["error"] == "unsupported_media_type" and japanese(answer["message"])
    assert await playground.entries(AKAGI.key) == before
    assert len(playground.services.messages) == 1  # the earlier message only


async def test_json_with_a_charset_is_accepted(playground: RunningPlayground) -> None:
    async with playground.session.post(
        playground.url + "/playground/api/reset",
        data=b"{}",
        headers={"Content-Type": "application/json; charset=utf-8"},
    ) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("evil.example", 403),
        ("evil.example:{port}", 403),
        ("127.0.0.1.nip.io:{port}", 403),
        ("localhost.evil.example", 403),
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
        ("[::1]", 200),
    ],
)
async def test_only_local_host_names_are_answered(
    playground: RunningPlayground, host: str, expected: int
) -> None:
    port = playground.url.rsplit(":", 1)[1]
    for method, path in (("GET", "/playground/api/config"), ("POST", "/playground/api/reset")):
        async with playground.session.request(
            method, playground.url + path, json={}, headers={"Host": host.format(port=port)}
        ) as response:
            assert response.status == expected, (method, path)
            if expected == 403:
                answer = await response.json()
                assert answer["error"] == "forbidden" and japanese(answer["message"])


def mocked(method: str, remote: str, headers: dict[str, str] | None = None) -> web.Request:
    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (remote, 50000) if name == "peername" else default

    return make_mocked_request(method, "/playground/api/reset", headers=headers, transport=Transport())


async def ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@pytest.mark.parametrize(
    ("remote", "headers", "expected"),
    [
        ("::ffff:127.0.0.1", {"Host": "127.0.0.1:3978"}, 200),  # IPv4-mapped loopback
        ("::ffff:10.0.0.7", {"Host": "127.0.0.1:3978"}, 403),
        ("127.0.0.1", {}, 200),  # no Host header (not a browser)
        ("127.0.0.1", {"Host": "intranet.city.example"}, 403),
        ("10.0.0.7", {"Host": "localhost"}, 403),
    ],
)
async def test_guard_for_get(remote: str, headers: dict[str, str], expected: int) -> None:
    response = await _guarded(ok)(mocked("GET", remote, headers))
    assert response.status == expected


async def test_guard_refusals_are_japanese() -> None:
    response = await _guarded(ok)(mocked("GET", "10.0.0.7"))
    assert isinstance(response, web.Response) and response.text
    assert response.status == 403 and japanese(response.text)


@pytest.mark.parametrize(
    ("method", "content_type", "expected"),
    [
        ("POST", "application/json", 200),
        ("PUT", "application/json; charset=utf-8", 200),
        ("POST", "text/plain", 415),
        ("PUT", "application/x-www-form-urlencoded", 415),
        ("DELETE", "", 200),
        ("GET", "", 200),
    ],
)
async def test_guard_wants_json_bodies(method: str, content_type: str, expected: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await _guarded(ok)(mocked(method, "127.0.0.1", headers))
    assert response.status == expected
