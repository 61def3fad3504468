"""Dashboard sign-in through msal against the HTTPS Entra stand-in: admins in, everyone else out."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from bot.storage import Database
from tests.dashboard.helpers import (
    ADMIN_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_OID,
    seed_stats,
    start_dashboard,
)
from tests.harness.entra_login import EntraLoginStandIn
from tests.harness.tls import TestCA, shared_test_ca


@pytest.fixture
def ca_env(monkeypatch: pytest.MonkeyPatch) -> TestCA:
    """Trust the test CA the production way (msal speaks through requests)."""
    ca = shared_test_ca()
    for key, value in ca.env().items():
        monkeypatch.setenv(key, value)
    return ca


@pytest.fixture
async def entra(ca_env: TestCA) -> AsyncIterator[EntraLoginStandIn]:
    async with EntraLoginStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=ca_env) as server:
        yield server


@pytest.fixture
async def dashboard(db: Database, entra: EntraLoginStandIn, tmp_path: Path) -> AsyncIterator[str]:
    await seed_stats(db, date.today())
    runner, base = await start_dashboard(db, authority=entra.authority, marks=True)
    yield base
    await runner.cleanup()


def browser(ca: TestCA) -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 and trusts the stand-in's certificate."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(ca.ca_cert_path))),
    )


async def test_an_admin_signs_in_and_sees_the_page(
    dashboard: str, entra: EntraLoginStandIn, ca_env: TestCA
) -> None:
    entra.sign_in_as(ADMIN_OID)
    async with browser(ca_env) as client:
        async with client.get(f"{dashboard}/dashboard") as response:
            page = await response.text()
            assert response.status == 200, page
            assert [str(h.url).split("?")[0] for h in response.history] == [
                f"{dashboard}/dashboard",
                f"{dashboard}/dashboard/login",
                f"{entra.authority}/oauth2/v2.0/authorize",
                f"{dashboard}/dashboard/auth/callback",
            ]
        assert "コミュニケーションポリシー ダッシュボード" in page
        authorize = entra.authorize_requests[-1]
        assert authorize["code_challenge_method"] == "S256" and authorize["code_challenge"]
        assert entra.token_requests[-1]["grant_type"] == "authorization_code"

        cookie = next(c for c in client.cookie_jar if c.key == "dashboard_session")
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/dashboard"
        async with client.get(f"{dashboard}/dashboard/api/report") as response:
            assert response.status == 200
            report = await response.json()
        assert {s["key"] for s in report["series"]} >= {"ack_per_100", "greeting_per_100", "phone_requests"}
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        async with client.post(
            f"{dashboard}/dashboard/api/marks", json={"day": "2026-11-01", "label": "x"}
        ) as response:
            assert response.status == 403  # no CSRF header
        async with client.post(
            f"{dashboard}/dashboard/api/marks",
            json={"day": "2026-11-01", "label": "ルール変更"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 201


async def test_someone_else_is_refused_in_japanese(
    dashboard: str, entra: EntraLoginStandIn, ca_env: TestCA
) -> None:
    entra.sign_in_as(OTHER_OID)
    async with browser(ca_env) as client:
        async with client.get(f"{dashboard}/dashboard") as response:
            assert response.status == 403
            text = await response.text()
        assert "管理者だけが利用できます" in text
        assert not any(c.key == "dashboard_session" for c in client.cookie_jar)
        async with client.get(f"{dashboard}/dashboard/api/report") as response:
            assert response.status == 401
        async with client.get(f"{dashboard}/dashboard/export/trends.csv") as response:
            assert response.status == 401


# (what the visitor does, path, cookie value or None, expected status)
REFUSED = [
    ("no session: the page sends to sign-in", "/dashboard", None, 302),
    ("forged session cookie", "/dashboard/api/report", "v1.eyJvaWQiOiJ4In0.AAAA", 401),
    ("callback without a flow in progress", "/dashboard/auth/callback?code=x&state=y", None, 400),
    ("unknown CSV table", "/dashboard/export/secrets.csv", None, 401),
    ("static file outside the list", "/dashboard/static/..%2Fweb.py", None, 404),
]


@pytest.mark.parametrize(("case", "path", "cookie", "status"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refused_requests(
    dashboard: str, case: str, path: str, cookie: str | None, status: int
) -> None:
    cookies = {"dashboard_session": cookie} if cookie else None
    async with (
        aiohttp.ClientSession(cookies=cookies) as client,
        client.get(f"{dashboard}{path}", allow_redirects=False) as response,
    ):
        assert response.status == status, case
        if status == 302:
            assert response.headers["Location"] == "/dashboard/login"


async def test_a_used_code_cannot_be_redeemed_twice(
    dashboard: str, entra: EntraLoginStandIn, ca_env: TestCA
) -> None:
    entra.sign_in_as(ADMIN_OID)
    async with browser(ca_env) as client:
        async with client.get(f"{dashboard}/dashboard/login") as response:
            assert response.status == 200
            callback_url = str(response.history[-1].url)
        async with client.get(callback_url) as response:  # the same code and state again
            assert response.status == 400
            assert "サインインの有効期限が切れました" in await response.text()


# (bad query, expected Japanese message fragment)
BAD_FILTERS = [
    ("since=2026-13-01", "開始日の日付が正しくありません"),
    ("since=2026-11-10&until=2026-11-01", "終了日が開始日より前です"),
    ("granularity=hour", "集計単位"),
    ("since=2020-01-01&until=2026-01-01", "3年以内"),
]


@pytest.mark.parametrize(("query", "message"), BAD_FILTERS, ids=[q for q, _ in BAD_FILTERS])
async def test_bad_filters_get_400_with_a_reason(db: Database, query: str, message: str) -> None:
    runner, base = await start_dashboard(db, local=True)
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"{base}/dashboard/api/report?{query}") as response,
        ):
            assert response.status == 400
            assert message in (await response.json())["error"]
    finally:
        await runner.cleanup()


async def test_local_mode_opens_from_loopback_only(db: Database) -> None:
    runner, base = await start_dashboard(db, local=True)
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base}/dashboard") as response:
                assert response.status == 200
                assert "ローカルモードです" in await response.text()
            async with client.get(
                f"{base}/dashboard", headers={"X-Forwarded-For": "203.0.113.9"}
            ) as response:
                assert response.status == 403
                assert "ローカルモード" in await response.text()
    finally:
        await runner.cleanup()
