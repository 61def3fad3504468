"""A local HTTPS stand-in for Entra ID's sign-in: authorisation code flow with PKCE.

Serves OpenID discovery, ``/authorize`` (signs in whoever the test chose with ``sign_in_as``
and redirects back with a code), ``/token`` (``grant_type=authorization_code``: checks the
client secret, the redirect URI and the PKCE verifier, returns an id token signed with a test
RSA key) and the JWKS. The real msal client talks to it; ``tests/harness/entra.py`` covers the
client-credentials grant.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.harness.tls import TestCA, serve_on_loopback, shared_test_ca

TENANT = "11111111-2222-3333-4444-555555555555"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class _PendingCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    oid: str
    name: str
    issued_at: float = field(default_factory=time.time)


class EntraLoginStandIn:
    """Sign-in endpoints of Entra ID over HTTPS on 127.0.0.1, with one test signing key."""

    def __init__(
        self, *, client_id: str, client_secret: str, tenant: str = TENANT, tls: TestCA | None = None
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.tls = tls or shared_test_ca()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-" + secrets.token_hex(4)
        self._codes: dict[str, _PendingCode] = {}
        self._user: tuple[str, str] | None = None
        self.token_requests: list[dict[str, str]] = []  # form fields minus secrets
        self.authorize_requests: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        """The authority to give msal."""
        return f"{self.base_url}/{self.tenant}"

    @property
    def issuer(self) -> str:
        """The ``iss`` of the id tokens."""
        return f"{self.base_url}/{self.tenant}/v2.0"

    def sign_in_as(self, oid: str, name: str = "テスト 太郎") -> None:
        """Who "types their password" at the next ``/authorize``."""
        self._user = (oid, name)

    async def start(self) -> EntraLoginStandIn:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_get("/common/discovery/instance", self._instance_discovery)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._configuration)
        app.router.add_get("/{tenant}/oauth2/v2.0/authorize", self._authorize)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)
        self._runner, self.port = await serve_on_loopback(app, self.tls.server_ssl_context())
        return self

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> EntraLoginStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ endpoints
    async def _instance_discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "tenant_discovery_endpoint": f"{self.authority}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": "127.0.0.1", "aliases": ["127.0.0.1"]}],
            }
        )

    async def _configuration(self, request: web.Request) -> web.Response:
        base = f"{self.base_url}/{request.match_info['tenant']}"
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": [jwk]})

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        self.authorize_requests.append(dict(query))
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return web.Response(status=400, text="AADSTS700016: unknown client or missing redirect_uri")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="AADSTS: code flow with S256 PKCE required")
        if self._user is None:
            return web.Response(status=400, text="no test user chosen (call sign_in_as)")
        code = "code-" + secrets.token_urlsafe(24)
        self._codes[code] = _PendingCode(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            code_challenge=query.get("code_challenge", ""),
            nonce=query.get("nonce"),
            oid=self._user[0],
            name=self._user[1],
        )
        separator = "&" if "?" in redirect_uri else "?"
        state = query.get("state", "")
        location = f"{redirect_uri}{separator}code={code}&state={state}&session_state=test"
        raise web.HTTPFound(location)

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(
            {k: v for k, v in form.items() if k not in ("client_secret", "code_verifier")}
        )
        if form.get("grant_type") != "authorization_code":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        pending = self._codes.pop(form.get("code", ""), None)  # a code is good once
        if pending is None or time.time() - pending.issued_at > 600:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "AADSTS70008: code expired or used"},
                status=400,
            )
        if form.get("redirect_uri") != pending.redirect_uri:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, status=400
            )
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode("ascii")).digest()) != pending.code_challenge:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "AADSTS501481: PKCE verifier"}, status=400
            )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": pending.oid,
            "sub": "sub-" + pending.oid,
            "tid": self.tenant,
            "name": pending.name,
            "preferred_username": f"{pending.oid[:8]}@city.example",
            "ver": "2.0",
        }
        if pending.nonce:
            claims["nonce"] = pending.nonce
        id_token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
        client_info = _b64(json.dumps({"uid": pending.oid, "utid": self.tenant}).encode())
        return web.json_response(
            {
                "token_type": "Bearer",
                "scope": "openid profile offline_access",
                "expires_in": 3600,
                "access_token": "at-" + secrets.token_urlsafe(16),
                "id_token": id_token,
                "client_info": client_info,
            }
        )
