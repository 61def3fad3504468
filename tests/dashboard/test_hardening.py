"""What a client can send the dashboard without causing a 5xx: odd cookies, odd headers, odd
file names, deeply nested JSON, and a marks file that cannot be written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.dashboard.session import CookieSigner
from bot.dashboard.web import _is_loopback_request
from bot.stats.marks import MarkStore
from bot.storage import Database
from tests.dashboard.helpers import SESSION_SECRET, start_dashboard

NOT_AN_AUTHORITY = "https://login.invalid/00000000-0000-0000-0000-000000000000"


async def raw_request(
    base: str, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """Send exactly these bytes (headers as UTF-8, as a careless client would); (status, body)."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, content = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), content


@pytest.fixture
async def signed_in_mode(db: Database) -> AsyncIterator[str]:
    """A dashboard that needs Entra sign-in (the authority is never reached in these tests)."""
    runner, base = await start_dashboard(db, authority=NOT_AN_AUTHORITY)
    yield base
    await runner.cleanup()


@pytest.fixture
async def local_mode(db: Database, tmp_path: Path) -> AsyncIterator[str]:
    """A local-mode dashboard (no sign-in from loopback) that keeps marks."""
    runner, base = await start_dashboard(db, local=True, marks=True)
    yield base
    await runner.cleanup()


async def local_csrf(base: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(f"{base}/dashboard") as response:
        page = await response.text()
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


# (case, path, Cookie header, expected status)
ODD_COOKIES = [
    ("non-ASCII session cookie, data", "/dashboard/api/report", "dashboard_session=v1.abc.é", 401),
    ("non-ASCII session cookie, page", "/dashboard", "dashboard_session=v1.abc.é", 302),
    ("non-ASCII session cookie, CSV", "/dashboard/export/trends.csv", "dashboard_session=v1.é.x", 401),
    ("non-ASCII sign-in cookie", "/dashboard/auth/callback?code=x&state=y", "dashboard_signin=v1.a.é", 400),
    ("session cookie of another purpose", "/dashboard/api/report", "dashboard_session={signin}", 401),
    ("forged sign-in cookie", "/dashboard/auth/callback?code=x", "dashboard_signin=v1.a.b", 400),
]


@pytest.mark.parametrize(("case", "path", "cookie", "status"), ODD_COOKIES, ids=[c[0] for c in ODD_COOKIES])
async def test_odd_cookies_are_refused_not_failed(
    signed_in_mode: str, case: str, path: str, cookie: str, status: int
) -> None:
    signin = CookieSigner(SESSION_SECRET).sign("dashboard_signin", {"oid": "x", "csrf": "y"}, 60)
    got, _ = await raw_request(signed_in_mode, "GET", path, {"Cookie": cookie.format(signin=signin)})
    assert got == status, case


@pytest.mark.parametrize("token", ["é", "トークン", "a" * 5000, ""])
async def test_odd_csrf_headers_get_a_403(local_mode: str, token: str) -> None:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-CSRF-Token"] = token
    status, body = await raw_request(
        local_mode, "POST", "/dashboard/api/marks", headers, json.dumps({"day": "2026-11-01"}).encode()
    )
    assert status == 403
    assert "再読み込み" in json.loads(body)["error"]


# (case, file name as sent in the path, expected status)
STATIC_FILES = [
    ("the script", "dashboard.js", 200),
    ("the style sheet", "dashboard.css", 200),
    ("the icon", "icon.svg", 200),
    ("the page template is not a static file", "dashboard.html", 404),
    ("a name too long for the file system", "a" * 300 + ".js", 404),
    ("a NUL byte", "a%00.js", 404),
    ("a NUL byte in a known name", "dashboard.js%00", 404),
    ("a parent directory", "..%2Fweb.py", 404),
    ("a Python module", "web.py", 404),
    ("a hidden file", ".dashboard.js", 404),
    ("an unknown script", "nothing.js", 404),
    ("non-ASCII", "%C3%A9.js", 404),
]


@pytest.mark.parametrize(("case", "name", "status"), STATIC_FILES, ids=[c[0] for c in STATIC_FILES])
async def test_static_files_are_a_fixed_list(local_mode: str, case: str, name: str, status: int) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{local_mode}/dashboard/static/{name}") as response,
    ):
        assert response.status == status, case
        if status == 200:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.read()


