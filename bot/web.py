"""The aiohttp application: the messaging endpoint plus health, readiness and metrics routes.

``create_app`` wires parts that were built elsewhere (the event handler and outbound sender
come from the services); it builds nothing per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from bot.metrics import Metrics
from bot.ports import EventHandler, OutboundSender
from bot.settings import Settings
from bot.teams.auth import ChannelTokenValidator
from bot.teams.endpoint import MAX_BODY_BYTES, MessagesEndpoint
from bot.teams.openid import SigningKeyStore
from bot.teams.routing import ActivityRouter

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]
"""Ready when it returns anything but False; not ready when it returns False or raises."""

BackgroundTask = Callable[[], Awaitable[None]]
"""A coroutine function run for the app's lifetime (cancelled at shutdown)."""

CleanupHook = Callable[[], Awaitable[None]]
"""Awaited once when the app shuts down (after background tasks are cancelled)."""

METRICS_KEY = web.AppKey("metrics", Metrics)
READINESS_TIMEOUT = 3.0

LOCAL_MODE_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!! LOCAL MODE: MicrosoftAppId is not set. Requests are NOT authenticated and are\n"
    "!! accepted from loopback (127.0.0.1 / ::1) only. Never run like this in production.\n" + "!" * 78
)


def create_app(
    settings: Settings,
    *,
    handler: EventHandler,
    sender: OutboundSender,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    background_tasks: Sequence[BackgroundTask] = (),
    cleanup: Sequence[CleanupHook] = (),
    metrics: Metrics | None = None,
) -> web.Application:
    """Build the web application around an event handler and an outbound sender."""
    metrics = metrics or Metrics()
    key_store: SigningKeyStore | None = None
    validator: ChannelTokenValidator | None = None
    if settings.local_mode:
        log.warning(LOCAL_MODE_BANNER)
    else:
        key_store = SigningKeyStore(
            settings.openid_metadata_url,
            refresh_min_interval=settings.openid_refresh_min_interval_seconds,
            max_age=settings.openid_max_age_seconds,
        )
        validator = ChannelTokenValidator(
            key_store,
            app_id=settings.microsoft_app_id,
            issuer=settings.token_issuer,
            clock_skew=settings.auth_clock_skew_seconds,
        )
    endpoint = MessagesEndpoint(
        ActivityRouter(handler, sender, metrics),
        metrics,
        validator=validator,
        allowed_tenant_ids=frozenset(settings.allowed_tenant_ids),
    )
    checks = dict(readiness_checks or {})
    if key_store is not None:
        checks.setdefault("signing_keys", key_store.ready)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[METRICS_KEY] = metrics

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
        detail = dict(zip(checks, results, strict=True))
        ready = all(result == "ok" for result in results)
        return web.json_response({"ready": ready, "checks": detail}, status=200 if ready else 503)

    async def metrics_route(request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        warm_up = asyncio.create_task(key_store.warm_up()) if key_store is not None else None
        tasks = [asyncio.ensure_future(task()) for task in background_tasks]
        # Everything loaded so far (botbuilder, pydantic, rules) lives as long as the process;
        # freezing it keeps the collector from rescanning it on every full collection, which
        # otherwise shows as latency spikes under load.
        gc.collect()
        gc.freeze()
        yield
        for task in [*tasks, *([warm_up] if warm_up else [])]:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for hook in cleanup:
            try:
                await hook()
            except Exception:
                log.exception("a cleanup hook failed")
        if key_store is not None:
            await key_store.close()

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/api/messages", endpoint.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app


async def _run_check(check: ReadinessCheck) -> str:
    try:
        result = await asyncio.wait_for(check(), READINESS_TIMEOUT)
    except TimeoutError:
        return f"timed out after {READINESS_TIMEOUT:g}s"
    except Exception as error:
        return f"failed: {type(error).__name__}: {error}"[:300]
    return "not ready" if result is False else "ok"
