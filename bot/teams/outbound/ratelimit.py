"""Send pacing: a token bucket per conversation (bounded memory) under a global bucket.

Teams throttles a bot at about 7 messages per second in one conversation; going faster only
earns 429s. Buckets hand out reservations (a wait time) rather than polling, so waiters are
served in arrival order and idle conversations cost nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; reservations may go into debt."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; returns how long to wait before using it (0 when available now)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def is_full(self) -> bool:
        """True when the bucket would be indistinguishable from a fresh one."""
        return self._tokens + (self._clock() - self._last) * self.rate >= self.burst


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Pacing figures; the defaults follow Teams' documented per-conversation limit."""

    per_conversation_rate: float = 7.0
    per_conversation_burst: float = 1.0
    global_rate: float = 50.0
    global_burst: float = 50.0
    max_conversations: int = 10_000


class SendLimiter:
    """Waits until a send to a conversation is allowed by its bucket and the global one."""

    def __init__(self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._global = TokenBucket(self.limits.global_rate, self.limits.global_burst, clock)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def reserve(self, conversation_key: str | None) -> float:
        """Reserve a slot now; the returned delay is the longer of the two buckets' waits."""
        delay = self._global.reserve()
        if conversation_key is not None:
            delay = max(delay, self._bucket(conversation_key).reserve())
        return delay

    async def acquire(self, conversation_key: str | None) -> None:
        """Sleep until a send to ``conversation_key`` (None: global cap only) may go out."""
        delay = self.reserve(conversation_key)
        if delay > 0:
            await asyncio.sleep(delay)

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            return bucket
        self._evict()
        bucket = TokenBucket(
            self.limits.per_conversation_rate, self.limits.per_conversation_burst, self._clock
        )
        self._buckets[key] = bucket
        return bucket

    def _evict(self) -> None:
        # The least recently used bucket is almost always full again, i.e. forgetting it
        # changes nothing; when it is not, the memory bound still wins.
        while len(self._buckets) >= self.limits.max_conversations:
            self._buckets.popitem(last=False)
