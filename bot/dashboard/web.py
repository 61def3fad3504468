"""The admin dashboard (``/dashboard``): sign-in, the page, its JSON, CSV downloads, static files.

Everything the page needs is served from here (no CDN: city networks may block them). Bad
input gets a 400 with a Japanese message; a visitor who is not an admin gets a Japanese 403.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any, get_args
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dashboard.config import CampaignStatusProvider, DashboardConfig
from bot.dashboard.session import CookieSigner
from bot.dashboard.signin import EntraSignIn, SignInError
from bot.netutil import is_loopback
from bot.stats.marks import Mark, MarkError, MarkStore
from bot.stats.queries import CsvTable, Granularity, StatsQueries, TrendFilter, report_csv

log = logging.getLogger(__name__)

SESSION_COOKIE = "dashboard_session"
FLOW_COOKIE = "dashboard_signin"
FLOW_TTL_S = 600
MAX_PERIOD_DAYS = 3 * 366
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_PAGE_TEMPLATE = "dashboard.html"
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ERROR_TYPES: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    503: web.HTTPServiceUnavailable,
}
_STORAGE_FAILED = "印の保存先に書き込めませんでした。時間をおいてもう一度お試しください。"


def _page(title: str, message: str, *, status: int, link: tuple[str, str] | None = None) -> web.Response:
    """A small Japanese page (403, sign-in failure)."""
    extra = f'<p><a href="{html.escape(link[0])}">{html.escape(link[1])}</a></p>' if link else ""
    body = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/dashboard/static/dashboard.css"></head>'
        f'<body class="message-page"><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{extra}</main>'
        "</body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=_SECURITY_HEADERS)


def _is_loopback_request(request: web.Request) -> bool:
    """A direct request from this machine (a request relayed by a proxy does not count)."""
    if any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP")):
        return False
    return is_loopback(request.remote)


def _redirect(location: str) -> web.Response:
    """A 302 we can still add cookies to (raising HTTPFound would lose them)."""
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_error(message: str, status: int = 400) -> web.HTTPException:
    """A JSON error (``{"error": "<Japanese message>"}``) with the security headers, to raise."""
    return _ERROR_TYPES[status](
        text=_dumps({"error": message}), content_type="application/json", headers=_SECURITY_HEADERS
    )


def _same_token(given: str, expected: str) -> bool:
    """Constant-time comparison that any header value can go through (non-ASCII never matches)."""
    if not given.isascii() or not expected.isascii():
        return False
    return hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))


def _csv_table(name: str) -> CsvTable | None:
    """The CSV table called ``name``, or None."""
    for table in get_args(CsvTable):
        if table == name:
            return table
    return None


def _parse_date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _json_error(f"{what}の日付が正しくありません（例: 2026-11-24）") from None


class Dashboard:
    """The dashboard's handlers; ``setup_dashboard`` creates one and adds its routes."""

    def __init__(
        self,
        config: DashboardConfig,
        queries: StatsQueries,
        *,
        marks: MarkStore | None,
        campaign_status: CampaignStatusProvider | None,
        sign_in: EntraSignIn | None,
        today: Any = None,
    ) -> None:
        self.config = config
        self.queries = queries
        self.marks = marks
        self.campaign_status = campaign_status
        self.sign_in = sign_in
        self.signer = CookieSigner(config.session_secret)
        self._today = today or (lambda: datetime.now(ZoneInfo(config.timezone)).date())
        self._local_csrf = secrets.token_urlsafe(24)
        # Read once, here: a request never touches the file system, whatever name it asks for.
        static = resources.files("bot.dashboard") / "static"
        self._template = (static / _PAGE_TEMPLATE).read_text(encoding="utf-8")
        self._files: dict[str, tuple[bytes, str]] = {}
        for entry in static.iterdir():
            suffix = entry.name[entry.name.rfind(".") :] if "." in entry.name else ""
            if suffix in _STATIC_TYPES and not entry.name.startswith(".") and entry.is_file():
                self._files[entry.name] = (entry.read_bytes(), _STATIC_TYPES[suffix])

    # ------------------------------------------------------------------ who is this
    def _session(self, request: web.Request) -> dict[str, Any] | None:
        if self.config.local_mode:
            if _is_loopback_request(request):
                return {"oid": "local", "csrf": self._local_csrf, "local": True}
            return None
        session = self.signer.verify(SESSION_COOKIE, request.cookies.get(SESSION_COOKIE))
        if session is None or str(session.get("oid", "")).lower() not in self.config.admin_object_ids:
            return None
        return session

    def _require(self, request: web.Request, *, write: bool = False) -> dict[str, Any]:
        session = self._session(request)
        if session is None:
            raise _json_error("サインインが必要です。", 401)
        if write and not _same_token(request.headers.get("X-CSRF-Token", ""), str(session["csrf"])):
            raise _json_error("ページを再読み込みしてからやり直してください。", 403)
        return session

    def _secure(self, request: web.Request) -> bool:
        # Browsers keep Secure cookies on http only for loopback; anything else is https.
        return not (
            request.scheme == "http" and (request.url.host or "") in ("127.0.0.1", "localhost", "::1")
        )

    def _set_cookie(
        self, response: web.StreamResponse, request: web.Request, name: str, value: str, ttl: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=ttl,
            path="/dashboard",
            httponly=True,
            secure=self._secure(request),
            samesite="Lax",
        )

    def _redirect_uri(self, request: web.Request) -> str:
        if self.config.redirect_uri:
            return self.config.redirect_uri
        return str(request.url.with_path("/dashboard/auth/callback").with_query(None))

    # ------------------------------------------------------------------ sign-in
    async def login(self, request: web.Request) -> web.StreamResponse:
        """Start the authorisation code flow and send the browser to Entra ID."""
        if self.config.local_mode or self.sign_in is None:
            raise web.HTTPFound("/dashboard")
        try:
            flow = await self.sign_in.start(self._redirect_uri(request))
        except SignInError as error:
            return _page("サインインできません", error.reason, status=502)
        auth_uri = flow.pop("auth_uri")
        response = _redirect(auth_uri)
        self._set_cookie(
            response,
            request,
            FLOW_COOKIE,
            self.signer.sign(FLOW_COOKIE, {"flow": flow}, FLOW_TTL_S),
            FLOW_TTL_S,
        )
        return response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        """Entra ID sends the browser back here with a code; admins get a session, others a 403."""
        if self.sign_in is None:
            raise web.HTTPFound("/dashboard")
        stored = self.signer.verify(FLOW_COOKIE, request.cookies.get(FLOW_COOKIE))
        retry = ("/dashboard/login", "もう一度サインインする")
        if stored is None or not isinstance(stored.get("flow"), dict):
            return _page(
                "サインインの有効期限が切れました", "もう一度サインインしてください。", status=400, link=retry
            )
        if "error" in request.query:
            return _page(
                "サインインできませんでした",
                "サインインが取り消されたか、失敗しました。",
                status=400,
                link=retry,
            )
        try:
            claims = await self.sign_in.finish(stored["flow"], dict(request.query))
        except SignInError as error:
            return _page("サインインできませんでした", error.reason, status=400, link=retry)
        oid = str(claims.get("oid", "")).lower()
        if oid not in self.config.admin_object_ids:
            log.info("dashboard sign-in refused for a non-admin account")
            response = _page(
                "アクセスできません",
                "このダッシュボードは管理者だけが利用できます。利用が必要な場合は、システム担当者に管理者への追加を依頼してください。",
                status=403,
            )
            response.del_cookie(FLOW_COOKIE, path="/dashboard")
            return response
        session = {"oid": oid, "csrf": secrets.token_urlsafe(24)}
        response = _redirect("/dashboard")
        ttl = self.config.session_ttl_s
        self._set_cookie(
            response, request, SESSION_COOKIE, self.signer.sign(SESSION_COOKIE, session, ttl), ttl
        )
        response.del_cookie(FLOW_COOKIE, path="/dashboard")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """Forget the session cookie."""
        self._require(request, write=True)
        response = web.json_response({"ok": True}, headers=_SECURITY_HEADERS)
        response.del_cookie(SESSION_COOKIE, path="/dashboard")
        return response

    # ------------------------------------------------------------------ the page
    async def page(self, request: web.Request) -> web.StreamResponse:
        """The dashboard page, or the way to sign in."""
        session = self._session(request)
        if session is None:
            if self.config.local_mode:
                return _page(
                    "アクセスできません",
                    "ローカルモード（MicrosoftAppId 未設定）では、このサーバー上のブラウザーからだけ開けます。",
                    status=403,
                )
            raise web.HTTPFound("/dashboard/login")
        notice = (
            '<p class="notice" role="status">ローカルモードです：サインインなしで表示しています'
            "（このサーバー上のブラウザーからだけ開けます）。</p>"
            if session.get("local")
            else ""
        )
        body = (
            self._template.replace("{{CSRF}}", html.escape(str(session["csrf"])))
            .replace("{{LOCAL_NOTICE}}", notice)
            .replace("{{DEFAULT_WEEKS}}", str(int(self.config.default_weeks)))
            .replace("{{SIGNED_IN}}", "0" if session.get("local") else "1")
        )
        return web.Response(text=body, content_type="text/html", headers=_SECURITY_HEADERS)

    async def static(self, request: web.Request) -> web.StreamResponse:
        """The page's script, style sheet and icons (read at start-up; no path from the request)."""
        found = self._files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    # ------------------------------------------------------------------ data
    def _filter(self, request: web.Request) -> TrendFilter:
        query = request.query
        today = self._today()
        until = _parse_date(query.get("until"), "終了日") or today
        since = _parse_date(query.get("since"), "開始日") or (
            until - timedelta(weeks=self.config.default_weeks) + timedelta(days=1)
        )
        granularity_text = query.get("granularity", "week")
        if granularity_text not in ("day", "week"):
            raise _json_error("集計単位は day か week です")
        granularity: Granularity = "day" if granularity_text == "day" else "week"
        if until < since:
            raise _json_error("終了日が開始日より前です")
        if (until - since).days > MAX_PERIOD_DAYS:
            raise _json_error("期間は3年以内にしてください")
        return TrendFilter(
            since,
            until,
            department=query.get("department") or None,
            rule_id=query.get("rule") or None,
            granularity=granularity,
        )

    async def report(self, request: web.Request) -> web.StreamResponse:
        """The trends for the filters in the query string, as JSON."""
        self._require(request)
        report = await self.queries.report(self._filter(request))
        return web.json_response(report.as_json(), headers=_SECURITY_HEADERS, dumps=_dumps)

    async def options(self, request: web.Request) -> web.StreamResponse:
        """What the filters offer: departments and rules seen in the last three years, the marks."""
        self._require(request)
        today = self._today()
        departments, rules = await self.queries.options(today - timedelta(days=MAX_PERIOD_DAYS), today)
        titles = self.queries.rule_titles()
        marks: list[Mark] = []
        if self.marks is not None:
            try:
                marks = await self.marks.list()
            except Exception as error:  # the database is down: the page still shows the trends
                log.warning("dashboard marks unreadable: %s", type(error).__name__)
        return web.json_response(
            {
                "departments": departments,
                "rules": [{"id": rule, "title": titles.get(rule, rule)} for rule in rules],
                "marks": [{"day": m.day.isoformat(), "label": m.label} for m in marks],
                "marks_enabled": self.marks is not None,
                "today": today.isoformat(),
            },
            headers=_SECURITY_HEADERS,
            dumps=_dumps,
        )

    async def campaigns(self, request: web.Request) -> web.StreamResponse:
        """The WG campaigns' progress (empty when no provider is wired)."""
        self._require(request)
        if self.campaign_status is None:
            return web.json_response({"available": False, "campaigns": []}, headers=_SECURITY_HEADERS)
        rows = await self.campaign_status()
        return web.json_response(
            {
                "available": True,
                "campaigns": [
                    {
                        "campaign": r.campaign_id,
                        "fiscal_year": r.fiscal_year,
                        "wg": r.wg_id,
                        "submitted": r.submitted,
                        "expected": r.expected,
                        "applications": r.applications,
                        "deadline": r.deadline.isoformat() if r.deadline else None,
                        "status": r.status,
                    }
                    for r in rows
                ],
            },
            headers=_SECURITY_HEADERS,
            dumps=_dumps,
        )

    async def csv(self, request: web.Request) -> web.StreamResponse:
        """One table of the report as CSV (UTF-8 with BOM, for Excel)."""
        self._require(request)
        table = _csv_table(request.match_info["table"])
        if table is None:
            raise web.HTTPNotFound()
        wanted = self._filter(request)
        report = await self.queries.report(wanted)
        filename = f"{table}_{wanted.since.isoformat()}_{wanted.until.isoformat()}.csv"
        return web.Response(
            body=report_csv(report, table),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def add_mark(self, request: web.Request) -> web.StreamResponse:
        """Mark a date (a rule change...) to compare before and after."""
        self._require(request, write=True)
        marks = self._marks_or_404()
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise _json_error("JSON を送ってください。") from None
        if not isinstance(data, dict):
            raise _json_error("JSON オブジェクトを送ってください。")
        day = _parse_date(str(data.get("day", "")), "印") if data.get("day") else None
        if day is None:
            raise _json_error("日付を入力してください。")
        try:
            mark = await marks.add(day, str(data.get("label", "")))
        except MarkError as error:
            raise _json_error(str(error)) from None
        except Exception as error:  # the database refused or is down
            log.warning("dashboard mark not saved: %s", type(error).__name__)
            raise _json_error(_STORAGE_FAILED, 503) from None
        return web.json_response(
            {"day": mark.day.isoformat(), "label": mark.label},
            status=201,
            headers=_SECURITY_HEADERS,
            dumps=_dumps,
        )

    async def delete_mark(self, request: web.Request) -> web.StreamResponse:
        """Remove the mark on a day."""
        self._require(request, write=True)
        marks = self._marks_or_404()
        day = _parse_date(request.match_info["day"], "印")
        assert day is not None
        try:
            removed = await marks.remove(day)
        except Exception as error:  # the database refused or is down
            log.warning("dashboard mark not removed: %s", type(error).__name__)
            raise _json_error(_STORAGE_FAILED, 503) from None
        if not removed:
            raise _json_error("その日の印はありません。", 404)
        return web.json_response({"ok": True}, headers=_SECURITY_HEADERS)

    def _marks_or_404(self) -> MarkStore:
        if self.marks is None:
            raise _json_error("印の保存先が設定されていません。", 404)
        return self.marks


def setup_dashboard(
    app: web.Application,
    *,
    config: DashboardConfig,
    stats_queries: StatsQueries,
    marks: MarkStore | None = None,
    campaign_status_provider: CampaignStatusProvider | None = None,
    sign_in: EntraSignIn | None = None,
) -> Dashboard:
    """Add the ``/dashboard`` routes to ``app``; builds the msal sign-in from ``config`` unless given."""
    if sign_in is None and not config.local_mode:
        sign_in = EntraSignIn(
            client_id=config.client_id, client_secret=config.client_secret, authority=config.authority
        )
    dashboard = Dashboard(
        config, stats_queries, marks=marks, campaign_status=campaign_status_provider, sign_in=sign_in
    )
    if sign_in is not None:

        async def _close(_app: web.Application, sign_in: EntraSignIn = sign_in) -> None:
            sign_in.close()

        app.on_cleanup.append(_close)
    router = app.router
    router.add_get("/dashboard", dashboard.page)
    router.add_get("/dashboard/", dashboard.page)
    router.add_get("/dashboard/login", dashboard.login)
    router.add_get("/dashboard/auth/callback", dashboard.callback)
    router.add_post("/dashboard/logout", dashboard.logout)
    router.add_get("/dashboard/static/{name}", dashboard.static)
    router.add_get("/dashboard/api/report", dashboard.report)
    router.add_get("/dashboard/api/options", dashboard.options)
    router.add_get("/dashboard/api/campaigns", dashboard.campaigns)
    router.add_post("/dashboard/api/marks", dashboard.add_mark)
    router.add_delete("/dashboard/api/marks/{day}", dashboard.delete_mark)
    router.add_get("/dashboard/export/{table}.csv", dashboard.csv)
    return dashboard
