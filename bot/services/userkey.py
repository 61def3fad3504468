"""Keyed hashes of user ids, so that caps, snoozes and statistics never hold a raw id."""

from __future__ import annotations

import hashlib
import hmac

from bot.domain import Person


class UserKeyer:
    """Turns a person into a stable, keyed, non-reversible key (HMAC-SHA256)."""

    def __init__(self, secret: bytes, *, cache_size: int = 50_000) -> None:
        if len(secret) < 16:
            raise ValueError("the user-key secret must be at least 16 bytes")
        self._secret = secret
        self._cache: dict[str, str] = {}  # ids repeat message after message; an HMAC costs microseconds
        self._cache_size = cache_size

    def key(self, person: Person) -> str:
        """The key of a person: by Entra object id when known, else by Teams user id."""
        ident = person.aad_object_id or person.teams_id
        return self.key_of(ident)

    def key_of(self, ident: str) -> str:
        """The key of a raw id string."""
        key = self._cache.get(ident)
        if key is None:
            key = hmac.new(self._secret, ident.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # simple and bounded; a miss only costs one HMAC
            self._cache[ident] = key
        return key
