"""Signed cookies (HMAC-SHA256) for the dashboard session and the sign-in flow in progress.

The value is readable (base64 JSON) but cannot be forged or altered without the secret; it
holds an Entra object id, an expiry and a CSRF token, never a name or a token from Entra.
The signing itself is ``bot.signing`` (shared with the export download links).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.signing import BadSignature, Signer

__all__ = ["BadSignature", "CookieSigner"]


class CookieSigner(Signer):
    """Signs and checks the dashboard's cookies; ``verify`` answers None for any bad value."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(secret, clock=clock, secret_name="the dashboard session secret")
