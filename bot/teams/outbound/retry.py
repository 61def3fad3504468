"""When and how long to wait before trying a Bot Connector call again."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass, field

# 412: Teams' "precondition failed" under concurrent updates; 502/503/504: transient gateway
# trouble; 429: throttled. Everything else is an answer, not a hiccup.
RETRYABLE_STATUSES = frozenset({412, 429, 502, 503, 504})


def parse_retry_after(value: str | None, now: Callable[[], dt.datetime] | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now() if now else dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and full jitter; ``Retry-After`` wins when given."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    # A longer Retry-After than this is not waited for: a worker held for minutes starves
    # every other conversation; the call is reported as failed instead.
    max_retry_after_s: float = 60.0
    random: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return self.random(0.0, ceiling)

    def delay(self, attempt: int, retry_after_s: float | None) -> float | None:
        """How long to wait before the next attempt, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after_s is not None:
            return retry_after_s if retry_after_s <= self.max_retry_after_s else None
        return self.backoff(attempt)