async def test_static_files_are_read_once_at_start_up(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, base = await start_dashboard(db, local=True, marks=True)
    try:

        def no_reading(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a request read a file")

        monkeypatch.setattr(Path, "read_bytes", no_reading)
        monkeypatch.setattr(Path, "read_text", no_reading)
        async with aiohttp.ClientSession() as client:
            for path in ("/dashboard", "/dashboard/static/dashboard.js"):
                async with client.get(base + path) as response:
                    assert response.status == 200, path
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "body", ["[" * 100_000, "{" + '"a":{' * 50_000, "not json", "\udcff".encode("utf-8", "surrogatepass")]
)
async def test_bad_mark_bodies_get_a_400(local_mode: str, body: str | bytes) -> None:
    data = body.encode() if isinstance(body, str) else body
    headers = {"X-CSRF-Token": await local_csrf(local_mode), "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{local_mode}/dashboard/api/marks", data=data, headers=headers) as response,
    ):
        assert response.status == 400
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "JSON" in (await response.json())["error"]


async def test_a_mark_that_cannot_be_written_is_a_503_in_japanese(db: Database) -> None:
    unreachable = Database.connect(db.url)  # the marks' database, gone
    await unreachable.close()
    runner, base = await start_dashboard(db, local=True, marks=MarkStore(unreachable.marks))
    try:
        headers = {"X-CSRF-Token": await local_csrf(base)}
        async with aiohttp.ClientSession() as client:
            async with client.post(
                f"{base}/dashboard/api/marks", json={"day": "2026-11-01", "label": "変更"}, headers=headers
            ) as response:
                assert response.status == 503
                assert "書き込めませんでした" in (await response.json())["error"]
                assert "Content-Security-Policy" in response.headers
            async with client.delete(f"{base}/dashboard/api/marks/2026-11-01", headers=headers) as response:
                assert response.status == 503
                assert "書き込めませんでした" in (await response.json())["error"]
            async with client.get(f"{base}/dashboard/api/options") as response:
                assert response.status == 200  # the trends still show, without the marks
                assert (await response.json())["marks"] == []
    finally:
        await runner.cleanup()


async def test_marks_are_added_and_removed(local_mode: str) -> None:
    headers = {"X-CSRF-Token": await local_csrf(local_mode)}
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{local_mode}/dashboard/api/marks", json={"day": "2026-11-01", "label": "変更"}, headers=headers
        ) as response:
            assert (response.status, await response.json()) == (201, {"day": "2026-11-01", "label": "変更"})
        async with client.get(f"{local_mode}/dashboard/api/options") as response:
            assert (await response.json())["marks"] == [{"day": "2026-11-01", "label": "変更"}]
        path = f"{local_mode}/dashboard/api/marks/2026-11-01"
        async with client.delete(path, headers=headers) as response:
            assert response.status == 200
        async with client.delete(path, headers=headers) as response:
            assert response.status == 404
            assert (await response.json())["error"] == "その日の印はありません。"


@pytest.mark.parametrize(
    ("remote", "headers", "expected"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("::ffff:127.0.0.1", {}, True),  # IPv4-mapped, as a dual-stack socket reports it
        ("::ffff:10.0.0.7", {}, False),
        ("10.0.0.7", {}, False),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, False),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, False),
    ],
)
def test_loopback_requests(remote: str, headers: dict[str, str], expected: bool) -> None:
    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (remote, 50000) if name == "peername" else default

    request = make_mocked_request("GET", "/dashboard", headers=headers, transport=Transport())
    assert _is_loopback_request(request) is expected


def test_errors_are_json_with_the_security_headers() -> None:
    from bot.dashboard.web import _json_error

    error = _json_error("日付を入力してください。")
    assert isinstance(error, web.HTTPBadRequest)
    assert json.loads(error.text or "") == {"error": "日付を入力してください。"}
    assert error.content_type == "application/json"
    assert error.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in error.headers
    assert _json_error("x", 503).status == 503


@pytest.mark.parametrize("label", ["ヌル\u0000文字", "サロゲート\udcff"], ids=["NUL", "surrogate"])
async def test_a_mark_label_no_database_keeps_is_a_400_in_japanese(local_mode: str, label: str) -> None:
    headers = {"X-CSRF-Token": await local_csrf(local_mode), "Content-Type": "application/json"}
    body = json.dumps({"day": "2026-11-01", "label": label})  # \\u escapes: valid JSON either way
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{local_mode}/dashboard/api/marks", data=body, headers=headers) as response,
    ):
        assert response.status == 400
        assert "使えない文字" in (await response.json())["error"]
