"""Signed, expiring values (HMAC-SHA256): the dashboard's cookies and the export download links.

A value is ``v1.<base64 JSON>.<base64 MAC>``. It is readable but cannot be forged or altered
without the secret; the MAC covers a *purpose* too, so a value signed for one use (a session
cookie) is refused for another (an export link) even under the same secret. Kept free of web
imports, so that any package can use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

VERSION = "v1"
MIN_SECRET_BYTES = 32


class BadSignature(ValueError):
    """A value that is malformed, forged or expired; ``reason`` says which (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks small JSON payloads with an expiry; one secret, several purposes."""

    def __init__(
        self,
        secret: bytes,
        *,
        clock: Callable[[], float] = time.time,
        secret_name: str = "the signing secret",
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"{secret_name} must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._clock = clock

    def _mac(self, purpose: str, body: str) -> bytes:
        message = f"{VERSION}.{purpose}.{body}".encode()
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest()).encode("ascii")

    def sign(self, purpose: str, payload: dict[str, Any], ttl_s: float) -> str:
        """A value for ``payload`` (plus ``exp``, unix seconds) that expires after ``ttl_s`` seconds."""
        body = _b64(
            json.dumps({**payload, "exp": int(self._clock() + ttl_s)}, separators=(",", ":")).encode()
        )
        return f"{VERSION}.{body}.{self._mac(purpose, body).decode('ascii')}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any]:
        """The payload of a value signed here for ``purpose``; raises ``BadSignature`` otherwise.

        Anything a client can send is handled: non-ASCII text, wrong padding, a valid MAC over
        something that is not a JSON object. Only ASCII is compared, as bytes.
        """
        if not value or not value.isascii() or value.count(".") != 2:
            raise BadSignature("malformed token")
        version, body, mac = value.split(".")
        if version != VERSION:
            raise BadSignature("malformed token")
        if not hmac.compare_digest(mac.encode("ascii"), self._mac(purpose, body)):
            raise BadSignature("bad signature")
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, RecursionError):
            raise BadSignature("malformed token") from None
        if not isinstance(payload, dict) or type(payload.get("exp")) is not int:
            raise BadSignature("malformed token")
        if payload["exp"] <= self._clock():
            raise BadSignature("expired")
        return payload

    def verify(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload when ``value`` was signed here for ``purpose`` and has not expired, else None."""
        try:
            return self.unsign(purpose, value)
        except BadSignature:
            return None
