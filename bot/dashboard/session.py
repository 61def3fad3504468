"""Signed cookies (HMAC-SHA256) for the dashboard session and the sign-in flow in progress.

The value is readable (base64 JSON) but cannot be forged or altered without the secret; it
holds an Entra object id, an expiry and a CSRF token, never a name or a token from Entra.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CookieSigner:
    """Signs and checks small JSON payloads with an expiry; one secret, several purposes."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise ValueError("the dashboard session secret must be at least 32 bytes")
        self._secret = secret
        self._clock = clock

    def _mac(self, purpose: str, body: str) -> str:
        message = f"{_VERSION}.{purpose}.{body}".encode()
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any], ttl_s: float) -> str:
        """A cookie value for ``payload`` that expires after ``ttl_s`` seconds."""
        body = _b64(
            json.dumps({**payload, "exp": int(self._clock() + ttl_s)}, separators=(",", ":")).encode()
        )
        return f"{_VERSION}.{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload when ``value`` was signed here for ``purpose`` and has not expired, else None."""
        if not value or value.count(".") != 2:
            return None
        version, body, mac = value.split(".")
        if version != _VERSION or not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            return None
        if payload["exp"] <= self._clock():
            return None
        return payload
