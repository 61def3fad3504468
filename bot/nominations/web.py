"""The aiohttp route that serves an export link: ``GET /exports/{token}``."""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import quote

from aiohttp import web

from bot.nominations.links import BadLink, LinkSigner
from bot.services.nominations import NominationService
from bot.storage.errors import NotFound
from bot.storage.ports import JobRuns

log = logging.getLogger(__name__)

LINK_JOB = "wg.export-link"


def _page(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain", charset="utf-8")


def _duration_ja(seconds: int) -> str:
    """``600`` -> ``10分``; a lifetime that is not whole minutes is given in seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60}分"
    return f"{seconds}秒"


def setup_export_routes(
    app: web.Application,
    service: NominationService,
    secret: bytes | str,
    *,
    job_runs: JobRuns,
    lifetime_s: int | None = None,
) -> LinkSigner:
    """Add ``GET /exports/{token}`` to ``app`` and let the service hand out such links."""
    signer = LinkSigner(secret, lifetime_s=lifetime_s or service.config.export_link_seconds)
    service.enable_export_links(signer.sign)
    expired = (
        f"このリンクは無効か、有効期限（{_duration_ja(signer.lifetime_s)}）が切れています。"
        "Teams でもう一度「エクスポート」と送ってください。"
    )

    async def download(request: web.Request) -> web.Response:
        try:
            link = signer.verify(request.match_info["token"])
        except BadLink as exc:
            log.info("export link refused: %s", exc)
            return _page(404, expired)
        if not service.is_admin(link.admin_id):
            return _page(403, "この操作は WG 選出の管理者だけが行えます。")
        if not await job_runs.claim_run(LINK_JOB, link.nonce):
            return _page(
                410, "このリンクはすでに使われました。Teams でもう一度「エクスポート」と送ってください。"
            )
        fmt: Literal["csv", "xlsx"] = "csv" if link.fmt == "csv" else "xlsx"
        try:
            export = await service.export_file(link.campaign_id, fmt)
        except NotFound:
            return _page(404, "この募集は見つかりませんでした。")
        log.info("export of campaign %s (%s) downloaded", link.campaign_id, link.fmt)
        disposition = f"attachment; filename=\"export.{link.fmt}\"; filename*=UTF-8''{quote(export.filename)}"
        return web.Response(
            body=export.data,
            headers={
                "Content-Type": export.content_type,
                "Content-Disposition": disposition,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.router.add_get("/exports/{token}", download)
    return signer
