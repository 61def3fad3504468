"""Outgoing access tokens from msal: one client, off the event loop, single-flight, cached.

The same class serves the Bot Connector scope (``https://api.botframework.com/.default``) and
Microsoft Graph (``https://graph.microsoft.com/.default``); make one instance per scope.
msal speaks HTTP through requests, so a private CA is trusted the usual way, through
``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

log = logging.getLogger(__name__)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PUBLIC_LOGIN_HOST = "https://login.microsoftonline.com"
MULTI_TENANT_AUTHORITY = f"{PUBLIC_LOGIN_HOST}/botframework.com"

# msal itself treats a cached token with under five minutes left as expired; refreshing at the
# same point means we never ask msal for a token it would hand back from its own cache.
DEFAULT_REFRESH_MARGIN_S = 300.0


class TokenError(RuntimeError):
    """An access token could not be obtained (wrong secret, unreachable authority, ...)."""


def default_authority(tenant_id: str | None, login_url: str | None = None) -> str:
    """The authority for ``ToChannelFromBotLoginUrl``: as given, else per tenant or botframework.com.

    A login URL containing ``{tenant}`` (or ``{}``) gets the tenant filled in.
    """
    if login_url:
        if tenant_id and ("{tenant}" in login_url or "{}" in login_url):
            return login_url.replace("{tenant}", tenant_id).replace("{}", tenant_id)
        return login_url.rstrip("/")
    if tenant_id:
        return f"{PUBLIC_LOGIN_HOST}/{tenant_id}"
    return MULTI_TENANT_AUTHORITY


class TokenProvider:
    """Client-credentials tokens for one scope, cached until shortly before they expire."""

    def __init__(
        self,
        app_id: str,
        password: str,
        *,
        tenant: str | None = None,
        authority: str | None = None,
        scope: str = BOT_FRAMEWORK_SCOPE,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        http_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        managed_identity: bool = False,
    ) -> None:
        """Client-credentials tokens for ``app_id`` (see the class docstring for the options).

        With ``managed_identity`` (``MicrosoftAppType=UserAssignedMSI``) ``app_id`` is the
        user-assigned managed identity's client id and ``password`` is ignored.
        """
        if not app_id:
            raise ValueError("TokenProvider needs an app id; use no provider at all in local mode")
        self.app_id = app_id
        self._password = password
        self.authority = default_authority(tenant, authority)
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s
        self._http_timeout_s = http_timeout_s
        self._clock = clock
        self.managed_identity = managed_identity
        self._app: msal.ConfidentialClientApplication | msal.ManagedIdentityClient | None = None
        self._token: str | None = None
        self._refresh_at = 0.0
        self._inflight: asyncio.Future[str] | None = None
        # One thread: msal calls are rare and serialised anyway, and the default executor
        # stays free for everything else.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="msal")
        self.fetch_count = 0

    async def get_token(self) -> str:
        """A valid access token; concurrent callers share one request to the authority."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        if self._inflight is None:
            # A task, not the first caller's own await: a caller that gives up (cancelled)
            # must not cancel the fetch the others are waiting for.
            task = asyncio.get_running_loop().create_task(self._fetch(), name="msal-token")
            task.add_done_callback(self._fetch_done)
            self._inflight = task
        return await asyncio.shield(self._inflight)

    def _fetch_done(self, task: asyncio.Future[str]) -> None:
        self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported twice

    def close(self) -> None:
        """Release the worker thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _fetch(self) -> str:
        loop = asyncio.get_running_loop()
        started = self._clock()
        result = await loop.run_in_executor(self._executor, self._acquire_blocking)
        token = result.get("access_token")
        if not token:
            # error and error_description come from the authority; they hold no secret.
            raise TokenError(
                f"token request for {self.scope} at {self.authority} failed: "
                f"{result.get('error')}: {str(result.get('error_description', ''))[:200]}"
            )
        expires_in = float(result.get("expires_in", 0))
        self._token = str(token)
        # Count from when we asked, not when we got the answer: a slow authority must not
        # make us keep a token past its real expiry.
        self._refresh_at = started + max(0.0, expires_in - self.refresh_margin_s)
        return self._token

    def _acquire_blocking(self) -> dict[str, Any]:
        """Runs in the msal thread: builds the client once (it does discovery I/O), then asks."""
        try:
            if self._app is None:
                self._app = self._build_app()
            self.fetch_count += 1
            if isinstance(self._app, msal.ManagedIdentityClient):
                # Managed identity endpoints take a resource, not a scope.
                resource = self.scope.removesuffix("/.default")
                return dict(self._app.acquire_token_for_client(resource=resource) or {})
            return dict(self._app.acquire_token_for_client(scopes=[self.scope]) or {})
        except Exception as exc:  # network/TLS/discovery errors: report without a traceback flood
            log.warning("msal token request failed: %s", type(exc).__name__)
            return {"error": type(exc).__name__, "error_description": str(exc)[:200]}

    def _build_app(self) -> msal.ConfidentialClientApplication | msal.ManagedIdentityClient:
        if self.managed_identity:
            # msal finds the identity endpoint from the environment (App Service's
            # IDENTITY_ENDPOINT/IDENTITY_HEADER, else the VM's IMDS).
            return msal.ManagedIdentityClient(
                msal.UserAssignedManagedIdentity(client_id=self.app_id), http_client=requests.Session()
            )
        host = (urlparse(self.authority).hostname or "").lower()
        # Instance discovery asks login.microsoftonline.com whether the host is a Microsoft
        # cloud; for the known clouds msal skips it, for a custom/sovereign login host it
        # would fail, so turn it off only there.
        return msal.ConfidentialClientApplication(
            self.app_id,
            client_credential=self._password,
            authority=self.authority,
            instance_discovery=host in WELL_KNOWN_AUTHORITY_HOSTS,
            timeout=self._http_timeout_s,
        )
