"""Validation of the Bot Framework channel's bearer tokens, done here rather than by the SDK.

botframework-connector's ``JwtTokenValidation`` fetches keys with a blocking client and lets
failures surface as 500s; this validator is asynchronous, answers every failure with a reason
the endpoint turns into a 401, and caches validated tokens until they expire, because the
channel reuses one token for many activities.

What is checked (Bot Framework "authenticate requests from the Bot Connector service"):
RS256 signature by a key from the channel's JWKS, ``exp``/``nbf`` with clock-skew leeway, the
issuer, the audience (our app id), and per activity the ``serviceurl`` claim and the key's
endorsement for the activity's channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from botframework.connector.auth import AuthenticationConstants
from jwt.types import Options

from bot.teams.openid import SigningKeyStore

ALLOWED_ALGORITHMS = ("RS256",)
MAX_CACHED_TOKENS = 4096
SERVICE_URL_CLAIM = AuthenticationConstants.SERVICE_URL_CLAIM


class AuthFailure(Exception):
    """A request is refused; ``reason`` is a short machine-readable code (also a metric label)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# Every reason the endpoint can answer with, and the message sent to the client.
FAILURE_MESSAGES: dict[str, str] = {
    "missing_header": "Authorization header required",
    "malformed_header": "Authorization header must be 'Bearer <token>'",
    "malformed_token": "token is not a valid JWT",
    "algorithm_not_allowed": "token signing algorithm not allowed",
    "unknown_key": "token signed by an unknown key",
    "bad_signature": "token signature invalid",
    "expired": "token expired",
    "not_yet_valid": "token not yet valid",
    "wrong_issuer": "token issuer not accepted",
    "wrong_audience": "token audience is not this bot",
    "missing_claim": "token lacks a required claim",
    "wrong_service_url": "token serviceurl does not match the activity",
    "unendorsed_channel": "signing key not endorsed for this channel",
    "not_loopback": "local mode accepts requests from loopback only",
    "tenant_not_allowed": "tenant not allowed",
}


@dataclass(frozen=True, slots=True)
class ValidatedToken:
    """A token whose signature, lifetime, issuer and audience have been checked."""

    claims: dict[str, Any]
    expires_at: float  # epoch seconds (the exp claim)
    endorsements: frozenset[str]

    def check_activity(self, service_url: object, channel_id: object) -> None:
        """Check what ties the token to this activity: the serviceurl claim and the endorsement."""
        claimed = self.claims.get(SERVICE_URL_CLAIM)
        if (
            not isinstance(claimed, str)
            or not isinstance(service_url, str)
            or claimed.rstrip("/") != service_url.rstrip("/")
        ):
            raise AuthFailure("wrong_service_url")
        if not isinstance(channel_id, str) or channel_id not in self.endorsements:
            raise AuthFailure("unendorsed_channel")


class ChannelTokenValidator:
    """Validates ``Authorization: Bearer`` headers sent by the Bot Framework channel."""

    def __init__(self, keys: SigningKeyStore, *, app_id: str, issuer: str, clock_skew: float) -> None:
        self._keys = keys
        self._app_id = app_id
        self._issuer = issuer
        self._leeway = clock_skew
        self._cache: dict[str, ValidatedToken] = {}
        self._options: Options = {"require": ["exp", "iss", "aud"]}

    async def validate(self, authorization: str | None) -> ValidatedToken:
        """The validated token from an Authorization header, or ``AuthFailure``."""
        if not authorization:
            raise AuthFailure("missing_header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token or " " in token:
            raise AuthFailure("malformed_header")
        cached = self._cache.get(token)
        if cached is not None:
            if time.time() < cached.expires_at:
                return cached
            del self._cache[token]
        validated = await self._validate_token(token)
        if len(self._cache) >= MAX_CACHED_TOKENS:
            self._evict()
        self._cache[token] = validated
        return validated

    async def _validate_token(self, token: str) -> ValidatedToken:
        if not token.isascii():  # a JWT is base64url; headers may carry undecodable bytes
            raise AuthFailure("malformed_token")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.InvalidTokenError, ValueError):
            raise AuthFailure("malformed_token") from None
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise AuthFailure("algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthFailure("malformed_token")
        signing_key = await self._keys.get(kid)
        if signing_key is None:
            raise AuthFailure("unknown_key")
        try:
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._app_id,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthFailure("expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthFailure("not_yet_valid") from None
        except jwt.InvalidIssuerError:
            raise AuthFailure("wrong_issuer") from None
        except jwt.InvalidAudienceError:
            raise AuthFailure("wrong_audience") from None
        except jwt.InvalidSignatureError:
            raise AuthFailure("bad_signature") from None
        except jwt.MissingRequiredClaimError:
            raise AuthFailure("missing_claim") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise AuthFailure("malformed_token") from None
        expires_at = claims.get("exp")
        if not isinstance(expires_at, int | float):
            raise AuthFailure("malformed_token")
        return ValidatedToken(
            claims=claims, expires_at=float(expires_at), endorsements=signing_key.endorsements
        )

    def _evict(self) -> None:
        now = time.time()
        for token in [token for token, entry in self._cache.items() if entry.expires_at <= now]:
            del self._cache[token]
        while len(self._cache) >= MAX_CACHED_TOKENS:
            del self._cache[next(iter(self._cache))]
