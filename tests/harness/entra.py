"""A local HTTPS stand-in for Entra ID that the real msal client talks to.

It serves OpenID discovery (``/{tenant}/v2.0/.well-known/openid-configuration``), instance
discovery (``/common/discovery/instance``, in case a client asks) and the v2 token endpoint
(``/{tenant}/oauth2/v2.0/token``) for the client-credentials grant. Tokens are opaque random
strings remembered with their scope, so other stand-ins can check them with ``is_valid``.

Run alone: ``python -m tests.harness.entra [port]`` prints the authority and the CA bundle to trust
(set ``TEST_CA_DIR`` to share one CA between processes).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.harness.tls import TestCA, serve_on_loopback, shared_test_ca


@dataclass
class IssuedToken:
    """An access token the stand-in handed out."""

    token: str
    client_id: str
    scope: str
    tenant: str
    expires_at: float


@dataclass
class TokenRequest:
    """One call to the token endpoint (the secret is not kept)."""

    tenant: str
    client_id: str
    scope: str
    grant_type: str
    status: int
    at: float = field(default_factory=time.monotonic)


class EntraStandIn:
    """OpenID discovery and client-credentials tokens over HTTPS on 127.0.0.1."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tls: TestCA | None = None,
        expires_in: int = 3600,
        response_delay_s: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tls = tls or shared_test_ca()
        self.expires_in = expires_in
        self.response_delay_s = response_delay_s
        self.token_requests: list[TokenRequest] = []
        self.discovery_requests = 0
        self.issued: dict[str, IssuedToken] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def managed_identity_endpoint(self) -> str:
        """An App Service style managed-identity endpoint (``IDENTITY_ENDPOINT``)."""
        return f"{self.base_url}/msi/token"

    identity_header = "test-identity-header"
    """The ``IDENTITY_HEADER`` value the managed-identity endpoint expects."""

    def authority(self, tenant: str = "botframework.com") -> str:
        """The authority URL to give msal (ToChannelFromBotLoginUrl)."""
        return f"{self.base_url}/{tenant}"

    def successful_token_requests(self, scope: str | None = None) -> int:
        """How many tokens were issued (optionally for one scope)."""
        return sum(1 for r in self.token_requests if r.status == 200 and scope in (None, r.scope))

    def is_valid(self, token: str, scope: str | None = None) -> bool:
        """True when ``token`` was issued here, is unexpired and (if given) has ``scope``."""
        issued = self.issued.get(token)
        if issued is None or issued.expires_at < time.time():
            return False
        return scope is None or issued.scope == scope

    async def start(self, port: int = 0) -> EntraStandIn:
        """Listen on 127.0.0.1 (``port`` 0: an ephemeral port)."""
        app = web.Application()
        app.router.add_get("/common/discovery/instance", self._instance_discovery)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid_configuration)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/msi/token", self._managed_identity_token)
        self._runner, self.port = await serve_on_loopback(app, self.tls.server_ssl_context(), port)
        return self

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> EntraStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _configuration(self, tenant: str) -> dict[str, object]:
        base = f"{self.base_url}/{tenant}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "tenant_region_scope": "AS",
        }

    async def _instance_discovery(self, request: web.Request) -> web.Response:
        self.discovery_requests += 1
        return web.json_response(
            {
                "tenant_discovery_endpoint": f"{self.base_url}/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": "127.0.0.1", "aliases": ["127.0.0.1"]}],
            }
        )

    async def _openid_configuration(self, request: web.Request) -> web.Response:
        self.discovery_requests += 1
        return web.json_response(self._configuration(request.match_info["tenant"]))

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        client_id = str(form.get("client_id", ""))
        scope = str(form.get("scope", ""))
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)

        def answer(status: int, body: dict[str, object]) -> web.Response:
            self.token_requests.append(TokenRequest(tenant, client_id, scope, grant_type, status))
            return web.json_response(body, status=status)

        if grant_type != "client_credentials":
            return answer(400, {"error": "unsupported_grant_type"})
        if client_id != self.client_id or not secrets.compare_digest(
            str(form.get("client_secret", "")), self.client_secret
        ):
            return answer(
                401,
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
            )
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return answer(400, {"error": "invalid_scope"})
        token = "at-" + secrets.token_urlsafe(24)
        self.issued[token] = IssuedToken(token, client_id, scopes[0], tenant, time.time() + self.expires_in)
        return answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": token,
            },
        )

    async def _managed_identity_token(self, request: web.Request) -> web.Response:
        """App Service managed identity (api-version 2019-08-01): a token for ``resource``."""
        client_id = request.query.get("client_id", "")
        resource = request.query.get("resource", "")
        scope = resource.rstrip("/") + "/.default"

        def answer(status: int, body: dict[str, object]) -> web.Response:
            self.token_requests.append(
                TokenRequest("managed_identity", client_id, scope, "managed_identity", status)
            )
            return web.json_response(body, status=status)

        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return answer(401, {"statusCode": 401, "message": "bad identity header"})
        if client_id != self.client_id or not resource:
            return answer(400, {"statusCode": 400, "message": "unknown identity or resource"})
        token = "mi-" + secrets.token_urlsafe(24)
        expires_at = time.time() + self.expires_in
        self.issued[token] = IssuedToken(token, client_id, scope, "managed_identity", expires_at)
        return answer(
            200,
            {
                "access_token": token,
                "expires_on": str(int(expires_at)),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id,
            },
        )


async def _main() -> None:
    import os

    entra = EntraStandIn(
        client_id=os.environ.get("MicrosoftAppId", "00000000-0000-0000-0000-000000000001"),  # noqa: SIM112
        client_secret=os.environ.get("MicrosoftAppPassword", "test-secret"),  # noqa: SIM112
    )
    import sys

    await entra.start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"ToChannelFromBotLoginUrl={entra.authority()}")
    for key, value in entra.tls.env().items():
        print(f"{key}={value}")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
