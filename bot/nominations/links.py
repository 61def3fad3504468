"""One-time, signed, short-lived export download links (``/exports/{token}``).

The token carries the campaign, the format, the admin who asked, an expiry and a nonce, signed
with HMAC-SHA256 by ``bot.signing`` (the dashboard's cookies use the same signer, for another
purpose). It needs no server-side state to verify, so any replica can serve it; the nonce is
claimed in the database on use, so a link works once across all replicas.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.signing import BadSignature, Signer

FORMATS = frozenset({"csv", "xlsx"})
PURPOSE = "export-link"
MAX_TOKEN_CHARS = 1000


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


class LinkSigner:
    """Signs and verifies export tokens with one secret (at least 32 bytes)."""

    def __init__(
        self, secret: bytes | str, *, lifetime_s: int = 600, clock: Callable[[], datetime] | None = None
    ) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        self.lifetime_s = lifetime_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._signer = Signer(
            key, clock=lambda: self._clock().timestamp(), secret_name="the export link secret"
        )

    def sign(self, campaign_id: str, fmt: str, admin_id: str) -> str:
        """A token for one download of ``campaign_id`` as ``fmt`` by ``admin_id``."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        body = {"c": campaign_id, "f": fmt, "a": admin_id, "n": secrets.token_hex(12)}
        return self._signer.sign(PURPOSE, body, self.lifetime_s)

    def verify(self, token: str) -> ExportLink:
        """The link a token grants; raises ``BadLink`` when forged, malformed or expired."""
        if len(token) > MAX_TOKEN_CHARS:
            raise BadLink("malformed token")
        try:
            body = self._signer.unsign(PURPOSE, token)
        except BadSignature as exc:
            raise BadLink(exc.reason) from exc
        try:
            link = ExportLink(
                str(body["c"]), str(body["f"]), str(body["a"]), int(body["exp"]), str(body["n"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadLink(f"malformed token: {exc.__class__.__name__}") from exc
        if link.fmt not in FORMATS:
            raise BadLink("unknown format")
        return link
