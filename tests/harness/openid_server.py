"""A local stand-in for the Bot Framework's OpenID metadata and JWKS, which also mints tokens.

It publishes two RSA keys: ``endorsed`` (endorsed for msteams) and ``unendorsed`` (endorsed for
another channel only). A third key, ``unknown``, signs tokens but is not published until
``publish("unknown")`` (a key rotation). Tokens carry the claims the channel sends: iss, aud,
exp, nbf, serviceurl.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KeyName = Literal["endorsed", "unendorsed", "unknown"]

BOT_APP_ID = "8e0d5a7e-3b1c-4f0e-9a55-1a2b3c4d5e6f"
TENANT_ID = "0b2d6a5c-1e3f-4a7b-8c9d-0e1f2a3b4c5d"
OTHER_TENANT_ID = "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f"
SERVICE_URL = "https://smba.trafficmanager.net/jp/"
ISSUER = "https://api.botframework.com"

_ENDORSEMENTS: dict[KeyName, list[str]] = {
    "endorsed": ["msteams", "webchat"],
    "unendorsed": ["skype"],
    "unknown": ["msteams"],
}


@functools.cache
def _private_key(name: KeyName) -> rsa.RSAPrivateKey:
    # generated once per process: RSA generation costs ~50 ms and tests need only three keys
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(name: KeyName) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(_private_key(name).public_key(), as_dict=True)
    jwk.update(kid=f"kid-{name}", use="sig", endorsements=_ENDORSEMENTS[name])
    return jwk


class OpenIdStandIn:
    """OpenID metadata + JWKS on 127.0.0.1 (an ephemeral port) and a token mint."""

    def __init__(self, *, app_id: str = BOT_APP_ID, issuer: str = ISSUER) -> None:
        self.app_id = app_id
        self.issuer = issuer
        self.published: list[KeyName] = ["endorsed", "unendorsed"]
        self.metadata_fetches = 0
        self.jwks_fetches = 0
        self.fail_with: int | None = None  # answer every request with this status (outage)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        """What the bot's ToBotFromChannelOpenIdMetadataUrl should be."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    async def start(self) -> OpenIdStandIn:
        """Serve on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    def publish(self, key: KeyName) -> None:
        """Add a key to the JWKS (simulates the channel rotating keys)."""
        if key not in self.published:
            self.published.append(key)

    def mint(
        self,
        *,
        service_url: str = SERVICE_URL,
        key: KeyName = "endorsed",
        kid: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        expires_in: float = 3600,
        not_before_in: float = -60,
        without: tuple[str, ...] = (),
        algorithm: str = "RS256",
    ) -> str:
        """A signed channel token; every claim can be bent for a negative test."""
        now = time.time()
        claims: dict[str, Any] = {
            "serviceurl": service_url,
            "nbf": int(now + not_before_in),
            "exp": int(now + expires_in),
            "iss": issuer or self.issuer,
            "aud": audience or self.app_id,
        }
        for claim in without:
            claims.pop(claim, None)
        return jwt.encode(
            claims, _private_key(key), algorithm=algorithm, headers={"kid": kid or f"kid-{key}"}
        )

    def authorization(self, **mint_options: Any) -> str:
        """An ``Authorization`` header value carrying a minted token."""
        return "Bearer " + self.mint(**mint_options)

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_fetches += 1
        if self.fail_with:
            return web.Response(status=self.fail_with)
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": "https://invalid.example/common/oauth2/v2.0/authorize",
                "jwks_uri": f"{self.base_url}/v1/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self.fail_with:
            return web.Response(status=self.fail_with)
        return web.json_response({"keys": [_jwk(name) for name in self.published]})
