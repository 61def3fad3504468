"""One-time, signed, short-lived export download links (``/exports/{token}``).

The token carries the campaign, the format, the admin who asked, an expiry and a nonce, signed
with HMAC-SHA256. It needs no server-side state to verify, so any replica can serve it; the
nonce is claimed in the database on use, so a link works once across all replicas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

FORMATS = frozenset({"csv", "xlsx"})


class BadLink(Exception):
    """The token is malformed, forged or expired (the message says which, for the log)."""


@dataclass(frozen=True, slots=True)
class ExportLink:
    """What a valid token grants."""

    campaign_id: str
    fmt: str
    admin_id: str
    expires_at: int  # unix seconds
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and verifies export tokens with one secret (at least 32 bytes)."""

    def __init__(
        self, secret: bytes | str, *, lifetime_s: int = 600, clock: Callable[[], datetime] | None = None
    ) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(key) < 32:
            raise ValueError("the export link secret must be at least 32 bytes")
        self._key = key
        self.lifetime_s = lifetime_s
        self._clock = clock or (lambda: datetime.now(UTC))

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, campaign_id: str, fmt: str, admin_id: str) -> str:
        """A token for one download of ``campaign_id`` as ``fmt`` by ``admin_id``."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        expires = int(self._clock().timestamp()) + self.lifetime_s
        body = {"c": campaign_id, "f": fmt, "a": admin_id, "e": expires, "n": secrets.token_hex(12)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str) -> ExportLink:
        """The link a token grants; raises ``BadLink`` when forged, malformed or expired."""
        payload, dot, mac = token.partition(".")
        if not dot or len(token) > 1000:
            raise BadLink("malformed token")
        try:
            if not hmac.compare_digest(mac, self._mac(payload)):
                raise BadLink("bad signature")
            body = json.loads(_unb64(payload))
            link = ExportLink(str(body["c"]), str(body["f"]), str(body["a"]), int(body["e"]), str(body["n"]))
        except (ValueError, KeyError, TypeError, UnicodeError) as exc:
            raise BadLink(f"malformed token: {exc.__class__.__name__}") from exc
        if link.fmt not in FORMATS:
            raise BadLink("unknown format")
        if self._clock().timestamp() > link.expires_at:
            raise BadLink("expired")
        return link
