"""The channel's signing keys: OpenID metadata and JWKS fetched with aiohttp and cached.

Keys are fetched on first use, again when older than ``max_age``, and again when a token names
an unknown key id, but at most once per ``refresh_min_interval`` so that a stream of forged kids
cannot make the bot hammer the metadata endpoint. Concurrent callers share one fetch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One RSA public key and the channels it is endorsed for."""

    kid: str
    key: Any  # cryptography RSAPublicKey
    endorsements: frozenset[str]


class SigningKeysUnavailable(Exception):
    """No signing keys could ever be fetched (an outage on our side, not the client's fault)."""


class SigningKeyStore:
    """Looks up signing keys by kid, fetching the JWKS named in the OpenID metadata."""

    def __init__(
        self,
        metadata_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        refresh_min_interval: float = 300.0,
        max_age: float = 86400.0,
    ) -> None:
        self._metadata_url = metadata_url
        self._session = session
        self._owns_session = session is None
        self._refresh_min_interval = refresh_min_interval
        self._max_age = max_age
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> SigningKey | None:
        """The key for ``kid``, refreshing the cache when allowed; None when unknown."""
        now = time.monotonic()
        key = self._keys.get(kid)
        if key is not None and self._fetched_at is not None and now - self._fetched_at < self._max_age:
            return key
        await self._refresh_if_allowed()
        if not self._keys:
            raise SigningKeysUnavailable("signing keys could not be fetched")
        return self._keys.get(kid)

    @property
    def loaded(self) -> bool:
        """True once signing keys have been fetched."""
        return bool(self._keys)

    async def ready(self) -> bool:
        """Readiness check: keys loaded (trying a fetch, rate-limited, when they are not)."""
        if not self._keys:
            await self._refresh_if_allowed()
        return self.loaded

    async def warm_up(self) -> None:
        """Fetch the keys once in advance (failures are logged, the first request retries)."""
        await self._refresh_if_allowed()

    async def close(self) -> None:
        """Close the HTTP session this store opened itself."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh_if_allowed(self) -> None:
        attempted = self._attempted_at
        async with self._lock:
            if self._attempted_at != attempted:
                return  # another caller fetched while we waited for the lock
            now = time.monotonic()
            # after a failed first fetch, retry sooner: without keys every request fails
            interval = self._refresh_min_interval if self._keys else min(self._refresh_min_interval, 10.0)
            if self._attempted_at is not None and now - self._attempted_at < interval:
                return
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as error:
                log.error("fetching signing keys from %s failed: %r", self._metadata_url, error)
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            log.info("loaded %d channel signing keys", len(keys))

    async def _fetch(self) -> dict[str, SigningKey]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(self._metadata_url, timeout=FETCH_TIMEOUT) as response:
            response.raise_for_status()
            metadata = await response.json(content_type=None)
        jwks_uri = metadata["jwks_uri"]
        if not isinstance(jwks_uri, str):
            raise ValueError("jwks_uri is not a string")
        async with self._session.get(jwks_uri, timeout=FETCH_TIMEOUT) as response:
            response.raise_for_status()
            jwks = await response.json(content_type=None)
        keys: dict[str, SigningKey] = {}
        for jwk in jwks["keys"]:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
                continue
            try:
                public_key = RSAAlgorithm.from_jwk(jwk)
            except Exception as error:  # a malformed key must not hide the good ones
                log.warning("skipping unreadable signing key %s: %r", jwk.get("kid"), error)
                continue
            endorsements = jwk.get("endorsements") or ()
            keys[jwk["kid"]] = SigningKey(
                kid=jwk["kid"],
                key=public_key,
                endorsements=frozenset(e for e in endorsements if isinstance(e, str)),
            )
        if not keys:
            raise ValueError("the JWKS holds no usable RSA key")
        return keys
