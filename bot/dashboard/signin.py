"""Sign-in to the dashboard with Entra ID: msal's authorisation code flow with PKCE.

msal does blocking HTTP (requests), so every call runs in a worker thread, never on the event
loop. msal no longer validates the id token, so this module does: signature against the
authority's published keys, audience, issuer, expiry. Only the ``oid`` claim is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import jwt
import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

log = logging.getLogger(__name__)

# The code comes back in the query string on purpose: form_post would need the flow cookie to
# be SameSite=None. The code is single-use and bound to the PKCE verifier in this browser's
# HttpOnly cookie, and the callback redirects at once (Referrer-Policy: same-origin).
_FORM_POST_WARNING = "response_mode='form_post' is recommended"

SIGN_IN_SCOPES: list[str] = []  # msal adds openid, profile, offline_access itself
JWKS_MAX_AGE_S = 3600.0


class SignInError(Exception):
    """Sign-in did not complete; ``reason`` is safe to show (no token, no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EntraSignIn:
    """Starts and finishes the authorisation code flow and checks the id token it yields."""

    def __init__(
        self, *, client_id: str, client_secret: str, authority: str, http_timeout_s: float = 10.0
    ) -> None:
        self.client_id = client_id
        self.authority = authority.rstrip("/")
        self._client_secret = client_secret
        self._timeout = http_timeout_s
        self._app: msal.ConfidentialClientApplication | None = None
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dashboard-msal")
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] = {}
        self._keys_at = 0.0

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            host = (urlparse(self.authority).hostname or "").lower()
            # Instance discovery only knows Microsoft's own login hosts; a custom host would fail it.
            self._app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_secret,
                authority=self.authority,
                instance_discovery=host in WELL_KNOWN_AUTHORITY_HOSTS,
                timeout=self._timeout,
            )
        return self._app

    async def _off_loop(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self, redirect_uri: str) -> dict[str, Any]:
        """A new flow: msal's dict with ``auth_uri`` (where to send the browser), state, PKCE verifier."""

        def initiate() -> dict[str, Any]:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_FORM_POST_WARNING, category=UserWarning)
                flow = self._client().initiate_auth_code_flow(
                    SIGN_IN_SCOPES, redirect_uri=redirect_uri, response_mode="query"
                )
            return dict(flow)

        try:
            return dict(await self._off_loop(initiate))
        except (requests.RequestException, ValueError) as exc:
            raise SignInError(f"認証サーバーに接続できませんでした（{type(exc).__name__}）") from None

    async def finish(self, flow: Mapping[str, Any], auth_response: Mapping[str, str]) -> dict[str, Any]:
        """Redeem the code (PKCE verifier from ``flow``); return the checked id token claims."""

        def redeem() -> dict[str, Any]:
            return dict(self._client().acquire_token_by_auth_code_flow(dict(flow), dict(auth_response)))

        try:
            result = await self._off_loop(redeem)
        except ValueError:  # msal: state mismatch or a replayed flow
            raise SignInError("サインインの状態が一致しませんでした。もう一度お試しください。") from None
        except requests.RequestException as exc:
            raise SignInError(f"認証サーバーに接続できませんでした（{type(exc).__name__}）") from None
        except RuntimeError:  # msal: nonce mismatch in the id token
            raise SignInError("ID トークンの検証に失敗しました。") from None
        if "error" in result:
            raise SignInError(f"サインインできませんでした（{result.get('error')}）")
        id_token = result.get("id_token")
        if not isinstance(id_token, str):
            raise SignInError("ID トークンが返されませんでした。")
        return await self._off_loop(self._validate, id_token)

    def _validate(self, id_token: str) -> dict[str, Any]:
        """Runs in the worker thread: check signature, audience, issuer and expiry."""
        try:
            header = jwt.get_unverified_header(id_token)
            key = self._key(str(header.get("kid", "")))
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=["RS256"],
                audience=self.client_id,
                options={"require": ["exp", "iat", "aud", "iss", "oid"]},
                leeway=120,
            )
        except (jwt.PyJWTError, requests.RequestException, KeyError, ValueError) as exc:
            raise SignInError(f"ID トークンの検証に失敗しました（{type(exc).__name__}）") from None
        expected_issuer = str(self._metadata_blocking().get("issuer", ""))
        # Multi-tenant metadata says "{tenantid}"; the token names its own tenant.
        expected_issuer = expected_issuer.replace("{tenantid}", str(claims.get("tid", "")))
        if claims.get("iss") != expected_issuer:
            raise SignInError("ID トークンの発行者が想定と異なります。")
        return claims

    def _metadata_blocking(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.authority}/v2.0/.well-known/openid-configuration"
            response = requests.get(url, timeout=self._timeout)
            response.raise_for_status()
            self._metadata = dict(response.json())
        return self._metadata

    def _key(self, kid: str) -> Any:
        fresh = time.monotonic() - self._keys_at < JWKS_MAX_AGE_S
        if kid not in self._keys or not fresh:
            response = requests.get(str(self._metadata_blocking()["jwks_uri"]), timeout=self._timeout)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
            self._keys = {str(k.key_id): k.key for k in key_set.keys}
            self._keys_at = time.monotonic()
        return self._keys[kid]

    def close(self) -> None:
        """Release the worker threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)
